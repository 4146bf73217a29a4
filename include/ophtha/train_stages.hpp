// The image stages of training (train_run.hpp runs them from a configuration file; keys in
// docs/training.md). Both share the language stage's optimisation (AdamW, warm-up + cosine,
// clipping, accumulation), seeded order, atomic checkpoints with optimizer state, metrics log and
// loss curve (train.hpp).
//
// VisionTrainer — the encoder learns with the auxiliary heads (multi-task):
//   manifest images (split filter) ─► preprocess (per modality, side S) ─► TrainableResNet (train mode)
//     ─► pooled [B, C] ─► AuxiliaryHeads ─► weighted loss over applicable targets (auxiliary_heads.hpp)
//   Batches mix modalities (one seeded shuffle over all images; data.oversample repeats each image of
//   a modality that many times per epoch, for a modality that learns slower). Validation: the heads' loss and
//   accuracy on the validation images. Outputs: encoder (torchvision state_dict), heads.
//
// MultimodalTrainer — the projector (and, unless aligning, the LLM) learns to write reports:
//   every image once: preprocess ─► encoder (frozen) ─► features pooled to p × p, kept in memory
//   sequence per (study, language): report_prompt_text(images) laid out by layout_multimodal_prompt
//     (image rows −1) + the reference report (or a clinician's latest correction, weighted) + eos;
//   with data.text_only_fraction, some pairs also on the text-only route (findings text, no image);
//   step: projector(features of the batch's images) spliced into the token embeddings at the image
//     rows ─► TrainableLlama::masked_loss on report tokens only (prompt and image rows never learned);
//     a corrected report's tokens weigh data.corrections.weight.
//   method align: LLM frozen, projector only (LLaVA stage 1); lora: adapters + projector; full: all.
//   Validation: loss on the validation studies; with data.validation_reports = N, the current model
//   is written as a bundle, N validation studies are reported (greedy, each language in turn) and
//   scored with ophtha eval's metrics (evaluation.hpp), logged in the metrics log.
//   Output: a model bundle folder (model_bundle.hpp) — llm.gguf (adapters merged), encoder, heads,
//   projector, ophtha-bundle.json — replaced whole, atomically.
//
// Determinism: the same configuration and thread count give the same run; a resumed run continues
// bit for bit (BatchNorm running statistics are part of the checkpoint).
// Thread safety: a trainer belongs to one thread; it sets LibTorch's and OpenBLAS's thread pools.
#pragma once
#include <functional>
#include <nlohmann/json.hpp>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ophtha/export.h"
#include "ophtha/train.hpp"

namespace ophtha {

struct OPHTHA_API ImageStepReport {
  int64_t step = 0, total_steps = 0;
  double loss = 0, lr = 0, grad_norm = 0, seconds = 0;
  int64_t items = 0;  // images (vision) or tokens (multimodal) in the step
  std::optional<double> validation_loss;
};

class OPHTHA_API VisionTrainer {
 public:
  // Reads the manifest(s), preprocesses every image, builds the encoder (fresh or encoder.from) and
  // heads (fresh or heads.from). Errors: those of read_manifest, image decoding (naming the file),
  // the loaders; Error(InvalidArgument) when the selected splits hold no image.
  explicit VisionTrainer(TrainConfig config);
  ~VisionTrainer();
  void resume();
  void run(const std::function<bool(const ImageStepReport&)>& on_step = {}, int64_t max_steps = -1);
  ImageStepReport train_step();
  // The heads' loss and metrics on the validation images (evaluation mode): "loss",
  // "modality_accuracy", "gradable_accuracy", "findings_macro_f1", "findings_f1" (finding code → F1,
  // for findings the validation images show), "<scale>_accuracy" and "<scale>_confusion" (counts,
  // [true level][predicted level]) for each scale the validation images are graded on.
  nlohmann::json validate();
  // Sets each finding's threshold on the heads from the validation images (auxiliary_heads.hpp
  // calibrated_finding_thresholds, heads.calibration_min_positives), reading them anew unless
  // validate() already has at this step, and returns {"finding_thresholds": {code: threshold},
  // "findings_macro_f1", "findings_f1"} at the new thresholds. run() calls it after the last step
  // when heads.calibrate_thresholds is set, before writing the heads; a run resumed from its last
  // checkpoint calibrates and writes them too.
  nlohmann::json calibrate_thresholds();
  void save_checkpoint() const;
  std::vector<std::string> write_outputs() const;
  int64_t step() const;
  int64_t total_steps() const;
  int64_t train_images() const;

 private:
  struct State;
  std::unique_ptr<State> s_;
};

class OPHTHA_API MultimodalTrainer {
 public:
  // Loads the LLM (or draws it), the frozen encoder, heads and projector; encodes every image of
  // the selected studies; lays out the sequences. Errors: those of the loaders and read_manifest;
  // Error(InvalidArgument) for a projector that does not map the encoder's C to the LLM's dim, a
  // language without reference reports, or no sequence at all.
  explicit MultimodalTrainer(TrainConfig config);
  ~MultimodalTrainer();
  void resume();
  void run(const std::function<bool(const ImageStepReport&)>& on_step = {}, int64_t max_steps = -1);
  ImageStepReport train_step();
  double validation_loss();
  // Writes the current model as a bundle to `folder` (replaced whole, atomically).
  void write_bundle(const std::string& folder) const;
  void save_checkpoint() const;
  std::vector<std::string> write_outputs() const;
  int64_t step() const;
  int64_t total_steps() const;
  int64_t train_sequences() const;
  int64_t corrected_sequences() const;  // sequences whose report came from the corrections store
  TrainableLlama& model();

 private:
  struct State;
  std::unique_ptr<State> s_;
};

}  // namespace ophtha
