// Auxiliary heads (auxiliary_heads.hpp): targets from an eye's labels, the multi-task loss against
// its closed form, learning a separable problem, and the file format.
#include "support/doctest_with_aten.hpp"

#include <cmath>
#include <cstring>
#include <optional>
#include <string>

#include <ATen/ATen.h>
#include <torch/csrc/autograd/autograd.h>

#include "ophtha/auxiliary_heads.hpp"
#include "ophtha/error.hpp"
#include "ophtha/safetensors.hpp"
#include "support/expect_error.hpp"
#include "support/test_models.hpp"

using namespace ophtha;

namespace {

EyeLabels moderate_dr_with_cnv() {
  EyeLabels eye;
  eye.findings = {Finding::Microaneurysms, Finding::HardExudates, Finding::SubretinalFluid,
                  Finding::ChoroidalNeovascularisation};
  eye.grades = {{GradeScale::Icdr, 2}, {GradeScale::Areds, 0}, {GradeScale::CupDisc, 0}, {GradeScale::OctClass, 3}};
  eye.imaged = {Modality::Cfp, Modality::Oct};
  return eye;
}

}  // namespace

TEST_CASE("an image's targets are its eye's labels of its own modality; an ungradable image has none") {
  const EyeLabels eye = moderate_dr_with_cnv();
  const ImageTargets cfp = image_targets(eye, Modality::Cfp);
  CHECK(cfp.modality == static_cast<int>(Modality::Cfp));
  CHECK(cfp.gradable == 1);
  CHECK(cfp.findings[static_cast<int>(Finding::Microaneurysms)] == 1);
  CHECK(cfp.findings[static_cast<int>(Finding::CottonWoolSpots)] == 0);
  CHECK(cfp.findings[static_cast<int>(Finding::SubretinalFluid)] == -1);  // an OCT finding
  CHECK(cfp.findings[static_cast<int>(Finding::GlandDropout)] == -1);
  CHECK(cfp.grades[static_cast<int>(GradeScale::Icdr)] == 2);
  CHECK(cfp.grades[static_cast<int>(GradeScale::OctClass)] == -1);
  const ImageTargets oct = image_targets(eye, Modality::Oct);
  CHECK(oct.findings[static_cast<int>(Finding::SubretinalFluid)] == 1);
  CHECK(oct.findings[static_cast<int>(Finding::Microaneurysms)] == -1);
  CHECK(oct.grades[static_cast<int>(GradeScale::OctClass)] == 3);

  EyeLabels blurred = eye;
  blurred.ungradable = {Modality::Cfp};
  const ImageTargets none = image_targets(blurred, Modality::Cfp);
  CHECK(none.gradable == 0);
  for (int8_t f : none.findings) CHECK(f == -1);
  for (int8_t g : none.grades) CHECK(g == -1);
}

TEST_CASE("with all logits zero the loss is the sum of the logs of the class counts") {
  AuxiliaryHeads heads = AuxiliaryHeads::random(8, 1);
  for (auto& [name, t] : heads.named_parameters()) t.zero_();
  const EyeLabels eye = moderate_dr_with_cnv();
  const std::vector<ImageTargets> targets = {image_targets(eye, Modality::Cfp), image_targets(eye, Modality::Oct)};
  const at::Tensor loss = heads.loss(heads.forward(at::randn({2, 8})), targets);
  // modality ln 3, gradable ln 2, findings ln 2 (mean over applicable), grades: icdr ln 5,
  // areds ln 4, cup_disc ln 4 (CFP image), oct_class ln 4 (OCT image); meiboscores not applicable.
  const double expected = std::log(3.0) + 2 * std::log(2.0) + std::log(5.0) + 3 * std::log(4.0);
  CHECK(loss.item<double>() == doctest::Approx(expected).epsilon(1e-6));

  HeadLossWeights only_grades;
  only_grades.modality = only_grades.gradable = only_grades.findings = 0;
  CHECK(heads.loss(heads.forward(at::randn({2, 8})), targets, only_grades).item<double>() ==
        doctest::Approx(std::log(5.0) + 3 * std::log(4.0)).epsilon(1e-6));
}

