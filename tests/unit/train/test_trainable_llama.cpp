// TrainableLlama against the inference engine (LlamaSession, all logits) on seeded models in every
// layout (GGUF Meta q/k, Hugging Face rotate-half, GQA, tied head), its exports loaded back by the
// engine, and LoRA: merged weights compute what the adapters compute, and only adapters learn.
#include "support/doctest_with_aten.hpp"

#include <filesystem>

#include <torch/csrc/autograd/autograd.h>

#include "ophtha/llama.hpp"
#include "ophtha/train_llama.hpp"
#include "support/expect_error.hpp"
#include "support/tensor_check.hpp"
#include "support/test_models.hpp"

using namespace ophtha;

namespace {

constexpr double kTolerance = 1e-4;  // relative to the largest reference logit
const char* kShape = "--dim 64 --layers 2 --heads 8 --kv-heads 2 --ffn 96 --ctx 64 --vocab 320 --seed 21 --std 0.1";

std::string model_path(const std::string& format, const std::string& extra = "") {
  return test::test_model("train-" + format, "--format " + format + " --type f32 " + kShape + extra);
}

std::vector<int32_t> prompt_ids(const LlamaModel& m) {
  std::vector<int32_t> ids = m.tokenizer().encode("Fundus: cup-to-disc ratio 0.7, 视网膜出血。 OCT: drusen.", true);
  ids.resize(std::min<size_t>(ids.size(), 24));
  return ids;
}

at::Tensor engine_logits(const std::string& path, const std::vector<int32_t>& ids) {
  LlamaSession session(LlamaModel::load(path), {1, 0});
  return session.forward_tokens(ids, true);
}

at::Tensor as_batch(const std::vector<int32_t>& ids) {
  return at::tensor(std::vector<int64_t>(ids.begin(), ids.end())).unsqueeze(0);
}

void check_matches_engine(const std::string& path) {
  const auto engine_model = LlamaModel::load(path);
  const std::vector<int32_t> ids = prompt_ids(*engine_model);
  TrainableLlama model = TrainableLlama::from_model(*engine_model);
  const at::Tensor got = model.forward(as_batch(ids)).squeeze(0).detach();
  test::check_close(got, engine_logits(path, ids), "training logits vs engine logits (" + path + ")", kTolerance);
}

}  // namespace

TEST_CASE("the training model computes the engine's logits for GGUF, HF, GQA and tied models") {
  check_matches_engine(model_path("gguf"));
  check_matches_engine(model_path("hf"));
  check_matches_engine(model_path("gguf", " --tied"));
  check_matches_engine(model_path("hf", " --tied --kv-heads 8"));
}

TEST_CASE("a batch of sequences gives each sequence's own logits (right padding never leaks backwards)") {
  TrainableLlama model = TrainableLlama::load(model_path("gguf"));
  const at::Tensor ids = at::randint(3, 320, {3, 12}, at::kLong);
  const at::Tensor batch = model.forward(ids).detach();
  for (int64_t b = 0; b < 3; ++b) {
    const at::Tensor alone = model.forward(ids.narrow(0, b, 1).narrow(1, 0, 7)).detach();
    test::check_close(batch.narrow(0, b, 1).narrow(1, 0, 7), alone, "row " + std::to_string(b), 1e-5);
  }
}

TEST_CASE("exported GGUF and HF models load in the engine and give the training model's logits") {
  const std::string source = model_path("hf");
  TrainableLlama model = TrainableLlama::load(source);
  model.add_lora({4, 8.0, 0.0, {LlamaLinear::Q, LlamaLinear::K, LlamaLinear::Down}}, 5);
  {  // move the adapters off zero so that the merge matters
    at::NoGradGuard no_grad;
    for (const auto& [name, t] : model.trainable_parameters()) t.normal_(0.0, 0.05);
  }
  const auto engine_model = LlamaModel::load(source);
  const std::vector<int32_t> ids = prompt_ids(*engine_model);
  const at::Tensor want = model.forward(as_batch(ids)).squeeze(0).detach();

  const std::string dir = test::work_dir() + "/train-export";
  std::filesystem::create_directories(dir);
  model.save_gguf(dir + "/m.gguf");
  model.save_hf(dir + "/hf");
  test::check_close(engine_logits(dir + "/m.gguf", ids), want, "engine on exported GGUF", kTolerance);
  test::check_close(engine_logits(dir + "/hf", ids), want, "engine on exported HF folder", kTolerance);

  SUBCASE("the exported tokenizer.model encodes as the original") {
    const Tokenizer back = Tokenizer::from_sentencepiece_model(dir + "/hf/tokenizer.model");
    const std::string text = "Macular edema, 黄斑水肿 (grade 2).";
    CHECK(back.encode(text, true) == engine_model->tokenizer().encode(text, true));
    CHECK(back.n_vocab() == engine_model->tokenizer().n_vocab());
  }
  SUBCASE("F16 export is within half precision") {
    model.save_gguf(dir + "/m16.gguf", TensorType::F16);
    test::check_close(engine_logits(dir + "/m16.gguf", ids), want, "engine on F16 export", 2e-2);
  }
}

