// Where the optic disc of a colour fundus photograph is (preprocess.hpp locate_optic_disc).
//
// The field of view's square is resampled to 128 × 128 by preprocess() itself (the same field of
// view, square and antialiased resize as the encoder's input, before normalising), turned grey
// with torchvision's weights, blurred by a separable Gaussian of σ = 3 cells (edges replicated),
// and the brightest cell is the disc's centre. At 128 cells a disc of ~1/7 of the field's side is
// ~18 cells across: the blur keeps it whole while a small exudate or a light reflex, a few cells
// across, is spread below it.
#include <algorithm>
#include <array>
#include <cmath>
#include <vector>

#include <ATen/ATen.h>

#include "ophtha/error.hpp"
#include "ophtha/preprocess.hpp"
#include "vision/preprocess_square.hpp"

namespace ophtha {
namespace {

constexpr int kGrid = 128;
constexpr double kSigma = 3.0;
constexpr int kRadius = 9;  // 3σ

std::array<float, 2 * kRadius + 1> gaussian_taps() {
  std::array<float, 2 * kRadius + 1> taps{};
  double sum = 0;
  for (int k = -kRadius; k <= kRadius; ++k) {
    const auto tap = static_cast<float>(std::exp(-k * k / (2 * kSigma * kSigma)));
    taps[static_cast<size_t>(k + kRadius)] = tap;
    sum += tap;
  }
  for (float& t : taps) t = static_cast<float>(t / sum);
  return taps;
}

// One pass of the blur along x (step 1) or y (step kGrid) of the kGrid × kGrid map `in`.
std::vector<float> blur_along(const std::vector<float>& in, bool along_x) {
  static const std::array<float, 2 * kRadius + 1> taps = gaussian_taps();
  std::vector<float> out(in.size());
  for (int y = 0; y < kGrid; ++y)
    for (int x = 0; x < kGrid; ++x) {
      float acc = 0;
      for (int k = -kRadius; k <= kRadius; ++k) {
        const int xx = along_x ? std::clamp(x + k, 0, kGrid - 1) : x, yy = along_x ? y : std::clamp(y + k, 0, kGrid - 1);
        acc += taps[static_cast<size_t>(k + kRadius)] * in[static_cast<size_t>(yy) * kGrid + xx];
      }
      out[static_cast<size_t>(y) * kGrid + x] = acc;
    }
  return out;
}

}  // namespace

OpticDiscLocation locate_optic_disc(const Image& image, const FundusFovOptions& fov) {
  if (image.modality() != Modality::Cfp)
    fail(ErrorCode::InvalidArgument, "locate_optic_disc: the image is {}, expected a colour fundus photograph (cfp)",
         modality_name(image.modality()));
  PreprocessOptions o;
  o.size = kGrid;
  o.mean = {0, 0, 0};
  o.std = {1, 1, 1};
  o.fov = fov;
  const SquareRegion square = preprocess_region(image, o);
  const at::Tensor planes = vision::preprocess_square(image, square, o);  // [3, 128, 128] in [0, 1], padding 0
  const float* p = planes.data_ptr<float>();
  constexpr size_t kPlane = static_cast<size_t>(kGrid) * kGrid;
  std::vector<float> grey(kPlane);
  for (size_t i = 0; i < kPlane; ++i) grey[i] = 0.2989f * p[i] + 0.587f * p[kPlane + i] + 0.114f * p[2 * kPlane + i];
  const std::vector<float> blurred = blur_along(blur_along(grey, true), false);
  const size_t peak = static_cast<size_t>(std::max_element(blurred.begin(), blurred.end()) - blurred.begin());
  const double cell = static_cast<double>(square.side) / kGrid;
  OpticDiscLocation out;
  out.x = square.x0 + (static_cast<double>(peak % kGrid) + 0.5) * cell;
  out.y = square.y0 + (static_cast<double>(peak / kGrid) + 0.5) * cell;
  out.fov_side = square.side;
  return out;
}

}  // namespace ophtha
