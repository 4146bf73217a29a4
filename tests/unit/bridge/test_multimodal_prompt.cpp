// Prompt assembly. THE SPLICE TEST: a projector rigged to output exactly the token embeddings of
// known tokens, spliced at the image marker, must make the model generate what it generates from
// the plain token prompt with those tokens in the marker's place.
#include "support/doctest_with_aten.hpp"

#include <string>
#include <vector>

#include "ophtha/error.hpp"
#include "ophtha/generate.hpp"
#include "ophtha/llama.hpp"
#include "ophtha/multimodal_prompt.hpp"
#include "ophtha/projector.hpp"
#include "support/expect_error.hpp"
#include "support/test_models.hpp"

using namespace ophtha;
using ophtha::test::check_message;
using ophtha::test::error_from;

namespace {

const char* kModelArgs =
    "--format gguf --type f32 --dim 64 --layers 2 --heads 8 --kv-heads 2 --ffn 192 --ctx 128 --seed 21 --std 0.1";

std::shared_ptr<const LlamaModel> model() {
  static const auto m = LlamaModel::load(test::test_model("splice", kModelArgs));
  return m;
}

std::vector<int32_t> encode(const std::string& text, bool bos = false) { return model()->tokenizer().encode(text, bos); }

std::vector<int32_t> concat(std::initializer_list<std::vector<int32_t>> parts) {
  std::vector<int32_t> out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

// A linear projector C = K → d whose output for one-hot token k is the LLM's embedding of ids[k];
// modality and eye embeddings zero.
FeatureProjector rigged_projector(const std::vector<int32_t>& ids) {
  const int64_t k = static_cast<int64_t>(ids.size()), d = model()->config().dim;
  at::Tensor rows = at::empty({k, d}, at::kFloat);
  model()->embed_tokens(ids.data(), k, rows.data_ptr<float>());
  ProjectorConfig config;
  config.kind = ProjectorKind::Linear;
  config.vision_channels = k;
  config.embedding_dim = d;
  return FeatureProjector::from_parameters(config, {{"mm_projector.weight", rows.t()},
                                                    {"mm_projector.bias", at::zeros({d})},
                                                    {"mm_projector.modality_embedding", at::zeros({3, d})},
                                                    {"mm_projector.eye_embedding", at::zeros({2, d})}});
}

// What the rigged projector makes of an "image" whose K feature tokens are one-hot: [K, d].
at::Tensor rigged_image(const std::vector<int32_t>& ids, Modality modality = Modality::Cfp) {
  VisionFeatures one_hot;
  one_hot.tokens = at::eye(static_cast<int64_t>(ids.size())).unsqueeze(0);  // a sequence, no grid
  return rigged_projector(ids).project(one_hot, {modality}, {Eye::OD})[0];
}

GenerateOptions greedy(int32_t n) {
  GenerateOptions o;
  o.max_tokens = n;
  o.sampling.temperature = 0;
  o.ignore_eos = true;
  return o;
}

}  // namespace

TEST_CASE("splice: spliced embeddings of known tokens generate exactly what those tokens generate as text") {
  const std::vector<int32_t> disc = encode("optic disc cupping"), macula = encode("macular edema");
  const at::Tensor first = rigged_image(disc), second = rigged_image(macula, Modality::Oct);
  const MultimodalPrompt prompt = assemble_multimodal_prompt(
      *model(), "Findings: {findings}\nFundus: <image>\nOCT:<image> Report:", "IOP 21 mmHg", {first, second});
  const std::vector<int32_t> plain = concat({encode("Findings: IOP 21 mmHg\nFundus: ", true), disc,
                                             encode("\nOCT:"), macula, encode(" Report:")});
  REQUIRE(prompt.embeddings.size(0) == static_cast<int64_t>(plain.size()));
  REQUIRE(prompt.images.size() == 2);
  std::vector<int32_t> filled = prompt.token_ids;
  for (size_t i = 0; i < 2; ++i) {
    const auto& ids = i == 0 ? disc : macula;
    CHECK(prompt.images[i].length == static_cast<int64_t>(ids.size()));
    for (size_t k = 0; k < ids.size(); ++k) {
      CHECK(filled[prompt.images[i].start + k] == -1);
      filled[prompt.images[i].start + k] = ids[k];
    }
  }
  CHECK(filled == plain);

  LlamaSession spliced(model()), text(model());
  const GenerateResult from_embeddings = generate_from_embeddings(spliced, prompt.embeddings, greedy(24));
  const GenerateResult from_tokens = generate(text, plain, greedy(24));
  REQUIRE(from_tokens.tokens.size() == 24);
  CHECK(from_embeddings.tokens == from_tokens.tokens);
  CHECK(from_embeddings.prompt_tokens == static_cast<int64_t>(plain.size()));
}

TEST_CASE("splice: the prompt's logits equal the plain text's, and other tokens in the slot change them") {
  const std::vector<int32_t> disc = encode("optic disc cupping"), other = encode("retinal detachment");
  const std::string tmpl = "Describe <image> now";
  const MultimodalPrompt prompt = assemble_multimodal_prompt(*model(), tmpl, "", {rigged_image(disc)});
  LlamaSession a(model()), b(model()), c(model());
  const at::Tensor spliced = a.forward_embeddings(prompt.embeddings, true);
  const at::Tensor plain = b.forward_tokens(concat({encode("Describe ", true), disc, encode(" now")}), true);
  CHECK(at::allclose(spliced, plain, 1e-5, 1e-5));
  const at::Tensor changed =
      c.forward_embeddings(assemble_multimodal_prompt(*model(), tmpl, "", {rigged_image(other)}).embeddings);
  CHECK_FALSE(at::allclose(changed, spliced[-1], 1e-3, 1e-3));
}

TEST_CASE("begin/end-of-image text surrounds every image; BOS only at the start; findings are text, not slots") {
  const std::vector<int32_t> ids = encode("drusen");
  PromptTemplateOptions options;
  options.image_begin = "<img>";
  options.image_end = "</img>";
  const MultimodalPrompt prompt =
      assemble_multimodal_prompt(*model(), "A<image>B {findings}", "see <image> here", {rigged_image(ids)}, options);
  const std::vector<int32_t> expected_text = concat({encode("A<img>", true), std::vector<int32_t>(ids.size(), -1),
                                                     encode("</img>B see <image> here")});
  CHECK(prompt.token_ids == expected_text);
  CHECK(std::count(prompt.token_ids.begin(), prompt.token_ids.end(), model()->tokenizer().bos_id()) == 1);
}

TEST_CASE("gradients flow from the assembled prompt back into the image embeddings") {
  const at::Tensor image = at::randn({4, model()->config().dim}).set_requires_grad(true);
  const MultimodalPrompt prompt = assemble_multimodal_prompt(*model(), "x <image> y", "", {image});
  prompt.embeddings.sum().backward();
  REQUIRE(image.grad().defined());
  CHECK(at::allclose(image.grad(), at::ones_like(image)));
}

TEST_CASE("wrong prompts are refused: marker and image counts named, dims named, findings without a marker") {
  const int64_t d = model()->config().dim;
  const at::Tensor image = at::zeros({3, d});
  check_message(error_from([&] { assemble_multimodal_prompt(*model(), "<image> and <image>", "", {image}); }),
                ErrorCode::InvalidArgument, "prompt template has 2 image marker(s) '<image>' but 1 image(s) were given");
  check_message(error_from([&] { assemble_multimodal_prompt(*model(), "no marker", "", {image}); }),
                ErrorCode::InvalidArgument, "has 0 image marker(s) '<image>' but 1 image(s)");
  check_message(error_from([&] { assemble_multimodal_prompt(*model(), "<image>", "", {at::zeros({3, d + 1})}); }),
                ErrorCode::InvalidArgument, "image embedding 0 is Float [3, 65], expected float32 [N, 64]");
  check_message(error_from([&] { assemble_multimodal_prompt(*model(), "<image>", "", {at::zeros({1, 3, d})}); }),
                ErrorCode::InvalidArgument, "image embedding 0");
  check_message(error_from([&] { assemble_multimodal_prompt(*model(), "<image>", "IOP 30", {image}); }),
                ErrorCode::InvalidArgument, "no findings marker '{findings}'");
  PromptTemplateOptions empty_marker;
  empty_marker.image_marker = "";
  check_message(error_from([&] { assemble_multimodal_prompt(*model(), "x", "", {}, empty_marker); }),
                ErrorCode::InvalidArgument, "must not be empty");
}
