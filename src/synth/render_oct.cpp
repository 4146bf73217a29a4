// Synthetic OCT B-scan (docs/synthetic.md, "OCT"): per column, the boundaries of the retinal
// layers from Bruch's membrane up to the ILM (inner layers thinning into the foveal pit), the
// labelled elevations and fluid, then a reflectivity map → speckle → log-like display.
#include <algorithm>
#include <cmath>

#include "ophtha/synth.hpp"
#include "synth/canvas.hpp"
#include "synth/label_reading.hpp"

namespace ophtha {

using synth_detail::Canvas;

namespace {

// Reflectivity (0..1) of each band, inner to outer.
enum Band { kRnfl, kGcl, kIpl, kInl, kOpl, kOnl, kElm, kMyoid, kEz, kIz, kRpe, kBandCount };
constexpr float kBandReflectivity[kBandCount] = {0.72f, 0.42f, 0.56f, 0.20f, 0.52f, 0.13f, 0.45f, 0.14f, 0.82f, 0.48f, 0.97f};
// Thickness away from the fovea, px (≈ 3.9 µm per px), and how much of it the pit removes.
constexpr float kBandThickness[kBandCount] = {14, 19, 15, 14, 10, 30, 2, 6, 4, 4, 9};
constexpr float kBandPitLoss[kBandCount] = {1.0f, 0.97f, 0.95f, 0.9f, 0.85f, -0.35f, 0, 0, 0, 0, 0};
constexpr float kVitreous = 0.03f, kElevationContent = 0.42f, kFluid = 0.03f;

// A dome of height h (px) and half-width w centred at x0: h·(1 − (dx/w)²)^0.7 inside.
struct Dome {
  double x0, w, h;
  double at(double x) const {
    const double u = (x - x0) / w;
    return std::abs(u) < 1 ? h * std::pow(1 - u * u, 0.7) : 0.0;
  }
};

struct ScanShapes {
  std::vector<Dome> rpe_elevations;  // drusen and PED: RPE lifted off Bruch's membrane
  bool elevation_serous = false;     // PED content dark, drusen content medium
  std::vector<Dome> detachments;     // subretinal fluid: the neurosensory retina lifted off the RPE
  double thickening = 0;             // DME: extra px of inner retina at the fovea
};

// The highest of the domes at x (overlapping drusen merge rather than stack).
double height_at(const std::vector<Dome>& domes, double x) {
  double s = 0;
  for (const Dome& d : domes) s = std::max(s, d.at(x));
  return s;
}

ScanShapes scan_shapes(const EyeLabels& labels, double fovea_x, Random& random) {
  ScanShapes shapes;
  if (labels.has(Finding::OctDrusen))
    for (int n = static_cast<int>(random.integer(3, 7)); n > 0; --n)
      shapes.rpe_elevations.push_back(
          {fovea_x + random.uniform(-260, 260), random.uniform(18, 45), random.uniform(7, 18)});
  if (labels.has(Finding::PigmentEpithelialDetachment)) {
    shapes.rpe_elevations.push_back({fovea_x + random.uniform(-80, 80), random.uniform(70, 130), random.uniform(35, 65)});
    shapes.elevation_serous = !labels.has(Finding::OctDrusen);
  }
  if (labels.has(Finding::SubretinalFluid))
    shapes.detachments.push_back({fovea_x + random.uniform(-40, 40), random.uniform(90, 160), random.uniform(18, 40)});
  if (labels.has(Finding::IntraretinalFluid)) shapes.thickening = random.uniform(25, 45);
  return shapes;
}

}  // namespace

Image render_oct(const EyeLabels& labels, Eye eye, Random& random) {
  const int w = kOctWidth, h = kOctHeight;
  synth_detail::grade_or(labels, GradeScale::OctClass, 0);  // only checked: the findings decide the drawing
  const double fovea_x = w / 2 + random.uniform(-40, 40);
  const double base_y = random.uniform(320, 350), tilt = random.uniform(-0.04, 0.04), bow = random.uniform(10, 40);
  const double pit_sigma = random.uniform(55, 80);
  // OD scans show nasal (towards the disc, thicker RNFL) on the right; OS on the left.
  const double nasal = eye == Eye::OD ? 1 : -1;
  const ScanShapes shapes = scan_shapes(labels, fovea_x, random);
  synth_detail::ValueNoise choroid(w, h, 40, random);
  synth_detail::ValueNoise undulation(w, h, 24, random);  // boundaries wander by ±15 % of a band
  std::vector<float> wander(w);
  undulation.row(h / 2, wander.data());

  Canvas reflect(w, h, 1);  // reflectivity 0..1
  std::vector<float> shadow(w, 1.0f);
  for (int n = static_cast<int>(random.integer(4, 9)); n > 0; --n) {  // vessel shadows below the RNFL
    const int x0 = static_cast<int>(random.integer(0, w - 12)), width = static_cast<int>(random.integer(4, 10));
    for (int x = x0; x < x0 + width; ++x) shadow[x] = 0.6f;
  }
  for (int x = 0; x < w; ++x) {
    const double dx = x - fovea_x, u = dx / (w / 2.0);
    const double pit = std::exp(-(dx * dx) / (2 * pit_sigma * pit_sigma));
    const double bruch = base_y + tilt * dx - bow * u * u;
    const double rpe_bottom = bruch - height_at(shapes.rpe_elevations, x);
    const double lift = height_at(shapes.detachments, x);
    // Boundaries upwards from the RPE: top[b] is the upper edge of band b.
    double top[kBandCount];
    double edge = rpe_bottom;
    for (int b = kRpe; b >= 0; --b) {
      double t = kBandThickness[b] * (1 - kBandPitLoss[b] * pit) * (1 + 0.15 * wander[x] * (b % 2 ? 1 : -1));
      if (b == kRnfl) t *= 1 + 0.4 * std::clamp(nasal * u, 0.0, 1.0);  // RNFL thickens towards the disc
      if (b == kInl || b == kOnl) t += shapes.thickening * pit * 0.5;
      edge -= t;
      if (b == kIz) edge -= lift;  // subretinal fluid between photoreceptors and RPE
      top[b] = edge;
    }
    float* column = reflect.at(x, 0);
    for (int y = 0; y < h; ++y) {
      float r;
      if (y < top[0]) {
        r = kVitreous;
      } else if (y >= bruch) {
        const double depth = y - bruch;  // choroid, fading into the sclera
        r = static_cast<float>((0.32 + 0.18 * choroid.value(x, y)) * std::exp(-depth / 45.0));
        if (depth < 2) r = 0.9f;  // Bruch's membrane
      } else if (y >= rpe_bottom) {
        r = shapes.elevation_serous ? kFluid : kElevationContent;
      } else {
        int b = 0;
        while (b + 1 < kBandCount && y >= top[b + 1]) ++b;
        r = kBandReflectivity[b];
        if (b == kIz && lift > 0 && y < top[kIz] + lift) r = kFluid;
        if (b > kRnfl) r *= shadow[x];
      }
      column[static_cast<size_t>(y) * w] = r;
    }
  }
  // Intraretinal cysts (DME) in the inner nuclear and outer plexiform layers near the fovea.
  if (labels.has(Finding::IntraretinalFluid))
    for (int n = static_cast<int>(random.integer(4, 10)); n > 0; --n) {
      const double cx = fovea_x + random.uniform(-120, 120);
      const double cy = base_y - bow * std::pow((cx - w / 2.0) / (w / 2.0), 2) + tilt * (cx - fovea_x) -
                        random.uniform(35, 70);
      const double r = random.uniform(6, 16);
      synth_detail::stamp_ellipse(reflect, cx, cy, r * random.uniform(1.0, 1.6), r, 0, {kFluid, 0, 0}, 1.0f, 1.5);
    }
  // CNV: hyper-reflective fibrovascular material above the RPE under the fovea.
  if (labels.has(Finding::ChoroidalNeovascularisation)) {
    const double cx = fovea_x + random.uniform(-40, 40);
    const double cy = base_y + tilt * (cx - fovea_x) - bow * std::pow((cx - w / 2.0) / (w / 2.0), 2) - 14;
    for (int n = 0; n < 5; ++n)
      synth_detail::stamp_ellipse(reflect, cx + random.normal(0, 20), cy + random.normal(0, 5), random.uniform(20, 45),
                                  random.uniform(7, 14), random.uniform(-0.2, 0.2), {0.85f, 0, 0}, 0.9f, 3);
  }

  // Speckle: multiplicative, mean 1 (Gamma(3)/3 from a table), then a slight blur gives it grain.
  const bool ungradable = synth_detail::is_ungradable(labels, Modality::Oct);
  const double signal = ungradable ? random.uniform(0.25, 0.4) : random.uniform(0.9, 1.05);
  constexpr size_t kTable = 4096;
  std::vector<float> speckle(kTable);
  for (float& s : speckle) {
    double g = 0;
    for (int k = 0; k < 3; ++k) g -= std::log(1.0 - random.uniform());
    s = static_cast<float>(g / 3);
  }
  // Display: 255 · signal · (r / 1.6)^0.6, a compressive curve like the instruments' log scale.
  constexpr int kLevels = 1024;
  constexpr float kTop = 1.6f;
  std::vector<float> curve(kLevels + 1);
  for (int i = 0; i <= kLevels; ++i) curve[i] = static_cast<float>(255.0 * signal * std::pow(double(i) / kLevels, 0.6));
  Canvas display(w, h, 1);
  uint64_t bits = 0;
  for (size_t i = 0; i < reflect.samples.size(); ++i) {
    if ((i & 3) == 0) bits = random.next();
    const float r = std::clamp(reflect.samples[i] * speckle[bits & (kTable - 1)], 0.0f, kTop);
    bits >>= 16;
    display.samples[i] = curve[static_cast<int>(r / kTop * kLevels)];
  }
  synth_detail::box_blur(display, 1, 1);
  const float grain = static_cast<float>(ungradable ? random.uniform(25, 40) : 5.0);
  return synth_detail::to_image(display, grain, random, Modality::Oct, eye);
}

}  // namespace ophtha
