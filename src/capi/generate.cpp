// ophtha_generate: text in, streamed text out, on one session.
#include <string>
#include <vector>

#include "capi/boundary.hpp"
#include "capi/handles.hpp"
#include "capi/struct_size.hpp"
#include "ophtha/generate.hpp"

namespace ophtha::capi {
namespace {

#define OPHTHA_GENERATE_FIELD(field) OPHTHA_FIELD_END(ophtha_generate_params, field)
const StructLayout kGenerateParams = {
    "ophtha_generate_params",
    sizeof(ophtha_generate_params),
    {OPHTHA_GENERATE_FIELD(max_tokens), OPHTHA_GENERATE_FIELD(temperature), OPHTHA_GENERATE_FIELD(top_k),
     OPHTHA_GENERATE_FIELD(top_p), OPHTHA_GENERATE_FIELD(min_p), OPHTHA_GENERATE_FIELD(repeat_penalty),
     OPHTHA_GENERATE_FIELD(repeat_last_n), OPHTHA_GENERATE_FIELD(seed), OPHTHA_GENERATE_FIELD(add_bos),
     OPHTHA_GENERATE_FIELD(ignore_eos), OPHTHA_GENERATE_FIELD(stop_strings), OPHTHA_GENERATE_FIELD(n_stop_strings),
     OPHTHA_GENERATE_FIELD(token_callback), OPHTHA_GENERATE_FIELD(token_user_data),
     OPHTHA_GENERATE_FIELD(abort_callback), OPHTHA_GENERATE_FIELD(abort_user_data)}};
#undef OPHTHA_GENERATE_FIELD

#define OPHTHA_GENERATION_FIELD(field) OPHTHA_FIELD_END(ophtha_generation, field)
const StructLayout kGeneration = {
    "ophtha_generation",
    sizeof(ophtha_generation),
    {OPHTHA_GENERATION_FIELD(stop_reason), OPHTHA_GENERATION_FIELD(text), OPHTHA_GENERATION_FIELD(text_length),
     OPHTHA_GENERATION_FIELD(tokens), OPHTHA_GENERATION_FIELD(n_tokens), OPHTHA_GENERATION_FIELD(n_prompt_tokens),
     OPHTHA_GENERATION_FIELD(prefill_seconds), OPHTHA_GENERATION_FIELD(decode_seconds)}};
#undef OPHTHA_GENERATION_FIELD

// More stop strings than any use needs; a larger count is a caller's mistake, refused before
// anything is read or allocated.
constexpr size_t kMaxStopStrings = 256;

// The C defaults are the C++ defaults (GenerateOptions, SamplerParams): one source of truth.
ophtha_generate_params generate_defaults() {
  const GenerateOptions options;
  const SamplerParams& s = options.sampling;
  ophtha_generate_params p{};
  p.struct_size = sizeof(p);
  p.max_tokens = options.max_tokens;
  p.temperature = s.temperature;
  p.top_k = s.top_k;
  p.top_p = s.top_p;
  p.min_p = s.min_p;
  p.repeat_penalty = s.repeat_penalty;
  p.repeat_last_n = s.repeat_last_n;
  p.seed = s.seed;
  p.add_bos = 1;
  p.ignore_eos = options.ignore_eos ? 1 : 0;
  return p;
}

std::vector<std::string> stop_strings_of(const ophtha_generate_params& p) {
  if (p.n_stop_strings == 0) return {};
  require(p.stop_strings, "stop_strings (with n_stop_strings > 0)");
  if (p.n_stop_strings > kMaxStopStrings)
    fail(ErrorCode::InvalidArgument, "n_stop_strings is {}, expected at most {}", p.n_stop_strings, kMaxStopStrings);
  std::vector<std::string> stops;
  for (size_t i = 0; i < p.n_stop_strings; ++i) {
    if (p.stop_strings[i] == nullptr) fail(ErrorCode::InvalidArgument, "stop_strings[{}] is NULL", i);
    if (p.stop_strings[i][0] == '\0') fail(ErrorCode::InvalidArgument, "stop_strings[{}] is empty", i);
    stops.emplace_back(p.stop_strings[i]);
  }
  return stops;
}

ophtha_stop_reason stop_reason_of(StopReason reason) {
  switch (reason) {
    case StopReason::Eos: return OPHTHA_STOP_EOS;
    case StopReason::StopString: return OPHTHA_STOP_STRING;
    case StopReason::TokenLimit: return OPHTHA_STOP_TOKEN_LIMIT;
    case StopReason::Cancelled: return OPHTHA_STOP_CANCELLED;
  }
  return OPHTHA_STOP_TOKEN_LIMIT;
}

}  // namespace
}  // namespace ophtha::capi

using namespace ophtha;
using namespace ophtha::capi;

extern "C" {

ophtha_status ophtha_generate_params_default(ophtha_generate_params* params, uint32_t struct_size) {
  return guarded("ophtha_generate_params_default", [&] {
    require(params, "params");
    write_prefix(kGenerateParams, params, struct_size, generate_defaults());
  });
}

ophtha_status ophtha_generate(ophtha_session* session, const char* prompt, const ophtha_generate_params* params,
                              ophtha_generation* out_generation) {
  return guarded("ophtha_generate", [&] {
    require(session, "session");
    require(prompt, "prompt");
    const ophtha_generate_params p = read_params(kGenerateParams, params, generate_defaults());
    if (out_generation) check_struct_size(kGeneration, out_generation->struct_size);

    GenerateOptions options;
    options.max_tokens = p.max_tokens;
    options.sampling.temperature = p.temperature;
    options.sampling.top_k = p.top_k;
    options.sampling.top_p = p.top_p;
    options.sampling.min_p = p.min_p;
    options.sampling.repeat_penalty = p.repeat_penalty;
    options.sampling.repeat_last_n = p.repeat_last_n;
    options.sampling.seed = p.seed;
    options.ignore_eos = p.ignore_eos != 0;
    options.stop_strings = stop_strings_of(p);
    if (p.token_callback)
      options.on_token = [&p, session](std::string_view text, int32_t token) {
        session->piece.assign(text);  // NUL-terminated for the callback
        return p.token_callback(session->piece.c_str(), session->piece.size(), token, p.token_user_data) == 0;
      };
    if (p.abort_callback) options.should_abort = [&p] { return p.abort_callback(p.abort_user_data) != 0; };

    LlamaSession& llm = *session->llm;
    const std::vector<int32_t> prompt_tokens = llm.model().tokenizer().encode(prompt, p.add_bos != 0);
    llm.rewind(0);  // every call starts from an empty context
    GenerateResult result = generate(llm, prompt_tokens, options);

    session->text = std::move(result.text);
    session->tokens = std::move(result.tokens);
    if (out_generation) {
      ophtha_generation g{};
      g.stop_reason = stop_reason_of(result.reason);
      g.text = session->text.c_str();
      g.text_length = session->text.size();
      g.tokens = session->tokens.data();
      g.n_tokens = session->tokens.size();
      g.n_prompt_tokens = prompt_tokens.size();
      g.prefill_seconds = result.prefill_seconds;
      g.decode_seconds = result.decode_seconds;
      write_output(kGeneration, out_generation, g);
    }
  });
}

}  // extern "C"
