// The drawing primitives the synthetic renderers share: a float canvas and soft-edged stamps
// (ellipses, capsules, Gaussian blobs), separable box blur, smooth value noise and the final
// conversion to an 8-bit Image. Every stamp touches only its bounding box, so a lesion costs its
// area, not the image's.
#pragma once
#include <array>
#include <cstdint>
#include <vector>

#include "ophtha/image.hpp"
#include "ophtha/random.hpp"

namespace ophtha::synth_detail {

// Samples in 0..255 (kept as float until to_image clamps and rounds).
struct Canvas {
  int width = 0, height = 0, channels = 0;
  std::vector<float> samples;  // (height, width, channels)

  Canvas(int w, int h, int c) : width(w), height(h), channels(c), samples(static_cast<size_t>(w) * h * c, 0.0f) {}
  float* at(int x, int y) { return &samples[(static_cast<size_t>(y) * width + x) * channels]; }
  const float* at(int x, int y) const { return &samples[(static_cast<size_t>(y) * width + x) * channels]; }
};

using Colour = std::array<float, 3>;  // grey canvases read colour[0]

// Blends `colour` over an ellipse centred at (cx, cy) with radii (rx, ry) turned by `angle`
// radians: weight `alpha` inside, falling linearly to 0 across `soft` pixels at the edge.
void stamp_ellipse(Canvas& canvas, double cx, double cy, double rx, double ry, double angle, const Colour& colour,
                   float alpha, double soft = 1.0);
inline void stamp_disc(Canvas& canvas, double cx, double cy, double r, const Colour& colour, float alpha,
                       double soft = 1.0) {
  stamp_ellipse(canvas, cx, cy, r, r, 0.0, colour, alpha, soft);
}

// Blends `colour` over the capsule from (x0, y0) to (x1, y1), radius r0 at the start and r1 at
// the end (a vessel segment), with the same soft edge.
void stamp_capsule(Canvas& canvas, double x0, double y0, double x1, double y1, double r0, double r1,
                   const Colour& colour, float alpha, double soft = 1.0);

// Blends `colour` with weight alpha · exp(−d² / 2σ²) out to 3σ (haze, soft spots).
void stamp_gaussian(Canvas& canvas, double cx, double cy, double sigma, const Colour& colour, float alpha);

// `passes` passes of a (2·radius+1) box, rows then columns; three are close to a Gaussian of
// σ ≈ radius.
void box_blur(Canvas& canvas, int radius, int passes = 3);

// Smooth noise in [-1, 1]: random values on a (cells+1)² grid over the image, interpolated with
// smoothstep. value(x, y) costs a few flops.
class ValueNoise {
 public:
  ValueNoise(int width, int height, int cells, Random& random);
  float value(double x, double y) const;
  // value(x + 0.5, y + 0.5) for x = 0 .. width−1 into out[x]: one grid interpolation per cell.
  void row(int y, float* out) const;

 private:
  int cells_, width_;
  double sx_, sy_;
  std::vector<float> grid_;      // ((cells+1), (cells+1))
  std::vector<int> column_cell_;  // (width) grid cell of each pixel column
  std::vector<float> column_t_;   // (width) its smoothstep weight towards the next cell
};

// Adds Gaussian grain of standard deviation `grain_sd` to every sample (a table of normals drawn
// from `random`, read from a random offset per row), clamps to 0..255, rounds, and labels the
// image. Rows must hold fewer than 8192 samples.
Image to_image(const Canvas& canvas, float grain_sd, Random& random, Modality modality, Eye eye);

}  // namespace ophtha::synth_detail
