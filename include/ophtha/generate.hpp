// Text generation on a LlamaSession: prefill the prompt in one batched pass, then decode one
// token at a time with a Sampler until EOS, a stop string, the token limit, or the caller stops.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "ophtha/export.h"
#include "ophtha/llama.hpp"
#include "ophtha/sampler.hpp"

namespace ophtha {

enum class StopReason { Eos, StopString, TokenLimit, Cancelled };

OPHTHA_API const char* stop_reason_name(StopReason reason);

struct OPHTHA_API GenerateOptions {
  int32_t max_tokens = 128;                // generated tokens at most
  SamplerParams sampling;                  // temperature <= 0 → greedy
  std::vector<std::string> stop_strings;   // generation ends before any of these
  bool ignore_eos = false;
  // Tokens taken as the continuation's first ones in place of sampled ones — a forced start, as in
  // lexically constrained decoding (line_refinement.hpp's guided alternatives): each is streamed,
  // checked for stop strings and EOS, and counted toward max_tokens as a sampled token is, and
  // sampling begins from the logits after the last. Ids outside the vocabulary:
  // Error(InvalidArgument).
  std::vector<int32_t> prefix;
  // Called on the generating thread with each new piece of text (complete UTF-8 only; may be
  // empty while a character or a possible stop string is still incomplete) and the token id.
  // Returning false cancels generation (StopReason::Cancelled).
  std::function<bool(std::string_view text, int32_t token)> on_token;
  // Polled once per layer and per token; returning true aborts with Error(Aborted).
  std::function<bool()> should_abort;
};

struct OPHTHA_API GenerateResult {
  std::vector<int32_t> tokens;  // generated ids (not the prompt's)
  std::string text;             // their text, without any stop string
  StopReason reason = StopReason::TokenLimit;
  int64_t prompt_tokens = 0;
  double prefill_seconds = 0;
  double decode_seconds = 0;
};

// Generates after `prompt` (already tokenized, BOS included if wanted) at the session's current
// position. Error(ContextOverflow) when the prompt does not fit; decoding stops cleanly with
// TokenLimit when the context fills up.
OPHTHA_API GenerateResult generate(LlamaSession& session, const std::vector<int32_t>& prompt,
                                   const GenerateOptions& options);

// Same, after ready-made prompt embeddings (T, dim) — the vision path's entry point.
OPHTHA_API GenerateResult generate_from_embeddings(LlamaSession& session, const at::Tensor& prompt_embeddings,
                                                   const GenerateOptions& options);

// The prompt pass alone: runs `prompt_embeddings` (T, dim) at the session's position, with
// `should_abort` polled per layer during the call, and returns the last token's logits (vocab) —
// what generate_after_prompt continues from. Errors as LlamaSession::forward_embeddings.
OPHTHA_API at::Tensor prefill_embeddings(LlamaSession& session, const at::Tensor& prompt_embeddings,
                                         const std::function<bool()>& should_abort = nullptr);

// Decodes after a prompt the session already holds: `prompt_logits` (vocab) f32 are the logits of
// its last token, as forward_tokens / forward_embeddings returned them (read only). Several
// continuations can share one prefill: rewind(prompt end) before each call. The result's
// prompt_tokens and prefill_seconds are 0. Error(InvalidArgument) when prompt_logits is not a
// (vocab) f32 tensor of the model's vocabulary.
OPHTHA_API GenerateResult generate_after_prompt(LlamaSession& session, const at::Tensor& prompt_logits,
                                                const GenerateOptions& options);

// Several continuations of the prompt the session holds, decoded side by side as branches
// (LlamaSession::start_branches): each step runs the next token of every unfinished draft in one
// pass, reading the weights once for all of them — n drafts cost far less than n calls of
// generate_after_prompt. Each draft has its own options: sampler and seed, stop strings, token
// limit, on_token (called on this thread, drafts interleaved step by step); should_abort is polled
// for every draft at every step (any true → Error(Aborted)). results[i] holds the tokens and text
// generate_after_prompt(session, prompt_logits, drafts[i]) gives after rewinding to the prompt's
// end — the same up to the rounding of the batched products, which can change a token only where
// two candidates' logits tie within ~1e-5. Every result's decode_seconds is the whole batch's time.
// The session keeps the prompt (position() unchanged) and the branches until its next
// forward_tokens, forward_embeddings or rewind. Errors as generate_after_prompt; Error(InvalidArgument)
// for no drafts or more than LlamaSession::kMaxBranches.
OPHTHA_API std::vector<GenerateResult> generate_drafts_after_prompt(LlamaSession& session,
                                                                   const at::Tensor& prompt_logits,
                                                                   const std::vector<GenerateOptions>& drafts);

}  // namespace ophtha
