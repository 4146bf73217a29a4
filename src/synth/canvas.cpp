// Soft-edged stamps, separable box blur, value noise and grain for the synthetic renderers.
#include "synth/canvas.hpp"

#include <algorithm>
#include <cmath>

namespace ophtha::synth_detail {

namespace {

void blend(Canvas& canvas, int x, int y, const Colour& colour, float weight) {
  float* p = canvas.at(x, y);
  for (int c = 0; c < canvas.channels; ++c) p[c] += (colour[c] - p[c]) * weight;
}

struct Box {
  int x0, y0, x1, y1;  // inclusive-exclusive, clipped to the canvas
  bool empty() const { return x0 >= x1 || y0 >= y1; }
};

Box clip(const Canvas& canvas, double x0, double y0, double x1, double y1) {
  return {std::max(0, static_cast<int>(std::floor(x0))), std::max(0, static_cast<int>(std::floor(y0))),
          std::min(canvas.width, static_cast<int>(std::ceil(x1)) + 1),
          std::min(canvas.height, static_cast<int>(std::ceil(y1)) + 1)};
}

// Weight of a pixel whose signed distance outside the shape's edge is `outside` (negative inside).
float edge_weight(double outside, double soft) {
  if (outside <= -soft * 0.5) return 1.0f;
  if (outside >= soft * 0.5) return 0.0f;
  return static_cast<float>(0.5 - outside / soft);
}

// One pass of a (2·radius+1) box along rows (`along_rows`) or down columns, clamped at the
// edges. Columns are processed a whole row at a time (running sums per column), so both
// directions read memory in order.
void box_pass(Canvas& canvas, int radius, bool along_rows) {
  const int c = canvas.channels, w = canvas.width, h = canvas.height;
  const float norm = 1.0f / static_cast<float>(2 * radius + 1);
  if (along_rows) {
    std::vector<float> line(static_cast<size_t>(w) * c);
    for (int y = 0; y < h; ++y) {
      float* row = canvas.at(0, y);
      std::copy(row, row + line.size(), line.begin());
      for (int k = 0; k < c; ++k) {
        auto sample = [&](int i) { return line[static_cast<size_t>(std::clamp(i, 0, w - 1)) * c + k]; };
        float sum = 0;
        for (int i = -radius; i <= radius; ++i) sum += sample(i);
        for (int i = 0; i < w; ++i) {
          row[static_cast<size_t>(i) * c + k] = sum * norm;
          sum += sample(i + radius + 1) - sample(i - radius);
        }
      }
    }
    return;
  }
  const size_t stride = static_cast<size_t>(w) * c;
  const std::vector<float> source = canvas.samples;
  auto row = [&](int y) { return &source[static_cast<size_t>(std::clamp(y, 0, h - 1)) * stride]; };
  std::vector<float> sum(stride, 0.0f);
  for (int i = -radius; i <= radius; ++i) {
    const float* r = row(i);
    for (size_t j = 0; j < stride; ++j) sum[j] += r[j];
  }
  for (int y = 0; y < h; ++y) {
    float* out = canvas.at(0, y);
    const float *add = row(y + radius + 1), *drop = row(y - radius);
    for (size_t j = 0; j < stride; ++j) {
      out[j] = sum[j] * norm;
      sum[j] += add[j] - drop[j];
    }
  }
}

}  // namespace

void stamp_ellipse(Canvas& canvas, double cx, double cy, double rx, double ry, double angle, const Colour& colour,
                   float alpha, double soft) {
  const double reach = std::max(rx, ry) + soft;
  const Box box = clip(canvas, cx - reach, cy - reach, cx + reach, cy + reach);
  if (box.empty() || rx <= 0 || ry <= 0) return;
  const double ca = std::cos(angle), sa = std::sin(angle);
  const double r_min = std::min(rx, ry);
  for (int y = box.y0; y < box.y1; ++y)
    for (int x = box.x0; x < box.x1; ++x) {
      const double dx = x + 0.5 - cx, dy = y + 0.5 - cy;
      const double u = (dx * ca + dy * sa) / rx, v = (-dx * sa + dy * ca) / ry;
      // Distance outside the edge, approximated in pixels by the smaller radius.
      const double outside = (std::sqrt(u * u + v * v) - 1.0) * r_min;
      const float w = edge_weight(outside, soft);
      if (w > 0) blend(canvas, x, y, colour, w * alpha);
    }
}

void stamp_capsule(Canvas& canvas, double x0, double y0, double x1, double y1, double r0, double r1,
                   const Colour& colour, float alpha, double soft) {
  const double reach = std::max(r0, r1) + soft;
  const Box box = clip(canvas, std::min(x0, x1) - reach, std::min(y0, y1) - reach, std::max(x0, x1) + reach,
                       std::max(y0, y1) + reach);
  if (box.empty()) return;
  const double ex = x1 - x0, ey = y1 - y0, length2 = ex * ex + ey * ey;
  for (int y = box.y0; y < box.y1; ++y)
    for (int x = box.x0; x < box.x1; ++x) {
      const double px = x + 0.5 - x0, py = y + 0.5 - y0;
      const double t = length2 > 0 ? std::clamp((px * ex + py * ey) / length2, 0.0, 1.0) : 0.0;
      const double dx = px - t * ex, dy = py - t * ey, d2 = dx * dx + dy * dy;
      const double r = r0 + (r1 - r0) * t, outer = r + soft * 0.5, inner = r - soft * 0.5;
      if (d2 >= outer * outer) continue;  // most of a slanted capsule's box
      const float w = d2 <= inner * inner && inner > 0 ? 1.0f : edge_weight(std::sqrt(d2) - r, soft);
      if (w > 0) blend(canvas, x, y, colour, w * alpha);
    }
}

void stamp_gaussian(Canvas& canvas, double cx, double cy, double sigma, const Colour& colour, float alpha) {
  const double reach = 3 * sigma;
  const Box box = clip(canvas, cx - reach, cy - reach, cx + reach, cy + reach);
  if (box.empty()) return;
  const double k = -0.5 / (sigma * sigma);
  for (int y = box.y0; y < box.y1; ++y)
    for (int x = box.x0; x < box.x1; ++x) {
      const double dx = x + 0.5 - cx, dy = y + 0.5 - cy;
      const double d2 = dx * dx + dy * dy;
      if (d2 > reach * reach) continue;
      blend(canvas, x, y, colour, alpha * static_cast<float>(std::exp(d2 * k)));
    }
}

void box_blur(Canvas& canvas, int radius, int passes) {
  if (radius <= 0) return;
  for (int pass = 0; pass < passes; ++pass) {
    box_pass(canvas, radius, true);
    box_pass(canvas, radius, false);
  }
}

ValueNoise::ValueNoise(int width, int height, int cells, Random& random)
    : cells_(cells), width_(width), sx_(static_cast<double>(cells) / width), sy_(static_cast<double>(cells) / height) {
  grid_.resize(static_cast<size_t>(cells + 1) * (cells + 1));
  for (float& g : grid_) g = static_cast<float>(random.uniform(-1.0, 1.0));
  column_cell_.resize(width);
  column_t_.resize(width);
  for (int x = 0; x < width; ++x) {
    const double gx = std::clamp((x + 0.5) * sx_, 0.0, cells_ - 1e-9);
    column_cell_[x] = static_cast<int>(gx);
    const double fx = gx - column_cell_[x];
    column_t_[x] = static_cast<float>(fx * fx * (3 - 2 * fx));
  }
}

float ValueNoise::value(double x, double y) const {
  const double gx = std::clamp(x * sx_, 0.0, cells_ - 1e-9), gy = std::clamp(y * sy_, 0.0, cells_ - 1e-9);
  const int ix = static_cast<int>(gx), iy = static_cast<int>(gy);
  double fx = gx - ix, fy = gy - iy;
  fx = fx * fx * (3 - 2 * fx);
  fy = fy * fy * (3 - 2 * fy);
  const size_t row = static_cast<size_t>(cells_ + 1);
  const float* g = &grid_[iy * row + ix];
  const double top = g[0] + (g[1] - g[0]) * fx, bottom = g[row] + (g[row + 1] - g[row]) * fx;
  return static_cast<float>(top + (bottom - top) * fy);
}

void ValueNoise::row(int y, float* out) const {
  const double gy = std::clamp((y + 0.5) * sy_, 0.0, cells_ - 1e-9);
  const int iy = static_cast<int>(gy);
  double fy = gy - iy;
  fy = fy * fy * (3 - 2 * fy);
  const size_t stride = static_cast<size_t>(cells_ + 1);
  std::vector<float> column(stride);  // the grid interpolated to this row
  for (size_t i = 0; i < stride; ++i) {
    const float top = grid_[iy * stride + i], bottom = grid_[(iy + 1) * stride + i];
    column[i] = static_cast<float>(top + (bottom - top) * fy);
  }
  for (int x = 0; x < width_; ++x) {
    const int ix = column_cell_[x];
    out[x] = column[ix] + (column[ix + 1] - column[ix]) * column_t_[x];
  }
}

Image to_image(const Canvas& canvas, float grain_sd, Random& random, Modality modality, Eye eye) {
  // Per-pixel Box–Muller would cost more than the rendering: 8192 normals, read in order from
  // a random offset per row (a row never repeats them; the loop vectorises).
  constexpr size_t kTable = 8192;
  std::vector<float> grain(kTable);
  for (float& v : grain) v = static_cast<float>(random.normal(0.0, grain_sd)) + 0.5f;  // + 0.5: rounding
  std::vector<uint8_t> bytes(canvas.samples.size());
  const size_t row = static_cast<size_t>(canvas.width) * canvas.channels;
  for (int y = 0; y < canvas.height; ++y) {
    const size_t offset = random.next() % (kTable - row);
    const float* in = &canvas.samples[y * row];
    const float* noise = &grain[offset];
    uint8_t* out = &bytes[y * row];
    for (size_t i = 0; i < row; ++i) out[i] = static_cast<uint8_t>(std::clamp(in[i] + noise[i], 0.0f, 255.0f));
  }
  return Image::from_pixels(bytes.data(), canvas.width, canvas.height, row, canvas.channels, 8, modality, eye);
}

}  // namespace ophtha::synth_detail
