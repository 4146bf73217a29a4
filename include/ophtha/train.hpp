// Training a LLaMA2 language model: pre-training from scratch on text, or fine-tuning a GGUF /
// Hugging Face model on prompt → report pairs, fully or with LoRA. One JSON configuration
// describes a run (keys in docs/training.md); a Trainer executes it.
//
//   step s:  for each of grad_accum micro-batches m = s·grad_accum + j (BatchOrder):
//              loss_m = Σ mask·CE / (learned tokens of the whole step)   → backward (sums gradients)
//            clip to grad_clip (global norm) → AdamW with lr = LrSchedule.at(s)
//
// Determinism: the data order, the initial weights, the LoRA initialisation and the dropout masks
// are drawn from `seed` (dropout reseeded per micro-batch from the seed and m), so the same
// configuration and thread count give a bit-identical run, and a run resumed from a checkpoint
// continues bit for bit as if never stopped.
//
// Checkpoint: <checkpoint_dir>/checkpoint.safetensors, rewritten atomically (temporary file, fsync,
// rename, fsync of the folder) every checkpoint_every steps and at the end: the trainable tensors
// ("param/<name>"), the AdamW moments ("adamw/exp_avg/<name>", "adamw/exp_avg_sq/<name>"), and in
// __metadata__ the step, the optimizer's step count and the run identity (the configuration keys
// a resumed run must share). A kill at any moment leaves the previous checkpoint or the new one.
//
// Thread safety: a Trainer belongs to one thread. Process-wide settings it makes: OpenBLAS's pool
// sized to config.threads and LibTorch's intra-op pool to one thread (the engine's policy,
// llm/cpu_threads) — in bf16 (precision) the other way round, since oneDNN's bf16 products run on
// LibTorch's pool; glibc's mmap and trim thresholds raised to 1 GiB (mallopt), so the large
// per-step activations are reused from the heap instead of mapped afresh every micro-batch.
#pragma once
#include <cstdint>
#include <array>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "ophtha/auxiliary_heads.hpp"
#include "ophtha/export.h"
#include "ophtha/llama.hpp"
#include "ophtha/preprocess.hpp"
#include "ophtha/projector.hpp"
#include "ophtha/study.hpp"
#include "ophtha/vision_encoder.hpp"
#include "ophtha/train_data.hpp"
#include "ophtha/train_llama.hpp"
#include "ophtha/train_optim.hpp"

