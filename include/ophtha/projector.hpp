// The feature projector: a vision encoder's feature tokens in, LLM input embeddings out
// (LLaVA-1.5's "mm_projector"), plus what tells the LLM which instrument and which eye it sees.
//
//   tokens [B, N, C] f32 (VisionFeatures from the encoder; grid h × w, or a sequence with no grid)
//     │  optional adaptive average pooling to p × p tokens:
//     │    grid:     [B, C, h, w] → at::adaptive_avg_pool2d(p, p) → [B, p·p, C]   (torch's exactly)
//     │    sequence: [B, C, N]    → at::adaptive_avg_pool1d(p·p)  → [B, p·p, C]
//     ▼
//   Linear(C → d)                                             kind Linear       ("linear")
//   Linear(C → d) → GELU (exact, erf) → Linear(d → d)         kind MlpGelu      ("mlp2x_gelu")
//     │
//     + modality_embedding[modality] + eye_embedding[eye]     (added to every token of the image)
//     ▼
//   embeddings [B, N', d] f32, N' = p·p (or N without pooling); d = the LLM's dim
//
// All arithmetic is differentiable ATen (at::linear, at::gelu, adaptive pooling, index_select) on
// the parameters below, so a trainer may set requires_grad on them and train the projector; the
// projector itself never switches autograd on or off.
//
// File format (docs/vision.md): safetensors, LLaVA's tensor names under an optional common prefix
// ("model." in a LLaVA checkpoint):
//   mm_projector.0.weight [d, C]   mm_projector.0.bias [d]      (MlpGelu; Linear: mm_projector.weight/.bias)
//   mm_projector.2.weight [d, d]   mm_projector.2.bias [d]      (MlpGelu only)
//   mm_projector.modality_embedding [3, d]   rows cfp, oct, osa
//   mm_projector.eye_embedding      [2, d]   rows OD, OS
// and the configuration in __metadata__: "mm_projector_type" (linear | mlp2x_gelu),
// "mm_hidden_size" (C), "hidden_size" (d), "ophtha_pool_side" (p, 0 = no pooling),
// "ophtha_projector_version" ("1"). A file without "ophtha_projector_version" (a bare LLaVA
// projector) is read by its tensor names and shapes, without pooling, and its two embeddings
// may be absent (then zero).
//
// Thread safety: project() and the const accessors may be called from any number of threads at
// once while nobody changes the parameters; a trainer that updates them in place must not run
// project() on other threads meanwhile.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>

#include "ophtha/export.h"
#include "ophtha/modality.hpp"
#include "ophtha/vision_encoder.hpp"

namespace ophtha {

enum class ProjectorKind {
  Linear,   // Linear(C → d)                        LLaVA "linear"
  MlpGelu,  // Linear(C → d) → GELU → Linear(d → d) LLaVA-1.5 "mlp2x_gelu"
};

// "linear", "mlp2x_gelu" (LLaVA's mm_projector_type).
OPHTHA_API std::string_view projector_kind_name(ProjectorKind kind);
// The inverse; Error(InvalidArgument) naming the text and the known names.
OPHTHA_API ProjectorKind parse_projector_kind(std::string_view name);

constexpr int64_t kModalityCount = 3;  // rows of modality_embedding: Modality::Cfp, Oct, Osa
constexpr int64_t kEyeCount = 2;       // rows of eye_embedding: Eye::OD, OS

struct OPHTHA_API ProjectorConfig {
  ProjectorKind kind = ProjectorKind::MlpGelu;
  int64_t vision_channels = 0;  // C, the encoder's channels()
  int64_t embedding_dim = 0;    // d, the LLM's LlamaConfig::dim
  int64_t pool_side = 0;        // p: pool to p × p tokens; 0 = keep the encoder's N tokens

