#include "vision/preprocess_resample.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

namespace ophtha::vision {

// The computation is kept in float, in PyTorch's order, so that the weights and the sums round as
// torchvision's do on a float32 tensor.
ResampleTaps antialiased_bilinear_taps(int in_size, int out_size) {
  const float scale = static_cast<float>(in_size) / static_cast<float>(out_size);
  const float support = scale >= 1.0f ? scale : 1.0f;  // interp_size / 2 = 1 for bilinear
  const float invscale = scale >= 1.0f ? 1.0f / scale : 1.0f;
  ResampleTaps taps;
  taps.taps = static_cast<int>(std::ceil(support)) * 2 + 1;
  taps.first.resize(out_size);
  taps.count.resize(out_size);
  taps.weights.assign(static_cast<size_t>(out_size) * taps.taps, 0.0f);
  for (int i = 0; i < out_size; ++i) {
    const float centre = scale * (static_cast<float>(i) + 0.5f);
    const int64_t xmin = std::max<int64_t>(static_cast<int64_t>(centre - support + 0.5f), 0);
    const int64_t xsize = std::min<int64_t>(static_cast<int64_t>(centre + support + 0.5f), in_size) - xmin;
    float* w = taps.weights.data() + static_cast<size_t>(i) * taps.taps;
    float total = 0.0f;
    for (int64_t j = 0; j < xsize; ++j) {
      const float x = std::abs((static_cast<float>(j + xmin) - centre + 0.5f) * invscale);
      w[j] = x < 1.0f ? 1.0f - x : 0.0f;
      total += w[j];
    }
    if (total != 0.0f)
      for (int64_t j = 0; j < xsize; ++j) w[j] /= total;
    taps.first[i] = static_cast<int>(xmin);
    taps.count[i] = static_cast<int>(xsize);
  }
  return taps;
}

void resize_antialiased_bilinear(int channels, int in_h, int in_w, const RowFetch& fetch, int out_h, int out_w,
                                 float* out) {
  const ResampleTaps along_x = antialiased_bilinear_taps(in_w, out_w);
  const ResampleTaps along_y = antialiased_bilinear_taps(in_h, out_h);
  std::vector<float> source_row(static_cast<size_t>(channels) * in_w);
  // ring[(row % taps)] holds source row `row` resampled along x: [channels, out_w]
  const int ring_rows = along_y.taps;
  const size_t ring_stride = static_cast<size_t>(channels) * out_w;
  std::vector<float> ring(ring_stride * ring_rows);
  int next_row = 0;  // the next source row to fetch
  const size_t plane = static_cast<size_t>(out_h) * out_w;

  for (int i = 0; i < out_h; ++i) {
    const int first = along_y.first[i], count = along_y.count[i];
    next_row = std::max(next_row, first);
    for (; next_row < first + count; ++next_row) {
      fetch(next_row, source_row.data());
      float* dst = ring.data() + ring_stride * (next_row % ring_rows);
      for (int c = 0; c < channels; ++c) {
        const float* src = source_row.data() + static_cast<size_t>(c) * in_w;
        float* dst_c = dst + static_cast<size_t>(c) * out_w;
        for (int j = 0; j < out_w; ++j) {
          const float* w = along_x.weights.data() + static_cast<size_t>(j) * along_x.taps;
          const float* s = src + along_x.first[j];
          float t = s[0] * w[0];
          for (int k = 1; k < along_x.count[j]; ++k) t += s[k] * w[k];
          dst_c[j] = t;
        }
      }
    }
    const float* w = along_y.weights.data() + static_cast<size_t>(i) * along_y.taps;
    for (int c = 0; c < channels; ++c) {
      float* o = out + c * plane + static_cast<size_t>(i) * out_w;
      const float* r0 = ring.data() + ring_stride * (first % ring_rows) + static_cast<size_t>(c) * out_w;
      for (int j = 0; j < out_w; ++j) o[j] = r0[j] * w[0];
      for (int k = 1; k < count; ++k) {
        const float* rk = ring.data() + ring_stride * ((first + k) % ring_rows) + static_cast<size_t>(c) * out_w;
        const float wk = w[k];
        for (int j = 0; j < out_w; ++j) o[j] += rk[j] * wk;
      }
    }
  }
}

void resize_antialiased_bilinear(const float* in, int channels, int in_h, int in_w, int out_h, int out_w, float* out) {
  const size_t plane = static_cast<size_t>(in_h) * in_w;
  resize_antialiased_bilinear(
      channels, in_h, in_w,
      [&](int row, float* planar_row) {
        for (int c = 0; c < channels; ++c)
          std::memcpy(planar_row + static_cast<size_t>(c) * in_w, in + c * plane + static_cast<size_t>(row) * in_w,
                      sizeof(float) * in_w);
      },
      out_h, out_w, out);
}

}  // namespace ophtha::vision