TEST_CASE("the heads learn a separable problem by gradient descent on their loss") {
  // Each image's features carry its labels linearly (plus noise); 300 steps of SGD must fit them.
  at::manual_seed(0);
  const int64_t n = 64, channels = 16;
  std::vector<ImageTargets> targets;
  at::Tensor features = at::randn({n, channels}) * 0.1;
  for (int64_t i = 0; i < n; ++i) {
    EyeLabels eye;
    const int grade = static_cast<int>(i % 5);
    eye.grades = {{GradeScale::Icdr, grade}};
    if (grade >= 1) eye.findings.push_back(Finding::Microaneurysms);
    eye.imaged = {Modality::Cfp};
    if (i % 7 == 3) eye.ungradable = {Modality::Cfp};
    targets.push_back(image_targets(eye, Modality::Cfp));
    features[i][grade] += 3.0;
    features[i][5] += targets.back().gradable ? 3.0 : -3.0;
    features[i][6] += grade >= 1 ? 3.0 : -3.0;
  }
  AuxiliaryHeads heads = AuxiliaryHeads::random(channels, 2);
  for (auto& [name, t] : heads.named_parameters()) t.requires_grad_(true);
  double first = 0, last = 0;
  for (int step = 0; step < 300; ++step) {
    const at::Tensor loss = heads.loss(heads.forward(features), targets);
    if (step == 0) first = loss.item<double>();
    last = loss.item<double>();
    for (auto& [name, t] : heads.named_parameters())
      if (t.grad().defined()) t.mutable_grad().zero_();
    loss.backward();
    at::NoGradGuard no_grad;
    for (auto& [name, t] : heads.named_parameters())
      if (t.grad().defined()) t.sub_(t.grad() * 0.5);
  }
  CHECK(last < first * 0.1);
  const auto predictions = heads.predict(heads.forward(features));
  int right = 0, gradable_right = 0;
  for (int64_t i = 0; i < n; ++i) {
    right += targets[i].gradable == 0 || predictions[i].grade[0] == targets[i].grades[0];
    gradable_right += (predictions[i].gradable_probability > 0.5f) == (targets[i].gradable == 1);
    CHECK(predictions[i].modality == Modality::Cfp);
  }
  CHECK(right == n);
  CHECK(gradable_right == n);
}

TEST_CASE("heads saved to a file load back exactly; a foreign or damaged file is refused by name") {
  const AuxiliaryHeads heads = AuxiliaryHeads::random(12, 3);
  const std::string path = test::work_dir() + "/heads-round-trip.safetensors";
  heads.save(path);
  const AuxiliaryHeads loaded = AuxiliaryHeads::load(path);
  CHECK(loaded.channels() == 12);
  REQUIRE(loaded.named_parameters().size() == heads.named_parameters().size());
  for (size_t i = 0; i < heads.named_parameters().size(); ++i) {
    CHECK(loaded.named_parameters()[i].first == heads.named_parameters()[i].first);
    CHECK(at::equal(loaded.named_parameters()[i].second, heads.named_parameters()[i].second));
  }
  const at::Tensor pooled = at::randn({3, 12});
  CHECK(at::equal(loaded.forward(pooled).findings, heads.forward(pooled).findings));

  const std::string foreign = test::work_dir() + "/heads-foreign.safetensors";
  write_safetensors(foreign, {{"heads.modality.weight", "F32", {3, 12}, std::vector<uint8_t>(3 * 12 * 4)}});
  test::check_message(test::error_from([&] { AuxiliaryHeads::load(foreign); }), ErrorCode::InvalidFormat,
                      "not an auxiliary-heads file");
  write_safetensors(foreign, {{"heads.modality.weight", "F32", {3, 12}, std::vector<uint8_t>(3 * 12 * 4)}},
                    {{"ophtha_heads_version", "1"}});
  test::check_message(test::error_from([&] { AuxiliaryHeads::load(foreign); }), ErrorCode::InvalidFormat,
                      "tensor 'heads.modality.bias' (shape [3]) is missing");
  test::check_message(test::error_from([&] { heads.forward(at::zeros({2, 11})); }), ErrorCode::InvalidArgument,
                      "(B, 12) float32, got [2, 11]");
}

