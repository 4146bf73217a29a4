// The synthetic fundus photograph shows what its labels say: measured from the pixels, the cup-to-
// disc ratio matches the label, the disc lies nasally for each eye, haemorrhages and exudates are
// there exactly when labelled (and in every quadrant for 4-2-1 severe NPDR), the field of view is
// found by detect_fundus_fov, ungradable photographs are spoilt, and a seed names the pixels.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "ophtha/error.hpp"
#include "ophtha/preprocess.hpp"
#include "ophtha/synth.hpp"

using namespace ophtha;

namespace {

EyeLabels cfp_labels(std::vector<Finding> findings, int icdr, double cdr) {
  EyeLabels labels;
  labels.findings = std::move(findings);
  std::sort(labels.findings.begin(), labels.findings.end());
  labels.imaged = {Modality::Cfp};
  labels.grades[GradeScale::Icdr] = icdr;
  labels.grades[GradeScale::CupDisc] = cup_disc_level(cdr);
  labels.vertical_cdr = cdr;
  return labels;
}

const uint8_t* pixel(const Image& image, int x, int y) {
  return image.pixels8() + (static_cast<size_t>(y) * image.width() + x) * 3;
}

struct Blob {
  double x, y;
  int area;
};

// Pixels whose channels pass `keep`, as connected components (4-neighbour) of at least
// `min_area` pixels.
template <typename Keep>
std::vector<Blob> blobs(const Image& image, Keep keep, int min_area) {
  const int w = image.width(), h = image.height();
  std::vector<uint8_t> mask(static_cast<size_t>(w) * h);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) mask[static_cast<size_t>(y) * w + x] = keep(pixel(image, x, y)) ? 1 : 0;
  std::vector<Blob> found;
  std::vector<int> stack;
  for (int start = 0; start < w * h; ++start) {
    if (!mask[start]) continue;
    mask[start] = 0;
    stack = {start};
    double sx = 0, sy = 0;
    int area = 0;
    while (!stack.empty()) {
      const int i = stack.back();
      stack.pop_back();
      const int x = i % w, y = i / w;
      sx += x;
      sy += y;
      ++area;
      const int next[4] = {x > 0 ? i - 1 : -1, x + 1 < w ? i + 1 : -1, y > 0 ? i - w : -1, y + 1 < h ? i + w : -1};
      for (int n : next)
        if (n >= 0 && mask[n]) {
          mask[n] = 0;
          stack.push_back(n);
        }
    }
    if (area >= min_area) found.push_back({sx / area, sy / area, area});
  }
  return found;
}

// Dark red: a haemorrhage or microaneurysm (vessels keep more green, the fundus much more).
bool dark_red(const uint8_t* p) { return p[0] > 60 && p[0] < 140 && p[1] < 30 && p[0] > 3 * p[1]; }
// Bright yellow: a hard exudate (the cup and its blend into the rim keep more blue; the rim has
// less green).
bool yellow(const uint8_t* p) { return p[0] > 200 && p[1] > 185 && p[2] < 0.62 * p[1]; }

struct DiscMeasure {
  double cup_x = 0, cup_y = 0;   // centroid of the cup
  double vertical_cdr = 0;       // vertical extent of the cup / of the disc
  double disc_width = 0;
};

// Segments disc and cup by green brightness (rim ~168, cup ~238, fundus ≤ ~120) in a window
// around the cup, and compares the vertical extents: rows holding at least 2 pixels of the mask.
DiscMeasure measure_disc(const Image& image) {
  DiscMeasure m;
  const auto cups = blobs(image, [](const uint8_t* p) { return p[1] > 203 && p[2] > 170; }, 50);
  REQUIRE_MESSAGE(!cups.empty(), "no bright cup found");
  const Blob cup = *std::max_element(cups.begin(), cups.end(), [](const Blob& a, const Blob& b) { return a.area < b.area; });
  m.cup_x = cup.x;
  m.cup_y = cup.y;
  auto extent = [&](int threshold, double& width) {
    int first = -1, last = -1, x_lo = image.width(), x_hi = -1;
    for (int y = std::max(0, static_cast<int>(m.cup_y) - 160); y < std::min(image.height(), static_cast<int>(m.cup_y) + 160); ++y) {
      int count = 0;
      for (int x = std::max(0, static_cast<int>(m.cup_x) - 160); x < std::min(image.width(), static_cast<int>(m.cup_x) + 160); ++x)
        if (pixel(image, x, y)[1] > threshold) {
          ++count;
          x_lo = std::min(x_lo, x);
          x_hi = std::max(x_hi, x);
        }
      if (count >= 2) {
        if (first < 0) first = y;
        last = y;
      }
    }
    width = x_hi - x_lo + 1;
    return last - first + 1;
  };
  double cup_width = 0;
  const int disc_rows = extent(140, m.disc_width), cup_rows = extent(203, cup_width);
  m.vertical_cdr = static_cast<double>(cup_rows) / disc_rows;
  return m;
}

}  // namespace

