// Image → [3, S, S] float32 (region Tiles: [3, T, T]) by modality (see preprocess.hpp and docs/vision.md).
#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "ophtha/error.hpp"
#include "ophtha/preprocess.hpp"
#include "vision/preprocess_resample.hpp"
#include "vision/preprocess_square.hpp"

namespace ophtha {
namespace {

constexpr int kMaxSize = 8192;

void check_options(const PreprocessOptions& options) {
  if (options.size < 1 || options.size > kMaxSize)
    fail(ErrorCode::InvalidArgument, "PreprocessOptions::size must be in [1, {}], got {}", kMaxSize, options.size);
  for (int c = 0; c < 3; ++c) {
    if (!std::isfinite(options.mean[c]))
      fail(ErrorCode::InvalidArgument, "PreprocessOptions::mean[{}] must be finite, got {}", c, options.mean[c]);
    if (!(options.std[c] > 0.0f) || !std::isfinite(options.std[c]))
      fail(ErrorCode::InvalidArgument, "PreprocessOptions::std[{}] must be positive and finite, got {}", c,
           options.std[c]);
  }
  if (!std::isfinite(options.pad_value))
    fail(ErrorCode::InvalidArgument, "PreprocessOptions::pad_value must be finite, got {}", options.pad_value);
  if (options.region != PreprocessRegion::FieldOfView && options.region != PreprocessRegion::OpticDisc &&
      options.region != PreprocessRegion::Tiles)
    fail(ErrorCode::InvalidArgument, "PreprocessOptions::region must be FieldOfView, OpticDisc or Tiles, got {}",
         static_cast<int>(options.region));
  if (options.region == PreprocessRegion::Tiles) {
    if (options.tile_grid < 1 || options.tile_grid > 8)
      fail(ErrorCode::InvalidArgument, "PreprocessOptions::tile_grid must be in [1, 8], got {}", options.tile_grid);
    if (options.tile_stride < 1 || options.tile_stride > options.size)
      fail(ErrorCode::InvalidArgument,
           "PreprocessOptions::tile_stride must be in [1, size = {}] (tiles that overlap or abut), got {}", options.size,
           options.tile_stride);
    const int64_t side = options.size + static_cast<int64_t>(options.tile_grid - 1) * options.tile_stride;
    if (side > kMaxSize)
      fail(ErrorCode::InvalidArgument, "PreprocessOptions: the tiled side size + (tile_grid − 1) × tile_stride is {}, above {}",
           side, kMaxSize);
  }
  if (!(options.disc_side > 0 && options.disc_side <= 1))
    fail(ErrorCode::InvalidArgument, "PreprocessOptions::disc_side must be in (0, 1] (of the field of view's side), got {}",
         options.disc_side);
}

// The square of side max(w, h) centred on `box` (the short side split evenly, the odd pixel after).
SquareRegion square_around(const PixelBox& box) {
  SquareRegion square;
  square.side = std::max(box.width(), box.height());
  square.x0 = box.x0 - (square.side - box.width()) / 2;
  square.y0 = box.y0 - (square.side - box.height()) / 2;
  return square;
}

// CFP keeps colour (a grey photograph is resampled once and replicated); OCT and OSA are grey.
bool resample_in_colour(const Image& image) {
  return image.modality() == Modality::Cfp && image.channels() >= 3;
}

// Writes row `row` of the square as planar floats in [0, 1]: 3 planes for colour, 1 for grey.
template <typename T>
class SquareRowReader {
 public:
  SquareRowReader(const T* samples, const Image& image, const SquareRegion& square, bool colour, float pad_value)
      : samples_(samples), image_(image), square_(square), colour_(colour), pad_(pad_value),
        to_unit_(image.max_value() + 1) {
    for (uint32_t v = 0; v <= image.max_value(); ++v)  // torchvision divides: x / 255.0
      to_unit_[v] = static_cast<float>(v) / static_cast<float>(image.max_value());
  }