TEST_CASE("the lesion loss sums each map's cells and averages over the supervised (image, finding) pairs") {
  AuxiliaryHeads heads = AuxiliaryHeads::random(6, 4);
  const int64_t batch = 2, cells = 4;
  const at::Tensor tokens = at::randn({batch, cells, 6});
  const at::Tensor logits = heads.lesion_logits(tokens);
  REQUIRE(logits.sizes() == at::IntArrayRef({batch, cells, kFindingCount}));
  CHECK(at::allclose(logits[1][2], at::matmul(heads.named_parameters().end()[-2].second, tokens[1][2]) +
                                        heads.named_parameters().end()[-1].second));  // a 1×1 convolution

  LesionTargets targets{at::zeros({batch, cells, kFindingCount}), at::zeros({batch, kFindingCount})};
  const auto ma = static_cast<int64_t>(Finding::Microaneurysms), ex = static_cast<int64_t>(Finding::HardExudates);
  targets.cells[0][1][ma] = 1, targets.cells[1][3][ex] = 1, targets.cells[1][0][ma] = 1;  // the last unsupervised
  targets.supervised[0][ma] = 1, targets.supervised[1][ex] = 1, targets.supervised[1][ma] = 0;
  targets.supervised[0][static_cast<int64_t>(Finding::Irma)] = 1;  // known absent: every cell 0
  // By hand, in double: −Σ_cells [t·log σ(z) + (1 − t)·log(1 − σ(z))] per supervised pair, averaged.
  const at::Tensor z = logits.to(at::kDouble);
  double expected = 0;
  const std::vector<std::pair<int64_t, int64_t>> pairs = {{0, ma}, {1, ex}, {0, static_cast<int64_t>(Finding::Irma)}};
  for (const auto& [b, f] : pairs)
    for (int64_t n = 0; n < cells; ++n) {
      const double v = z[b][n][f].item<double>(), t = targets.cells[b][n][f].item<double>();
      expected -= t * std::log(1 / (1 + std::exp(-v))) + (1 - t) * std::log(1 - 1 / (1 + std::exp(-v)));
    }
  expected /= static_cast<double>(pairs.size());
  CHECK(heads.lesion_loss(logits, targets).item<double>() == doctest::Approx(expected).epsilon(1e-5));

  for (auto& [name, t] : heads.named_parameters()) t.zero_();
  CHECK(heads.lesion_loss(heads.lesion_logits(tokens), targets).item<double>() ==
        doctest::Approx(cells * std::log(2.0)).epsilon(1e-6));  // zero logits: ln 2 per cell
  targets.supervised.zero_();
  CHECK(heads.lesion_loss(logits, targets).item<double>() == 0);  // nothing supervised
  test::check_message(
      test::error_from([&] { heads.lesion_loss(logits.narrow(1, 0, 3), targets); }), ErrorCode::InvalidArgument,
      "logits [2, 3, 26], cells [2, 4, 26] and supervised [2, 26] disagree");
  test::check_message(test::error_from([&] { heads.lesion_logits(at::zeros({2, 4, 5})); }), ErrorCode::InvalidArgument,
                      "tokens must be (B, N, 6) float32, got [2, 4, 5]");
}

TEST_CASE("a version 1 heads file (before the lesion head) loads, its lesion head at zero") {
  const AuxiliaryHeads heads = AuxiliaryHeads::random(5, 8);
  std::vector<SafetensorsTensorData> tensors;
  for (const auto& [name, t] : heads.named_parameters()) {
    if (name.rfind("heads.lesions.", 0) == 0) continue;
    std::vector<uint8_t> bytes(static_cast<size_t>(t.nbytes()));
    std::memcpy(bytes.data(), t.contiguous().data_ptr(), bytes.size());
    tensors.push_back({name, "F32", std::vector<int64_t>(t.sizes().begin(), t.sizes().end()), bytes});
  }
  const std::string path = test::work_dir() + "/heads-version-1.safetensors";
  write_safetensors(path, tensors, {{"ophtha_heads_version", "1"}, {"channels", "5"}});
  const AuxiliaryHeads loaded = AuxiliaryHeads::load(path);
  REQUIRE(loaded.named_parameters().size() == heads.named_parameters().size());
  for (size_t i = 0; i < heads.named_parameters().size(); ++i) {
    const auto& [name, t] = loaded.named_parameters()[i];
    CHECK(name == heads.named_parameters()[i].first);
    if (name.rfind("heads.lesions.", 0) == 0)
      CHECK(at::equal(t, at::zeros_like(t)));
    else
      CHECK(at::equal(t, heads.named_parameters()[i].second));
  }
  write_safetensors(path, tensors, {{"ophtha_heads_version", "2"}, {"channels", "5"}});  // claims the lesion head
  test::check_message(test::error_from([&] { AuxiliaryHeads::load(path); }), ErrorCode::InvalidFormat,
                      "tensor 'heads.lesions.weight' (shape [26, 5]) is missing");
}

