// The generation loop: streaming, the ways it stops (EOS, stop string, token limit, full
// context, cancellation, abort), and seeded sampling. Greedy continuations are checked against
// the ids the model itself gives by teacher forcing, so every expectation comes from the model.
#include "support/doctest_with_aten.hpp"

#include <string>
#include <vector>

#include "ophtha/error.hpp"
#include "ophtha/generate.hpp"
#include "ophtha/llama.hpp"
#include "support/test_models.hpp"

using namespace ophtha;

namespace {

const char* kModelArgs =
    "--format gguf --type f32 --dim 64 --layers 2 --heads 8 --kv-heads 2 --ffn 192 --ctx 64 --seed 21 --std 0.1";

std::shared_ptr<const LlamaModel> model() {
  static const auto m = LlamaModel::load(test::test_model("generate", kModelArgs));
  return m;
}

std::vector<int32_t> prompt() { return model()->tokenizer().encode("The optic disc", true); }

GenerateOptions greedy(int32_t n) {
  GenerateOptions o;
  o.max_tokens = n;
  o.sampling.temperature = 0;
  o.ignore_eos = true;
  return o;
}

GenerateResult run(const std::shared_ptr<const LlamaModel>& m, const std::vector<int32_t>& ids,
                   const GenerateOptions& o) {
  LlamaSession session(m);
  return generate(session, ids, o);
}

}  // namespace

TEST_CASE("greedy generation picks the argmax of the model's own logits at every step") {
  const GenerateResult got = run(model(), prompt(), greedy(24));
  REQUIRE(got.tokens.size() == 24);
  CHECK(got.reason == StopReason::TokenLimit);
  std::vector<int32_t> all = prompt();
  all.insert(all.end(), got.tokens.begin(), got.tokens.end() - 1);
  LlamaSession session(model());
  const at::Tensor logits = session.forward_tokens(all, true);  // (T, vocab)
  const auto first = static_cast<int64_t>(prompt().size()) - 1;
  for (size_t i = 0; i < got.tokens.size(); ++i)
    CHECK(logits[first + static_cast<int64_t>(i)].argmax().item<int64_t>() == got.tokens[i]);
}

TEST_CASE("the streamed pieces are whole UTF-8 and add up to the result text") {
  GenerateOptions o = greedy(40);
  std::string streamed;
  int calls = 0;
  o.on_token = [&](std::string_view piece, int32_t) {
    streamed += piece;
    ++calls;
    return true;
  };
  const GenerateResult got = run(model(), prompt(), o);
  CHECK(calls >= 40);
  CHECK(streamed == got.text);
  // A continuation keeps its first piece's "▁" as a space, which decode() drops at the start.
  const Tokenizer& t = model()->tokenizer();
  const bool leading_space = t.piece(got.tokens[0]).rfind("\xE2\x96\x81", 0) == 0;
  CHECK(got.text == (leading_space ? " " : "") + t.decode(got.tokens));
}

TEST_CASE("generation stops at the model's end-of-sequence id and does not include it") {
  const GenerateResult free_run = run(model(), prompt(), greedy(12));
  const int32_t eos = free_run.tokens.at(5);
  const auto with_eos = LlamaModel::load(
      test::test_model("generate-eos", std::string(kModelArgs) + " --eos-id " + std::to_string(eos)));
  REQUIRE(with_eos->tokenizer().eos_id() == eos);
  GenerateOptions o = greedy(12);
  o.ignore_eos = false;
  const GenerateResult got = run(with_eos, prompt(), o);
  CHECK(got.reason == StopReason::Eos);
  // The first occurrence of that id ends the run (it may occur before step 5).
  size_t first = 0;
  while (free_run.tokens[first] != eos) ++first;
  CHECK(got.tokens == std::vector<int32_t>(free_run.tokens.begin(), free_run.tokens.begin() + first));
  o.ignore_eos = true;
  CHECK(run(with_eos, prompt(), o).tokens == free_run.tokens);
}

