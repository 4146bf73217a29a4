// Synthetic colour fundus photograph (docs/synthetic.md, "CFP"): background and illumination,
// optic disc and cup, vessel trees, then the labelled lesions, the quality defects of an
// ungradable image, and the circular field of view last (nothing is drawn outside it).
#include <algorithm>
#include <cmath>

#include "ophtha/error.hpp"
#include "ophtha/synth.hpp"
#include "synth/canvas.hpp"
#include "synth/label_reading.hpp"

namespace ophtha {

using synth_detail::Canvas;
using synth_detail::Colour;
using synth_detail::grade_or;

namespace {

constexpr double kPi = 3.14159265358979323846;

// Where the lesions go: one LesionMark per lesion drawn (ophtha/study.hpp), or nowhere. Marking
// draws no random number, so an image is the same with or without its marks. Where a lesion's
// sizes are kept for its mark, they are drawn one statement at a time in the order GCC evaluated
// the arguments of the former single call (right to left), so the pixels of a seed are unchanged.
struct Marks {
  std::vector<LesionMark>* out = nullptr;
  void add(Finding finding, double x, double y, double radius) const {
    if (!out || !(x >= 0 && y >= 0 && x < kCfpSize && y < kCfpSize)) return;
    auto round = [](double v) { return std::round(v * 100) / 100; };  // 0.01 px keeps the manifest small
    out->push_back({finding, round(x), round(y), std::max(0.01, round(radius))});
  }
};

// Where things are, in pixels. `nasal` is +1 when nasal is to the right of the image (OD).
struct FundusGeometry {
  double cx, cy, fov_radius;
  double fovea_x, fovea_y;
  double disc_x, disc_y, disc_rx, disc_ry;  // disc ellipse, vertical radius the larger
  double disc_diameter;                     // DD, the unit of clinical distances
  int nasal;
};

FundusGeometry fundus_geometry(Eye eye, Random& random) {
  const double s = kCfpSize;
  FundusGeometry g{};
  g.nasal = eye == Eye::OD ? 1 : -1;
  g.cx = s / 2 + random.uniform(-6, 6);
  g.cy = s / 2 + random.uniform(-6, 6);
  g.fov_radius = s * random.uniform(0.455, 0.47);
  g.fovea_x = g.cx - g.nasal * s * random.uniform(0.05, 0.08);
  g.fovea_y = g.cy + random.uniform(-12, 12);
  g.disc_rx = s * random.uniform(0.060, 0.068);
  g.disc_ry = g.disc_rx * random.uniform(1.05, 1.12);
  g.disc_diameter = 2 * g.disc_rx;
  g.disc_x = g.fovea_x + g.nasal * g.disc_diameter * random.uniform(2.3, 2.6);
  g.disc_y = g.fovea_y - g.disc_diameter * random.uniform(0.0, 0.25);
  return g;
}

// ---- background -------------------------------------------------------------------------

// Orange-red fundus: a per-image tint, vignetting that darkens towards the edge, a tilted
// illumination gradient, and a mottled choroidal texture.
void draw_background(Canvas& canvas, const FundusGeometry& g, Random& random) {
  const Colour base = {static_cast<float>(random.uniform(190, 220)), static_cast<float>(random.uniform(78, 100)),
                       static_cast<float>(random.uniform(30, 50))};
  const double tilt = random.uniform(0, 2 * kPi), tilt_strength = random.uniform(0.05, 0.15);
  const double tx = std::cos(tilt) * tilt_strength / g.fov_radius, ty = std::sin(tilt) * tilt_strength / g.fov_radius;
  synth_detail::ValueNoise broad(canvas.width, canvas.height, 6, random);
  synth_detail::ValueNoise choroid(canvas.width, canvas.height, 48, random);
  const double r2_max = (g.fov_radius + 4) * (g.fov_radius + 4);
  std::vector<float> broad_row(canvas.width), choroid_row(canvas.width);
  for (int y = 0; y < canvas.height; ++y) {
    const double dy = y + 0.5 - g.cy;
    if (dy * dy > r2_max) continue;
    broad.row(y, broad_row.data());
    choroid.row(y, choroid_row.data());
    for (int x = 0; x < canvas.width; ++x) {
      const double dx = x + 0.5 - g.cx, r2 = dx * dx + dy * dy;
      if (r2 > r2_max) continue;
      const double rr = r2 / (g.fov_radius * g.fov_radius);
      const double light = (1.0 - 0.32 * rr * rr) * (1.0 + dx * tx + dy * ty) * (1.0 + 0.08 * broad_row[x]);
      const double texture = 1.0 + 0.05 * choroid_row[x];
      float* p = canvas.at(x, y);
      p[0] = static_cast<float>(base[0] * light * texture);
      p[1] = static_cast<float>(base[1] * light * (2.0 - texture));
      p[2] = static_cast<float>(base[2] * light);
    }
  }
}

void draw_macula(Canvas& canvas, const FundusGeometry& g) {
  const double dd = g.disc_diameter;
  synth_detail::stamp_gaussian(canvas, g.fovea_x, g.fovea_y, 0.75 * dd, {95, 38, 18}, 0.45f);
  synth_detail::stamp_gaussian(canvas, g.fovea_x, g.fovea_y, 0.18 * dd, {70, 25, 12}, 0.5f);
  synth_detail::stamp_disc(canvas, g.fovea_x, g.fovea_y, 1.6, {200, 150, 110}, 0.6f, 1.5);  // foveal reflex
}

// ---- optic disc ---------------------------------------------------------------------------

struct Cup {
  double x, y, rx, ry;
};

// The cup's vertical radius is vertical_cdr × the disc's, so the vertical extents have the
// labelled ratio. Rim thinning moves the cup towards the inferotemporal rim and widens it.
Cup place_cup(const FundusGeometry& g, double vertical_cdr, bool rim_thinning, Random& random) {
  Cup cup{};
  cup.ry = vertical_cdr * g.disc_ry;
  cup.rx = std::min(vertical_cdr * g.disc_rx * random.uniform(0.9, 1.05), g.disc_rx - 4);
  cup.x = g.disc_x - g.nasal * (g.disc_rx - cup.rx) * random.uniform(0.1, 0.35);  // cups sit temporally
  cup.y = g.disc_y;
  if (rim_thinning) {
    cup.rx = std::min(cup.rx * 1.15, g.disc_rx - 3);
    cup.y += (g.disc_ry - cup.ry) * 0.55;
    cup.x = g.disc_x - g.nasal * (g.disc_rx - cup.rx) * 0.6;
  }
  return cup;
}

void draw_disc(Canvas& canvas, const FundusGeometry& g, const Cup& cup) {
  synth_detail::stamp_ellipse(canvas, g.disc_x, g.disc_y, g.disc_rx + 5, g.disc_ry + 5, 0, {225, 130, 80}, 0.35f, 8);
  synth_detail::stamp_ellipse(canvas, g.disc_x, g.disc_y, g.disc_rx, g.disc_ry, 0, {238, 168, 118}, 1.0f, 3);
  synth_detail::stamp_ellipse(canvas, cup.x, cup.y, cup.rx, cup.ry, 0, {252, 238, 205}, 1.0f, 2.5);
}

void draw_disc_haemorrhage(Canvas& canvas, const FundusGeometry& g, const Marks& marks, Random& random) {
  // A splinter at the inferotemporal (or superotemporal) margin, along the nerve fibres.
  const double side = random.chance(0.7) ? 1 : -1;
  const double angle = side * random.uniform(0.35, 0.6) * kPi;  // from the vertical, temporal
  const double x = g.disc_x - g.nasal * std::sin(std::abs(angle)) * g.disc_rx;
  const double y = g.disc_y + side * std::cos(angle) * g.disc_ry;
  const double direction = std::atan2(y - g.disc_y, x - g.disc_x);
  const double width = random.uniform(2.2, 3.2), length = random.uniform(9, 14);  // drawn in this order, as before
  synth_detail::stamp_ellipse(canvas, x, y, length, width, direction, {125, 22, 14}, 0.9f, 1.5);
  marks.add(Finding::DiscHaemorrhage, x, y, length);
}

// ---- vessels ------------------------------------------------------------------------------

struct VesselStyle {
  Colour colour;
  double radius;        // of the trunk at the disc, px
  bool beaded = false;  // venous beading: the radius swells and narrows every ~20 px
};

// One vessel: a walk of 7-px steps whose heading turns by `curl` per step, fading over ~300 px
// (arcades bend round the macula, then run straight), with jitter; it branches every 60–140 px
// and tapers; stops at the field's edge.
void grow_vessel(Canvas& canvas, const FundusGeometry& g, double x, double y, double heading, double curl,
                 double length, VesselStyle style, int depth, const Marks& marks, Random& random) {
  constexpr double kStep = 7;
  double travelled = 0, next_branch = random.uniform(60, 140);
  double r = style.radius;
  const double bead_phase = random.uniform(0, 2 * kPi);
  while (travelled < length && r > 0.6) {
    const bool straight = travelled < g.disc_ry * 1.1 && depth == 0;  // leave the disc vertically
    heading += (straight ? 0.0 : curl * std::exp(-travelled / 300.0)) + random.normal(0, 0.06);
    const double nx = x + kStep * std::cos(heading), ny = y + kStep * std::sin(heading);
    const double dx = nx - g.cx, dy = ny - g.cy;
    if (dx * dx + dy * dy > (g.fov_radius + 10) * (g.fov_radius + 10)) break;
    double r0 = r, r1 = r * 0.996;
    if (style.beaded && travelled > g.disc_diameter) {
      r0 *= 1.0 + 0.5 * std::sin(bead_phase + travelled / 3.2);
      r1 *= 1.0 + 0.5 * std::sin(bead_phase + (travelled + kStep) / 3.2);
      if (static_cast<int64_t>(travelled / kStep) % 4 == 0) marks.add(Finding::VenousBeading, x, y, 2 * kStep);
    }
    synth_detail::stamp_capsule(canvas, x, y, nx, ny, r0, r1, style.colour, 0.92f, 1.2);
    x = nx;
    y = ny;
    r *= 0.997;
    travelled += kStep;
    if (travelled >= next_branch && depth < 3 && r > 1.4) {
      const double side = random.chance(0.5) ? 1 : -1;
      VesselStyle child = style;
      child.radius = r * random.uniform(0.55, 0.75);
      grow_vessel(canvas, g, x, y, heading + side * random.uniform(0.5, 1.0), curl * 0.5 + side * 0.01,
                  (length - travelled) * random.uniform(0.4, 0.8), child, depth + 1, marks, random);
      r *= 0.93;
      next_branch = travelled + random.uniform(60, 140);
    }
  }
}

// The four quadrants of the 4-2-1 rule, in the order superotemporal, inferotemporal,
// superonasal, inferonasal; each has one artery and one vein trunk.
struct QuadrantSet {
  bool q[4] = {false, false, false, false};
};

void draw_vessels(Canvas& canvas, const FundusGeometry& g, const QuadrantSet& beaded, const Marks& marks,
                  Random& random) {
  const double x0 = g.disc_x + g.nasal * g.disc_rx * 0.5;  // trunks leave the nasal side of the cup
  for (int vein = 1; vein >= 0; --vein) {                  // veins first, arteries cross over them
    for (int quadrant = 0; quadrant < 4; ++quadrant) {
      const bool temporal = quadrant < 2;
      const double up = quadrant % 2 == 0 ? -1 : 1;  // superior is up (−y)
      const double lean = (temporal ? -g.nasal : g.nasal) * random.uniform(0.08, 0.2);
      const double heading = std::atan2(up, lean);
      // Temporal arcades arc round the macula; nasal vessels fan out more straightly.
      const double curl_sign = (temporal ? g.nasal : -g.nasal) * up;  // turn towards temporal/nasal
      const double curl = curl_sign * (temporal ? random.uniform(0.040, 0.050) : random.uniform(0.012, 0.020));
      VesselStyle style;
      style.colour = vein ? Colour{140, 42, 26} : Colour{178, 64, 38};
      style.radius = vein ? random.uniform(5.0, 6.0) : random.uniform(3.6, 4.4);
      if (!temporal) style.radius *= 0.8;
      style.beaded = vein && beaded.q[quadrant];
      const double start_x = x0 + (vein ? -1.0 : 1.0) * g.nasal * 4;
      const double length = temporal ? random.uniform(650, 850) : random.uniform(350, 500);
      grow_vessel(canvas, g, start_x, g.disc_y, heading, curl, length, style, 0, marks, random);
    }
  }
}

// A point uniformly in quadrant `q` (numbering of QuadrantSet, split at the disc–fovea line's
// midpoint) within `max_r` of the centre and away from the disc.
void point_in_quadrant(const FundusGeometry& g, int q, double max_r, Random& random, double& x, double& y) {
  const double mid_x = (g.disc_x + g.fovea_x) / 2, mid_y = (g.disc_y + g.fovea_y) / 2;
  for (int attempt = 0; attempt < 1000; ++attempt) {
    x = g.cx + random.uniform(-max_r, max_r);
    y = g.cy + random.uniform(-max_r, max_r);
    const double dx = x - g.cx, dy = y - g.cy;
    if (dx * dx + dy * dy > max_r * max_r) continue;
    const bool temporal = (x - mid_x) * g.nasal < 0, superior = y < mid_y;
    if (temporal != (q < 2) || superior != (q % 2 == 0)) continue;
    const double ex = (x - g.disc_x) / (g.disc_rx * 1.5), ey = (y - g.disc_y) / (g.disc_ry * 1.5);
    if (ex * ex + ey * ey < 1) continue;
    return;
  }
}

// A point within `radius` of (x0, y0) (uniform over the disc of that radius).
void point_near(double x0, double y0, double radius, Random& random, double& x, double& y) {
  const double a = random.uniform(0, 2 * kPi), r = radius * std::sqrt(random.uniform());
  x = x0 + r * std::cos(a);
  y = y0 + r * std::sin(a);
}

// Fine tortuous vessels (IRMA, neovascular fronds): a few short walks with strong jitter. They are
// drawn 3–4 px wide, like the smallest branches: 2 px strands (as before 2026-11-30) vanish into a
// faint smudge at the 320² an encoder reads (docs/synthetic.md).
void draw_tangle(Canvas& canvas, double x, double y, int strands, double strand_length, double radius,
                 const Colour& colour, double jitter, Random& random) {
  for (int s = 0; s < strands; ++s) {
    double px = x + random.normal(0, 6), py = y + random.normal(0, 6), heading = random.uniform(0, 2 * kPi);
    for (double t = 0; t < strand_length; t += 4) {
      heading += random.normal(0, jitter);
      const double nx = px + 4 * std::cos(heading), ny = py + 4 * std::sin(heading);
      synth_detail::stamp_capsule(canvas, px, py, nx, ny, radius, radius, colour, 0.85f, 0.8);
      px = nx;
      py = ny;
    }
  }
}

// ---- lesions ------------------------------------------------------------------------------

const Colour kMicroaneurysm = {125, 22, 16};
const Colour kBlot = {98, 14, 10};
const Colour kFlame = {128, 24, 15};
const Colour kExudate = {238, 214, 105};
const Colour kCottonWool = {232, 218, 190};
const Colour kDruse = {232, 204, 125};

void draw_blot(Canvas& canvas, double x, double y, const Marks& marks, Random& random) {
  const double r = random.uniform(3.5, 8.5);
  marks.add(Finding::DotBlotHaemorrhages, x, y, r);
  synth_detail::stamp_ellipse(canvas, x, y, r, r * random.uniform(0.7, 1.0), random.uniform(0, kPi), kBlot, 0.92f,
                              1.5);
  if (random.chance(0.4))
    synth_detail::stamp_disc(canvas, x + random.normal(0, r * 0.5), y + random.normal(0, r * 0.5), r * 0.6, kBlot,
                             0.9f, 1.5);
}

void draw_flame(Canvas& canvas, const FundusGeometry& g, double x, double y, const Marks& marks, Random& random) {
  const double along_fibres = std::atan2(y - g.disc_y, x - g.disc_x);
  const double width = random.uniform(2.5, 4), length = random.uniform(9, 16);  // drawn in this order, as before
  synth_detail::stamp_ellipse(canvas, x, y, length, width, along_fibres, kFlame, 0.88f, 1.5);
  marks.add(Finding::FlameHaemorrhages, x, y, length);
}

// Haemorrhages by grade. In severe NPDR (ICDR 3) the haemorrhage arm of the 4-2-1 rule — more
// than 20 in each of the 4 quadrants — is drawn when it is the reason for the grade (no venous
// beading, no IRMA) and in half the eyes that also have one of those; otherwise a handful that
// never fill all four quadrants.
void draw_haemorrhages(Canvas& canvas, const FundusGeometry& g, const EyeLabels& labels, int icdr, const Marks& marks,
                       Random& random) {
  const bool dots = labels.has(Finding::DotBlotHaemorrhages), flames = labels.has(Finding::FlameHaemorrhages);
  if (!dots && !flames) return;
  auto draw_one = [&](double x, double y) {
    if (dots && (!flames || random.chance(0.75)))
      draw_blot(canvas, x, y, marks, random);
    else
      draw_flame(canvas, g, x, y, marks, random);
  };
  const double max_r = g.fov_radius * 0.88;
  double x = 0, y = 0;
  const bool other_severe_sign = labels.has(Finding::VenousBeading) || labels.has(Finding::Irma);
  const bool four_two_one = icdr == 3 && (!other_severe_sign || random.chance(0.5));
  if (four_two_one) {
    for (int q = 0; q < 4; ++q)
      for (int n = static_cast<int>(random.integer(21, 28)); n > 0; --n) {
        point_in_quadrant(g, q, max_r, random, x, y);
        draw_one(x, y);
      }
    return;
  }
  const int quadrants = static_cast<int>(random.integer(1, 3));
  const int first = static_cast<int>(random.integer(0, 3));
  for (int n = static_cast<int>(random.integer(icdr >= 3 ? 8 : 3, icdr >= 3 ? 16 : 10)); n > 0; --n) {
    point_in_quadrant(g, (first + static_cast<int>(random.integer(0, quadrants - 1))) % 4, max_r, random, x, y);
    draw_one(x, y);
  }
}

void draw_microaneurysms(Canvas& canvas, const FundusGeometry& g, int icdr, const Marks& marks, Random& random) {
  double x = 0, y = 0;
  for (int n = static_cast<int>(random.integer(icdr <= 1 ? 3 : 8, icdr <= 1 ? 10 : 25)); n > 0; --n) {
    point_near(g.fovea_x, g.fovea_y, g.disc_diameter * 2.8, random, x, y);
    const double r = random.uniform(1.6, 2.8);
    synth_detail::stamp_disc(canvas, x, y, r, kMicroaneurysm, 0.92f, 1.0);
    marks.add(Finding::Microaneurysms, x, y, r);
  }
}

void draw_exudates(Canvas& canvas, const FundusGeometry& g, const Marks& marks, Random& random) {
  double x = 0, y = 0;
  for (int cluster = static_cast<int>(random.integer(2, 5)); cluster > 0; --cluster) {
    point_near(g.fovea_x, g.fovea_y, g.disc_diameter * 2.2, random, x, y);
    const bool circinate = random.chance(0.35);
    const double ring = random.uniform(15, 35);
    for (int n = static_cast<int>(random.integer(6, 22)); n > 0; --n) {
      double ex, ey;
      if (circinate) {
        const double a = random.uniform(0, 2 * kPi);
        ex = x + ring * std::cos(a) + random.normal(0, 2);
        ey = y + ring * std::sin(a) + random.normal(0, 2);
      } else {
        ex = x + random.normal(0, 12);
        ey = y + random.normal(0, 12);
      }
      const double angle = random.uniform(0, kPi), ry = random.uniform(1.5, 3.5), rx = random.uniform(1.5, 4);
      synth_detail::stamp_ellipse(canvas, ex, ey, rx, ry, angle, kExudate, 0.95f, 1.0);
      marks.add(Finding::HardExudates, ex, ey, std::max(rx, ry));
    }
  }
}

void draw_cotton_wool(Canvas& canvas, const FundusGeometry& g, const Marks& marks, Random& random) {
  for (int n = static_cast<int>(random.integer(1, 5)); n > 0; --n) {
    // Along the arcades: above or below the disc–fovea line, 1–2.5 DD from the disc.
    const double a = (random.chance(0.5) ? -1 : 1) * random.uniform(0.3, 0.6) * kPi;
    const double d = g.disc_diameter * random.uniform(1.0, 2.5);
    const double x = g.disc_x - g.nasal * d * std::cos(a), y = g.disc_y + d * std::sin(a);
    const double r = random.uniform(9, 17);
    synth_detail::stamp_ellipse(canvas, x, y, r, r * random.uniform(0.6, 0.9), random.uniform(0, kPi), kCottonWool,
                                0.8f, 6);
    marks.add(Finding::CottonWoolSpots, x, y, r);
  }
}

void draw_drusen(Canvas& canvas, const FundusGeometry& g, Finding size, double r_lo, double r_hi, int lo, int hi,
                 const Marks& marks, Random& random) {
  double x = 0, y = 0;
  for (int n = static_cast<int>(random.integer(lo, hi)); n > 0; --n) {
    point_near(g.fovea_x, g.fovea_y, g.disc_diameter * 1.6, random, x, y);
    const double r = random.uniform(r_lo, r_hi);
    synth_detail::stamp_disc(canvas, x, y, r, kDruse, 0.8f, 1.6);
    marks.add(size, x, y, r);
  }
}

void draw_pigment_change(Canvas& canvas, const FundusGeometry& g, const Marks& marks, Random& random) {
  double x = 0, y = 0;
  for (int n = static_cast<int>(random.integer(3, 8)); n > 0; --n) {  // hypopigmentation
    point_near(g.fovea_x, g.fovea_y, g.disc_diameter * 1.2, random, x, y);
    const double r = random.uniform(6, 13);
    synth_detail::stamp_disc(canvas, x, y, r, {222, 150, 100}, 0.45f, 4);
    marks.add(Finding::PigmentaryChange, x, y, r);
  }
  for (int n = static_cast<int>(random.integer(6, 16)); n > 0; --n) {  // hyperpigmentation
    point_near(g.fovea_x, g.fovea_y, g.disc_diameter * 1.2, random, x, y);
    const double angle = random.uniform(0, kPi), ry = random.uniform(1.5, 4), rx = random.uniform(2, 5);
    synth_detail::stamp_ellipse(canvas, x, y, rx, ry, angle, {62, 32, 20}, 0.9f, 1.2);
    marks.add(Finding::PigmentaryChange, x, y, std::max(rx, ry));
  }
}

void draw_geographic_atrophy(Canvas& canvas, const FundusGeometry& g, const Marks& marks, Random& random) {
  double x = 0, y = 0;
  point_near(g.fovea_x, g.fovea_y, g.disc_diameter * 0.3, random, x, y);
  const double r = g.disc_diameter * random.uniform(0.3, 0.6);
  marks.add(Finding::GeographicAtrophy, x, y, r);
  synth_detail::stamp_ellipse(canvas, x, y, r, r * random.uniform(0.7, 1.0), random.uniform(0, kPi),
                              {228, 168, 118}, 0.9f, 2.0);
  // Large choroidal vessels show through the atrophic area.
  for (int n = 0; n < 4; ++n) {
    const double a = random.uniform(0, 2 * kPi), half = r * 0.7;
    const double mx = x + random.normal(0, r * 0.2), my = y + random.normal(0, r * 0.2);
    synth_detail::stamp_capsule(canvas, mx - half * std::cos(a), my - half * std::sin(a), mx + half * std::cos(a),
                                my + half * std::sin(a), 3.5, 3.5, {205, 105, 70}, 0.5f, 2);
  }
}

void draw_vitreous_haemorrhage(Canvas& canvas, const FundusGeometry& g, const Marks& marks, Random& random) {
  // A boat-shaped preretinal haemorrhage below the arcade, and a red haze over part of the field.
  const double x = g.fovea_x + random.normal(0, g.disc_diameter), y = g.fovea_y + g.disc_diameter * random.uniform(1, 2.5);
  const double r = g.disc_diameter * random.uniform(0.5, 1.0);
  synth_detail::stamp_ellipse(canvas, x, y, r, r * 0.55, 0, {110, 16, 10}, 0.9f, 3);
  marks.add(Finding::VitreousHaemorrhage, x, y, r);  // the boat; the haze is not a lesion
  synth_detail::stamp_gaussian(canvas, x + random.normal(0, 60), y - random.uniform(40, 120), g.disc_diameter * 1.6,
                               {120, 30, 18}, 0.55f);
}

// ---- quality and field of view --------------------------------------------------------------

// Ungradable photographs: defocus blur and/or under-exposure (at least one).
void spoil(Canvas& canvas, Random& random) {
  const int kind = static_cast<int>(random.integer(0, 2));  // 0 blur, 1 dark, 2 both
  if (kind != 1) synth_detail::box_blur(canvas, static_cast<int>(random.integer(7, 12)));
  if (kind != 0) {
    const float k = static_cast<float>(random.uniform(0.22, 0.35));
    for (float& s : canvas.samples) s *= k;
  }
}

// The lens vignettes everything drawn so far, lesions and vessels included (up to 15% darker at
// the edge of the field); outside the field of view is the dark border (3 px soft edge). One pass.
void apply_vignette_and_field(Canvas& canvas, const FundusGeometry& g) {
  const double scale = 1.0 / (g.fov_radius * g.fov_radius);
  for (int y = 0; y < canvas.height; ++y) {
    const double dy = y + 0.5 - g.cy;
    for (int x = 0; x < canvas.width; ++x) {
      const double dx = x + 0.5 - g.cx, r2 = dx * dx + dy * dy;
      float* p = canvas.at(x, y);
      const float k = static_cast<float>(1.0 - 0.15 * std::min(1.0, r2 * scale));
      if (r2 < (g.fov_radius - 1.5) * (g.fov_radius - 1.5)) {
        p[0] *= k;
        p[1] *= k;
        p[2] *= k;
        continue;
      }
      const double outside = std::sqrt(r2) - g.fov_radius;
      const float w = outside >= 1.5 ? 0.0f : static_cast<float>(0.5 - outside / 3.0);
      for (int c = 0; c < 3; ++c) p[c] = p[c] * k * w + 4.0f * (1 - w);
    }
  }
}

}  // namespace

Image render_cfp(const EyeLabels& labels, Eye eye, Random& random, std::vector<LesionMark>* lesions) {
  const Marks marks{lesions};
  if (lesions) lesions->clear();
  const double cdr = labels.vertical_cdr ? *labels.vertical_cdr : random.uniform(0.2, 0.45);
  if (!(cdr >= 0.05 && cdr <= 0.95))
    fail(ErrorCode::InvalidArgument, "render_cfp: vertical_cdr {} is outside [0.05, 0.95]", cdr);
  const int icdr = grade_or(labels, GradeScale::Icdr, 0);
  grade_or(labels, GradeScale::Areds, 0);  // only checked: the findings decide the drawing

  Canvas canvas(kCfpSize, kCfpSize, 3);
  const FundusGeometry g = fundus_geometry(eye, random);
  draw_background(canvas, g, random);
  draw_macula(canvas, g);
  const Cup cup = place_cup(g, cdr, labels.has(Finding::RimThinning), random);
  draw_disc(canvas, g, cup);

  QuadrantSet beaded;
  if (labels.has(Finding::VenousBeading)) {
    const int first = static_cast<int>(random.integer(0, 3));
    const int count = static_cast<int>(random.integer(2, 3));  // "definite beading in ≥ 2 quadrants"
    for (int i = 0; i < count; ++i) beaded.q[(first + i) % 4] = true;
  }
  draw_vessels(canvas, g, beaded, marks, random);
  if (labels.has(Finding::DiscHaemorrhage)) draw_disc_haemorrhage(canvas, g, marks, random);

  double x = 0, y = 0;
  if (labels.has(Finding::Irma))
    for (int n = static_cast<int>(random.integer(1, 2)); n > 0; --n) {
      point_in_quadrant(g, static_cast<int>(random.integer(0, 3)), g.fov_radius * 0.7, random, x, y);
      draw_tangle(canvas, x, y, 5, 45, 2.0, {140, 36, 22}, 0.7, random);
      marks.add(Finding::Irma, x, y, 20);  // strands wander ~45 px from points ~6 px round the centre
    }
  if (labels.has(Finding::Neovascularisation)) {
    if (random.chance(0.5)) {  // NVD on the disc, else NVE along an arcade
      draw_tangle(canvas, g.disc_x, g.disc_y, 8, 50, 1.6, {175, 50, 32}, 0.9, random);
      marks.add(Finding::Neovascularisation, g.disc_x, g.disc_y, 25);
    } else {
      point_near(g.disc_x - g.nasal * g.disc_diameter * 2, g.disc_y - g.disc_diameter * 1.5, 30, random, x, y);
      draw_tangle(canvas, x, y, 7, 45, 1.6, {175, 50, 32}, 0.9, random);
      marks.add(Finding::Neovascularisation, x, y, 22);
    }
  }
  if (labels.has(Finding::GeographicAtrophy)) draw_geographic_atrophy(canvas, g, marks, random);
  if (labels.has(Finding::PigmentaryChange)) draw_pigment_change(canvas, g, marks, random);
  if (labels.has(Finding::SmallDrusen)) draw_drusen(canvas, g, Finding::SmallDrusen, 1.2, 2.0, 6, 18, marks, random);
  if (labels.has(Finding::MediumDrusen)) draw_drusen(canvas, g, Finding::MediumDrusen, 2.6, 4.0, 5, 14, marks, random);
  if (labels.has(Finding::LargeDrusen)) draw_drusen(canvas, g, Finding::LargeDrusen, 4.8, 8.0, 3, 10, marks, random);
  if (labels.has(Finding::Microaneurysms)) draw_microaneurysms(canvas, g, icdr, marks, random);
  draw_haemorrhages(canvas, g, labels, icdr, marks, random);
  if (labels.has(Finding::HardExudates)) draw_exudates(canvas, g, marks, random);
  if (labels.has(Finding::CottonWoolSpots)) draw_cotton_wool(canvas, g, marks, random);
  if (labels.has(Finding::VitreousHaemorrhage)) draw_vitreous_haemorrhage(canvas, g, marks, random);

  if (synth_detail::is_ungradable(labels, Modality::Cfp)) spoil(canvas, random);
  apply_vignette_and_field(canvas, g);
  return synth_detail::to_image(canvas, 1.8f, random, Modality::Cfp, eye);
}

}  // namespace ophtha