namespace {

// The named parameters of `heads` as safetensors tensors (the file a version 1 or 2 writer wrote).
std::vector<SafetensorsTensorData> parameter_tensors(const AuxiliaryHeads& heads) {
  std::vector<SafetensorsTensorData> tensors;
  for (const auto& [name, t] : heads.named_parameters()) {
    std::vector<uint8_t> bytes(static_cast<size_t>(t.nbytes()));
    std::memcpy(bytes.data(), t.contiguous().data_ptr(), bytes.size());
    tensors.push_back({name, "F32", std::vector<int64_t>(t.sizes().begin(), t.sizes().end()), bytes});
  }
  return tensors;
}

}  // namespace

TEST_CASE("finding thresholds travel with the heads: saved, loaded, and carried by each prediction") {
  AuxiliaryHeads heads = AuxiliaryHeads::random(6, 4);
  for (float t : heads.finding_thresholds()) CHECK(t == 0.5f);
  FindingThresholds thresholds = default_finding_thresholds();
  thresholds[static_cast<size_t>(Finding::Irma)] = 0.15f;
  thresholds[static_cast<size_t>(Finding::GhostGlands)] = 0.85f;
  heads.set_finding_thresholds(thresholds);
  const std::string path = test::work_dir() + "/heads-thresholds.safetensors";
  heads.save(path);
  CHECK(SafetensorsFile::open(path).metadata().at("ophtha_heads_version") == "4");
  const AuxiliaryHeads loaded = AuxiliaryHeads::load(path);
  CHECK(loaded.finding_thresholds() == thresholds);
  CHECK(loaded.named_parameters().size() == heads.named_parameters().size());  // the thresholds are not trained

  // Logits set by hand: IRMA at p = 0.3 is read (threshold 0.15), ghost glands at 0.7 are not
  // (0.85), microaneurysms at 0.3 are not (0.5).
  HeadLogits logits = loaded.forward(at::zeros({1, 6}));
  logits.findings = at::full({1, kFindingCount}, -5.0f);
  const float logit_03 = std::log(0.3f / 0.7f);
  logits.findings[0][static_cast<int64_t>(Finding::Irma)] = logit_03;
  logits.findings[0][static_cast<int64_t>(Finding::GhostGlands)] = -logit_03;
  logits.findings[0][static_cast<int64_t>(Finding::Microaneurysms)] = logit_03;
  const HeadPrediction read = loaded.predict(logits).at(0);
  CHECK(read.finding_threshold == thresholds);
  CHECK(read.finding_present(Finding::Irma));
  CHECK_FALSE(read.finding_present(Finding::GhostGlands));
  CHECK_FALSE(read.finding_present(Finding::Microaneurysms));
  CHECK_FALSE(AuxiliaryHeads::random(6, 4).predict(logits).at(0).finding_present(Finding::Irma));  // at 0.5: not read

  // A version 2 file has no thresholds: every finding reads at 0.5.
  write_safetensors(path, parameter_tensors(heads), {{"ophtha_heads_version", "2"}, {"channels", "6"}});
  CHECK(AuxiliaryHeads::load(path).finding_thresholds() == default_finding_thresholds());
  // A version 3 file without them, or with one outside (0, 1), is refused by name.
  write_safetensors(path, parameter_tensors(heads), {{"ophtha_heads_version", "3"}, {"channels", "6"}});
  test::check_message(test::error_from([&] { AuxiliaryHeads::load(path); }), ErrorCode::InvalidFormat,
                      "tensor 'heads.findings.threshold' (shape [26]) is missing");
  std::vector<SafetensorsTensorData> tensors = parameter_tensors(heads);
  std::vector<float> bad(kFindingCount, 0.5f);
  bad[static_cast<size_t>(Finding::Irma)] = 1.0f;
  std::vector<uint8_t> bytes(bad.size() * sizeof(float));
  std::memcpy(bytes.data(), bad.data(), bytes.size());
  tensors.push_back({"heads.findings.threshold", "F32", {kFindingCount}, bytes});
  write_safetensors(path, tensors, {{"ophtha_heads_version", "3"}, {"channels", "6"}});
  test::check_message(test::error_from([&] { AuxiliaryHeads::load(path); }), ErrorCode::InvalidFormat,
                      "the threshold of finding 'irma' is 1, expected in (0, 1)");

  thresholds[static_cast<size_t>(Finding::OctDrusen)] = std::nanf("");
  test::check_message(test::error_from([&] { heads.set_finding_thresholds(thresholds); }), ErrorCode::InvalidArgument,
                      "the threshold of finding 'oct_drusen' is nan");
  CHECK(heads.finding_thresholds()[static_cast<size_t>(Finding::Irma)] == 0.15f);  // unchanged
}

