// Branches: continuations of one prompt decoded side by side (LlamaSession::start_branches,
// forward_branches) and the drafts built on them (generate_drafts_after_prompt). Every
// expectation comes from the sequential path on the same model: a branch's logits against
// forward_tokens of the same tokens after the prompt, a draft against generate_after_prompt.
#include "support/doctest_with_aten.hpp"

#include <string>
#include <vector>

#include "ophtha/error.hpp"
#include "ophtha/generate.hpp"
#include "ophtha/llama.hpp"
#include "support/test_models.hpp"

using namespace ophtha;

namespace {

const char* kArgs = "--format gguf --dim 64 --layers 2 --heads 8 --kv-heads 2 --ffn 192 --ctx 64 --seed 23 --std 0.1";

std::shared_ptr<const LlamaModel> model(const std::string& type = "f32") {
  return LlamaModel::load(test::test_model("branches-" + type, std::string(kArgs) + " --type " + type));
}

std::vector<int32_t> prompt(const LlamaModel& m) { return m.tokenizer().encode("The optic disc shows", true); }

double relative_error(const at::Tensor& got, const at::Tensor& want) {
  return (got - want).abs().max().item<double>() / want.abs().max().item<double>();
}

// Token t of branch b: varied, inside the vocabulary.
int32_t token_of(const LlamaModel& m, int b, int t) {
  return static_cast<int32_t>((37 * b + 11 * t + 5) % m.config().vocab_size);
}

ErrorCode code_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.code();
  }
  FAIL("expected an ophtha::Error");
  return ErrorCode::Internal;
}

GenerateOptions sampled(int32_t max_tokens, float temperature, uint64_t seed) {
  GenerateOptions o;
  o.max_tokens = max_tokens;
  o.sampling.temperature = temperature;
  o.sampling.seed = seed;
  o.ignore_eos = true;
  return o;
}

}  // namespace

TEST_CASE("each branch's logits equal forward_tokens of the same tokens after the prompt, whatever the batch") {
  for (const char* type : {"f32", "f16", "q8_0"}) {
    const auto m = model(type);
    const auto ids = prompt(*m);
    LlamaSession session(m);
    session.forward_tokens(ids);
    const int64_t base = session.position();
    // 7 branches (the batched products) and steps where only 1–3 run (the matrix-vector path):
    // branch b runs at steps where (step + b) % 3 != 0, so branches move unevenly.
    const int n = 7, steps = 9;
    session.start_branches(n, steps);
    std::vector<std::vector<int32_t>> fed(n);
    std::vector<std::vector<at::Tensor>> got(n);
    for (int step = 0; step < steps; ++step) {
      std::vector<int32_t> branches, next;
      for (int b = 0; b < n; ++b)
        if ((step + b) % 3 != 0 && (step < 6 || b < 2)) {
          branches.push_back(b);
          next.push_back(token_of(*m, b, step));
        }
      const at::Tensor logits = session.forward_branches(branches, next);
      REQUIRE(logits.sizes() == at::IntArrayRef({static_cast<int64_t>(branches.size()), m->config().vocab_size}));
      for (size_t i = 0; i < branches.size(); ++i) {
        fed[branches[i]].push_back(next[i]);
        got[branches[i]].push_back(logits[static_cast<int64_t>(i)].clone());
      }
    }
    CHECK(session.position() == base);  // the prompt is untouched
    LlamaSession sequential(m);
    sequential.forward_tokens(ids);
    for (int b = 0; b < n; ++b) {
      CHECK(session.branch_position(b) == base + static_cast<int64_t>(fed[b].size()));
      sequential.rewind(base);
      for (size_t t = 0; t < fed[b].size(); ++t) {
        const at::Tensor want = sequential.forward_tokens({fed[b][t]});
        INFO(type, " branch ", b, " token ", t);
        CHECK(relative_error(got[b][t], want) < 1e-5);
      }
    }
  }
}

TEST_CASE("the branches end when the main sequence changes, and their cache is reused") {
  const auto m = model();
  LlamaSession session(m);
  session.forward_tokens(prompt(*m));
  session.start_branches(4, 8);
  session.forward_branches({0, 3}, {5, 6});
  CHECK(session.n_branches() == 4);
  session.forward_tokens({7});
  CHECK(session.n_branches() == 0);
  CHECK(code_of([&] { session.forward_branches({0}, {5}); }) == ErrorCode::InvalidArgument);
  // Branches started again after the longer prompt see it: equal to the sequential continuation.
  session.start_branches(2, 4);
  const at::Tensor branched = session.forward_branches({1}, {9});
  const at::Tensor sequential = session.forward_tokens({9});  // ends the branches
  CHECK(relative_error(branched[0], sequential) < 1e-5);
  CHECK(session.n_branches() == 0);
  session.start_branches(1, 2);
  session.rewind(session.position());
  CHECK(session.n_branches() == 0);
}