TEST_CASE("LoRA: merging changes nothing, and only the adapters receive gradients") {
  TrainableLlama model = TrainableLlama::load(model_path("gguf"));
  const at::Tensor ids = at::randint(3, 320, {2, 10}, at::kLong);
  const at::Tensor base = model.forward(ids).detach();
  model.add_lora({8, 16.0, 0.1, {LlamaLinear::Q, LlamaLinear::V, LlamaLinear::Gate, LlamaLinear::Up}}, 7);
  // B starts at zero: the adapted model is the base model.
  CHECK(at::equal(model.forward(ids).detach(), base));

  model.set_training(true);
  at::Tensor logits = model.forward(ids);
  const at::Tensor loss = next_token_loss(logits, ids.roll(-1, 1), at::ones({2, 10}));
  loss.backward();
  int adapters = 0;
  for (const auto& [name, t] : model.named_parameters()) {
    const bool adapter = name.find("lora_") != std::string::npos;
    INFO(name);
    CHECK(t.requires_grad() == adapter);
    CHECK(t.grad().defined() == adapter);
    adapters += adapter;
  }
  CHECK(adapters == 2 * 4 * 2);
  model.set_training(false);

  {
    at::NoGradGuard no_grad;
    for (const auto& [name, t] : model.trainable_parameters()) t.normal_(0.0, 0.05);
  }
  const at::Tensor adapted = model.forward(ids).detach();
  CHECK(!at::allclose(adapted, base));
  model.merge_lora();
  CHECK(!model.has_lora());
  test::check_close(model.forward(ids).detach(), adapted, "merged vs adapter logits", 1e-5);
}

TEST_CASE("dropout masks depend only on the dropout seed") {
  TrainableLlama model = TrainableLlama::load(model_path("gguf"));
  model.add_lora({4, 8.0, 0.5, {LlamaLinear::Q}}, 1);
  {
    at::NoGradGuard no_grad;
    for (const auto& [name, t] : model.trainable_parameters()) t.normal_(0.0, 0.1);
  }
  model.set_training(true);
  const at::Tensor ids = at::randint(3, 320, {1, 8}, at::kLong);
  model.seed_dropout(42);
  const at::Tensor a = model.forward(ids).detach();
  model.seed_dropout(43);
  const at::Tensor b = model.forward(ids).detach();
  model.seed_dropout(42);
  CHECK(at::equal(model.forward(ids).detach(), a));
  CHECK(!at::equal(a, b));
}

TEST_CASE("bad arguments are refused with what was expected") {
  TrainableLlama model = TrainableLlama::load(model_path("gguf"));
  test::check_message(test::error_from([&] { model.forward(at::zeros({4}, at::kLong)); }), ErrorCode::InvalidArgument,
                      "expected [batch, tokens]");
  test::check_message(test::error_from([&] { model.forward(at::full({1, 2}, 320, at::kLong)); }),
                      ErrorCode::InvalidArgument, "token id 320 is outside the vocabulary [0, 320)");
  test::check_message(test::error_from([&] { model.forward(at::zeros({1, 65}, at::kLong)); }),
                      ErrorCode::ContextOverflow, "65 tokens exceed the context length 64");
  test::check_message(test::error_from([&] { model.add_lora({0, 8.0, 0.0, {LlamaLinear::Q}}, 1); }),
                      ErrorCode::InvalidArgument, "LoRA rank is 0");
  test::check_message(test::error_from([] { parse_llama_linear("qkv"); }), ErrorCode::InvalidArgument,
                      "expected one of q, k, v, o, gate, up, down");
  test::check_message(test::error_from([&] { model.save_gguf("/nonexistent-dir/m.gguf"); }), ErrorCode::Io,
                      "/nonexistent-dir/");
}

TEST_CASE("from-scratch weights are a function of the seed: N(0, init_std²) matrices, unit norms") {
  const auto source = LlamaModel::load(model_path("gguf"));
  LlamaConfig c = source->config();
  auto tokenizer = std::make_shared<const Tokenizer>(source->tokenizer());
  TrainableLlama a = TrainableLlama::random(c, tokenizer, 3, 0.05), b = TrainableLlama::random(c, tokenizer, 3, 0.05);
  TrainableLlama other = TrainableLlama::random(c, tokenizer, 4, 0.05);
  const auto pa = a.named_parameters(), pb = b.named_parameters(), po = other.named_parameters();
  for (size_t i = 0; i < pa.size(); ++i) {
    INFO(pa[i].first);
    CHECK(at::equal(pa[i].second, pb[i].second));
    if (pa[i].second.dim() == 1) {
      CHECK(at::equal(pa[i].second, at::ones_like(pa[i].second)));
    } else {
      CHECK(!at::equal(pa[i].second, po[i].second));
      CHECK(pa[i].second.std().item<double>() == doctest::Approx(0.05).epsilon(0.1));
      CHECK(std::abs(pa[i].second.mean().item<double>()) < 0.01);
    }
  }
  c.vocab_size = 100;
  test::check_message(test::error_from([&] { TrainableLlama::random(c, tokenizer, 3); }), ErrorCode::InvalidArgument,
                      "vocab_size is 100 but the tokenizer has 320 pieces");
}

TEST_CASE("the masked loss equals the loss over full logits, value and gradients") {
  TrainableLlama model = TrainableLlama::load(model_path("gguf", " --tied"));
  model.make_all_trainable();
  const at::Tensor ids = at::randint(3, 320, {2, 9}, at::kLong);
  const at::Tensor targets = ids.roll(-1, 1);
  const at::Tensor mask = (at::rand({2, 9}) > 0.4).to(at::kFloat);
  mask[0][3] = 1.f;
  const at::Tensor full = next_token_loss(model.forward(ids), targets, mask, 11.0);
  full.backward();
  std::vector<at::Tensor> want;
  for (const auto& [name, t] : model.named_parameters()) {
    want.push_back(t.grad().clone());
    t.mutable_grad() = at::Tensor();
  }
  const at::Tensor masked = model.masked_loss(model.embed(ids), targets, mask, 11.0);
  CHECK(masked.item<double>() == doctest::Approx(full.item<double>()).epsilon(1e-6));
  masked.backward();
  const auto params = model.named_parameters();
  for (size_t i = 0; i < params.size(); ++i) test::check_close(params[i].second.grad(), want[i], params[i].first, 1e-5);
}
