// Auxiliary classification heads on an encoder's pooled features: the multi-task part of training
// (they teach the encoder what matters in an ophthalmic image) and, at inference, the check that an
// image is what the caller said it is (an OCT passed as CFP) and can be graded at all.
//
//   pooled [B, C] f32 (VisionFeatures::pooled)
//     ├─ modality   Linear(C → 3)             which instrument made the image (cfp, oct, osa)
//     ├─ gradable   Linear(C → 1)             logit of "the image can be graded"
//     ├─ findings   Linear(C → kFindingCount) one logit per Finding (study.hpp)
//     └─ grades     Linear(C → levels) per GradeScale
//
//   tokens [B, N, C] f32 (VisionFeatures::tokens, the encoder's grid of N = h·w cells)
//     └─ lesions    Linear(C → kFindingCount) per cell: logit of "a lesion of this finding has its
//                   centre in this cell" (a 1×1 convolution over the grid)
//
// The lesion head is training's dense supervision where images carry lesion marks (study.hpp
// LesionMark): with only image-level labels a few 2-px microaneurysms barely move a pooled
// feature, and the encoder never learns to look for them (docs/training.md, "Lesion maps").
//
// Targets come from the labels of the image's eye, restricted to the image's modality
// (image_targets): findings and grades of another modality, and everything of an ungradable
// image, are "not applicable" and take no part in the loss.
//
// File format: safetensors with tensors "heads.modality.weight" [3, C], "heads.modality.bias" [3],
// "heads.gradable.weight" [1, C], "heads.gradable.bias" [1], "heads.findings.weight" [26, C],
// "heads.findings.bias" [26], "heads.grade.<scale code>.weight" [levels, C] and ".bias" [levels],
// "heads.lesions.weight" [26, C], "heads.lesions.bias" [26], "heads.findings.threshold" [26],
// "heads.findings.source" [26] (0 pooled, 1 lesion peak, as F32); __metadata__
// "ophtha_heads_version" = "4", "channels" = C. Version "3" files (no sources) read every finding
// from the pooled head, version "2" files (no thresholds either) with every threshold 0.5, version
// "1" files (no lesion head either) with the lesion head at zero.
//
// Reading a finding: its score is the findings head's probability on the pooled features, or — for
// a finding whose source is the lesion peak — the largest probability of its lesion map over the
// image's grid (a few small lesions barely move a mean over 100 cells, but light up their own
// cells); the finding is present when the score is at least its threshold. Uncalibrated heads read
// every finding from the pooled head at 0.5; the vision stage can calibrate source and threshold
// per finding on its validation split (calibrated_finding_reading), so that a rare finding whose
// probabilities stay low, or a small lesion the pooled features dilute, is still read.
//
// Thread safety: forward()/predict() only read the parameters; a trainer that updates them must
// not run them on other threads meanwhile.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>

#include "ophtha/export.h"
#include "ophtha/modality.hpp"
#include "ophtha/study.hpp"

