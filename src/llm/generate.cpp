#include "ophtha/generate.hpp"

#include <chrono>

#include <ATen/ATen.h>

#include "ophtha/error.hpp"
#include "ophtha/stop_strings.hpp"

namespace ophtha {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Everything after the prompt's logits: sample, stream, stop.
GenerateResult decode_loop(LlamaSession& session, at::Tensor logits, std::vector<int32_t> history,
                           const GenerateOptions& options, GenerateResult result) {
  const Tokenizer& tokenizer = session.model().tokenizer();
  Sampler sampler(options.sampling);
  TokenStreamDecoder text_stream(tokenizer, /*continues_text=*/true);  // after the prompt, as llama.cpp prints
  StopStringMatcher stops(options.stop_strings);
  const auto start = Clock::now();
  auto emit = [&](const std::string& piece, int32_t id) {
    result.text += piece;
    return !options.on_token || options.on_token(piece, id);
  };
  result.reason = StopReason::TokenLimit;
  while (static_cast<int32_t>(result.tokens.size()) < options.max_tokens) {
    if (options.should_abort && options.should_abort()) fail(ErrorCode::Aborted, "generation aborted by the caller");
    const int32_t id = sampler.sample(logits.data_ptr<float>(), static_cast<int32_t>(logits.numel()), history);
    if (id == tokenizer.eos_id() && !options.ignore_eos) {
      result.reason = StopReason::Eos;
      break;
    }
    result.tokens.push_back(id);
    history.push_back(id);
    const std::string piece = stops.push(text_stream.push(id));
    if (stops.stopped()) {
      emit(piece, id);
      result.reason = StopReason::StopString;
      break;
    }
    if (!emit(piece, id)) {
      result.reason = StopReason::Cancelled;
      break;
    }
    if (static_cast<int32_t>(result.tokens.size()) >= options.max_tokens || session.position() >= session.context_length())
      break;
    logits = session.forward_tokens({id});
  }
  if (result.reason != StopReason::StopString) {
    const std::string tail = stops.push(text_stream.flush());
    const std::string rest = stops.stopped() ? tail : tail + stops.flush();
    if (stops.stopped()) result.reason = StopReason::StopString;
    if (!rest.empty() && options.on_token) options.on_token(rest, -1);
    result.text += rest;
  }
  result.decode_seconds = seconds_since(start);
  return result;
}

// Installs the caller's abort check on the session for one call only (the callback's
// captures may not outlive it).
struct AbortCheckScope {
  AbortCheckScope(LlamaSession& s, const std::function<bool()>& check) : session(s) { session.set_abort_check(check); }
  ~AbortCheckScope() { session.set_abort_check(nullptr); }
  LlamaSession& session;
};

void validate(const GenerateOptions& options) {
  if (options.max_tokens < 0) fail(ErrorCode::InvalidArgument, "max_tokens must be >= 0, got {}", options.max_tokens);
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
  validate(options);
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
  validate(options);  // before the prompt pass, not after it
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
  validate(options);
  const int64_t vocab = session.model().config().vocab_size;
  if (!prompt_logits.defined() || prompt_logits.dim() != 1 || prompt_logits.size(0) != vocab ||
      prompt_logits.scalar_type() != at::kFloat || !prompt_logits.device().is_cpu())
    fail(ErrorCode::InvalidArgument, "prompt logits must be a ({}) float32 CPU tensor, the model's vocabulary", vocab);
  AbortCheckScope abort_scope(session, options.should_abort);
  return decode_loop(session, prompt_logits.contiguous(), {}, options, GenerateResult{});
}

}  // namespace ophtha
