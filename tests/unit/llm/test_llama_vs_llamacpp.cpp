// The transformer against llama.cpp (node-llama-cpp 3.21.1), through the committed goldens in
// tests/golden/llamacpp/ (regenerate with tests/tools/make_goldens.sh). Each golden names the
// make_llama_model.py arguments of the model llama.cpp ran, and that file's SHA-256: the test
// rewrites the same model, checks the hash, and compares
//   - the prompt's token ids,
//   - teacher-forced next-token argmax at every step where llama.cpp's top two logits are more
//     than the golden's tie threshold apart (100 % for F32/F16; ≥ 95 % for Q8_0/Q4_0),
//   - the log-probabilities llama.cpp gave its top three tokens,
//   - free-running greedy generation, token for token, up to the first tie step.
#include "support/doctest_with_aten.hpp"
#include <nlohmann/json.hpp>

#include <array>
#include <cstdio>
#include <fstream>
#include <memory>

#include "ophtha/generate.hpp"
#include "ophtha/llama.hpp"
#include "support/test_models.hpp"

using namespace ophtha;
using nlohmann::json;

namespace {

json read_golden(const std::string& name) {
  const std::string path = std::string(OPHTHA_SOURCE_DIR) + "/tests/golden/llamacpp/" + name + ".json";
  std::ifstream in(path);
  REQUIRE_MESSAGE(in.good(), "cannot open golden " << path);
  return json::parse(in);
}

std::string sha256_of(const std::string& path) {
  const std::string command = "sha256sum '" + path + "'";
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(::popen(command.c_str(), "r"), ::pclose);
  REQUIRE(pipe != nullptr);
  std::array<char, 65> hex{};
  REQUIRE(std::fread(hex.data(), 1, 64, pipe.get()) == 64);
  return std::string(hex.data(), 64);
}

// The golden's model, rewritten from its recorded arguments in the given format.
std::string golden_model(const json& golden, const std::string& format = "gguf") {
  std::string args = golden["model"]["make_llama_model_args"];
  const std::string stem = golden["name"].get<std::string>() + "-golden";
  if (format == "gguf") {
    const std::string path = test::test_model(stem, args);
    REQUIRE_MESSAGE(sha256_of(path) == golden["model"]["gguf_sha256"].get<std::string>(),
                    path << " is not byte-identical to the file llama.cpp ran (make_llama_model.py changed?)");
    return path;
  }
  args.replace(args.find("--format gguf"), 13, "--format " + format);
  return test::test_model(stem + "-" + format, args);
}

std::vector<int32_t> ids_of(const json& array) { return array.get<std::vector<int32_t>>(); }

struct TeacherForced {
  at::Tensor logprobs;  // (steps, vocab): log-softmax of the logits predicting step i
  std::vector<int32_t> argmax;
};

// Runs prompt + forced[0 .. n-1) in one pass and returns the predictions for each forced step.
TeacherForced teacher_force(const std::shared_ptr<const LlamaModel>& model, const std::vector<int32_t>& prompt,
                            const std::vector<int32_t>& forced) {
  LlamaSession session(model);
  std::vector<int32_t> input = prompt;
  input.insert(input.end(), forced.begin(), forced.end() - 1);
  at::Tensor logits = session.forward_tokens(input, /*all_logits=*/true);  // (T, vocab)
  const auto first = static_cast<int64_t>(prompt.size()) - 1;
  at::Tensor steps = logits.narrow(0, first, static_cast<int64_t>(forced.size()));
  TeacherForced out{at::log_softmax(steps.to(at::kDouble), -1), {}};
  at::Tensor argmax = steps.argmax(-1);
  for (int64_t i = 0; i < argmax.size(0); ++i) out.argmax.push_back(static_cast<int32_t>(argmax[i].item<int64_t>()));
  return out;
}

struct Agreement {
  int compared = 0;
  int agreed = 0;
  double max_logprob_error = 0;
};

// Compares our teacher-forced predictions with llama.cpp's for every case of a golden.
// `reference_key` names llama.cpp's chosen token per step: generated_ids (greedy goldens) or
// argmax_ids (teacher-forced goldens, whose inputs are forced_ids).
Agreement compare_teacher_forced(const std::shared_ptr<const LlamaModel>& model, const json& golden,
                                 const char* input_key, const char* reference_key) {
  const double tie = golden["tie_threshold"];
  Agreement total;
  for (const json& c : golden["cases"]) {
    const std::vector<int32_t> prompt = ids_of(c["prompt_ids"]);
    CHECK_MESSAGE(model->tokenizer().encode(c["prompt"].get<std::string>(), true) == prompt,
                  "prompt ids differ from llama.cpp's for " << c["prompt"]);
    const std::vector<int32_t> forced = ids_of(c[input_key]);
    const std::vector<int32_t> reference = ids_of(c[reference_key]);
    const TeacherForced ours = teacher_force(model, prompt, forced);
    for (size_t i = 0; i < reference.size(); ++i) {
      const json& top_ids = c["top_ids"][i];
      const json& top_logprobs = c["top_logprobs"][i];
      for (size_t j = 0; j < top_ids.size(); ++j) {
        const double mine = ours.logprobs[static_cast<int64_t>(i)][top_ids[j].get<int64_t>()].item<double>();
        total.max_logprob_error = std::max(total.max_logprob_error, std::abs(mine - top_logprobs[j].get<double>()));
      }
      if (c["top2_gap"][i].get<double>() <= tie) continue;
      ++total.compared;
      if (ours.argmax[i] == reference[i]) {
        ++total.agreed;
      } else {
        MESSAGE("prompt " << c["prompt"] << " step " << i << ": ours " << ours.argmax[i] << ", llama.cpp "
                          << reference[i] << " (top-2 gap " << c["top2_gap"][i] << ")");
      }
    }
  }
  return total;
}

// Greedy generation must equal llama.cpp's token for token up to its first tie step.
void check_free_running(const std::shared_ptr<const LlamaModel>& model, const json& golden) {
  for (const json& c : golden["cases"]) {
    const std::vector<int32_t> want = ids_of(c["generated_ids"]);
    const std::vector<int32_t> ties = ids_of(c["tie_steps"]);
    const size_t agree_until = ties.empty() ? want.size() : static_cast<size_t>(ties.front());
    LlamaSession session(model);
    GenerateOptions options;
    options.max_tokens = static_cast<int32_t>(want.size());
    options.sampling.temperature = 0;
    options.ignore_eos = true;
    const GenerateResult got = generate(session, ids_of(c["prompt_ids"]), options);
    REQUIRE(got.tokens.size() == want.size());
    for (size_t i = 0; i < agree_until; ++i) {
      INFO("prompt " << c["prompt"] << ", step " << i);
      REQUIRE(got.tokens[i] == want[i]);
    }
    // Past a tie either continuation is right; when ours took llama.cpp's branch it must stay.
    if (std::equal(want.begin(), want.end(), got.tokens.begin())) continue;
    MESSAGE("prompt " << c["prompt"] << ": identical for " << agree_until << " tokens, then a tie step");
  }
}

int total_free_running_identical(const std::shared_ptr<const LlamaModel>& model, const json& golden) {
  int identical = 0;
  for (const json& c : golden["cases"]) {
    LlamaSession session(model);
    GenerateOptions options;
    options.max_tokens = static_cast<int32_t>(c["generated_ids"].size());
    options.sampling.temperature = 0;
    options.ignore_eos = true;
    const std::vector<int32_t> want = ids_of(c["generated_ids"]);
    const GenerateResult got = generate(session, ids_of(c["prompt_ids"]), options);
    size_t same = 0;
    while (same < want.size() && got.tokens[same] == want[same]) ++same;
    if (same >= 64) ++identical;
  }
  return identical;
}

void check_greedy_golden(const std::string& name, double logprob_tolerance) {
  const json golden = read_golden(name);
  const auto model = LlamaModel::load(golden_model(golden));
  const Agreement a = compare_teacher_forced(model, golden, "generated_ids", "generated_ids");
  MESSAGE(name << ": teacher-forced argmax " << a.agreed << "/" << a.compared
               << " non-tie steps, max |Δ log p| " << a.max_logprob_error);
  CHECK(a.compared > 500);
  CHECK(a.agreed == a.compared);
  CHECK(a.max_logprob_error < logprob_tolerance);
  check_free_running(model, golden);
  const int identical = total_free_running_identical(model, golden);
  MESSAGE(name << ": " << identical << "/" << golden["cases"].size() << " prompts identical for ≥ 64 tokens");
  CHECK(identical * 2 >= static_cast<int>(golden["cases"].size()));
}

}  // namespace

