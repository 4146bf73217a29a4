// ophtha_session: a LlamaSession (KV cache, scratch, thread pool) behind a handle.
#include "capi/boundary.hpp"
#include "capi/handles.hpp"
#include "capi/struct_size.hpp"

namespace ophtha::capi {
namespace {

const StructLayout kSessionParams = {"ophtha_session_params", sizeof(ophtha_session_params),
                                     {OPHTHA_FIELD_END(ophtha_session_params, n_threads),
                                      OPHTHA_FIELD_END(ophtha_session_params, context_length)}};

ophtha_session_params session_defaults() {
  const LlamaSessionOptions options;
  ophtha_session_params p{};
  p.struct_size = sizeof(p);
  p.n_threads = options.n_threads;
  p.context_length = static_cast<int32_t>(options.context_length);
  return p;
}

}  // namespace
}  // namespace ophtha::capi

using namespace ophtha;
using namespace ophtha::capi;

extern "C" {

ophtha_status ophtha_session_params_default(ophtha_session_params* params, uint32_t struct_size) {
  return guarded("ophtha_session_params_default", [&] {
    require(params, "params");
    write_prefix(kSessionParams, params, struct_size, session_defaults());
  });
}

ophtha_status ophtha_session_create(const ophtha_model* model, const ophtha_session_params* params,
                                    ophtha_session** out_session) {
  return guarded("ophtha_session_create", [&] {
    require(model, "model");
    require(out_session, "out_session");
    const ophtha_session_params p = read_params(kSessionParams, params, session_defaults());
    LlamaSessionOptions options;
    options.n_threads = p.n_threads;
    options.context_length = p.context_length;
    auto session = std::make_unique<ophtha_session>();
    if (model->report) {
      session->report = std::make_unique<ReportSession>(model->report, options);
      session->llm = &session->report->llm_session();
    } else {
      session->own_llm = std::make_unique<LlamaSession>(model->llm, options);
      session->llm = session->own_llm.get();
    }
    *out_session = session.release();
  });
}

void ophtha_session_free(ophtha_session* session) { delete session; }

int32_t ophtha_session_context_length(const ophtha_session* session) {
  return session ? static_cast<int32_t>(session->llm->context_length()) : 0;
}

}  // extern "C"