TEST_CASE("bad branch calls are refused with what was wrong, and append nothing") {
  const auto m = model();
  LlamaSessionOptions options;
  options.context_length = 32;
  LlamaSession session(m, options);
  session.forward_tokens(prompt(*m));
  const int64_t base = session.position();
  CHECK(code_of([&] { session.start_branches(0, 4); }) == ErrorCode::InvalidArgument);
  CHECK(code_of([&] { session.start_branches(LlamaSession::kMaxBranches + 1, 4); }) == ErrorCode::InvalidArgument);
  CHECK(code_of([&] { session.start_branches(2, -1); }) == ErrorCode::InvalidArgument);
  try {
    session.start_branches(2, 33 - base);
    FAIL("expected InvalidArgument");
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find("capacity must be in [0, " + std::to_string(32 - base) + "]") != std::string::npos);
  }
  session.start_branches(3, 2);
  CHECK(code_of([&] { session.forward_branches({}, {}); }) == ErrorCode::InvalidArgument);
  CHECK(code_of([&] { session.forward_branches({0, 1}, {5}); }) == ErrorCode::InvalidArgument);
  CHECK(code_of([&] { session.forward_branches({3}, {5}); }) == ErrorCode::InvalidArgument);
  CHECK(code_of([&] { session.forward_branches({1, 1}, {5, 6}); }) == ErrorCode::InvalidArgument);
  CHECK(code_of([&] { session.forward_branches({0}, {static_cast<int32_t>(m->config().vocab_size)}); }) ==
        ErrorCode::InvalidArgument);
  CHECK(code_of([&] { session.branch_position(3); }) == ErrorCode::InvalidArgument);
  int polls = 0;
  session.set_abort_check([&] { return ++polls == 2; });
  CHECK(code_of([&] { session.forward_branches({0, 2}, {5, 6}); }) == ErrorCode::Aborted);
  session.set_abort_check(nullptr);
  for (int b = 0; b < 3; ++b) CHECK(session.branch_position(b) == base);
  session.forward_branches({0}, {5});
  session.forward_branches({0}, {6});
  try {
    session.forward_branches({1, 0}, {5, 7});
    FAIL("expected ContextOverflow");
  } catch (const Error& e) {
    CHECK(e.code() == ErrorCode::ContextOverflow);
    CHECK(std::string(e.what()).find("branch 0 is full") != std::string::npos);
  }
  CHECK(session.branch_position(1) == base);
  // After the refused calls, branch 2's first token still gives the sequential logits.
  const at::Tensor branched = session.forward_branches({2}, {8});
  LlamaSession sequential(m, options);
  sequential.forward_tokens(prompt(*m));
  CHECK(relative_error(branched[0], sequential.forward_tokens({8})) < 1e-5);
}

TEST_CASE("drafts decoded side by side equal the same drafts decoded one after another") {
  for (const char* type : {"f32", "f16"}) {
    const auto m = model(type);
    LlamaSession session(m);
    const at::Tensor prompt_logits = session.forward_tokens(prompt(*m));
    const int64_t prompt_end = session.position();
    // Greedy, seeded samples at two temperatures, different token limits, a stop string and a
    // token that ends one draft early: every way a draft ends, in one batch.
    std::vector<GenerateOptions> drafts = {sampled(20, 0, 0), sampled(20, 0.7f, 1), sampled(12, 0.7f, 2),
                                           sampled(20, 1.5f, 3), sampled(1, 0.7f, 4), sampled(0, 0.7f, 5)};
    for (uint64_t seed = 6; seed < 12; ++seed) drafts.push_back(sampled(16, 1.0f, seed));
    std::vector<GenerateResult> want;
    for (const GenerateOptions& d : drafts) {
      session.rewind(prompt_end);
      want.push_back(generate_after_prompt(session, prompt_logits, d));
    }
    // A stop string from draft 3's own text, and a callback that cancels draft 1 at its 5th token.
    REQUIRE(want[3].text.size() > 8);
    drafts[3].stop_strings = {want[3].text.substr(want[3].text.size() / 2, 3)};
    int streamed_1 = 0;
    drafts[1].on_token = [&](std::string_view, int32_t id) { return id < 0 || ++streamed_1 < 5; };
    session.rewind(prompt_end);
    want[3] = generate_after_prompt(session, prompt_logits, drafts[3]);
    session.rewind(prompt_end);
    want[1] = generate_after_prompt(session, prompt_logits, drafts[1]);
    streamed_1 = 0;
    CHECK(want[3].reason == StopReason::StopString);
    CHECK(want[1].reason == StopReason::Cancelled);

    session.rewind(prompt_end);
    std::string streamed_7;
    drafts[7].on_token = [&](std::string_view piece, int32_t) { return streamed_7 += piece, true; };
    const std::vector<GenerateResult> got = generate_drafts_after_prompt(session, prompt_logits, drafts);
    REQUIRE(got.size() == drafts.size());
    CHECK(session.position() == prompt_end);
    for (size_t i = 0; i < drafts.size(); ++i) {
      INFO(type, " draft ", i);
      CHECK(got[i].tokens == want[i].tokens);
      CHECK(got[i].text == want[i].text);
      CHECK(got[i].reason == want[i].reason);
    }
    CHECK(streamed_7 == got[7].text);
    CHECK(got[4].tokens.size() == 1);
    CHECK(got[5].tokens.empty());
    CHECK(got[0].reason == StopReason::TokenLimit);
  }
}