TEST_CASE("F32 GQA model: greedy generation matches llama.cpp") { check_greedy_golden("gqa-f32", 2e-3); }
TEST_CASE("F32 multi-head model: greedy generation matches llama.cpp") { check_greedy_golden("mha-f32", 2e-3); }
TEST_CASE("F32 model with tied output head: greedy generation matches llama.cpp") {
  check_greedy_golden("tied-f32", 2e-3);
}
TEST_CASE("F16 GQA model: greedy generation matches llama.cpp") { check_greedy_golden("gqa-f16", 2e-2); }
TEST_CASE("F16 multi-head model: greedy generation matches llama.cpp") { check_greedy_golden("mha-f16", 2e-2); }
TEST_CASE("F16 model with tied output head: greedy generation matches llama.cpp") {
  check_greedy_golden("tied-f16", 2e-2);
}

TEST_CASE("quantized models: teacher-forced next token agrees with llama.cpp at least 95% of steps") {
  for (const std::string name : {"gqa-q8_0", "gqa-q4_0"}) {
    const json golden = read_golden(name);
    const auto model = LlamaModel::load(golden_model(golden));
    const Agreement a = compare_teacher_forced(model, golden, "forced_ids", "argmax_ids");
    MESSAGE(name << ": teacher-forced argmax " << a.agreed << "/" << a.compared << " non-tie steps, max |Δ log p| "
                 << a.max_logprob_error);
    CHECK(a.compared > 500);
    CHECK(a.agreed >= 0.95 * a.compared);
  }
}

TEST_CASE("the same weights as a Hugging Face folder predict what llama.cpp predicts from the GGUF") {
  for (const std::string format : {"hf", "hf-sharded"}) {
    const json golden = read_golden("gqa-f32");
    const auto model = LlamaModel::load(golden_model(golden, format));
    const Agreement a = compare_teacher_forced(model, golden, "generated_ids", "generated_ids");
    MESSAGE(format << ": teacher-forced argmax " << a.agreed << "/" << a.compared);
    CHECK(a.agreed == a.compared);
    CHECK(a.max_logprob_error < 2e-3);
    check_free_running(model, golden);
  }
}
