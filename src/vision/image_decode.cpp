// Decoding PNG / JPEG / BMP / TGA with stb_image (the only translation unit with its
// implementation; STB_IMAGE_STATIC keeps every stbi_ symbol local to this file).
#include <climits>
#include <cstring>

#include "ophtha/error.hpp"
#include "ophtha/image.hpp"
#include "ophtha/mapped_file.hpp"

#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_PNG
#define STBI_ONLY_JPEG
#define STBI_ONLY_BMP
#define STBI_ONLY_TGA
#define STBI_NO_STDIO
#define STBI_FAILURE_USERMSG
#include "stb_image.h"

namespace ophtha {
namespace {

bool starts_with(const uint8_t* bytes, size_t size, const char* magic, size_t n, size_t at = 0) {
  return size >= at + n && std::memcmp(bytes + at, magic, n) == 0;
}

// The container a byte string claims to be, by its magic number; "" when there is none
// (TGA has no magic number and is recognised by stb's header checks alone).
const char* sniff_format(const uint8_t* bytes, size_t size) {
  if (starts_with(bytes, size, "\x89PNG\r\n\x1a\n", 8)) return "PNG";
  if (starts_with(bytes, size, "\xff\xd8\xff", 3)) return "JPEG";
  if (starts_with(bytes, size, "BM", 2)) return "BMP";
  return "";
}

// Formats people are likely to hand over that stb could not read here; named in the error.
const char* sniff_unsupported_format(const uint8_t* bytes, size_t size) {
  if (starts_with(bytes, size, "GIF8", 4)) return "GIF";
  if (starts_with(bytes, size, "II*\0", 4) || starts_with(bytes, size, "MM\0*", 4)) return "TIFF";
  if (starts_with(bytes, size, "DICM", 4, 128)) return "DICOM";
  if (starts_with(bytes, size, "\0\0\0\x0cjP  ", 8) || starts_with(bytes, size, "\xff\x4f\xff\x51", 4))
    return "JPEG 2000";
  if (starts_with(bytes, size, "RIFF", 4) && starts_with(bytes, size, "WEBP", 4, 8)) return "WebP";
  if (starts_with(bytes, size, "8BPS", 4)) return "PSD";
  if (starts_with(bytes, size, "#?RADIANCE", 10)) return "HDR";
  if (size >= 2 && bytes[0] == 'P' && bytes[1] >= '1' && bytes[1] <= '7') return "PNM";
  return nullptr;
}

const char* stb_reason() {
  const char* reason = stbi_failure_reason();
  return reason ? reason : "unknown reason";
}

// stb frees its result with free(); this owns it until the samples are copied out.
struct StbPixels {
  void* data = nullptr;
  ~StbPixels() { stbi_image_free(data); }
};

}  // namespace

Image Image::decode_memory(const void* bytes_in, size_t size, Modality modality, Eye eye,
                           const ImageLimits& limits, const std::string& source_name) {
  const auto* bytes = static_cast<const uint8_t*>(bytes_in);
  if (size == 0 || bytes == nullptr) fail(ErrorCode::InvalidFormat, "{}: empty image (0 bytes)", source_name);
  if (size > static_cast<size_t>(INT_MAX))
    fail(ErrorCode::InvalidArgument, "{}: {} bytes, the decoder reads at most {} bytes", source_name, size, INT_MAX);
  if (limits.max_pixels <= 0)
    fail(ErrorCode::InvalidArgument, "{}: ImageLimits::max_pixels must be positive, got {}", source_name,
         limits.max_pixels);
  if (const char* other = sniff_unsupported_format(bytes, size))
    fail(ErrorCode::Unsupported, "{}: {} images are not supported (expected PNG, JPEG, BMP or TGA)", source_name,
         other);

  const int length = static_cast<int>(size);
  const char* format = sniff_format(bytes, size);
  int width = 0, height = 0, file_channels = 0;
  if (!stbi_info_from_memory(bytes, length, &width, &height, &file_channels)) {
    if (*format)
      fail(ErrorCode::InvalidFormat, "{}: invalid {} header (truncated, corrupt or too large): {}", source_name, format, stb_reason());
    fail(ErrorCode::Unsupported, "{}: not a PNG, JPEG, BMP or TGA image ({})", source_name, stb_reason());
  }
  if (*format == '\0') format = "TGA";
  if (width <= 0 || height <= 0)
    fail(ErrorCode::InvalidFormat, "{}: {} header announces a {}x{} image, expected positive sizes", source_name,
         format, width, height);
  if (static_cast<int64_t>(width) * height > limits.max_pixels)
    fail(ErrorCode::InvalidArgument, "{}: {} header announces {}x{} = {} pixels, more than the limit of {}",
         source_name, format, width, height, static_cast<int64_t>(width) * height, limits.max_pixels);
  if (file_channels < 1 || file_channels > 4)
    fail(ErrorCode::InvalidFormat, "{}: {} header announces {} channels, expected 1 to 4", source_name, format,
         file_channels);

  // Grey + alpha becomes RGBA: Image holds 1, 3 or 4 channels.
  const int channels = file_channels == 2 ? 4 : file_channels;
  const bool sixteen = stbi_is_16_bit_from_memory(bytes, length) != 0;
  StbPixels decoded;
  int w = 0, h = 0, c = 0;
  decoded.data = sixteen ? static_cast<void*>(stbi_load_16_from_memory(bytes, length, &w, &h, &c, channels))
                         : static_cast<void*>(stbi_load_from_memory(bytes, length, &w, &h, &c, channels));
  if (!decoded.data)
    fail(ErrorCode::InvalidFormat, "{}: truncated or corrupt {} data: {}", source_name, format, stb_reason());
  if (w != width || h != height)
    fail(ErrorCode::InvalidFormat, "{}: {} decoded to {}x{}, its header announced {}x{}", source_name, format, w, h,
         width, height);

  Image image;
  image.width_ = width;
  image.height_ = height;
  image.channels_ = channels;
  image.bit_depth_ = sixteen ? 16 : 8;
  image.modality_ = modality;
  image.eye_ = eye;
  const size_t count = static_cast<size_t>(width) * height * channels;
  if (sixteen) {
    const auto* samples = static_cast<const uint16_t*>(decoded.data);
    image.samples16_.assign(samples, samples + count);
  } else {
    const auto* samples = static_cast<const uint8_t*>(decoded.data);
    image.samples8_.assign(samples, samples + count);
  }
  return image;
}

Image Image::decode_file(const std::string& path, Modality modality, Eye eye, const ImageLimits& limits) {
  const auto file = MappedFile::open(path);
  return decode_memory(file->data(), file->size(), modality, eye, limits, path);
}

}  // namespace ophtha