namespace ophtha {

// What one image should show. −1 marks "not applicable".
struct ImageTargets {
  int modality = 0;                              // Modality as an index
  int gradable = 1;                              // 1 gradable, 0 ungradable
  std::array<int8_t, kFindingCount> findings{};  // 1 present, 0 absent, −1 not applicable
  std::array<int8_t, kGradeScaleCount> grades{}; // level, or −1 not applicable
};

// The targets of an image of `modality` of the eye labelled `eye`.
OPHTHA_API ImageTargets image_targets(const EyeLabels& eye, Modality modality);

struct HeadLogits {
  at::Tensor modality;                // (B, 3)
  at::Tensor gradable;                // (B)
  at::Tensor findings;                // (B, kFindingCount)
  std::vector<at::Tensor> grades;     // kGradeScaleCount tensors (B, levels)
  // (B, kFindingCount): each finding's largest lesion logit over the image's grid
  // (AuxiliaryHeads::lesion_peaks); undefined unless the caller gave the grid (forward(pooled, tokens)).
  at::Tensor lesion_peaks;
};

struct HeadLossWeights {
  double modality = 1.0;
  double gradable = 1.0;
  double findings = 1.0;
  double grades = 1.0;
  double lesions = 0.0;  // the lesion maps' loss (lesion_loss); off unless a run asks for it
};

// Where a batch's lesions are, on the encoder's grid (train/train_images.hpp builds them).
struct LesionTargets {
  at::Tensor cells;       // (B, N, kFindingCount) f32: 1 where a mark of the finding has its centre in the cell
  at::Tensor supervised;  // (B, kFindingCount) f32: 1 where the image's map of the finding is known
};

// Every finding's threshold when none is calibrated.
inline constexpr float kDefaultFindingThreshold = 0.5f;
using FindingThresholds = std::array<float, kFindingCount>;
constexpr FindingThresholds default_finding_thresholds() {
  FindingThresholds t{};
  for (float& v : t) v = kDefaultFindingThreshold;
  return t;
}

// Where a finding's score is read from (see "Reading a finding" above).
enum class FindingSource : uint8_t {
  Pooled = 0,      // the findings head on the pooled features
  LesionPeak = 1,  // the largest probability of the finding's lesion map over the image's grid
};
using FindingSources = std::array<FindingSource, kFindingCount>;
constexpr FindingSources default_finding_sources() {
  FindingSources s{};
  for (FindingSource& v : s) v = FindingSource::Pooled;
  return s;
}

// Per finding, −1: "not measured".
constexpr std::array<double, kFindingCount> unmeasured_f1() {
  std::array<double, kFindingCount> a{};
  for (double& x : a) x = -1.0;
  return a;
}

// How each finding is read: its source and its threshold. From calibration, also the best F1 each
// source reached (−1 where it was not tried: too few positives, or no lesion peaks).
struct FindingReading {
  FindingThresholds thresholds = default_finding_thresholds();
  FindingSources sources = default_finding_sources();
  std::array<double, kFindingCount> pooled_f1 = unmeasured_f1();
  std::array<double, kFindingCount> lesion_peak_f1 = unmeasured_f1();
};

// What the heads see in one image.
struct HeadPrediction {
  Modality modality = Modality::Cfp;
  float modality_probability = 0;             // of the predicted modality
  float gradable_probability = 0;
  std::array<float, kFindingCount> finding_probability{};    // the pooled findings head's
  std::array<float, kFindingCount> lesion_peak_probability{};  // sigmoid of HeadLogits::lesion_peaks; 0 without them
  bool has_lesion_peaks = false;                               // whether lesion_peak_probability was computed
  FindingThresholds finding_threshold = default_finding_thresholds();  // the heads' (present: score >= it)
  FindingSources finding_source = default_finding_sources();           // the heads'
  std::array<int8_t, kGradeScaleCount> grade{};  // argmax level of each scale

  // The probability the finding is read by: the pooled head's or its lesion map's peak.
  float finding_score(Finding f) const {
    const auto i = static_cast<size_t>(f);
    return finding_source[i] == FindingSource::LesionPeak ? lesion_peak_probability[i] : finding_probability[i];
  }
  bool finding_present(Finding f) const { return finding_score(f) >= finding_threshold[static_cast<size_t>(f)]; }
};

class OPHTHA_API AuxiliaryHeads {
 public:
  // nn.Linear's default initialisation U(−1/√C, 1/√C), the same on every platform for a seed.
  static AuxiliaryHeads random(int64_t channels, uint64_t seed);
  // Error(Io) / Error(InvalidFormat) naming the file and the tensor for a missing or misshapen one.
  static AuxiliaryHeads load(const std::string& path);
  // Atomic. Error(Io) when writing fails.
  void save(const std::string& path) const;

  // pooled (B, C) f32; differentiable. Error(InvalidArgument) naming both shapes for another C.
  HeadLogits forward(const at::Tensor& pooled) const;
  // The same, and lesion_peaks from the encoder's grid: tokens (B, N, C) f32 of the same images.
  // Error(InvalidArgument) naming the shapes when tokens is not (B, N ≥ 1, C).
  HeadLogits forward(const at::Tensor& pooled, const at::Tensor& tokens) const;