TEST_CASE("the same seed renders the same photograph, another seed another") {
  const EyeLabels labels = cfp_labels({Finding::Microaneurysms, Finding::DotBlotHaemorrhages}, 2, 0.4);
  Random a(7), b(7), c(8);
  const Image first = render_cfp(labels, Eye::OD, a), second = render_cfp(labels, Eye::OD, b);
  const Image other = render_cfp(labels, Eye::OD, c);
  REQUIRE(first.width() == kCfpSize);
  REQUIRE(first.height() == kCfpSize);
  REQUIRE(first.channels() == 3);
  const size_t bytes = static_cast<size_t>(kCfpSize) * kCfpSize * 3;
  CHECK_MESSAGE(std::memcmp(first.pixels8(), second.pixels8(), bytes) == 0, "seed 7 rendered two different images");
  CHECK_MESSAGE(std::memcmp(first.pixels8(), other.pixels8(), bytes) != 0, "seeds 7 and 8 rendered the same image");
}

TEST_CASE("detect_fundus_fov finds the rendered field of view") {
  for (uint64_t seed : {1u, 2u, 3u}) {
    Random random(seed);
    const Image image = render_cfp(cfp_labels({}, 0, 0.3), seed % 2 ? Eye::OD : Eye::OS, random);
    const FundusFov fov = detect_fundus_fov(image);
    CHECK_MESSAGE(fov.found, "seed " << seed << ": no field of view found");
    // The field is a circle of radius 0.455–0.47 × 1024 within 6 px of the centre.
    CHECK_MESSAGE(std::abs(fov.box.width() - 950) <= 25, "seed " << seed << ": box width " << fov.box.width());
    CHECK_MESSAGE(std::abs(fov.box.height() - 950) <= 25, "seed " << seed << ": box height " << fov.box.height());
    CHECK_MESSAGE(std::abs((fov.box.x0 + fov.box.x1) / 2 - 512) <= 10, "seed " << seed << ": box x " << fov.box.x0);
    CHECK_MESSAGE(std::abs((fov.box.y0 + fov.box.y1) / 2 - 512) <= 10, "seed " << seed << ": box y " << fov.box.y0);
  }
}

TEST_CASE("the measured vertical cup-to-disc ratio matches the label within 0.05") {
  uint64_t seed = 100;
  for (double cdr : {0.2, 0.35, 0.5, 0.65, 0.8, 0.9}) {
    for (bool rim_thinning : {false, true}) {
      std::vector<Finding> findings;
      if (rim_thinning) findings = {Finding::RimThinning, Finding::DiscHaemorrhage};
      if (cdr >= 0.55) findings.push_back(Finding::EnlargedCup);
      Random random(++seed);
      const Image image = render_cfp(cfp_labels(findings, 0, cdr), seed % 2 ? Eye::OD : Eye::OS, random);
      const DiscMeasure m = measure_disc(image);
      CHECK_MESSAGE(std::abs(m.vertical_cdr - cdr) <= 0.05, "label " << cdr << std::string(rim_thinning ? " (rim thinning)" : "")
                                                                     << ": measured " << m.vertical_cdr);
    }
  }
}

TEST_CASE("the optic disc lies nasally: right of the image for OD, left for OS") {
  for (Eye eye : {Eye::OD, Eye::OS}) {
    Random random(eye == Eye::OD ? 5 : 6);
    const DiscMeasure m = measure_disc(render_cfp(cfp_labels({}, 0, 0.3), eye, random));
    if (eye == Eye::OD)
      CHECK_MESSAGE(m.cup_x > 650, "OD disc at x " << m.cup_x << ", expected right of 650");
    else
      CHECK_MESSAGE(m.cup_x < 374, "OS disc at x " << m.cup_x << ", expected left of 374");
  }
}

