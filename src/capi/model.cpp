// ophtha_model: loading and facts about a loaded model.
#include <sys/stat.h>

#include <chrono>
#include <string>

#include "capi/boundary.hpp"
#include "capi/handles.hpp"
#include "capi/log.hpp"
#include "capi/struct_size.hpp"
#include "ophtha/model_bundle.hpp"
#include "ophtha/report_pipeline.hpp"

namespace ophtha::capi {
namespace {

const StructLayout kModelParams = {"ophtha_model_params", sizeof(ophtha_model_params),
                                   {OPHTHA_FIELD_END(ophtha_model_params, progress_callback),
                                    OPHTHA_FIELD_END(ophtha_model_params, progress_user_data)}};

ophtha_model_params model_defaults() {
  ophtha_model_params p{};
  p.struct_size = sizeof(p);
  p.progress_callback = nullptr;
  p.progress_user_data = nullptr;
  return p;
}

bool is_model_bundle(const std::string& path) {
  struct stat st {};
  const std::string manifest = path + "/" + kBundleManifestName;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode) && ::stat(manifest.c_str(), &st) == 0;
}

}  // namespace
}  // namespace ophtha::capi

using namespace ophtha;
using namespace ophtha::capi;

extern "C" {

ophtha_status ophtha_model_params_default(ophtha_model_params* params, uint32_t struct_size) {
  return guarded("ophtha_model_params_default", [&] {
    require(params, "params");
    write_prefix(kModelParams, params, struct_size, model_defaults());
  });
}

ophtha_status ophtha_model_load(const char* path, const ophtha_model_params* params, ophtha_model** out_model) {
  return guarded("ophtha_model_load", [&] {
    require(path, "path");
    require(out_model, "out_model");
    const ophtha_model_params p = read_params(kModelParams, params, model_defaults());
    LlamaLoadOptions options;
    if (p.progress_callback)
      options.progress = [&p](float fraction) { return p.progress_callback(fraction, p.progress_user_data) == 0; };
    const auto start = std::chrono::steady_clock::now();
    auto model = std::make_unique<ophtha_model>();
    if (is_model_bundle(path)) {
      ReportModelOptions report_options;
      report_options.progress = options.progress;
      model->report = ReportModel::load(path, report_options);
      model->llm = model->report->llm();
    } else {
      model->llm = LlamaModel::load(path, options);
    }
    const LlamaConfig& c = model->llm->config();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    log_message(OPHTHA_LOG_INFO,
                fmt::format("ophtha_model_load: '{}': {} layers, dim {}, {} heads ({} kv), vocab {}, context {}, "
                            "{:.1f} MiB of weights, loaded in {:.3f} s",
                            path, c.n_layers, c.dim, c.n_heads, c.n_kv_heads, c.vocab_size, c.context_length,
                            static_cast<double>(model->llm->weight_bytes()) / (1024.0 * 1024.0), seconds)
                    .c_str());
    *out_model = model.release();
  });
}

void ophtha_model_free(ophtha_model* model) { delete model; }

int32_t ophtha_model_n_vocab(const ophtha_model* model) {
  return model ? static_cast<int32_t>(model->llm->config().vocab_size) : 0;
}

int32_t ophtha_model_context_length(const ophtha_model* model) {
  return model ? static_cast<int32_t>(model->llm->config().context_length) : 0;
}

int32_t ophtha_model_token_bos(const ophtha_model* model) { return model ? model->llm->tokenizer().bos_id() : 0; }

int32_t ophtha_model_token_eos(const ophtha_model* model) { return model ? model->llm->tokenizer().eos_id() : 0; }

}  // extern "C"