TEST_CASE("a stop string ends generation before it, even across token boundaries") {
  const GenerateResult free_run = run(model(), prompt(), greedy(30));
  REQUIRE(free_run.text.size() > 12);
  // A stop string made of the end of one piece and the start of the text after it.
  const std::string stop = free_run.text.substr(6, 5);
  GenerateOptions o = greedy(30);
  o.stop_strings = {stop};
  std::string streamed;
  o.on_token = [&](std::string_view piece, int32_t) {
    streamed += piece;
    return true;
  };
  const GenerateResult got = run(model(), prompt(), o);
  CHECK(got.reason == StopReason::StopString);
  CHECK(got.text == free_run.text.substr(0, free_run.text.find(stop)));
  CHECK(streamed == got.text);
  CHECK(got.tokens.size() < free_run.tokens.size());
}

TEST_CASE("returning false from the token callback cancels after that token") {
  GenerateOptions o = greedy(30);
  int calls = 0;
  o.on_token = [&](std::string_view, int32_t) { return ++calls < 4; };
  const GenerateResult got = run(model(), prompt(), o);
  CHECK(got.reason == StopReason::Cancelled);
  CHECK(got.tokens.size() == 4);
}

TEST_CASE("the abort check stops generation with Error(Aborted)") {
  GenerateOptions o = greedy(30);
  int polls = 0;
  o.should_abort = [&] { return ++polls > 10; };
  LlamaSession session(model());
  try {
    generate(session, prompt(), o);
    FAIL("expected Error(Aborted)");
  } catch (const Error& e) {
    CHECK(e.code() == ErrorCode::Aborted);
  }
}

TEST_CASE("decoding stops cleanly with TokenLimit when the context is full; an oversized prompt is refused") {
  LlamaSessionOptions small;
  small.context_length = 12;
  LlamaSession session(model(), small);
  const std::vector<int32_t> p = prompt();
  const GenerateResult got = generate(session, p, greedy(100));
  CHECK(got.reason == StopReason::TokenLimit);
  CHECK(static_cast<int64_t>(p.size() + got.tokens.size()) == small.context_length + 1);  // the last one is sampled, not fed
  LlamaSession tiny(model(), [] {
    LlamaSessionOptions o;
    o.context_length = 2;
    return o;
  }());
  try {
    generate(tiny, p, greedy(4));
    FAIL("expected Error(ContextOverflow)");
  } catch (const Error& e) {
    CHECK(e.code() == ErrorCode::ContextOverflow);
  }
}

TEST_CASE("sampling with a seed is reproducible, and other seeds give other continuations") {
  GenerateOptions o = greedy(32);
  o.sampling.temperature = 1.0f;
  o.sampling.top_k = 0;
  o.sampling.top_p = 1.0f;
  o.sampling.min_p = 0.0f;
  o.sampling.seed = 5;
  const GenerateResult a = run(model(), prompt(), o);
  const GenerateResult b = run(model(), prompt(), o);
  CHECK(a.tokens == b.tokens);
  int differing = 0;
  for (uint64_t seed : {6, 7, 8}) {
    o.sampling.seed = seed;
    differing += run(model(), prompt(), o).tokens != a.tokens;
  }
  CHECK(differing == 3);
  CHECK(a.tokens != run(model(), prompt(), greedy(32)).tokens);
}

TEST_CASE("an empty prompt and a negative token limit are refused with InvalidArgument") {
  LlamaSession session(model());
  GenerateOptions o = greedy(-1);
  try {
    generate(session, prompt(), o);
    FAIL("expected Error(InvalidArgument)");
  } catch (const Error& e) {
    CHECK(e.code() == ErrorCode::InvalidArgument);
  }
  try {
    generate(session, {}, greedy(4));
    FAIL("expected Error(InvalidArgument)");
  } catch (const Error& e) {
    CHECK(e.code() == ErrorCode::InvalidArgument);
  }
}