TEST_CASE("dark red blobs and yellow exudates appear only when labelled") {
  Random r0(11), r2(12), r3(13);
  const Image no_dr = render_cfp(cfp_labels({}, 0, 0.3), Eye::OD, r0);
  const Image moderate = render_cfp(
      cfp_labels({Finding::Microaneurysms, Finding::DotBlotHaemorrhages, Finding::FlameHaemorrhages,
                  Finding::HardExudates},
                 2, 0.3),
      Eye::OD, r2);
  const Image severe =
      render_cfp(cfp_labels({Finding::Microaneurysms, Finding::DotBlotHaemorrhages}, 3, 0.3), Eye::OS, r3);
  const auto red0 = blobs(no_dr, dark_red, 10), red2 = blobs(moderate, dark_red, 10), red3 = blobs(severe, dark_red, 10);
  CHECK_MESSAGE(red0.size() <= 1, "no DR: " << red0.size() << " dark red blobs, expected none");
  CHECK_MESSAGE(red2.size() >= 5, "moderate NPDR: " << red2.size() << " dark red blobs, expected at least 5");
  for (const Blob& b : blobs(no_dr, yellow, 3)) FAIL_CHECK("no DR: yellow blob at " << b.x << ", " << b.y << " area " << b.area);
  CHECK_MESSAGE(blobs(moderate, yellow, 3).size() >= 3, "moderate NPDR with exudates: fewer than 3 yellow blobs");
  CHECK_MESSAGE(blobs(severe, yellow, 3).empty(), "severe NPDR without exudates: yellow blobs found");

  // 4-2-1: more than 20 haemorrhages in each quadrant around the disc–fovea line. Blobs touch
  // now and then, so each quadrant must show at least 15 separate ones.
  const DiscMeasure disc = measure_disc(severe);
  const double nasal = -1;  // OS
  const double split_x = disc.cup_x - nasal * 1.2 * disc.disc_width;
  int counts[4] = {0, 0, 0, 0};
  for (const Blob& b : red3) ++counts[((b.x - split_x) * nasal > 0 ? 2 : 0) + (b.y > disc.cup_y ? 1 : 0)];
  for (int q = 0; q < 4; ++q)
    CHECK_MESSAGE(counts[q] >= 15, "severe NPDR (4-2-1): quadrant " << q << " has " << counts[q] << " dark red blobs");
  CHECK_MESSAGE(red2.size() < 40, "moderate NPDR: " << red2.size() << " dark red blobs, expected well below 4 × 20");
}

TEST_CASE("lesion marks: one per lesion drawn, each on its lesion, and marking leaves the pixels alone") {
  const std::vector<Finding> findings = {Finding::Microaneurysms, Finding::DotBlotHaemorrhages, Finding::HardExudates};
  for (uint64_t seed = 0; seed < 4; ++seed) {
    Random a(seed), b(seed);
    std::vector<LesionMark> marks = {{Finding::Irma, 1, 1, 1}};  // replaced, not appended to
    const Image marked = render_cfp(cfp_labels(findings, 2, 0.3), Eye::OD, a, &marks);
    const Image plain = render_cfp(cfp_labels(findings, 2, 0.3), Eye::OD, b);
    REQUIRE(std::memcmp(marked.pixels8(), plain.pixels8(), static_cast<size_t>(kCfpSize) * kCfpSize * 3) == 0);

    int ma = 0, blot = 0, exudate = 0, red_on_mark = 0, yellow_on_mark = 0;
    auto near = [&](const LesionMark& m, auto is) {  // a pixel of the kind within 1 px of the centre
      for (int dy = -1; dy <= 1; ++dy)
        for (int dx = -1; dx <= 1; ++dx)
          if (is(pixel(marked, static_cast<int>(m.x) + dx, static_cast<int>(m.y) + dy))) return true;
      return false;
    };
    for (const LesionMark& m : marks) {
      REQUIRE(std::find(findings.begin(), findings.end(), m.finding) != findings.end());
      if (m.finding == Finding::HardExudates) ++exudate, yellow_on_mark += near(m, yellow);
      else (m.finding == Finding::Microaneurysms ? ma : blot) += 1, red_on_mark += near(m, dark_red);
    }
    CHECK(ma >= 8);  // ICDR 2: 8–25 microaneurysms
    CHECK(ma <= 25);
    CHECK(blot >= 3);
    CHECK(exudate >= 12);
    // Lesions drawn later may cover a few (an exudate over a microaneurysm): nearly all show.
    CHECK(red_on_mark >= 0.9 * (ma + blot));
    CHECK(yellow_on_mark >= 0.9 * exudate);
    // And every dark-red blob is a marked lesion: nothing red is drawn without its mark. (Beyond
    // 0.8 of the field's radius, vessel ends darkened by the vignette pass for dark red too.)
    for (const Blob& blob : blobs(marked, dark_red, 4)) {
      if (std::hypot(blob.x - kCfpSize / 2.0, blob.y - kCfpSize / 2.0) > 0.8 * 0.455 * kCfpSize) continue;
      const bool marked_here = std::any_of(marks.begin(), marks.end(), [&](const LesionMark& m) {
        return m.finding != Finding::HardExudates && std::hypot(m.x - blob.x, m.y - blob.y) < m.radius + 12;
      });
      CHECK_MESSAGE(marked_here, "seed ", seed, ": a dark-red blob at (", blob.x, ", ", blob.y, ") has no mark");
    }
  }
  Random r(9);
  std::vector<LesionMark> none = {{Finding::Irma, 1, 1, 1}};
  render_cfp(cfp_labels({Finding::EnlargedCup}, 0, 0.7), Eye::OS, r, &none);
  CHECK(none.empty());  // a healthy retina with a large cup: nothing to mark
}

