// The synthetic meibography image: each lid's gland-area loss, measured from the pixels, falls in
// the Arita band of its labelled meiboscore (0: none, 1: < 1/3, 2: 1/3–2/3, 3: > 2/3), with
// straight, tortuous and shortened glands alike.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "ophtha/error.hpp"
#include "ophtha/synth.hpp"

using namespace ophtha;

namespace {

EyeLabels osa_labels(int upper, int lower, std::vector<Finding> findings = {}) {
  EyeLabels labels;
  labels.imaged = {Modality::Osa};
  labels.grades[GradeScale::MeiboscoreUpper] = upper;
  labels.grades[GradeScale::MeiboscoreLower] = lower;
  if (upper > 0 || lower > 0) findings.push_back(Finding::GlandDropout);
  std::sort(findings.begin(), findings.end());
  labels.findings = findings;
  return labels;
}

// Gland coverage of one lid (its half of the image): the fraction of the tarsal plate (pixels
// brighter than the skin, > 62) that is gland (> 140). The plate is ~88, skin ~42, glands ~200.
double gland_coverage(const Image& image, bool upper) {
  const int half = image.height() / kOsaLidHalves, y0 = upper ? 0 : half;
  int64_t plate = 0, gland = 0;
  for (int y = y0; y < y0 + half; ++y)
    for (int x = 0; x < image.width(); ++x) {
      const int v = image.pixels8()[static_cast<size_t>(y) * image.width() + x];
      plate += v > 62;
      gland += v > 140;
    }
  return static_cast<double>(gland) / static_cast<double>(plate);
}

}  // namespace

TEST_CASE("the loss ranges keep clear of the Arita band edges") {
  // Score 0 is "no loss": its range may reach 5%.
  const double edges[4][2] = {{0, 0.05}, {0.05, 1.0 / 3}, {1.0 / 3, 2.0 / 3}, {2.0 / 3, 1.0}};
  for (int score = 0; score <= 3; ++score) {
    const GlandLossRange range = gland_loss_range(score);
    CHECK_MESSAGE(range.lo >= edges[score][0], "score " << score);
    CHECK_MESSAGE(range.hi <= edges[score][1], "score " << score);
    if (score > 0) CHECK_MESSAGE(range.lo - edges[score][0] >= 0.05, "score " << score << " starts at its band edge");
    if (score > 0 && score < 3)
      CHECK_MESSAGE(edges[score][1] - range.hi >= 0.05, "score " << score << " ends at its band edge");
  }
  CHECK_THROWS_AS(gland_loss_range(4), ophtha::Error);
}

TEST_CASE("the measured gland-area loss of each lid lies in the band of its meiboscore") {
  // A healthy lid's coverage (glands fill ~46% of the plate) is calibrated on score-0 lids,
  // whose drawn loss is 0–3% (1.5% on average).
  double healthy[2] = {0, 0};
  constexpr int kCalibration = 4;
  for (int seed = 0; seed < kCalibration; ++seed) {
    Random random(900 + seed);
    const Image image = render_osa(osa_labels(0, 0), Eye::OD, random);
    for (int lid = 0; lid < 2; ++lid) healthy[lid] += gland_coverage(image, lid == 0) / kCalibration / (1 - 0.015);
  }
  const double band[4][2] = {{0, 0.05}, {0.05, 1.0 / 3}, {1.0 / 3, 2.0 / 3}, {2.0 / 3, 1.0}};
  const std::vector<std::vector<Finding>> morphologies = {
      {}, {Finding::TortuousGlands}, {Finding::ShortenedGlands, Finding::GhostGlands}};
  uint64_t seed = 1000;
  for (const auto& findings : morphologies)
    for (int upper = 0; upper <= 3; ++upper) {
      const int lower = 3 - upper;
      Random random(++seed);
      const Image image = render_osa(osa_labels(upper, lower, findings), seed % 2 ? Eye::OD : Eye::OS, random);
      REQUIRE(image.width() == kOsaWidth);
      REQUIRE(image.height() == kOsaHeight);
      REQUIRE(image.channels() == 1);
      const int scores[2] = {upper, lower};
      for (int lid = 0; lid < 2; ++lid) {
        const double loss = 1 - gland_coverage(image, lid == 0) / healthy[lid];
        const int score = scores[lid];
        CHECK_MESSAGE((loss >= band[score][0] - 0.02 && loss <= band[score][1]),
                      std::string(lid == 0 ? "upper" : "lower")
                          << " lid, meiboscore " << score << " with " << findings.size() << " morphology findings: loss "
                          << loss << ", expected in [" << band[score][0] << ", " << band[score][1] << "]");
      }
    }
}

TEST_CASE("the same seed renders the same meibography image") {
  Random a(3), b(3);
  const Image first = render_osa(osa_labels(1, 2), Eye::OS, a), second = render_osa(osa_labels(1, 2), Eye::OS, b);
  CHECK(std::memcmp(first.pixels8(), second.pixels8(), static_cast<size_t>(kOsaWidth) * kOsaHeight) == 0);
}

TEST_CASE("an ungradable meibography image has faint, blurred glands") {
  // Gland contrast: the column profile of the upper lid's middle rows (grain averages out), less
  // its 31-px moving average; its standard deviation is the gland stripes' amplitude.
  auto stripe_amplitude = [](const Image& image) {
    std::vector<double> profile(image.width(), 0.0);
    for (int y = 150; y < 230; ++y)
      for (int x = 0; x < image.width(); ++x) profile[x] += image.pixels8()[static_cast<size_t>(y) * image.width() + x] / 80.0;
    double sum2 = 0;
    int n = 0;
    for (int x = 200; x < image.width() - 200; ++x) {
      double local = 0;
      for (int k = -15; k <= 15; ++k) local += profile[x + k] / 31;
      sum2 += (profile[x] - local) * (profile[x] - local);
      ++n;
    }
    return std::sqrt(sum2 / n);
  };
  EyeLabels labels;
  labels.imaged = {Modality::Osa};
  labels.ungradable = {Modality::Osa};
  for (uint64_t seed = 0; seed < 3; ++seed) {
    Random random(seed), healthy_random(seed);
    const double spoilt = stripe_amplitude(render_osa(labels, Eye::OD, random));
    const double good = stripe_amplitude(render_osa(osa_labels(0, 0), Eye::OD, healthy_random));
    CHECK_MESSAGE(spoilt < 0.35 * good, "seed " << seed << ": stripe amplitude " << spoilt << " ungradable vs " << good);
  }
}
