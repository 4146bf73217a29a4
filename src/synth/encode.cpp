// JPEG and PNG encoding of rendered images with stb_image_write (its own private copy: the
// STATIC build keeps every stb symbol inside this file); PNG's deflate is zlib's.
#include <cstdlib>

#include "ophtha/error.hpp"
#include "ophtha/synth.hpp"

#include <zlib.h>

namespace {

// stb's own deflate never goes below its level 5 and costs ~30 ms on a speckled 1280 × 640
// image; zlib's level kPngZlibLevel takes a fifth of that. Returns a malloc'ed buffer, as stb
// expects, or nullptr.
unsigned char* zlib_deflate(const unsigned char* data, int length, int* out_length) {
  uLongf capacity = compressBound(static_cast<uLong>(length));
  auto* out = static_cast<unsigned char*>(std::malloc(capacity));
  if (out && compress2(out, &capacity, data, static_cast<uLong>(length), ophtha::kPngZlibLevel) == Z_OK) {
    *out_length = static_cast<int>(capacity);
    return out;
  }
  std::free(out);
  return nullptr;
}

}  // namespace

#define STBIW_ZLIB_COMPRESS(data, length, out_length, quality) ((void)(quality), zlib_deflate(data, length, out_length))
#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb_image_write.h>

namespace ophtha {

namespace {

void append(void* context, void* data, int size) {
  auto* bytes = static_cast<std::vector<uint8_t>*>(context);
  bytes->insert(bytes->end(), static_cast<uint8_t*>(data), static_cast<uint8_t*>(data) + size);
}

void check_8bit(const Image& image, const char* what) {
  if (image.bit_depth() != 8 || !image.pixels8())
    fail(ErrorCode::InvalidArgument, "{}: the image is {}-bit, expected 8-bit samples", what, image.bit_depth());
}

}  // namespace

std::vector<uint8_t> encode_jpeg(const Image& image, int quality) {
  check_8bit(image, "encode_jpeg");
  if (quality < 1 || quality > 100)
    fail(ErrorCode::InvalidArgument, "encode_jpeg: quality {} is outside 1..100", quality);
  if (image.channels() != 1 && image.channels() != 3)
    fail(ErrorCode::InvalidArgument, "encode_jpeg: {} channels, expected 1 (grey) or 3 (RGB)", image.channels());
  std::vector<uint8_t> out;
  out.reserve(static_cast<size_t>(image.width()) * image.height() / 4);
  if (!stbi_write_jpg_to_func(append, &out, image.width(), image.height(), image.channels(), image.pixels8(),
                              quality))
    fail(ErrorCode::Internal, "encode_jpeg: stb_image_write failed on a {}x{} image", image.width(), image.height());
  return out;
}

std::vector<uint8_t> encode_png(const Image& image) {
  check_8bit(image, "encode_png");
  std::vector<uint8_t> out;
  if (!stbi_write_png_to_func(append, &out, image.width(), image.height(), image.channels(), image.pixels8(),
                              image.width() * image.channels()))
    fail(ErrorCode::Internal, "encode_png: stb_image_write failed on a {}x{} image", image.width(), image.height());
  return out;
}

}  // namespace ophtha
