// The synthetic OCT B-scan: the retina lies between a dark vitreous and the bright RPE, with the
// bright RNFL above the dark nuclear layers; the fovea is a pit; a PED lifts the RPE; intraretinal
// cysts darken the retina; an ungradable scan has little signal.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "ophtha/synth.hpp"

using namespace ophtha;

namespace {

EyeLabels oct_labels(std::vector<Finding> findings, int oct_class) {
  EyeLabels labels;
  labels.findings = std::move(findings);
  labels.imaged = {Modality::Oct};
  labels.grades[GradeScale::OctClass] = oct_class;
  return labels;
}

// Column profile averaged over 25 columns around x (speckle and vessel shadows average out),
// smoothed over 5 rows.
std::vector<double> profile(const Image& image, int x) {
  std::vector<double> raw(image.height(), 0.0), out(image.height(), 0.0);
  for (int y = 0; y < image.height(); ++y)
    for (int dx = -12; dx <= 12; ++dx) raw[y] += image.pixels8()[static_cast<size_t>(y) * image.width() + x + dx] / 25.0;
  for (int y = 0; y < image.height(); ++y) {
    int n = 0;
    for (int k = std::max(0, y - 2); k <= std::min(image.height() - 1, y + 2); ++k, ++n) out[y] += raw[k];
    out[y] /= n;
  }
  return out;
}

struct ColumnLayers {
  int ilm = -1;  // first row brighter than 60 from the top
  int rpe = -1;  // brightest row at least 35 rows below the ILM (below the RNFL)
};

ColumnLayers layers(const Image& image, int x) {
  const std::vector<double> p = profile(image, x);
  ColumnLayers c;
  for (int y = 0; y < image.height(); ++y)
    if (p[y] > 60) {
      c.ilm = y;
      break;
    }
  REQUIRE_MESSAGE(c.ilm >= 0, "column " << x << ": no retina found");
  const auto below_rnfl = p.begin() + std::min(c.ilm + 35, image.height() - 1);
  c.rpe = static_cast<int>(std::max_element(below_rnfl, p.end()) - p.begin());
  return c;
}

}  // namespace

TEST_CASE("a normal scan shows the layers in order and a foveal pit") {
  for (uint64_t seed = 0; seed < 4; ++seed) {
    Random random(seed);
    const Image image = render_oct(oct_labels({}, 0), seed % 2 ? Eye::OD : Eye::OS, random);
    REQUIRE(image.width() == kOctWidth);
    REQUIRE(image.height() == kOctHeight);
    REQUIRE(image.channels() == 1);
    // The fovea lies within 40 px of the centre: the thinnest retina among the central columns.
    int fovea = 0, thinnest = 1 << 30;
    for (int x = 450; x <= 574; x += 4) {
      const ColumnLayers c = layers(image, x);
      if (c.rpe - c.ilm < thinnest) {
        thinnest = c.rpe - c.ilm;
        fovea = x;
      }
    }
    for (int x : {fovea - 300, fovea + 300}) {
      const ColumnLayers c = layers(image, x);
      INFO("seed ", seed, " column ", x, ": ILM row ", c.ilm, ", RPE row ", c.rpe, "; fovea thickness ", thinnest);
      CHECK(c.ilm > 40);           // dark vitreous above
      CHECK(c.rpe > c.ilm + 60);   // the retina between ILM and RPE
      CHECK(thinnest < 0.75 * (c.rpe - c.ilm));  // the pit
      // RNFL bright just below the ILM, the outer nuclear layer dark above the RPE.
      const std::vector<double> p = profile(image, x);
      const double rnfl = *std::max_element(p.begin() + c.ilm, p.begin() + c.ilm + 12);
      const double onl = *std::min_element(p.begin() + c.rpe - 45, p.begin() + c.rpe - 12);
      CHECK(rnfl > 1.8 * onl);
      CHECK(p[c.rpe] > 0.95 * rnfl);  // the RPE as bright as the RNFL, or brighter
    }
  }
}

TEST_CASE("a pigment epithelial detachment lifts the RPE near the fovea") {
  for (uint64_t seed = 10; seed < 13; ++seed) {
    Random normal_random(seed), ped_random(seed);
    const Image normal = render_oct(oct_labels({}, 0), Eye::OD, normal_random);
    const Image ped = render_oct(oct_labels({Finding::PigmentEpithelialDetachment}, 3), Eye::OD, ped_random);
    // The same seed places the retina alike; the PED moves the brightest row up by ≥ 25 px
    // somewhere within 150 px of the centre.
    int lift = 0;
    for (int x = 362; x <= 662; x += 10) lift = std::max(lift, layers(normal, x).rpe - layers(ped, x).rpe);
    CHECK_MESSAGE(lift >= 25, "seed " << seed << ": RPE lifted by at most " << lift << " px");
  }
}

TEST_CASE("intraretinal cysts and an ungradable scan darken the retina") {
  // Fluid-dark rows (profile < 35; the darkest layer, the ONL, is ~55) between ILM and RPE.
  auto dark_rows = [](const Image& image, int x0, int x1) {
    int n = 0;
    for (int x = x0; x < x1; x += 8) {
      const ColumnLayers c = layers(image, x);
      const std::vector<double> p = profile(image, x);
      for (int y = c.ilm; y < c.rpe - 10; ++y) n += p[y] < 35;
    }
    return n;
  };
  Random a(30), b(30);
  const Image normal = render_oct(oct_labels({}, 0), Eye::OS, a);
  EyeLabels ungradable = oct_labels({}, 0);
  ungradable.grades.clear();
  ungradable.ungradable = {Modality::Oct};
  const Image weak = render_oct(ungradable, Eye::OS, b);
  double brightest_normal = 0, brightest_weak = 0;
  for (int x = 100; x < 900; x += 50) {
    const std::vector<double> pn = profile(normal, x), pw = profile(weak, x);
    brightest_normal += *std::max_element(pn.begin(), pn.end());
    brightest_weak += *std::max_element(pw.begin(), pw.end());
  }
  CHECK_MESSAGE(brightest_weak < 0.6 * brightest_normal, "ungradable RPE level " << brightest_weak / 16
                                                                                   << " vs " << brightest_normal / 16);
  Random c(31), d(31);
  const Image dry = render_oct(oct_labels({}, 0), Eye::OD, c);
  const Image cysts = render_oct(oct_labels({Finding::IntraretinalFluid}, 2), Eye::OD, d);
  CHECK_MESSAGE(dark_rows(dry, 380, 640) <= 2, "dry retina: " << dark_rows(dry, 380, 640) << " fluid-dark rows");
  CHECK_MESSAGE(dark_rows(cysts, 380, 640) >= 20, "cystoid retina: " << dark_rows(cysts, 380, 640) << " fluid-dark rows");
}

TEST_CASE("the same seed renders the same B-scan") {
  Random a(5), b(5);
  const EyeLabels labels = oct_labels({Finding::OctDrusen}, 1);
  const Image first = render_oct(labels, Eye::OD, a), second = render_oct(labels, Eye::OD, b);
  CHECK(std::memcmp(first.pixels8(), second.pixels8(), static_cast<size_t>(kOctWidth) * kOctHeight) == 0);
}
