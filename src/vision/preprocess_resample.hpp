// Antialiased bilinear resampling, the arithmetic of PyTorch's upsample_bilinear2d_aa
// (aten/src/ATen/native/cpu/UpSampleKernel.cpp, align_corners=False, no explicit scale), which is
// what torchvision.transforms.functional.resize(antialias=True) runs on a float tensor.
// Separable: each output row is first resampled along x, then the rows are combined along y.
#pragma once
#include <functional>
#include <vector>

namespace ophtha::vision {

// For each output index i, the input samples [first[i], first[i] + count[i]) and their weights
// weights[i * taps + k] (normalised to sum 1). Along one axis:
//   scale = in / out;  support = max(scale, 1) (the triangle filter's half-width in input pixels)
//   centre = scale · (i + ½);  w(j) = max(0, 1 − |(j − centre + ½) / max(scale, 1)|)
struct ResampleTaps {
  int taps = 0;  // the most samples any output reads
  std::vector<int> first;
  std::vector<int> count;
  std::vector<float> weights;  // [out, taps]
};
ResampleTaps antialiased_bilinear_taps(int in_size, int out_size);

// Writes row `row` of a planar source [channels, in_h, in_w] to planar_row[c * in_w + x].
// Rows are requested in increasing order, each at most once.
using RowFetch = std::function<void(int row, float* planar_row)>;

// Resizes the source [channels, in_h, in_w] to out [channels, out_h, out_w] (planar, C order).
// Memory beyond the output: taps × channels × out_w floats (a ring of resampled rows).
void resize_antialiased_bilinear(int channels, int in_h, int in_w, const RowFetch& fetch, int out_h, int out_w,
                                 float* out);

// The same on a planar array in memory.
void resize_antialiased_bilinear(const float* in, int channels, int in_h, int in_w, int out_h, int out_w, float* out);

}  // namespace ophtha::vision
