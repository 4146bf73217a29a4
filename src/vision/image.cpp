// Image from raw pixel buffers.
#include <cctype>
#include <cstring>

#include "ophtha/error.hpp"
#include "ophtha/image.hpp"

namespace ophtha {

Image Image::from_pixels(const void* pixels, int width, int height, size_t row_stride, int channels, int bit_depth,
                         Modality modality, Eye eye, const ImageLimits& limits) {
  if (width <= 0 || height <= 0)
    fail(ErrorCode::InvalidArgument, "raw pixels: width and height must be positive, got {}x{}", width, height);
  if (channels != 1 && channels != 3 && channels != 4)
    fail(ErrorCode::InvalidArgument, "raw pixels: channels must be 1, 3 or 4, got {}", channels);
  if (bit_depth != 8 && bit_depth != 16)
    fail(ErrorCode::InvalidArgument, "raw pixels: bit_depth must be 8 or 16, got {}", bit_depth);
  if (static_cast<int64_t>(width) * height > limits.max_pixels)
    fail(ErrorCode::InvalidArgument, "raw pixels: {}x{} = {} pixels, more than the limit of {}", width, height,
         static_cast<int64_t>(width) * height, limits.max_pixels);
  const size_t sample_bytes = static_cast<size_t>(bit_depth / 8);
  const size_t row_bytes = static_cast<size_t>(width) * channels * sample_bytes;
  if (row_stride < row_bytes)
    fail(ErrorCode::InvalidArgument, "raw pixels: row_stride {} bytes is less than a row ({} x {} x {} bytes = {})",
         row_stride, width, channels, sample_bytes, row_bytes);
  if (pixels == nullptr) fail(ErrorCode::InvalidArgument, "raw pixels: the pixel buffer is null");

  Image image;
  image.width_ = width;
  image.height_ = height;
  image.channels_ = channels;
  image.bit_depth_ = bit_depth;
  image.modality_ = modality;
  image.eye_ = eye;
  const auto* rows = static_cast<const uint8_t*>(pixels);
  const size_t row_samples = static_cast<size_t>(width) * channels;
  if (bit_depth == 8) {
    image.samples8_.resize(row_samples * height);
    for (int y = 0; y < height; ++y)
      std::memcpy(image.samples8_.data() + y * row_samples, rows + y * row_stride, row_bytes);
  } else {
    image.samples16_.resize(row_samples * height);
    for (int y = 0; y < height; ++y)  // memcpy: a numpy stride need not keep uint16 alignment
      std::memcpy(image.samples16_.data() + y * row_samples, rows + y * row_stride, row_bytes);
  }
  return image;
}

}  // namespace ophtha