TEST_CASE("drafts stop cleanly where the context ends, and bad draft calls are refused") {
  const auto m = model();
  LlamaSessionOptions options;
  options.context_length = static_cast<int64_t>(prompt(*m).size()) + 5;
  LlamaSession session(m, options);
  const at::Tensor prompt_logits = session.forward_tokens(prompt(*m));
  const int64_t prompt_end = session.position();
  const std::vector<GenerateOptions> drafts(3, sampled(40, 0.9f, 7));
  session.rewind(prompt_end);
  const GenerateResult want = generate_after_prompt(session, prompt_logits, drafts[0]);
  session.rewind(prompt_end);
  const auto got = generate_drafts_after_prompt(session, prompt_logits, drafts);
  for (const GenerateResult& r : got) {
    CHECK(r.reason == StopReason::TokenLimit);
    CHECK(r.tokens == want.tokens);
    CHECK(static_cast<int64_t>(r.tokens.size()) == options.context_length - prompt_end + 1);
  }
  CHECK(code_of([&] { generate_drafts_after_prompt(session, prompt_logits, {}); }) == ErrorCode::InvalidArgument);
  CHECK(code_of([&] { generate_drafts_after_prompt(session, at::zeros({5}), drafts); }) == ErrorCode::InvalidArgument);
  std::vector<GenerateOptions> aborting = drafts;
  int polls = 0;
  aborting[2].should_abort = [&] { return ++polls > 3; };
  CHECK(code_of([&] { generate_drafts_after_prompt(session, prompt_logits, aborting); }) == ErrorCode::Aborted);
  CHECK(session.position() == prompt_end);
}

TEST_CASE("a draft's prefix is its first tokens, and it goes on as the model goes on after them") {
  const auto m = model();
  LlamaSession session(m);
  const at::Tensor prompt_logits = session.forward_tokens(prompt(*m));
  const int64_t prompt_end = session.position();
  const std::vector<int32_t> start = {token_of(*m, 1, 0), token_of(*m, 1, 1), token_of(*m, 1, 2)};
  // The reference: the prefix run as part of the prompt, then decoding from its last logits.
  const at::Tensor after_start = session.forward_tokens(start);
  std::vector<GenerateResult> want;
  for (const GenerateOptions& d : {sampled(9, 0, 0), sampled(9, 0.8f, 3)}) {
    session.rewind(prompt_end + static_cast<int64_t>(start.size()));
    want.push_back(generate_after_prompt(session, after_start, d));
  }
  std::vector<GenerateOptions> drafts = {sampled(12, 0, 0), sampled(12, 0.8f, 3), sampled(2, 0.8f, 3), sampled(12, 0.8f, 9)};
  for (size_t i = 0; i < 3; ++i) drafts[i].prefix = start;
  session.rewind(prompt_end);
  const GenerateResult one = generate_after_prompt(session, prompt_logits, drafts[1]);
  session.rewind(prompt_end);
  const std::vector<GenerateResult> got = generate_drafts_after_prompt(session, prompt_logits, drafts);
  for (size_t i = 0; i < 2; ++i) {
    INFO("draft ", i);
    std::vector<int32_t> expected = start;
    expected.insert(expected.end(), want[i].tokens.begin(), want[i].tokens.end());
    CHECK(got[i].tokens == expected);
    REQUIRE(got[i].text.size() >= want[i].text.size());
    CHECK(got[i].text.substr(got[i].text.size() - want[i].text.size()) == want[i].text);
  }
  CHECK(one.tokens == got[1].tokens);  // side by side as one after another
  // The prefix counts toward max_tokens: two tokens, both forced.
  CHECK(got[2].tokens == std::vector<int32_t>(start.begin(), start.begin() + 2));
  CHECK(got[2].reason == StopReason::TokenLimit);
  CHECK(got[3].tokens.front() != start.front());  // no prefix: sampled (seed 9 differs from the forced start)

  // A stop string inside the prefix ends the draft there, as a sampled one would.
  GenerateOptions stopping = sampled(12, 0.8f, 3);
  stopping.prefix = start;
  stopping.stop_strings = {m->tokenizer().decode({start[0], start[1]}).substr(1)};
  session.rewind(prompt_end);
  const GenerateResult stopped = generate_after_prompt(session, prompt_logits, stopping);
  CHECK(stopped.reason == StopReason::StopString);
  CHECK(stopped.tokens.size() <= 2);

  GenerateOptions outside = sampled(12, 0.8f, 3);
  outside.prefix = {start[0], static_cast<int32_t>(m->config().vocab_size)};
  session.rewind(prompt_end);
  CHECK(code_of([&] { generate_after_prompt(session, prompt_logits, outside); }) == ErrorCode::InvalidArgument);
  CHECK(code_of([&] { generate_drafts_after_prompt(session, prompt_logits, {outside}); }) == ErrorCode::InvalidArgument);
  outside.prefix = {-1};
  CHECK(code_of([&] { generate_after_prompt(session, prompt_logits, outside); }) == ErrorCode::InvalidArgument);
  CHECK(session.position() == prompt_end);
}
