// Auxiliary classification heads: targets, forward, multi-task loss, prediction, file format.
#include <algorithm>
#include <cmath>
#include <cstring>

#include <ATen/ATen.h>
#include <fmt/ranges.h>

#include "ophtha/auxiliary_heads.hpp"
#include "ophtha/clinical_metrics.hpp"
#include "ophtha/error.hpp"
#include "ophtha/random.hpp"
#include "ophtha/safetensors.hpp"

namespace ophtha {

namespace {

constexpr const char* kVersionKey = "ophtha_heads_version";

struct HeadShape {
  std::string name;  // "heads.modality"
  int64_t outputs;
};

constexpr const char* kLesionHead = "heads.lesions";  // the last head: version 1 files lack it
constexpr const char* kThresholds = "heads.findings.threshold";  // version 3 on
constexpr const char* kSources = "heads.findings.source";        // version 4 on

// "" when every source is a FindingSource, else what is wrong with the first that is not.
std::string source_problem(const FindingSources& sources) {
  for (int f = 0; f < kFindingCount; ++f) {
    const auto v = static_cast<int>(sources[static_cast<size_t>(f)]);
    if (v != static_cast<int>(FindingSource::Pooled) && v != static_cast<int>(FindingSource::LesionPeak))
      return fmt::format("the source of finding '{}' is {}, expected 0 (pooled) or 1 (lesion peak)",
                         finding_code(static_cast<Finding>(f)), v);
  }
  return "";
}

// The [kFindingCount] F32 tensor `name` of a heads file, checked for dtype and shape.
std::array<float, kFindingCount> per_finding_tensor(const SafetensorsFile& file, const std::string& path, const char* name) {
  const SafetensorsTensor* t = file.find(name);
  if (!t) fail(ErrorCode::InvalidFormat, "{}: tensor '{}' (shape [{}]) is missing", path, name, kFindingCount);
  if (t->dtype != "F32") fail(ErrorCode::Unsupported, "{}: tensor '{}' has dtype {}, expected F32", path, name, t->dtype);
  if (t->shape != std::vector<int64_t>{kFindingCount})
    fail(ErrorCode::InvalidFormat, "{}: tensor '{}' has shape [{}], expected [{}]", path, name, fmt::join(t->shape, ", "),
         kFindingCount);
  std::array<float, kFindingCount> out{};
  std::memcpy(out.data(), t->data, sizeof(float) * kFindingCount);
  return out;
}

// "" when every threshold is in (0, 1), else what is wrong with the first that is not.
std::string threshold_problem(const FindingThresholds& thresholds) {
  for (int f = 0; f < kFindingCount; ++f) {
    const float t = thresholds[static_cast<size_t>(f)];
    if (!(t > 0.0f && t < 1.0f))
      return fmt::format("the threshold of finding '{}' is {}, expected in (0, 1)", finding_code(static_cast<Finding>(f)), t);
  }
  return "";
}

std::vector<HeadShape> head_shapes() {
  std::vector<HeadShape> out = {{"heads.modality", 3}, {"heads.gradable", 1}, {"heads.findings", kFindingCount}};
  for (int s = 0; s < kGradeScaleCount; ++s) {
    const GradeScaleInfo& info = grade_scale_info(static_cast<GradeScale>(s));
    out.push_back({std::string("heads.grade.") + info.code, info.levels});
  }
  out.push_back({kLesionHead, kFindingCount});
  return out;
}

std::vector<uint8_t> f32_bytes(const at::Tensor& t) {
  const at::Tensor c = t.detach().to(at::kFloat).contiguous();
  std::vector<uint8_t> out(static_cast<size_t>(c.nbytes()));
  std::memcpy(out.data(), c.data_ptr(), out.size());
  return out;
}

}  // namespace

ImageTargets image_targets(const EyeLabels& eye, Modality modality) {
  ImageTargets t;
  t.modality = static_cast<int>(modality);
  t.findings.fill(-1);
  t.grades.fill(-1);
  if (std::find(eye.ungradable.begin(), eye.ungradable.end(), modality) != eye.ungradable.end()) {
    t.gradable = 0;
    return t;
  }
  t.gradable = 1;
  for (int f = 0; f < kFindingCount; ++f)
    if (finding_modality(static_cast<Finding>(f)) == modality) t.findings[f] = eye.has(static_cast<Finding>(f)) ? 1 : 0;
  for (const auto& [scale, level] : eye.grades)
    if (grade_scale_info(scale).modality == modality) t.grades[static_cast<size_t>(scale)] = static_cast<int8_t>(level);
  return t;
}

AuxiliaryHeads AuxiliaryHeads::random(int64_t channels, uint64_t seed) {
  if (channels < 1 || channels > 65536)
    fail(ErrorCode::InvalidArgument, "AuxiliaryHeads: channels must be in [1, 65536], got {}", channels);
  Random rng(seed);
  const double bound = 1.0 / std::sqrt(static_cast<double>(channels));
  auto uniform = [&](std::vector<int64_t> shape) {
    at::Tensor t = at::empty(shape, at::kFloat);
    float* p = t.data_ptr<float>();
    for (int64_t i = 0; i < t.numel(); ++i) p[i] = static_cast<float>(rng.uniform(-bound, bound));
    return t;
  };
  AuxiliaryHeads heads;
  heads.channels_ = channels;
  for (const HeadShape& h : head_shapes()) {
    heads.parameters_.emplace_back(h.name + ".weight", uniform({h.outputs, channels}));
    heads.parameters_.emplace_back(h.name + ".bias", uniform({h.outputs}));
  }
  return heads;
}

AuxiliaryHeads AuxiliaryHeads::load(const std::string& path) {
  const SafetensorsFile file = SafetensorsFile::open(path);
  const auto version = file.metadata().find(kVersionKey);
  if (version == file.metadata().end() ||
      (version->second != "1" && version->second != "2" && version->second != "3" && version->second != "4"))
    fail(ErrorCode::InvalidFormat,
         "{}: not an auxiliary-heads file: __metadata__ '{}' is {}, expected \"1\", \"2\", \"3\" or \"4\"", path,
         kVersionKey, version == file.metadata().end() ? "missing" : "'" + version->second + "'");
  const int file_version = version->second[0] - '0';
  const bool has_lesion_head = file_version >= 2, has_thresholds = file_version >= 3, has_sources = file_version >= 4;
  const SafetensorsTensor* probe = file.find("heads.modality.weight");
  if (!probe || probe->shape.size() != 2)
    fail(ErrorCode::InvalidFormat, "{}: tensor 'heads.modality.weight' [3, C] is missing or not 2-D", path);
  const int64_t channels = probe->shape[1];
  AuxiliaryHeads heads;
  heads.channels_ = channels;
  size_t expected_count = 0;
  for (const HeadShape& h : head_shapes()) {
    for (const bool weight : {true, false}) {
      const std::string name = h.name + (weight ? ".weight" : ".bias");
      const std::vector<int64_t> shape = weight ? std::vector<int64_t>{h.outputs, channels} : std::vector<int64_t>{h.outputs};
      if (h.name == kLesionHead && !has_lesion_head) {
        heads.parameters_.emplace_back(name, at::zeros(shape, at::kFloat));
        continue;
      }
      const SafetensorsTensor* t = file.find(name);
      if (!t) fail(ErrorCode::InvalidFormat, "{}: tensor '{}' (shape [{}]) is missing", path, name, fmt::join(shape, ", "));
      if (t->dtype != "F32") fail(ErrorCode::Unsupported, "{}: tensor '{}' has dtype {}, expected F32", path, name, t->dtype);
      if (t->shape != shape)
        fail(ErrorCode::InvalidFormat, "{}: tensor '{}' has shape [{}], expected [{}]", path, name,
             fmt::join(t->shape, ", "), fmt::join(shape, ", "));
      at::Tensor value = at::empty(shape, at::kFloat);
      std::memcpy(value.data_ptr(), t->data, t->nbytes);
      if (!at::isfinite(value).all().item<bool>())
        fail(ErrorCode::InvalidFormat, "{}: tensor '{}' holds a non-finite value", path, name);
      heads.parameters_.emplace_back(name, std::move(value));
      ++expected_count;
    }
  }
  if (has_thresholds) {
    heads.thresholds_ = per_finding_tensor(file, path, kThresholds);
    if (const std::string problem = threshold_problem(heads.thresholds_); !problem.empty())
      fail(ErrorCode::InvalidFormat, "{}: tensor '{}': {}", path, kThresholds, problem);
    ++expected_count;
  }
  if (has_sources) {
    const std::array<float, kFindingCount> values = per_finding_tensor(file, path, kSources);
    for (int f = 0; f < kFindingCount; ++f) {
      const float v = values[static_cast<size_t>(f)];
      if (v != 0.0f && v != 1.0f)
        fail(ErrorCode::InvalidFormat, "{}: tensor '{}': the source of finding '{}' is {}, expected 0 (pooled) or 1 (lesion peak)",
             path, kSources, finding_code(static_cast<Finding>(f)), v);
      heads.sources_[static_cast<size_t>(f)] = v == 0.0f ? FindingSource::Pooled : FindingSource::LesionPeak;
    }
    ++expected_count;
  }
  if (file.tensors().size() != expected_count)
    fail(ErrorCode::InvalidFormat, "{}: holds {} tensors, expected the {} of the auxiliary heads", path,
         file.tensors().size(), expected_count);
  return heads;
}

void AuxiliaryHeads::save(const std::string& path) const {
  std::vector<SafetensorsTensorData> tensors;
  for (const auto& [name, t] : parameters_)
    tensors.push_back({name, "F32", std::vector<int64_t>(t.sizes().begin(), t.sizes().end()), f32_bytes(t)});
  std::vector<uint8_t> thresholds(sizeof(float) * kFindingCount);
  std::memcpy(thresholds.data(), thresholds_.data(), thresholds.size());
  tensors.push_back({kThresholds, "F32", {kFindingCount}, std::move(thresholds)});
  std::array<float, kFindingCount> source_values{};
  for (int f = 0; f < kFindingCount; ++f) source_values[static_cast<size_t>(f)] = static_cast<float>(sources_[static_cast<size_t>(f)]);
  std::vector<uint8_t> sources(sizeof(float) * kFindingCount);
  std::memcpy(sources.data(), source_values.data(), sources.size());
  tensors.push_back({kSources, "F32", {kFindingCount}, std::move(sources)});
  write_safetensors(path, tensors, {{kVersionKey, "4"}, {"channels", std::to_string(channels_)}});
}

void AuxiliaryHeads::set_finding_thresholds(const FindingThresholds& thresholds) {
  if (const std::string problem = threshold_problem(thresholds); !problem.empty())
    fail(ErrorCode::InvalidArgument, "AuxiliaryHeads::set_finding_thresholds: {}", problem);
  thresholds_ = thresholds;
}

void AuxiliaryHeads::set_finding_sources(const FindingSources& sources) {
  if (const std::string problem = source_problem(sources); !problem.empty())
    fail(ErrorCode::InvalidArgument, "AuxiliaryHeads::set_finding_sources: {}", problem);
  sources_ = sources;
}

bool AuxiliaryHeads::reads_lesion_peaks() const {
  return std::any_of(sources_.begin(), sources_.end(), [](FindingSource s) { return s == FindingSource::LesionPeak; });
}

const at::Tensor& AuxiliaryHeads::tensor(const std::string& name) const {
  for (const auto& [n, t] : parameters_)
    if (n == name) return t;
  fail(ErrorCode::Internal, "AuxiliaryHeads: no tensor '{}'", name);
}

HeadLogits AuxiliaryHeads::forward(const at::Tensor& pooled) const {
  if (pooled.dim() != 2 || pooled.size(1) != channels_ || pooled.scalar_type() != at::kFloat)
    fail(ErrorCode::InvalidArgument, "AuxiliaryHeads::forward: pooled features must be (B, {}) float32, got [{}] {}",
         channels_, fmt::join(pooled.sizes(), ", "), c10::toString(pooled.scalar_type()));
  auto linear = [&](const std::string& head) {
    return at::linear(pooled, tensor(head + ".weight"), tensor(head + ".bias"));
  };
  HeadLogits out;
  out.modality = linear("heads.modality");
  out.gradable = linear("heads.gradable").squeeze(1);
  out.findings = linear("heads.findings");
  for (int s = 0; s < kGradeScaleCount; ++s)
    out.grades.push_back(linear(std::string("heads.grade.") + grade_scale_info(static_cast<GradeScale>(s)).code));
  return out;
}

HeadLogits AuxiliaryHeads::forward(const at::Tensor& pooled, const at::Tensor& tokens) const {
  HeadLogits out = forward(pooled);
  if (tokens.dim() != 3 || tokens.size(0) != pooled.size(0) || tokens.size(1) < 1)
    fail(ErrorCode::InvalidArgument, "AuxiliaryHeads::forward: tokens [{}] do not fit pooled features [{}], expected (B, N >= 1, C)",
         fmt::join(tokens.sizes(), ", "), fmt::join(pooled.sizes(), ", "));
  out.lesion_peaks = lesion_peaks(tokens);
  return out;
}

at::Tensor AuxiliaryHeads::loss(const HeadLogits& logits, const std::vector<ImageTargets>& targets,
                                const HeadLossWeights& weights) const {
  const int64_t batch = logits.modality.size(0);
  if (static_cast<int64_t>(targets.size()) != batch)
    fail(ErrorCode::InvalidArgument, "AuxiliaryHeads::loss: {} targets for a batch of {}", targets.size(), batch);
  std::vector<int64_t> modality(batch), findings(batch * kFindingCount);
  std::vector<float> gradable(batch);
  for (int64_t b = 0; b < batch; ++b) {
    modality[b] = targets[b].modality;
    gradable[b] = static_cast<float>(targets[b].gradable);
    for (int f = 0; f < kFindingCount; ++f) findings[b * kFindingCount + f] = targets[b].findings[f];
  }
  const at::Tensor modality_t = at::tensor(modality, at::kLong);
  const at::Tensor gradable_t = at::tensor(gradable, at::kFloat);
  const at::Tensor findings_t = at::tensor(findings, at::kLong).view({batch, kFindingCount});

  at::Tensor total = weights.modality * at::cross_entropy_loss(logits.modality, modality_t);
  total = total + weights.gradable * at::binary_cross_entropy_with_logits(logits.gradable, gradable_t);

  const at::Tensor applicable = findings_t >= 0;
  const int64_t n_findings = applicable.sum().item<int64_t>();
  if (n_findings > 0) {
    const at::Tensor per = at::binary_cross_entropy_with_logits(logits.findings, findings_t.clamp_min(0).to(at::kFloat),
                                                                {}, {}, at::Reduction::None);
    total = total + weights.findings * (per * applicable.to(at::kFloat)).sum() / static_cast<double>(n_findings);
  }
  for (int s = 0; s < kGradeScaleCount; ++s) {
    std::vector<int64_t> level(batch);
    int64_t n = 0;
    for (int64_t b = 0; b < batch; ++b) {
      level[b] = targets[b].grades[s];
      n += level[b] >= 0;
    }
    if (n == 0) continue;
    total = total + weights.grades * at::cross_entropy_loss(logits.grades[s], at::tensor(level, at::kLong), {},
                                                            at::Reduction::Mean, /*ignore_index=*/-1);
  }
  return total;
}

at::Tensor AuxiliaryHeads::lesion_logits(const at::Tensor& tokens) const {
  if (tokens.dim() != 3 || tokens.size(2) != channels_ || tokens.scalar_type() != at::kFloat)
    fail(ErrorCode::InvalidArgument, "AuxiliaryHeads::lesion_logits: tokens must be (B, N, {}) float32, got [{}] {}",
         channels_, fmt::join(tokens.sizes(), ", "), c10::toString(tokens.scalar_type()));
  return at::linear(tokens, tensor(std::string(kLesionHead) + ".weight"), tensor(std::string(kLesionHead) + ".bias"));
}

at::Tensor AuxiliaryHeads::lesion_peaks(const at::Tensor& tokens) const {
  if (tokens.dim() == 3 && tokens.size(1) < 1)
    fail(ErrorCode::InvalidArgument, "AuxiliaryHeads::lesion_peaks: tokens [{}] have no cell", fmt::join(tokens.sizes(), ", "));
  return std::get<0>(lesion_logits(tokens).max(1));  // (B, F)
}

at::Tensor AuxiliaryHeads::lesion_loss(const at::Tensor& logits, const LesionTargets& targets) const {
  if (logits.dim() != 3 || logits.size(2) != kFindingCount || !targets.cells.defined() ||
      targets.cells.sizes() != logits.sizes() || !targets.supervised.defined() || targets.supervised.dim() != 2 ||
      targets.supervised.size(0) != logits.size(0) || targets.supervised.size(1) != kFindingCount)
    fail(ErrorCode::InvalidArgument,
         "AuxiliaryHeads::lesion_loss: logits [{}], cells [{}] and supervised [{}] disagree; expected (B, N, {}), "
         "(B, N, {}) and (B, {})",
         fmt::join(logits.sizes(), ", "), targets.cells.defined() ? fmt::format("{}", fmt::join(targets.cells.sizes(), ", ")) : "",
         targets.supervised.defined() ? fmt::format("{}", fmt::join(targets.supervised.sizes(), ", ")) : "",
         kFindingCount, kFindingCount, kFindingCount);
  const double pairs = targets.supervised.sum().item<double>();
  if (pairs == 0) return logits.sum() * 0;  // keeps the graph: a batch of unannotated images adds nothing
  const at::Tensor per_cell =
      at::binary_cross_entropy_with_logits(logits, targets.cells, {}, {}, at::Reduction::None);  // (B, N, F)
  return (per_cell.sum(1) * targets.supervised).sum() / pairs;
}

std::vector<HeadPrediction> AuxiliaryHeads::predict(const HeadLogits& logits) const {
  at::NoGradGuard no_grad;
  const int64_t batch = logits.modality.size(0);
  const at::Tensor modality_p = at::softmax(logits.modality, 1).contiguous();
  const at::Tensor gradable_p = at::sigmoid(logits.gradable).contiguous();
  const at::Tensor findings_p = at::sigmoid(logits.findings).contiguous();
  std::vector<at::Tensor> levels;
  for (const at::Tensor& g : logits.grades) levels.push_back(g.argmax(1).contiguous());
  const bool has_peaks = logits.lesion_peaks.defined();
  if (!has_peaks)
    for (int f = 0; f < kFindingCount; ++f)
      if (sources_[static_cast<size_t>(f)] == FindingSource::LesionPeak)
        fail(ErrorCode::InvalidArgument,
             "AuxiliaryHeads::predict: the heads read finding '{}' from its lesion map's peak, but the logits have no "
             "lesion_peaks (give the encoder's grid: forward(pooled, tokens))",
             finding_code(static_cast<Finding>(f)));
  if (has_peaks && (logits.lesion_peaks.dim() != 2 || logits.lesion_peaks.size(0) != batch ||
                    logits.lesion_peaks.size(1) != kFindingCount))
    fail(ErrorCode::InvalidArgument, "AuxiliaryHeads::predict: lesion_peaks [{}], expected ({}, {})",
         fmt::join(logits.lesion_peaks.sizes(), ", "), batch, kFindingCount);
  const at::Tensor peaks_p = has_peaks ? at::sigmoid(logits.lesion_peaks).to(at::kFloat).contiguous() : at::Tensor();
  std::vector<HeadPrediction> out(batch);
  for (int64_t b = 0; b < batch; ++b) {
    HeadPrediction& p = out[b];
    const at::Tensor row = modality_p[b];
    const int64_t best = row.argmax().item<int64_t>();
    p.modality = static_cast<Modality>(best);
    p.modality_probability = row[best].item<float>();
    p.gradable_probability = gradable_p[b].item<float>();
    for (int f = 0; f < kFindingCount; ++f) p.finding_probability[f] = findings_p[b][f].item<float>();
    if (has_peaks) {
      const float* peak = peaks_p.data_ptr<float>() + b * kFindingCount;
      std::copy(peak, peak + kFindingCount, p.lesion_peak_probability.begin());
      p.has_lesion_peaks = true;
    }
    p.finding_threshold = thresholds_;
    p.finding_source = sources_;
    for (int s = 0; s < kGradeScaleCount; ++s) p.grade[s] = static_cast<int8_t>(levels[s][b].item<int64_t>());
  }
  return out;
}

FindingReading calibrated_finding_reading(const std::vector<HeadPrediction>& predictions,
                                          const std::vector<ImageTargets>& targets, int min_positives,
                                          bool try_lesion_peaks) {
  if (predictions.size() != targets.size())
    fail(ErrorCode::InvalidArgument, "calibrated_finding_reading: {} predictions for {} targets, expected one each",
         predictions.size(), targets.size());
  if (min_positives < 1)
    fail(ErrorCode::InvalidArgument, "calibrated_finding_reading: min_positives is {}, expected >= 1", min_positives);
  const bool peaks = try_lesion_peaks && !predictions.empty() &&
                     std::all_of(predictions.begin(), predictions.end(), [](const HeadPrediction& p) { return p.has_lesion_peaks; });
  constexpr int kSteps = 19;  // 0.05, 0.10, ..., 0.95
  FindingReading out;
  for (int f = 0; f < kFindingCount; ++f) {
    const auto fi = static_cast<size_t>(f);
    double best_f1 = -1, best_distance = 1;
    for (const FindingSource source : {FindingSource::Pooled, FindingSource::LesionPeak}) {
      if (source == FindingSource::LesionPeak && !peaks) break;
      std::array<BinaryCounts, kSteps> counts{};  // per threshold; false negatives filled in below
      int64_t positives = 0;
      for (size_t i = 0; i < targets.size(); ++i) {
        const int8_t truth = targets[i].findings[fi];
        if (truth < 0) continue;
        positives += truth == 1;
        const float p = source == FindingSource::Pooled ? predictions[i].finding_probability[fi]
                                                        : predictions[i].lesion_peak_probability[fi];
        for (int k = 0; k < kSteps; ++k)
          if (p >= static_cast<float>(k + 1) / 20.0f)
            (truth == 1 ? counts[static_cast<size_t>(k)].true_positives : counts[static_cast<size_t>(k)].false_positives) += 1;
      }
      if (positives < min_positives) break;
      double& source_best = source == FindingSource::Pooled ? out.pooled_f1[fi] : out.lesion_peak_f1[fi];
      for (int k = 0; k < kSteps; ++k) {
        const float threshold = static_cast<float>(k + 1) / 20.0f;
        BinaryCounts& c = counts[static_cast<size_t>(k)];
        c.false_negatives = positives - c.true_positives;
        const double f1 = c.f1(), distance = std::abs(threshold - kDefaultFindingThreshold);
        source_best = std::max(source_best, f1);
        // A higher F1 wins; of equal F1 the threshold nearest 0.5 of the source chosen so far —
        // the lesion peak (tried second) must do strictly better than the pooled head.
        const bool better = f1 > best_f1 + 1e-12 || (std::abs(f1 - best_f1) <= 1e-12 && source == out.sources[fi] &&
                                                     distance < best_distance);
        if (better) {
          best_f1 = f1, best_distance = distance;
          out.thresholds[fi] = threshold;
          out.sources[fi] = source;
        }
      }
    }
  }
  return out;
}

FindingThresholds calibrated_finding_thresholds(const std::vector<HeadPrediction>& predictions,
                                                const std::vector<ImageTargets>& targets, int min_positives) {
  return calibrated_finding_reading(predictions, targets, min_positives, /*try_lesion_peaks=*/false).thresholds;
}

}  // namespace ophtha