  void operator()(int row, float* planar) const {
    const int side = square_.side, planes = colour_ ? 3 : 1;
    const int y = square_.y0 + row;
    if (y < 0 || y >= image_.height()) {
      std::fill(planar, planar + static_cast<size_t>(planes) * side, pad_);
      return;
    }
    // Columns [inside_begin, inside_end) of the square lie on the image.
    const int inside_begin = std::clamp(-square_.x0, 0, side);
    const int inside_end = std::clamp(image_.width() - square_.x0, inside_begin, side);
    for (int p = 0; p < planes; ++p) {
      float* plane = planar + static_cast<size_t>(p) * side;
      std::fill(plane, plane + inside_begin, pad_);
      std::fill(plane + inside_end, plane + side, pad_);
    }
    const int channels = image_.channels();
    const T* pixel = samples_ + (static_cast<size_t>(y) * image_.width() + square_.x0 + inside_begin) * channels;
    if (colour_) {
      for (int x = inside_begin; x < inside_end; ++x, pixel += channels)
        for (int c = 0; c < 3; ++c) planar[static_cast<size_t>(c) * side + x] = to_unit_[pixel[c]];
    } else if (channels == 1) {
      for (int x = inside_begin; x < inside_end; ++x, pixel += channels) planar[x] = to_unit_[*pixel];
    } else {  // torchvision's rgb_to_grayscale
      for (int x = inside_begin; x < inside_end; ++x, pixel += channels)
        planar[x] = 0.2989f * to_unit_[pixel[0]] + 0.587f * to_unit_[pixel[1]] + 0.114f * to_unit_[pixel[2]];
    }
  }

 private:
  const T* samples_;
  const Image& image_;
  SquareRegion square_;
  bool colour_;
  float pad_;
  std::vector<float> to_unit_;
};

template <typename T>
std::vector<float> resample_square(const T* samples, const Image& image, const SquareRegion& square,
                                   const PreprocessOptions& options) {
  const bool colour = resample_in_colour(image);
  const int planes = colour ? 3 : 1, size = preprocessed_side(options);
  std::vector<float> out(static_cast<size_t>(planes) * size * size);
  const SquareRowReader<T> reader(samples, image, square, colour, options.pad_value);
  vision::resize_antialiased_bilinear(planes, square.side, square.side, std::cref(reader), size, size, out.data());
  return out;
}

}  // namespace

int preprocessed_side(const PreprocessOptions& options) {
  check_options(options);
  return options.region == PreprocessRegion::Tiles ? options.size + (options.tile_grid - 1) * options.tile_stride
                                                    : options.size;
}

SquareRegion preprocess_region(const Image& image, const PreprocessOptions& options) {
  check_options(options);
  if (options.region == PreprocessRegion::Tiles && image.modality() != Modality::Cfp)
    fail(ErrorCode::InvalidArgument,
         "PreprocessOptions::region is Tiles, which reads colour fundus photographs only; the image is {}",
         modality_name(image.modality()));
  if (options.region == PreprocessRegion::OpticDisc) {
    if (image.modality() != Modality::Cfp)
      fail(ErrorCode::InvalidArgument,
           "PreprocessOptions::region is OpticDisc, which reads colour fundus photographs only; the image is {}",
           modality_name(image.modality()));
    const OpticDiscLocation disc = locate_optic_disc(image, options.fov);
    SquareRegion square;
    square.side = std::max(1, static_cast<int>(std::lround(options.disc_side * disc.fov_side)));
    square.x0 = static_cast<int>(std::lround(disc.x - square.side / 2.0));
    square.y0 = static_cast<int>(std::lround(disc.y - square.side / 2.0));
    return square;
  }
  if (image.modality() == Modality::Cfp) return square_around(detect_fundus_fov(image, options.fov).box);
  return square_around(PixelBox{0, 0, image.width(), image.height()});
}

at::Tensor preprocess(const Image& image, const PreprocessOptions& options) {
  return vision::preprocess_square(image, preprocess_region(image, options), options);
}

at::Tensor vision::preprocess_square(const Image& image, const SquareRegion& square, const PreprocessOptions& options) {
  check_options(options);
  if (square.side < 1) fail(ErrorCode::InvalidArgument, "preprocess_square: the square's side is {}, expected ≥ 1", square.side);
  const std::vector<float> resampled = image.bit_depth() == 8
                                           ? resample_square(image.pixels8(), image, square, options)
                                           : resample_square(image.pixels16(), image, square, options);
  const int side = preprocessed_side(options);
  const int64_t plane = static_cast<int64_t>(side) * side;
  const bool colour = resample_in_colour(image);
  at::Tensor out = at::empty({3, side, side}, at::TensorOptions().dtype(at::kFloat));
  float* dst = out.data_ptr<float>();
  for (int c = 0; c < 3; ++c) {
    const float* src = resampled.data() + (colour ? c * plane : 0);
    const float mean = options.mean[c], std = options.std[c];
    for (int64_t i = 0; i < plane; ++i) dst[c * plane + i] = (src[i] - mean) / std;
  }
  return out;
}

}  // namespace ophtha