  // The weighted multi-task loss: mean cross-entropy (modality, each grade scale) and mean binary
  // cross-entropy (gradable, findings) over the applicable targets; a term with no applicable
  // target in the batch contributes 0. targets.size() must equal B.
  at::Tensor loss(const HeadLogits& logits, const std::vector<ImageTargets>& targets,
                  const HeadLossWeights& weights = {}) const;

  // Probabilities, argmax levels, and the heads' finding thresholds and sources.
  // Error(InvalidArgument) naming the finding when the heads read one from its lesion peak and
  // logits.lesion_peaks is undefined (use forward(pooled, tokens)).
  std::vector<HeadPrediction> predict(const HeadLogits& logits) const;

  const FindingThresholds& finding_thresholds() const { return thresholds_; }
  // Error(InvalidArgument) naming the finding for a threshold outside (0, 1).
  void set_finding_thresholds(const FindingThresholds& thresholds);
  const FindingSources& finding_sources() const { return sources_; }
  // Error(InvalidArgument) naming the finding for a value that is not a FindingSource.
  void set_finding_sources(const FindingSources& sources);
  // True when some finding is read from its lesion peak: predict() then needs the grid.
  bool reads_lesion_peaks() const;

  // tokens (B, N, C) f32 → lesion logits (B, N, kFindingCount); differentiable.
  // Error(InvalidArgument) naming the shape for another C or rank.
  at::Tensor lesion_logits(const at::Tensor& tokens) const;
  // tokens (B, N ≥ 1, C) → (B, kFindingCount): each finding's largest lesion logit over the N cells.
  at::Tensor lesion_peaks(const at::Tensor& tokens) const;
  // Binary cross-entropy of the lesion logits against targets.cells, summed over the N cells and
  // averaged over the supervised (image, finding) pairs; 0 when no pair is supervised.
  // Error(InvalidArgument) naming the shapes when they disagree.
  at::Tensor lesion_loss(const at::Tensor& logits, const LesionTargets& targets) const;

  // (name, tensor) in file order; the heads' own tensors (a trainer sets requires_grad on them).
  const std::vector<std::pair<std::string, at::Tensor>>& named_parameters() const { return parameters_; }
  int64_t channels() const { return channels_; }

 private:
  AuxiliaryHeads() = default;
  const at::Tensor& tensor(const std::string& name) const;

  int64_t channels_ = 0;
  std::vector<std::pair<std::string, at::Tensor>> parameters_;
  FindingThresholds thresholds_ = default_finding_thresholds();  // not a parameter: calibrated, not trained
  FindingSources sources_ = default_finding_sources();           // likewise
};

// The threshold of each finding that maximises its F1 over `predictions` against `targets` (one
// each, same order; images where the finding is not applicable take no part), searched over
// 0.05, 0.10, ..., 0.95; of equal F1 the one nearest 0.5 wins. A finding with fewer than
// `min_positives` positive images keeps 0.5: too few to calibrate on. Error(InvalidArgument) when
// the sizes differ or min_positives < 1.
OPHTHA_API FindingThresholds calibrated_finding_thresholds(const std::vector<HeadPrediction>& predictions,
                                                           const std::vector<ImageTargets>& targets,
                                                           int min_positives = 10);

// As calibrated_finding_thresholds, choosing per finding the source as well: with
// try_lesion_peaks and when every prediction has_lesion_peaks, the lesion peak
// (HeadPrediction::lesion_peak_probability) competes with the pooled probability, and is chosen
// only when its best F1 is higher (ties keep the pooled head). A finding with too few positives
// keeps the pooled head at 0.5.
OPHTHA_API FindingReading calibrated_finding_reading(const std::vector<HeadPrediction>& predictions,
                                                     const std::vector<ImageTargets>& targets, int min_positives = 10,
                                                     bool try_lesion_peaks = true);

}  // namespace ophtha