  // Error(InvalidArgument) naming `source` and the field for C or d outside [1, 65536] or p
  // outside [0, 64].
  void validate(const std::string& source) const;
  // N' for an encoder output of N tokens.
  int64_t output_tokens(int64_t encoder_tokens) const { return pool_side > 0 ? pool_side * pool_side : encoder_tokens; }
};

class OPHTHA_API FeatureProjector {
 public:
  // Fresh parameters for training from scratch, the same on every platform for a seed:
  // Linear weights and biases U(−1/√fan_in, 1/√fan_in) (PyTorch's nn.Linear default),
  // embeddings N(0, 0.02²). Error(InvalidArgument) for an invalid config.
  static FeatureProjector random(const ProjectorConfig& config, uint64_t seed);

  // From named parameters (names as named_parameters() gives them). Every tensor is copied to
  // f32, contiguous, CPU. Error(InvalidArgument) naming the parameter for a missing or extra
  // name or a shape other than the config's (both shapes named).
  static FeatureProjector from_parameters(const ProjectorConfig& config,
                                          const std::vector<std::pair<std::string, at::Tensor>>& parameters);

  // Loads a projector file (format above); F32, F16 and BF16 tensors are widened to f32 and copied
  // (the file is not kept open).
  // Errors: Error(Io) when it cannot be opened; Error(InvalidFormat) naming the file and the
  // tensor or metadata key for a missing tensor, a wrong shape (both shapes named), a tensor the
  // projector does not have, no or several "mm_projector." prefixes, a bad metadata value, a
  // non-finite value; Error(Unsupported) for another dtype; anything SafetensorsFile::open rejects.
  static FeatureProjector load(const std::string& path);

  // Writes the parameters as F32 under `prefix` (e.g. "" or "model.") with the configuration in
  // __metadata__, atomically (the target is replaced whole or not at all). Error(Io) when writing
  // fails; Error(InvalidArgument) for a prefix that is not valid UTF-8.
  void save(const std::string& path, const std::string& prefix = "") const;

  // Projects encoder features of B images; modalities[b], eyes[b] are image b's.
  // Returns [B, N', d] f32 (see the diagram). Differentiable in the parameters and in
  // features.tokens. Error(InvalidArgument) naming both values when tokens are not [B, N, C] f32
  // with this projector's C, when grid_height · grid_width ≠ N for a grid, or when modalities or
  // eyes do not hold B entries.
  at::Tensor project(const VisionFeatures& features, const std::vector<Modality>& modalities,
                     const std::vector<Eye>& eyes) const;

  // The parameters by their file names without prefix, in a fixed order:
  //   mm_projector.0.weight, mm_projector.0.bias, [mm_projector.2.weight, mm_projector.2.bias,]
  //   mm_projector.modality_embedding, mm_projector.eye_embedding
  // (Linear: mm_projector.weight, mm_projector.bias, then the embeddings). The tensors are the
  // projector's own (handles to the same storage): a trainer may set requires_grad on them and
  // update them in place.
  const std::vector<std::pair<std::string, at::Tensor>>& named_parameters() const { return parameters_; }

  const ProjectorConfig& config() const { return config_; }

  // 128-bit content hash (32 hex digits) of the configuration and the current parameter values;
  // part of an image-embedding cache key. Reads every parameter (~10 GB/s: 10 ms for a
  // 2048 → 4096 mlp2x_gelu projector).
  std::string fingerprint() const;

 private:
  FeatureProjector(ProjectorConfig config, std::vector<std::pair<std::string, at::Tensor>> parameters);
  const at::Tensor& parameter(size_t index) const { return parameters_[index].second; }

  ProjectorConfig config_;
  std::vector<std::pair<std::string, at::Tensor>> parameters_;
};

// Checks that `projector` maps `encoder_channels` (VisionEncoder::channels()) to `llm_dim`
// (LlamaConfig::dim). Error(InvalidArgument) naming the projector's C → d and the encoder's and
// the LLM's sizes when either differs.
OPHTHA_API void check_projector_fits(const FeatureProjector& projector, int64_t encoder_channels, int64_t llm_dim);

}  // namespace ophtha
