// One call that runs a training configuration file whatever its stage — what `ophtha train`,
// the C ABI's ophtha_train_run and Python's ophtha.train() share.
//
//   "stage": "language"   (default) the LLaMA2 language model alone: pre-training or fine-tuning
//                          on text / prompt → report pairs (train.hpp, Trainer)
//            "vision"      the encoder and the auxiliary heads on a study manifest's images
//            "multimodal"  projector alignment (LLM frozen), LoRA or full fine-tuning on
//                          (images, prompt, report) from a manifest, plus clinicians' corrections;
//                          writes a model bundle
//   (keys of every stage in docs/training.md)
//
// Thread safety: runs on the calling thread; the callback is called on it after every step.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "ophtha/export.h"

namespace ophtha {

struct TrainProgress {
  std::string stage;          // "language", "vision", "multimodal"
  int64_t step = 0;           // optimizer steps done
  int64_t total_steps = 0;
  double loss = 0;            // the step's training loss
  double lr = 0;
  double seconds = 0;         // wall time of the step
  int64_t items = 0;          // tokens (language, multimodal) or images (vision) in the step
  std::optional<double> validation_loss;  // when validation ran after this step
};

struct TrainRunOptions {
  bool resume = false;        // continue from the configuration's checkpoint
  int64_t max_steps = -1;     // stop after this many more steps (≥ 0); the run stays resumable
  // Called after every step; returning false stops the run after that step (resumable).
  std::function<bool(const TrainProgress&)> on_step;
};

struct TrainRunResult {
  std::string stage;
  int64_t step = 0, total_steps = 0;
  bool complete = false;              // the run reached its last step and wrote its outputs
  std::vector<std::string> outputs;   // files and folders written (when complete)
};

// Reads the configuration (stage from its "stage" key) and runs it.
// Errors: those of the stage's configuration reader and trainer, each naming the file and key.
OPHTHA_API TrainRunResult train_from_config_file(const std::string& path, const TrainRunOptions& options = {});

}  // namespace ophtha