namespace {

// Images for calibration, each showing one finding (applicable to it alone) with the heads'
// pooled probability and, when given, its lesion peak's.
struct CalibrationImages {
  std::vector<HeadPrediction> predictions;
  std::vector<ImageTargets> targets;
  void add(Finding f, float pooled, int truth, std::optional<float> peak = std::nullopt) {
    HeadPrediction p;
    p.finding_probability.fill(0.0f);
    p.finding_probability[static_cast<size_t>(f)] = pooled;
    if (peak) {
      p.has_lesion_peaks = true;
      p.lesion_peak_probability.fill(0.0f);
      p.lesion_peak_probability[static_cast<size_t>(f)] = *peak;
    }
    ImageTargets t;
    t.findings.fill(-1);
    t.findings[static_cast<size_t>(f)] = static_cast<int8_t>(truth);
    predictions.push_back(p);
    targets.push_back(t);
  }
};

}  // namespace

TEST_CASE("a finding read from its lesion map's peak: the largest cell logit, saved with the heads, refused without the grid") {
  AuxiliaryHeads heads = AuxiliaryHeads::random(6, 9);
  CHECK_FALSE(heads.reads_lesion_peaks());
  const at::Tensor tokens = at::randn({2, 5, 6});
  // lesion_peaks is the per-finding maximum of lesion_logits over the cells, computed here cell by cell.
  const at::Tensor map = heads.lesion_logits(tokens);
  const at::Tensor peaks = heads.lesion_peaks(tokens);
  REQUIRE(peaks.sizes() == at::IntArrayRef({2, kFindingCount}));
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t f = 0; f < kFindingCount; ++f) {
      float most = map[b][0][f].item<float>();
      for (int64_t n = 1; n < 5; ++n) most = std::max(most, map[b][n][f].item<float>());
      CHECK(peaks[b][f].item<float>() == most);
    }

  FindingSources sources = default_finding_sources();
  sources[static_cast<size_t>(Finding::Neovascularisation)] = FindingSource::LesionPeak;
  heads.set_finding_sources(sources);
  CHECK(heads.reads_lesion_peaks());
  const std::string path = test::work_dir() + "/heads-sources.safetensors";
  heads.save(path);
  const AuxiliaryHeads loaded = AuxiliaryHeads::load(path);
  CHECK(loaded.finding_sources() == sources);

  // New vessels: pooled p = 0.1, lesion peak p = 0.9 → read (from the peak); IRMA: pooled 0.9,
  // peak 0.1 → read (pooled).
  HeadLogits logits = loaded.forward(at::zeros({1, 6}), at::zeros({1, 3, 6}));
  REQUIRE(logits.lesion_peaks.defined());
  logits.findings = at::full({1, kFindingCount}, -5.0f);
  logits.lesion_peaks = at::full({1, kFindingCount}, -5.0f);
  const float logit_09 = std::log(0.9f / 0.1f);
  logits.findings[0][static_cast<int64_t>(Finding::Neovascularisation)] = -logit_09;
  logits.lesion_peaks[0][static_cast<int64_t>(Finding::Neovascularisation)] = logit_09;
  logits.findings[0][static_cast<int64_t>(Finding::Irma)] = logit_09;
  logits.lesion_peaks[0][static_cast<int64_t>(Finding::Irma)] = -logit_09;
  const HeadPrediction read = loaded.predict(logits).at(0);
  CHECK(read.has_lesion_peaks);
  CHECK(read.finding_source == sources);
  CHECK(read.lesion_peak_probability[static_cast<size_t>(Finding::Neovascularisation)] == doctest::Approx(0.9f));
  CHECK(read.finding_score(Finding::Neovascularisation) == doctest::Approx(0.9f));
  CHECK(read.finding_present(Finding::Neovascularisation));
  CHECK(read.finding_score(Finding::Irma) == doctest::Approx(0.9f));
  CHECK(read.finding_present(Finding::Irma));
  CHECK_FALSE(AuxiliaryHeads::random(6, 9).predict(logits).at(0).finding_present(Finding::Neovascularisation));  // pooled

  logits.lesion_peaks = at::Tensor();
  test::check_message(test::error_from([&] { loaded.predict(logits); }), ErrorCode::InvalidArgument,
                      "read finding 'neovascularisation' from its lesion map's peak");
  CHECK_FALSE(AuxiliaryHeads::random(6, 9).predict(logits).at(0).has_lesion_peaks);  // no grid needed: all pooled
  test::check_message(test::error_from([&] { loaded.forward(at::zeros({2, 6}), at::zeros({1, 3, 6})); }),
                      ErrorCode::InvalidArgument, "tokens [1, 3, 6] do not fit pooled features [2, 6]");

  // A version 3 file reads every finding from the pooled head; a version 4 file without sources,
  // or with a source other than 0 or 1, is refused by name; so is an invalid source set in code.
  std::vector<SafetensorsTensorData> tensors = parameter_tensors(heads);
  std::vector<uint8_t> bytes(kFindingCount * sizeof(float));
  const FindingThresholds half = default_finding_thresholds();
  std::memcpy(bytes.data(), half.data(), bytes.size());
  tensors.push_back({"heads.findings.threshold", "F32", {kFindingCount}, bytes});
  write_safetensors(path, tensors, {{"ophtha_heads_version", "3"}, {"channels", "6"}});
  CHECK(AuxiliaryHeads::load(path).finding_sources() == default_finding_sources());
  write_safetensors(path, tensors, {{"ophtha_heads_version", "4"}, {"channels", "6"}});
  test::check_message(test::error_from([&] { AuxiliaryHeads::load(path); }), ErrorCode::InvalidFormat,
                      "tensor 'heads.findings.source' (shape [26]) is missing");
  std::vector<float> bad(kFindingCount, 0.0f);
  bad[static_cast<size_t>(Finding::GhostGlands)] = 0.5f;
  std::memcpy(bytes.data(), bad.data(), bytes.size());
  tensors.push_back({"heads.findings.source", "F32", {kFindingCount}, bytes});
  write_safetensors(path, tensors, {{"ophtha_heads_version", "4"}, {"channels", "6"}});
  test::check_message(test::error_from([&] { AuxiliaryHeads::load(path); }), ErrorCode::InvalidFormat,
                      "the source of finding 'ghost_glands' is 0.5, expected 0 (pooled) or 1 (lesion peak)");
  sources[static_cast<size_t>(Finding::Irma)] = static_cast<FindingSource>(7);
  test::check_message(test::error_from([&] { heads.set_finding_sources(sources); }), ErrorCode::InvalidArgument,
                      "the source of finding 'irma' is 7");
}

