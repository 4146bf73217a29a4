// Synthetic infrared meibography (docs/synthetic.md, "OSA"): the everted upper lid in the top
// half of the image, the lower lid in the bottom half. Each lid's tarsal plate is a dome-shaped
// grey region; its meibomian glands are bright bands from the lid margin to the far edge of the
// plate, spaced evenly, each owning one strip of the plate. Gland loss takes away gland length
// from the far end (shortened glands) or whole glands (dropout) until the lost area is the
// drawn fraction of the plate.
#include <algorithm>
#include <cmath>

#include "ophtha/error.hpp"
#include "ophtha/synth.hpp"
#include "synth/canvas.hpp"
#include "synth/label_reading.hpp"

namespace ophtha {

using synth_detail::Canvas;

namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr float kSkin = 42, kTarsus = 88;

// The tarsal plate of one lid inside its half: x in [x0, x1); between the margin row and the far
// edge, which is highest in the middle (a dome). y grows downwards in image rows.
struct Tarsus {
  int top_row;          // first row of the half
  double x0, x1;
  double margin_y;      // the lid margin (a straight line)
  double far_middle;    // far edge at the middle
  double far_end;       // far edge at x0 and x1
  bool upper;
  double far_y(double x) const {
    const double u = (2 * x - x0 - x1) / (x1 - x0);
    return far_middle + (far_end - far_middle) * u * u;
  }
  bool contains(double x, double y) const {
    if (x < x0 || x >= x1) return false;
    const double f = far_y(x);
    return upper ? (y >= f && y < margin_y) : (y >= margin_y && y < f);
  }
};

Tarsus tarsus_of(bool upper, Random& random) {
  const double half = kOsaHeight / 2.0;
  Tarsus t{};
  t.upper = upper;
  t.top_row = upper ? 0 : kOsaHeight / 2;
  t.x0 = kOsaWidth * random.uniform(0.07, 0.10);
  t.x1 = kOsaWidth * random.uniform(0.90, 0.93);
  if (upper) {  // margin at the bottom of the half, glands ~2/3 of its height
    t.margin_y = half * random.uniform(0.84, 0.88);
    t.far_middle = half * random.uniform(0.12, 0.18);
    t.far_end = half * random.uniform(0.48, 0.55);
  } else {  // margin at the top of the lower half, shorter glands
    t.margin_y = half + half * random.uniform(0.12, 0.16);
    t.far_middle = half + half * random.uniform(0.66, 0.72);
    t.far_end = half + half * random.uniform(0.40, 0.46);
  }
  return t;
}

// Lost length fraction per gland (0 = whole gland, 1 = gone) so that Σ lost_i·L_i = loss·Σ L_i.
// Loss is patchy: a smooth random weight along the lid; concentrated weights clamp whole glands
// to 1 (dropout), flat weights shorten many glands a little.
std::vector<double> allocate_loss(const std::vector<double>& lengths, double loss, bool shortened, Random& random) {
  const size_t n = lengths.size();
  std::vector<double> weight(n), lost(n, 0.0);
  const double centre = random.uniform(0, 1), spread = random.uniform(0.2, 0.5);
  for (size_t i = 0; i < n; ++i) {
    const double d = (static_cast<double>(i) / (n - 1) - centre) / spread;
    weight[i] = shortened ? 0.5 + 0.5 * std::exp(-d * d) + random.uniform(0, 0.2)
                          : std::exp(-d * d) + random.uniform(0, 0.15);
  }
  double total = 0;
  for (double l : lengths) total += l;
  auto lost_for = [&](double k) {
    double sum = 0;
    for (size_t i = 0; i < n; ++i) sum += std::min(1.0, k * weight[i]) * lengths[i];
    return sum / total;
  };
  double lo = 0, hi = 1;
  while (lost_for(hi) < loss) hi *= 2;
  for (int it = 0; it < 60; ++it) {
    const double mid = (lo + hi) / 2;
    (lost_for(mid) < loss ? lo : hi) = mid;
  }
  for (size_t i = 0; i < n; ++i) lost[i] = std::min(1.0, hi * weight[i]);
  return lost;
}

void draw_lid(Canvas& canvas, const Tarsus& t, double loss, const EyeLabels& labels, float contrast, Random& random) {
  // Skin and conjunctiva of the half, then the plate.
  const int rows0 = t.top_row, rows1 = t.top_row + kOsaHeight / 2;
  synth_detail::ValueNoise shade(kOsaWidth, kOsaHeight, 8, random);
  std::vector<float> shade_row(kOsaWidth);
  for (int y = rows0; y < rows1; ++y) {
    shade.row(y, shade_row.data());
    for (int x = 0; x < kOsaWidth; ++x)
      canvas.at(x, y)[0] = (t.contains(x + 0.5, y + 0.5) ? kTarsus : kSkin) * (1.0f + 0.12f * shade_row[x]);
  }
  // Eyelashes beyond the margin.
  const double outward = t.upper ? 1 : -1;
  for (int n = static_cast<int>(random.integer(25, 40)); n > 0; --n) {
    const double x = random.uniform(t.x0, t.x1), y = t.margin_y + outward * random.uniform(4, 10);
    const double a = outward * kPi / 2 + random.normal(0, 0.3);
    const double len = random.uniform(20, 40);
    synth_detail::stamp_capsule(canvas, x, y, x + len * std::cos(a), y + len * std::sin(a), 1.6, 0.8, {18, 0, 0},
                                0.8f, 1.0);
  }

  const int glands = static_cast<int>(random.integer(t.upper ? 24 : 22, t.upper ? 28 : 26));
  const double pitch = (t.x1 - t.x0) / glands;
  std::vector<double> lengths(glands), centres(glands);
  for (int i = 0; i < glands; ++i) {
    centres[i] = t.x0 + (i + 0.5) * pitch;
    lengths[i] = std::abs(t.margin_y - t.far_y(centres[i]));
  }
  const std::vector<double> lost = allocate_loss(lengths, loss, labels.has(Finding::ShortenedGlands), random);
  const bool tortuous = labels.has(Finding::TortuousGlands), ghosts = labels.has(Finding::GhostGlands);
  for (int i = 0; i < glands; ++i) {
    const double radius = pitch * random.uniform(0.21, 0.25);
    const float brightness = kTarsus + contrast * static_cast<float>(random.uniform(95, 125));
    const double amplitude = tortuous && random.chance(0.6) ? pitch * random.uniform(0.08, 0.13) : pitch * 0.02;
    const double wavelength = random.uniform(90, 160), phase = random.uniform(0, 2 * kPi);
    const double far = t.far_y(centres[i]), kept = 1 - lost[i];
    // From the margin towards the far edge in steps of up to 6 px, one step ending exactly where
    // the kept part ends; past it the gland is lost.
    const double direction = far > t.margin_y ? 1 : -1;
    const double start = t.margin_y - direction * 6, end = far + direction * 6;  // overshoot; the plate clips
    const double full = std::abs(end - start), keep_until = kept * lengths[i] + 6;
    auto centre_x = [&](double s) { return centres[i] + amplitude * std::sin(phase + 2 * kPi * s / wavelength); };
    for (double s = 0; s < full;) {
      const double next = std::min(full, s < keep_until ? std::min(s + 6, keep_until) : s + 6);
      const double y0 = start + direction * s, y1 = start + direction * next;
      // Glands swell and narrow a little along their length.
      const double r0 = radius * (1 + 0.12 * std::sin(phase + s / 9)), r1 = radius * (1 + 0.12 * std::sin(phase + next / 9));
      if (s < keep_until)
        synth_detail::stamp_capsule(canvas, centre_x(s), y0, centre_x(next), y1, r0, r1, {brightness, 0, 0}, 1.0f, 2.0);
      else if (ghosts && s > keep_until + radius)  // faint remnant well below the gland threshold
        synth_detail::stamp_capsule(canvas, centre_x(s), y0, centre_x(next), y1, radius * 0.8, radius * 0.8,
                                    {kTarsus + contrast * 22, 0, 0}, 0.8f, 2.0);
      s = next;
    }
  }
  // Only the plate shows glands: what the strokes drew outside it returns to skin.
  for (int y = rows0; y < rows1; ++y)
    for (int x = 0; x < kOsaWidth; ++x)
      if (!t.contains(x + 0.5, y + 0.5)) {
        float& v = canvas.at(x, y)[0];
        if (v > kTarsus * 0.8f) v = kSkin;
      }
}

}  // namespace

