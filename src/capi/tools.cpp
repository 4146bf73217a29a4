// The tools of the C ABI: synthetic studies (synth.hpp), evaluation (evaluation.hpp) and training
// runs (train_run.hpp) — what `ophtha synth / eval / train` do, as calls.
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <string>

#include <nlohmann/json.hpp>

#include "capi/boundary.hpp"
#include "capi/struct_size.hpp"
#include "ophtha/evaluation.hpp"
#include "ophtha/manifest.hpp"
#include "ophtha/synth.hpp"
#include "ophtha/train_run.hpp"

namespace ophtha::capi {
namespace {

#define OPHTHA_SYNTH_FIELD(field) OPHTHA_FIELD_END(ophtha_synth_params, field)
const StructLayout kSynthParams = {
    "ophtha_synth_params",
    sizeof(ophtha_synth_params),
    {OPHTHA_SYNTH_FIELD(out_dir), OPHTHA_SYNTH_FIELD(studies), OPHTHA_SYNTH_FIELD(seed), OPHTHA_SYNTH_FIELD(lang),
     OPHTHA_SYNTH_FIELD(split_train), OPHTHA_SYNTH_FIELD(split_val), OPHTHA_SYNTH_FIELD(split_test),
     OPHTHA_SYNTH_FIELD(threads), OPHTHA_SYNTH_FIELD(force), OPHTHA_SYNTH_FIELD(progress_callback),
     OPHTHA_SYNTH_FIELD(progress_user_data)}};
#undef OPHTHA_SYNTH_FIELD

const StructLayout kEvaluateParams = {"ophtha_evaluate_params",
                                      sizeof(ophtha_evaluate_params),
                                      {OPHTHA_FIELD_END(ophtha_evaluate_params, lang),
                                       OPHTHA_FIELD_END(ophtha_evaluate_params, split)}};

#define OPHTHA_TRAIN_FIELD(field) OPHTHA_FIELD_END(ophtha_train_params, field)
const StructLayout kTrainParams = {
    "ophtha_train_params",
    sizeof(ophtha_train_params),
    {OPHTHA_TRAIN_FIELD(resume), OPHTHA_TRAIN_FIELD(max_steps), OPHTHA_TRAIN_FIELD(step_callback),
     OPHTHA_TRAIN_FIELD(step_user_data)}};
#undef OPHTHA_TRAIN_FIELD

// The C defaults are the C++ options' defaults: one source of truth.
ophtha_synth_params synth_defaults() {
  const SynthOptions options;
  ophtha_synth_params p{};
  p.struct_size = sizeof(p);
  p.out_dir = nullptr;
  p.studies = options.studies;
  p.seed = options.seed;
  p.lang = nullptr;  // "both"
  p.split_train = options.split[0];
  p.split_val = options.split[1];
  p.split_test = options.split[2];
  p.threads = options.threads;
  p.force = options.force ? 1 : 0;
  return p;
}

ophtha_evaluate_params evaluate_defaults() {
  ophtha_evaluate_params p{};
  p.struct_size = sizeof(p);
  p.lang = nullptr;   // every language present
  p.split = nullptr;  // EvaluationOptions::split
  return p;
}

ophtha_train_params train_defaults() {
  const TrainRunOptions options;
  ophtha_train_params p{};
  p.struct_size = sizeof(p);
  p.resume = options.resume ? 1 : 0;
  p.max_steps = options.max_steps;
  return p;
}

std::vector<std::string> synth_languages(const char* lang) {
  const std::string name = lang ? lang : "both";
  if (name == "both") return {"zh", "en"};
  if (name == "zh" || name == "en") return {name};
  fail(ErrorCode::InvalidArgument, "params->lang is '{}', expected \"zh\", \"en\", \"both\" or NULL", name);
}

// A malloc'd NUL-terminated copy the caller frees with ophtha_string_free.
char* owned_copy(const std::string& text) {
  char* copy = static_cast<char*>(std::malloc(text.size() + 1));
  if (!copy) throw std::bad_alloc();
  std::memcpy(copy, text.c_str(), text.size() + 1);
  return copy;
}

}  // namespace
}  // namespace ophtha::capi

using namespace ophtha;
using namespace ophtha::capi;