TEST_CASE("calibration reads a finding from its lesion peak only where the peak's F1 is higher") {
  // New vessels: pooled probabilities overlap (positives 0.4, negatives 0.4 or 0.1), the peaks
  // separate them (positives 0.7, negatives 0.2) → the peak, at the separating threshold nearest
  // 0.5 (0.5 itself). Microaneurysms: both separate perfectly → the pooled head keeps it.
  CalibrationImages set;
  std::vector<HeadPrediction>& predictions = set.predictions;
  const std::vector<ImageTargets>& targets = set.targets;
  for (int i = 0; i < 12; ++i) {
    set.add(Finding::Neovascularisation, 0.4f, 1, 0.7f);
    set.add(Finding::Neovascularisation, i % 2 ? 0.4f : 0.1f, 0, 0.2f);
    set.add(Finding::Microaneurysms, 0.8f, 1, 0.9f);
    set.add(Finding::Microaneurysms, 0.2f, 0, 0.1f);
  }
  const FindingReading reading = calibrated_finding_reading(predictions, targets, 10);
  CHECK(reading.sources[static_cast<size_t>(Finding::Neovascularisation)] == FindingSource::LesionPeak);
  CHECK(reading.thresholds[static_cast<size_t>(Finding::Neovascularisation)] == 0.5f);
  CHECK(reading.sources[static_cast<size_t>(Finding::Microaneurysms)] == FindingSource::Pooled);
  CHECK(reading.thresholds[static_cast<size_t>(Finding::Microaneurysms)] == 0.5f);
  CHECK(reading.sources[static_cast<size_t>(Finding::Irma)] == FindingSource::Pooled);  // no positives
  // The best F1 of each source: new vessels 0.8 pooled (24 / 30), 1 by the peak; IRMA not tried.
  CHECK(reading.pooled_f1[static_cast<size_t>(Finding::Neovascularisation)] == doctest::Approx(0.8));
  CHECK(reading.lesion_peak_f1[static_cast<size_t>(Finding::Neovascularisation)] == 1.0);
  CHECK(reading.lesion_peak_f1[static_cast<size_t>(Finding::Microaneurysms)] == 1.0);
  CHECK(reading.pooled_f1[static_cast<size_t>(Finding::Irma)] == -1.0);
  CHECK(reading.lesion_peak_f1[static_cast<size_t>(Finding::Irma)] == -1.0);
  // Without peaks on every prediction, and in calibrated_finding_thresholds, only the pooled head
  // competes: new vessels then at the pooled head's best (0.40: all positives, half the negatives).
  predictions.back().has_lesion_peaks = false;
  const FindingReading pooled = calibrated_finding_reading(predictions, targets, 10);
  CHECK(pooled.sources == default_finding_sources());
  CHECK(pooled.thresholds[static_cast<size_t>(Finding::Neovascularisation)] == 0.40f);
  predictions.back().has_lesion_peaks = true;
  CHECK(calibrated_finding_thresholds(predictions, targets, 10) == pooled.thresholds);
  const FindingReading not_tried = calibrated_finding_reading(predictions, targets, 10, /*try_lesion_peaks=*/false);
  CHECK(not_tried.sources == default_finding_sources());
  CHECK(not_tried.thresholds == pooled.thresholds);
  CHECK(not_tried.lesion_peak_f1 == unmeasured_f1());
}

