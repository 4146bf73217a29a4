// train_from_config_file (train_run.hpp): one configuration file, whatever its stage.
#include "ophtha/train_run.hpp"

#include "ophtha/train.hpp"
#include "ophtha/train_stages.hpp"

namespace ophtha {

namespace {

std::vector<std::string> outputs_of(const TrainConfig& c) {
  std::vector<std::string> out;
  for (const std::string* path : {&c.output_gguf, &c.output_hf, &c.output_encoder, &c.output_heads, &c.output_bundle,
                                  &c.output_reader_bundle, &c.metrics_log, &c.loss_plot})
    if (!path->empty()) out.push_back(*path);
  return out;
}

TrainProgress progress(const char* stage, int64_t step, int64_t total, double loss, double lr, double seconds,
                       int64_t items, std::optional<double> validation_loss) {
  TrainProgress p;
  p.stage = stage;
  p.step = step;
  p.total_steps = total;
  p.loss = loss;
  p.lr = lr;
  p.seconds = seconds;
  p.items = items;
  p.validation_loss = validation_loss;
  return p;
}

// The image stages share one shape: resume, run with a callback, report.
template <class ImageTrainer>
TrainRunResult run_image_stage(const TrainConfig& config, const char* stage, const TrainRunOptions& options) {
  ImageTrainer trainer(config);
  if (options.resume) trainer.resume();
  trainer.run(
      [&](const ImageStepReport& r) {
        return !options.on_step || options.on_step(progress(stage, r.step, r.total_steps, r.loss, r.lr, r.seconds,
                                                             r.items, r.validation_loss));
      },
      options.max_steps);
  TrainRunResult result;
  result.stage = stage;
  result.step = trainer.step();
  result.total_steps = trainer.total_steps();
  result.complete = result.step == result.total_steps;
  if (result.complete) result.outputs = outputs_of(config);
  return result;
}

}  // namespace

TrainRunResult train_from_config_file(const std::string& path, const TrainRunOptions& options) {
  const TrainConfig config = TrainConfig::from_json_file(path);
  if (config.stage == TrainStage::Vision) return run_image_stage<VisionTrainer>(config, "vision", options);
  if (config.stage == TrainStage::Multimodal) return run_image_stage<MultimodalTrainer>(config, "multimodal", options);
  Trainer trainer(config);
  if (options.resume) trainer.resume();
  // The language Trainer has no stop-from-callback: a step at a time, asking after each.
  const int64_t stop = options.max_steps < 0 ? trainer.total_steps()
                                             : std::min(trainer.total_steps(), trainer.step() + options.max_steps);
  bool go_on = true;
  while (go_on && trainer.step() < stop)
    trainer.run(
        [&](const TrainStepReport& r) {
          if (options.on_step)
            go_on = options.on_step(progress("language", r.step, r.total_steps, r.loss, r.lr, r.seconds, r.tokens,
                                             r.validation_loss));
        },
        1);
  if (!go_on && trainer.step() < trainer.total_steps()) trainer.save_checkpoint();
  TrainRunResult result;
  result.stage = "language";
  result.step = trainer.step();
  result.total_steps = trainer.total_steps();
  result.complete = result.step == result.total_steps;
  if (result.complete) result.outputs = outputs_of(config);
  return result;
}

}  // namespace ophtha
