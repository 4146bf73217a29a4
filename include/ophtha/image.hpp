// An ophthalmic image: owned pixels plus the modality and eye that travel with them.
//
// Pixels are stored row-major with interleaved channels and tightly packed rows
// (row r, column x, channel c at index (r * width + x) * channels + c):
//   channels 1 = grey, 3 = RGB, 4 = RGBA; bit depth 8 (uint8_t samples) or 16 (uint16_t samples,
//   native byte order). A 2-channel source (grey + alpha) becomes RGBA: grey replicated, alpha kept.
//
// Ownership: an Image owns a copy of its pixels; decoders and from_pixels never keep a pointer to
// the caller's buffer. Thread safety: an Image is a value; const access from any number of threads.
// Errors: every factory throws ophtha::Error before any pixel-sized allocation when the source is
// empty, truncated, corrupt, of an unsupported format, or announces more pixels than
// ImageLimits::max_pixels; the message names the source (file path or the caller's name) and what
// was expected. See docs/vision.md for the formats.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "ophtha/export.h"
#include "ophtha/modality.hpp"

namespace ophtha {

struct ImageLimits {
  // Largest width × height accepted, checked against the header before decoding (a lying header
  // cannot make the decoder allocate more than this many pixels).
  int64_t max_pixels = 100'000'000;
};

class OPHTHA_API Image {
 public:
  // Decodes a PNG (8/16-bit grey, grey+alpha, RGB, RGBA; palette), JPEG (baseline, progressive),
  // BMP or TGA file. The bit depth is 16 only for 16-bit PNGs. Throws Error(Io) when the file
  // cannot be read, Error(InvalidFormat) when it is empty, truncated or corrupt,
  // Error(Unsupported) for another format, Error(InvalidArgument) when it exceeds `limits`.
  static Image decode_file(const std::string& path, Modality modality, Eye eye, const ImageLimits& limits = {});

  // As decode_file, from `size` bytes at `bytes` (not kept). `source_name` names the buffer in
  // error messages.
  static Image decode_memory(const void* bytes, size_t size, Modality modality, Eye eye,
                             const ImageLimits& limits = {}, const std::string& source_name = "<memory>");

  // Copies a raw pixel buffer (a vendor frame, a numpy array): `height` rows of `width` pixels,
  // rows `row_stride` bytes apart (>= width * channels * bit_depth / 8), samples interleaved,
  // 16-bit samples in native byte order. channels 1, 3 or 4; bit_depth 8 or 16.
  // Throws Error(InvalidArgument) naming the field for a null buffer, zero or negative sizes, a
  // stride too small, an unsupported channel count or bit depth, or more pixels than `limits`.
  static Image from_pixels(const void* pixels, int width, int height, size_t row_stride, int channels,
                           int bit_depth, Modality modality, Eye eye, const ImageLimits& limits = {});

  int width() const { return width_; }
  int height() const { return height_; }
  int channels() const { return channels_; }
  int bit_depth() const { return bit_depth_; }
  Modality modality() const { return modality_; }
  Eye eye() const { return eye_; }
  // Relabels the image (e.g. once a model has recognised its modality); the pixels are unchanged.
  void set_modality(Modality modality) { modality_ = modality; }
  void set_eye(Eye eye) { eye_ = eye; }

  // Samples of an 8-bit image (nullptr for a 16-bit one): height * width * channels values.
  const uint8_t* pixels8() const { return bit_depth_ == 8 ? samples8_.data() : nullptr; }
  // Samples of a 16-bit image (nullptr for an 8-bit one).
  const uint16_t* pixels16() const { return bit_depth_ == 16 ? samples16_.data() : nullptr; }
  // One sample, whatever the bit depth (no bounds check).
  uint32_t sample(int x, int y, int c) const {
    const size_t i = (static_cast<size_t>(y) * width_ + x) * channels_ + c;
    return bit_depth_ == 8 ? samples8_[i] : samples16_[i];
  }
  // The largest sample value: 255 or 65535.
  uint32_t max_value() const { return bit_depth_ == 8 ? 255u : 65535u; }

 private:
  Image() = default;

  int width_ = 0, height_ = 0, channels_ = 0, bit_depth_ = 8;
  Modality modality_ = Modality::Cfp;
  Eye eye_ = Eye::OD;
  std::vector<uint8_t> samples8_;
  std::vector<uint16_t> samples16_;
};

}  // namespace ophtha