TEST_CASE("calibration picks each finding's F1-best threshold, nearest 0.5 among equals, 0.5 without enough positives") {
  // IRMA: positives at 0.3, negatives at 0.1 → any threshold in (0.1, 0.3] separates them; of
  // 0.15 … 0.30 the one nearest 0.5 is 0.30. Microaneurysms: positives 0.8, negatives 0.6 → 0.65 …
  // 0.80 all perfect, 0.50 is not: 0.65 wins. Ghost glands: 2 positives only → 0.5. OCT drusen
  // are not applicable to these images and keep 0.5.
  CalibrationImages set;
  const std::vector<HeadPrediction>& predictions = set.predictions;
  const std::vector<ImageTargets>& targets = set.targets;
  auto add = [&](Finding f, float p, int truth) { set.add(f, p, truth); };
  for (int i = 0; i < 12; ++i) add(Finding::Irma, 0.3f, 1), add(Finding::Irma, 0.1f, 0);
  for (int i = 0; i < 12; ++i) add(Finding::Microaneurysms, 0.8f, 1), add(Finding::Microaneurysms, 0.6f, 0);
  add(Finding::GhostGlands, 0.2f, 1), add(Finding::GhostGlands, 0.2f, 1), add(Finding::GhostGlands, 0.1f, 0);
  const FindingThresholds t = calibrated_finding_thresholds(predictions, targets, 10);
  CHECK(t[static_cast<size_t>(Finding::Irma)] == 0.30f);
  CHECK(t[static_cast<size_t>(Finding::Microaneurysms)] == 0.65f);
  CHECK(t[static_cast<size_t>(Finding::GhostGlands)] == 0.5f);
  CHECK(t[static_cast<size_t>(Finding::OctDrusen)] == 0.5f);
  CHECK(calibrated_finding_thresholds(predictions, targets, 2)[static_cast<size_t>(Finding::GhostGlands)] == 0.20f);

  test::check_message(test::error_from([&] { calibrated_finding_thresholds(predictions, {}, 10); }),
                      ErrorCode::InvalidArgument, "51 predictions for 0 targets");
  test::check_message(test::error_from([&] { calibrated_finding_thresholds(predictions, targets, 0); }),
                      ErrorCode::InvalidArgument, "min_positives is 0");
}
