#include "ophtha/generate.hpp"

#include <algorithm>
#include <chrono>
#include <functional>

#include <ATen/ATen.h>

#include "ophtha/error.hpp"
#include "ophtha/stop_strings.hpp"

namespace ophtha {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// One continuation's sampling, streaming and stopping: given the logits after its last token,
// step() chooses the next one and says whether the draft goes on (the caller then runs that token).
class DraftDecoder {
 public:
  DraftDecoder(const Tokenizer& tokenizer, const GenerateOptions& options, std::vector<int32_t> history,
               GenerateResult result)
      : tokenizer_(tokenizer),
        options_(options),
        sampler_(options.sampling),
        text_stream_(tokenizer, /*continues_text=*/true),  // after the prompt, as llama.cpp prints
        stops_(options.stop_strings),
        history_(std::move(history)),
        result_(std::move(result)) {
    result_.reason = StopReason::TokenLimit;
    ended_ = options.max_tokens <= 0;
  }

  bool ended() const { return ended_; }
  int32_t last_token() const { return result_.tokens.back(); }

  // Samples from `logits` (vocab); returns true when the sampled token is to be run next.
  // `room_left`: whether the sequence has a position for it.
  bool step(const at::Tensor& logits, bool room_left) {
    const int32_t id = forced_ < options_.prefix.size()
                           ? options_.prefix[forced_++]
                           : sampler_.sample(logits.data_ptr<float>(), static_cast<int32_t>(logits.numel()), history_);
    if (id == tokenizer_.eos_id() && !options_.ignore_eos) return end(StopReason::Eos);
    result_.tokens.push_back(id);
    history_.push_back(id);
    const std::string piece = stops_.push(text_stream_.push(id));
    if (stops_.stopped()) {
      emit(piece, id);
      return end(StopReason::StopString);
    }
    if (!emit(piece, id)) return end(StopReason::Cancelled);
    if (static_cast<int32_t>(result_.tokens.size()) >= options_.max_tokens || !room_left) return end(StopReason::TokenLimit);
    return true;
  }

  // The text still held back (an incomplete character or stop string), then the result.
  GenerateResult finish(double decode_seconds) {
    if (result_.reason != StopReason::StopString) {
      const std::string tail = stops_.push(text_stream_.flush());
      const std::string rest = stops_.stopped() ? tail : tail + stops_.flush();
      if (stops_.stopped()) result_.reason = StopReason::StopString;
      if (!rest.empty() && options_.on_token) options_.on_token(rest, -1);
      result_.text += rest;
    }
    result_.decode_seconds = decode_seconds;
    return std::move(result_);
  }

 private:
  bool emit(const std::string& piece, int32_t id) {
    result_.text += piece;
    return !options_.on_token || options_.on_token(piece, id);
  }
  bool end(StopReason reason) {
    result_.reason = reason;
    ended_ = true;
    return false;
  }

  const Tokenizer& tokenizer_;
  const GenerateOptions& options_;
  Sampler sampler_;
  TokenStreamDecoder text_stream_;
  StopStringMatcher stops_;
  std::vector<int32_t> history_;
  GenerateResult result_;
  size_t forced_ = 0;  // how many of options_.prefix were taken
  bool ended_ = false;
};

// Everything after the prompt's logits: sample, stream, stop.
GenerateResult decode_loop(LlamaSession& session, at::Tensor logits, std::vector<int32_t> history,
                           const GenerateOptions& options, GenerateResult result) {
  DraftDecoder draft(session.model().tokenizer(), options, std::move(history), std::move(result));
  const auto start = Clock::now();
  while (!draft.ended()) {
    if (options.should_abort && options.should_abort()) fail(ErrorCode::Aborted, "generation aborted by the caller");
    if (!draft.step(logits, session.position() < session.context_length())) break;
    logits = session.forward_tokens({draft.last_token()});
  }
  return draft.finish(seconds_since(start));
}

// Installs the caller's abort check on the session for one call only (the callback's
// captures may not outlive it).
struct AbortCheckScope {
  AbortCheckScope(LlamaSession& s, const std::function<bool()>& check) : session(s) { session.set_abort_check(check); }
  ~AbortCheckScope() { session.set_abort_check(nullptr); }
  LlamaSession& session;
};

void validate(const GenerateOptions& options, const LlamaSession& session) {
  if (options.max_tokens < 0) fail(ErrorCode::InvalidArgument, "max_tokens must be >= 0, got {}", options.max_tokens);
  const int64_t vocab = session.model().config().vocab_size;
  for (size_t i = 0; i < options.prefix.size(); ++i)
    if (options.prefix[i] < 0 || options.prefix[i] >= vocab)
      fail(ErrorCode::InvalidArgument, "prefix token {} is id {}, outside the vocabulary of {}", i, options.prefix[i], vocab);
}

void check_prompt_logits(const LlamaSession& session, const at::Tensor& prompt_logits) {
  const int64_t vocab = session.model().config().vocab_size;
  if (!prompt_logits.defined() || prompt_logits.dim() != 1 || prompt_logits.size(0) != vocab ||
      prompt_logits.scalar_type() != at::kFloat || !prompt_logits.device().is_cpu())
    fail(ErrorCode::InvalidArgument, "prompt logits must be a ({}) float32 CPU tensor, the model's vocabulary", vocab);
}

}  // namespace