extern "C" {

void ophtha_string_free(char* string) { std::free(string); }

ophtha_status ophtha_synth_params_default(ophtha_synth_params* params, uint32_t struct_size) {
  return guarded("ophtha_synth_params_default", [&] {
    require(params, "params");
    write_prefix(kSynthParams, params, struct_size, synth_defaults());
  });
}

ophtha_status ophtha_synth(const ophtha_synth_params* params) {
  return guarded("ophtha_synth", [&] {
    require(params, "params");
    const ophtha_synth_params p = read_params(kSynthParams, params, synth_defaults());
    require(p.out_dir, "params->out_dir");
    if (p.studies < 1 || p.studies > 999'999)
      fail(ErrorCode::InvalidArgument, "params->studies is {}, expected 1 .. 999999", p.studies);
    if (p.threads < 1 || p.threads > 256)
      fail(ErrorCode::InvalidArgument, "params->threads is {}, expected 1 .. 256", p.threads);
    SynthOptions options;
    options.out_dir = p.out_dir;
    options.studies = p.studies;
    options.seed = p.seed;
    options.languages = synth_languages(p.lang);
    options.split[0] = p.split_train;
    options.split[1] = p.split_val;
    options.split[2] = p.split_test;
    options.threads = p.threads;
    options.force = p.force != 0;
    std::atomic<bool> stop{false};
    options.stop_requested = &stop;
    std::function<void(const SynthProgress&)> progress;
    if (p.progress_callback)
      progress = [&](const SynthProgress& done) {
        const float fraction = done.studies_total > 0
                                   ? static_cast<float>(done.studies_done) / static_cast<float>(done.studies_total)
                                   : 1.0f;
        if (p.progress_callback(fraction, p.progress_user_data) != 0) stop.store(true);
      };
    synthesize_dataset(options, progress);  // a stop asked at the final call, once all is written, is moot
  });
}

ophtha_status ophtha_evaluate_params_default(ophtha_evaluate_params* params, uint32_t struct_size) {
  return guarded("ophtha_evaluate_params_default", [&] {
    require(params, "params");
    write_prefix(kEvaluateParams, params, struct_size, evaluate_defaults());
  });
}

ophtha_status ophtha_evaluate(const char* manifest_path, const char* predictions_path, const char* out_dir,
                              const ophtha_evaluate_params* params, char** out_result_json) {
  return guarded("ophtha_evaluate", [&] {
    require(manifest_path, "manifest_path");
    require(predictions_path, "predictions_path");
    const ophtha_evaluate_params p = read_params(kEvaluateParams, params, evaluate_defaults());
    EvaluationOptions options;
    options.lang = p.lang ? p.lang : "";
    if (!options.lang.empty() && options.lang != "zh" && options.lang != "en")
      fail(ErrorCode::InvalidArgument, "params->lang is '{}', expected \"zh\", \"en\" or NULL", options.lang);
    if (p.split) options.split = p.split;
    const Manifest manifest = read_manifest(manifest_path);
    const PredictionFile predictions = read_predictions(predictions_path, options.lang);
    const EvaluationResult result = evaluate(manifest, predictions, options);
    if (out_dir) write_evaluation(out_dir, result);
    if (out_result_json) *out_result_json = owned_copy(to_json(result).dump());
  });
}

ophtha_status ophtha_train_params_default(ophtha_train_params* params, uint32_t struct_size) {
  return guarded("ophtha_train_params_default", [&] {
    require(params, "params");
    write_prefix(kTrainParams, params, struct_size, train_defaults());
  });
}

ophtha_status ophtha_train_run(const char* config_path, const ophtha_train_params* params, char** out_result_json) {
  return guarded("ophtha_train_run", [&] {
    require(config_path, "config_path");
    const ophtha_train_params p = read_params(kTrainParams, params, train_defaults());
    TrainRunOptions options;
    options.resume = p.resume != 0;
    options.max_steps = p.max_steps < 0 ? -1 : p.max_steps;
    if (p.step_callback)
      options.on_step = [&p](const TrainProgress& progress) {
        ophtha_train_step step{};
        step.struct_size = sizeof(step);
        step.stage = progress.stage.c_str();
        step.step = progress.step;
        step.total_steps = progress.total_steps;
        step.loss = progress.loss;
        step.lr = progress.lr;
        step.seconds = progress.seconds;
        step.items = progress.items;
        step.has_validation_loss = progress.validation_loss.has_value() ? 1 : 0;
        step.validation_loss = progress.validation_loss.value_or(0.0);
        return p.step_callback(&step, p.step_user_data) == 0;
      };
    const TrainRunResult result = train_from_config_file(config_path, options);
    if (out_result_json) {
      const nlohmann::json json = {{"stage", result.stage},
                                   {"step", result.step},
                                   {"total_steps", result.total_steps},
                                   {"complete", result.complete},
                                   {"outputs", result.outputs}};
      *out_result_json = owned_copy(json.dump());
    }
  });
}

}  // extern "C"