GlandLossRange gland_loss_range(int meiboscore) {
  switch (meiboscore) {
    case 0: return {0.0, 0.03};
    case 1: return {0.10, 0.25};
    case 2: return {0.42, 0.58};
    case 3: return {0.76, 0.90};
  }
  fail(ErrorCode::InvalidArgument, "gland_loss_range: meiboscore {} is outside 0..3", meiboscore);
}

Image render_osa(const EyeLabels& labels, Eye eye, Random& random) {
  const bool ungradable = synth_detail::is_ungradable(labels, Modality::Osa);
  const float contrast = ungradable ? static_cast<float>(random.uniform(0.25, 0.4)) : 1.0f;
  Canvas canvas(kOsaWidth, kOsaHeight, 1);
  for (const bool upper : {true, false}) {
    const GradeScale scale = upper ? GradeScale::MeiboscoreUpper : GradeScale::MeiboscoreLower;
    const int score = synth_detail::grade_or(labels, scale, static_cast<int>(random.integer(0, 3)));
    const GlandLossRange range = gland_loss_range(score);
    const double loss = random.uniform(range.lo, range.hi);
    draw_lid(canvas, tarsus_of(upper, random), loss, labels, contrast, random);
  }
  // Mottling of the infrared reflectance (±10%, ~16-px features) over glands and plate alike.
  synth_detail::ValueNoise mottle(kOsaWidth, kOsaHeight, 80, random);
  std::vector<float> mottle_row(kOsaWidth);
  for (int y = 0; y < kOsaHeight; ++y) {
    mottle.row(y, mottle_row.data());
    for (int x = 0; x < kOsaWidth; ++x) canvas.at(x, y)[0] *= 1.0f + 0.1f * mottle_row[x];
  }
  if (ungradable)
    synth_detail::box_blur(canvas, static_cast<int>(random.integer(5, 9)));
  else
    synth_detail::box_blur(canvas, 1, 1);
  if (ungradable)  // a glare of the illumination over part of the lid
    synth_detail::stamp_gaussian(canvas, random.uniform(300, 980), random.uniform(150, 490), random.uniform(90, 160),
                                 {240, 0, 0}, 0.8f);
  return synth_detail::to_image(canvas, 3.0f, random, Modality::Osa, eye);
}

}  // namespace ophtha