const char* stop_reason_name(StopReason reason) {
  switch (reason) {
    case StopReason::Eos: return "eos";
    case StopReason::StopString: return "stop_string";
    case StopReason::TokenLimit: return "token_limit";
    case StopReason::Cancelled: return "cancelled";
  }
  return "unknown";
}

GenerateResult generate(LlamaSession& session, const std::vector<int32_t>& prompt, const GenerateOptions& options) {
  validate(options, session);
  if (prompt.empty()) fail(ErrorCode::InvalidArgument, "the prompt has no tokens");
  AbortCheckScope abort_scope(session, options.should_abort);
  GenerateResult result;
  result.prompt_tokens = static_cast<int64_t>(prompt.size());
  const auto start = Clock::now();
  at::Tensor logits = session.forward_tokens(prompt);
  result.prefill_seconds = seconds_since(start);
  return decode_loop(session, std::move(logits), prompt, options, std::move(result));
}

GenerateResult generate_from_embeddings(LlamaSession& session, const at::Tensor& prompt_embeddings,
                                        const GenerateOptions& options) {
  validate(options, session);  // before the prompt pass, not after it
  const auto start = Clock::now();
  const at::Tensor logits = prefill_embeddings(session, prompt_embeddings, options.should_abort);
  const double prefill_seconds = seconds_since(start);
  GenerateResult result = generate_after_prompt(session, logits, options);
  result.prompt_tokens = prompt_embeddings.dim() > 0 ? prompt_embeddings.size(0) : 0;
  result.prefill_seconds = prefill_seconds;
  return result;
}

at::Tensor prefill_embeddings(LlamaSession& session, const at::Tensor& prompt_embeddings,
                              const std::function<bool()>& should_abort) {
  AbortCheckScope abort_scope(session, should_abort);
  return session.forward_embeddings(prompt_embeddings);
}

GenerateResult generate_after_prompt(LlamaSession& session, const at::Tensor& prompt_logits,
                                     const GenerateOptions& options) {
  validate(options, session);
  check_prompt_logits(session, prompt_logits);
  AbortCheckScope abort_scope(session, options.should_abort);
  return decode_loop(session, prompt_logits.contiguous(), {}, options, GenerateResult{});
}

std::vector<GenerateResult> generate_drafts_after_prompt(LlamaSession& session, const at::Tensor& prompt_logits,
                                                         const std::vector<GenerateOptions>& drafts) {
  if (drafts.empty() || drafts.size() > static_cast<size_t>(LlamaSession::kMaxBranches))
    fail(ErrorCode::InvalidArgument, "generate_drafts_after_prompt needs 1 to {} drafts, got {}", LlamaSession::kMaxBranches,
         drafts.size());
  check_prompt_logits(session, prompt_logits);
  int32_t longest = 0;
  for (const GenerateOptions& d : drafts) validate(d, session), longest = std::max(longest, d.max_tokens);
  // A draft runs at most max_tokens - 1 of its tokens (the last one sampled is not run).
  const int64_t capacity =
      std::min<int64_t>(std::max<int32_t>(longest - 1, 0), session.context_length() - session.position());
  session.start_branches(static_cast<int>(drafts.size()), capacity);
  const std::function<bool()> any_abort = [&drafts] {
    for (const GenerateOptions& d : drafts)
      if (d.should_abort && d.should_abort()) return true;
    return false;
  };
  AbortCheckScope abort_scope(session, any_abort);

  const at::Tensor first = prompt_logits.contiguous();
  std::vector<DraftDecoder> decoders;
  decoders.reserve(drafts.size());
  for (const GenerateOptions& d : drafts) decoders.emplace_back(session.model().tokenizer(), d, std::vector<int32_t>{}, GenerateResult{});
  const auto start = Clock::now();
  std::vector<int32_t> running(drafts.size());  // the drafts whose logits row i of `logits` holds
  for (size_t i = 0; i < drafts.size(); ++i) running[i] = static_cast<int32_t>(i);
  at::Tensor logits;  // (running, vocab); the prompt's for every draft at the first step
  while (!running.empty()) {
    if (any_abort()) fail(ErrorCode::Aborted, "generation aborted by the caller");
    std::vector<int32_t> next_branches, next_ids;
    for (size_t i = 0; i < running.size(); ++i) {
      const int32_t b = running[i];
      DraftDecoder& d = decoders[static_cast<size_t>(b)];
      if (d.ended()) continue;
      const at::Tensor row = logits.defined() ? logits[static_cast<int64_t>(i)] : first;
      if (d.step(row, session.branch_position(b) < session.context_length()))
        next_branches.push_back(b), next_ids.push_back(d.last_token());
    }
    running = next_branches;
    if (!running.empty()) logits = session.forward_branches(next_branches, next_ids);
  }
  const double seconds = seconds_since(start);
  std::vector<GenerateResult> results;
  results.reserve(drafts.size());
  for (DraftDecoder& d : decoders) results.push_back(d.finish(seconds));
  return results;
}

}  // namespace ophtha