namespace ophtha {

// What a run trains (train_run.hpp): the language model alone, the encoder with its auxiliary
// heads, or the projector with the language model on images (a model bundle comes out).
enum class TrainStage { Language, Vision, Multimodal };

// Full: every LLM weight; Lora: adapters only; Align (multimodal only): the LLM frozen, the
// projector alone learns — LLaVA's stage 1. The projector always learns in the multimodal stage.
enum class TrainMethod { Full, Lora, Align };

// The arithmetic of the forward pass ("precision"): F32 throughout, or Bf16 — LibTorch's CPU
// autocast runs matrix products and convolutions in bfloat16 while the weights, the optimizer and
// the losses stay f32 (torch.autocast("cpu", dtype=torch.bfloat16)). "auto" in a configuration
// means Bf16 where the CPU has native bf16 dot products (AVX512-BF16, AMX), else F32.
enum class TrainPrecision { F32, Bf16 };
OPHTHA_API const char* train_precision_name(TrainPrecision precision);  // "f32", "bf16"

// The image side of the vision and multimodal stages (keys in docs/training.md).
struct OPHTHA_API ImageTrainConfig {
  std::string manifest;                       // data.manifest: the study manifest
  std::vector<Split> splits = {Split::Train}; // data.splits: the studies of these splits are trained on
  std::string validation_manifest;            // data.validation_manifest; empty = none
  std::vector<Split> validation_splits = {Split::Val};
  std::string corrections;                    // data.corrections.store: a feedback store; empty = none
  double correction_weight = 1.0;             // data.corrections.weight: loss weight of a corrected report
  std::vector<std::string> languages = {"zh", "en"};  // data.languages: report languages (multimodal)
  double text_only_fraction = 0.0;            // data.text_only_fraction: share of (study, language) pairs
                                              // also learned on the text-only route (findings text, no image)
  bool heads_findings = false;                // data.heads_findings: the heads' reading of each image joins
                                              // the image-route prompts (heads_findings.hpp; needs heads.from)
  std::array<int64_t, 3> oversample = {1, 1, 1};  // data.oversample: times each image of a modality
                                              // (by Modality) appears in a vision-stage epoch
  int64_t validation_reports = 0;             // data.validation_reports: validation studies written as
                                              // reports and scored at each validation (multimodal)
  std::vector<Modality> modalities = {Modality::Cfp, Modality::Oct, Modality::Osa};  // data.modalities: the
                                              // images of these modalities are used (vision)
  int64_t image_size = 224;                   // encoder.image_size: preprocessing side for every modality
  PreprocessRegion region = PreprocessRegion::FieldOfView;  // encoder.region: "field_of_view" | "optic_disc"
                                              // | "tiles" (vision; optic_disc and tiles read CFP only:
                                              // data.modalities ["cfp"])
  double disc_side = 0.28;                    // encoder.disc_side: the disc square's side, × the FOV's (preprocess.hpp)
  int64_t tile_grid = 3;                      // encoder.tile_grid, encoder.tile_stride (default image_size):
  int64_t tile_stride = 0;                    // region tiles (fundus_tiles.hpp); 0 = image_size
  EncoderArch encoder_arch = EncoderArch::ResNet18;  // encoder.arch
  int64_t encoder_width = 64;                 // encoder.width: base width of a fresh encoder (vision)
  std::string encoder_from;                   // encoder.from: weights to start from (vision) / to use, frozen (multimodal)
  std::string heads_from;                     // heads.from: auxiliary heads (vision: start; multimodal: into the bundle)
  HeadLossWeights head_weights;               // heads.weights
  bool calibrate_thresholds = false;          // heads.calibrate_thresholds: after the last step, each finding's
                                              // threshold from the validation split (vision; auxiliary_heads.hpp)
  int calibration_min_positives = 10;         // heads.calibration_min_positives: fewer positives keep 0.5
  ProjectorKind projector_kind = ProjectorKind::MlpGelu;  // projector.kind
  int64_t pool_side = 1;                      // projector.pool_side
  std::string projector_from;                 // projector.from: start from these weights
  std::string bundle_name = "ophtha-model";   // output.name, .description, .disclaimer (multimodal)
  std::string bundle_description;
  std::string disclaimer;
  int report_candidates = 1;                  // output.candidates: the bundle's drafts per report (multimodal)
  double candidate_temperature = 0.7;         // output.candidate_temperature: their temperature
  double evidence_weight = 0.0;               // output.evidence_weight: the heads' and findings text's weight among drafts
  int line_drafts = 0;                        // output.line_drafts: the bundle's line refinement (line_refinement.hpp)
  int sentence_insertions = 0;                // output.sentence_insertions: sentences it may insert per line
  int guided_drafts = 0;                      // output.guided_drafts: guided alternatives per unstated finding
  bool drop_unsupported_findings = false;     // output.drop_unsupported_findings: the bundle drops findings the evidence reads absent
};

struct OPHTHA_API TrainConfig {
  std::string source;  // the configuration file, for messages ("" when built in code)
  TrainStage stage = TrainStage::Language;  // "stage": "language" | "vision" | "multimodal"
  ImageTrainConfig images;                  // vision and multimodal stages

  // model: from a file, or from scratch
  std::string init_from;   // GGUF file or Hugging Face folder; empty = from scratch
  LlamaConfig scratch;     // dims of a from-scratch model (vocab_size = the tokenizer's)
  std::string tokenizer;   // tokenizer.model of a from-scratch model
  double init_std = 0.02;  // N(0, init_std²) matrices of a from-scratch model

  // data
  std::string train_data;       // .jsonl (prompt/response or text) or plain text (train_data.hpp)
  std::string validation_data;  // optional, same formats
  int64_t max_tokens = 0;       // longest sequence; 0 = the model's context length
  int64_t group_by_length = 0;  // batches per length group (BatchOrder); 0 = batches of any lengths

  TrainMethod method = TrainMethod::Full;
  LoraOptions lora;

  // optimisation
  double lr = 3e-4, min_lr = 0.0;
  int64_t warmup_steps = 0;
  double grad_clip = 1.0;  // ≤ 0: no clipping
  AdamWOptions adamw;
  int64_t steps = 0;       // optimizer steps; 0 = ⌈epochs · ⌈sequences / batch_size⌉ / grad_accum⌉
  int64_t epochs = 1;
  int64_t batch_size = 8;
  int64_t grad_accum = 1;
  uint64_t seed = 0;
  int threads = 0;         // 0 = every core this process may use
  TrainPrecision precision = TrainPrecision::F32;  // "precision": "f32" | "bf16" | "auto" (resolved on parsing)