TEST_CASE("an ungradable photograph is blurred or under-exposed") {
  EyeLabels labels = cfp_labels({}, 0, 0.3);
  labels.grades.clear();
  labels.ungradable = {Modality::Cfp};
  EyeLabels sharp_labels = cfp_labels({}, 0, 0.3);
  // Mean green, and mean |Laplacian| of the green channel averaged over 4 × 4 blocks (which
  // removes the sensor grain but keeps vessel edges), over the central 512 × 512.
  auto mean_and_detail = [](const Image& image) {
    constexpr int kBlock = 4, kCells = 128, kOrigin = 256;
    std::vector<double> cell(kCells * kCells, 0.0);
    double sum = 0;
    for (int y = 0; y < kCells * kBlock; ++y)
      for (int x = 0; x < kCells * kBlock; ++x) {
        const double g = pixel(image, kOrigin + x, kOrigin + y)[1];
        cell[(y / kBlock) * kCells + x / kBlock] += g / (kBlock * kBlock);
        sum += g;
      }
    double detail = 0;
    for (int y = 1; y + 1 < kCells; ++y)
      for (int x = 1; x + 1 < kCells; ++x)
        detail += std::abs(4 * cell[y * kCells + x] - cell[y * kCells + x - 1] - cell[y * kCells + x + 1] -
                           cell[(y - 1) * kCells + x] - cell[(y + 1) * kCells + x]);
    return std::pair<double, double>{sum / (kCells * kCells * kBlock * kBlock), detail / ((kCells - 2) * (kCells - 2))};
  };
  for (uint64_t seed = 20; seed < 26; ++seed) {
    Random a(seed), b(seed);
    const auto [mean, detail] = mean_and_detail(render_cfp(labels, Eye::OD, a));
    const auto [sharp_mean, sharp_detail] = mean_and_detail(render_cfp(sharp_labels, Eye::OD, b));
    CHECK_MESSAGE((mean < 0.5 * sharp_mean || detail < 0.5 * sharp_detail),
                  "seed " << seed << ": ungradable mean " << mean << " detail " << detail << " vs gradable " << sharp_mean
                          << " / " << sharp_detail);
  }
}

TEST_CASE("a grade out of its scale or an impossible cup-to-disc ratio is refused") {
  Random random(1);
  EyeLabels bad_grade = cfp_labels({}, 0, 0.3);
  bad_grade.grades[GradeScale::Icdr] = 5;
  CHECK_THROWS_AS(render_cfp(bad_grade, Eye::OD, random), ophtha::Error);
  EyeLabels bad_cdr = cfp_labels({}, 0, 0.3);
  bad_cdr.vertical_cdr = 1.2;
  CHECK_THROWS_AS(render_cfp(bad_cdr, Eye::OD, random), ophtha::Error);
}

TEST_CASE("locate_optic_disc finds the rendered disc of either eye among exudates and haemorrhages") {
  // The disc's radius is 0.060–0.068 × 1024 ≈ 61–70 px; the cup (what measure_disc finds) lies
  // inside it, off the disc's centre. Hard exudates are the brightest small lesions a photograph
  // can have. (Measured on these eight: 4–11 px.)
  uint64_t seed = 300;
  for (int i = 0; i < 8; ++i) {
    const Eye eye = i % 2 ? Eye::OS : Eye::OD;
    Random random(++seed);
    const Image image = render_cfp(cfp_labels({Finding::Microaneurysms, Finding::DotBlotHaemorrhages, Finding::HardExudates,
                                               Finding::DiscHaemorrhage, Finding::EnlargedCup},
                                              2, 0.7),
                                   eye, random);
    const DiscMeasure m = measure_disc(image);
    const OpticDiscLocation found = locate_optic_disc(image);
    CHECK_MESSAGE(std::hypot(found.x - m.cup_x, found.y - m.cup_y) <= 30,
                  "seed " << seed << ": disc located at (" << found.x << ", " << found.y << "), cup at (" << m.cup_x
                          << ", " << m.cup_y << ")");
  }
}