  // checkpoints, validation, outputs ("" = none)
  std::string checkpoint_dir;
  int64_t checkpoint_every = 0;  // 0 = only at the end
  int64_t validation_every = 0;  // 0 = only at the end (when validation_data is set)
  std::string output_gguf;
  TensorType output_type = TensorType::F32;  // F32, F16, BF16 or Q8_0
  std::string output_hf;
  std::string output_encoder;  // vision: the trained encoder (torchvision state_dict, safetensors)
  std::string output_heads;    // vision: the trained auxiliary heads
  // vision with encoder.region "optic_disc" or "tiles": output.disc_reader.bundle or
  // output.tile_reader.bundle, a model bundle folder the trained encoder and heads join as its
  // disc or tile reader (model_bundle.hpp BundleRegionReader) for output.*_reader.findings; "" =
  // none. Region "tiles" needs output.tile_reader: a tile learns its findings from the lesion
  // marks, and only those findings.
  std::string output_reader_bundle;
  std::vector<Finding> reader_findings;
  std::string output_bundle;   // multimodal: the model bundle folder (replaced whole, atomically)
  std::string metrics_log;  // JSONL, one record per step and per validation
  std::string loss_plot;    // PNG drawn from the metrics log at the end

  // Parses a configuration file; relative paths are taken from the file's folder.
  // Error(Io) when it cannot be read; Error(InvalidFormat) naming the file and the key for an
  // unknown key, a value of the wrong type or out of range, or a missing required key.
  static TrainConfig from_json_file(const std::string& path);
  // The same from JSON text; relative paths are taken from `base_dir`.
  static TrainConfig from_json(const std::string& text, const std::string& source, const std::string& base_dir);

  // The keys a resumed run must share with the run that wrote the checkpoint, as compact JSON.
  std::string run_identity() const;
};

struct OPHTHA_API TrainStepReport {
  int64_t step = 0;           // steps done (1 after the first)
  int64_t total_steps = 0;
  double loss = 0;            // per-token mean over the step's learned tokens
  double lr = 0;
  double grad_norm = 0;       // before clipping
  int64_t tokens = 0;         // input positions in the step (padding excluded)
  double seconds = 0;         // wall time of the step
  std::optional<double> validation_loss;  // when validation ran after this step
};

class OPHTHA_API Trainer {
 public:
  // Builds the model (loaded, or drawn from the seed), adds LoRA or makes every weight trainable,
  // reads and tokenises the data, creates the optimizer. Errors: those of the loaders and
  // read_train_sequences; Error(InvalidArgument) naming the key for an inconsistent configuration.
  explicit Trainer(TrainConfig config);
  ~Trainer();
  Trainer(const Trainer&) = delete;
  Trainer& operator=(const Trainer&) = delete;

  // Continues from <checkpoint_dir>/checkpoint.safetensors. Error(Io) when there is none;
  // Error(InvalidFormat) when it is broken or was written by a run with another identity
  // (the message names the differing configuration).
  void resume();
  // Runs optimizer steps until total_steps() (or `max_steps` more, when ≥ 0), validating and
  // checkpointing on schedule; after the last step of the run it validates, checkpoints and writes
  // the outputs. `on_step` is called after each step on this thread.
  void run(const std::function<void(const TrainStepReport&)>& on_step = {}, int64_t max_steps = -1);
  // One optimizer step (no checkpoint, no log).
  TrainStepReport train_step();
  // Per-token mean loss over the validation data (evaluation mode, no gradients).
  // Error(InvalidArgument) when the configuration has no validation data.
  double validation_loss();
  void save_checkpoint() const;
  // Exports output_gguf / output_hf (adapters merged) and draws loss_plot from the metrics log.
  void write_outputs() const;

  int64_t step() const;
  int64_t total_steps() const;
  const TrainConfig& config() const;
  TrainableLlama& model();
  int64_t train_sequences() const;

  // Where the checkpoint of `dir` lives.
  static std::string checkpoint_path(const std::string& dir);

 private:
  struct State;
  std::unique_ptr<State> s_;
};

}  // namespace ophtha
