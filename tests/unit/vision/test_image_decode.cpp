// Decoding PNG (8/16-bit, every colour type), JPEG (baseline, progressive), BMP and TGA from files
// and memory, raw pixel buffers, and the errors for broken, unsupported and oversized input.
// Images are written by the test (stb_image_write, a minimal PNG encoder for 16 bits, PIL for
// progressive JPEG) from pixels it knows.
#include <doctest/doctest.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "ophtha/error.hpp"
#include "support/expect_error.hpp"
#include "ophtha/image.hpp"
#include "ophtha/npy.hpp"

#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include "stb_image_write.h"

using namespace ophtha;
namespace fs = std::filesystem;

namespace {

const fs::path kWork = fs::path(OPHTHA_TEST_WORK_DIR) / "vision-image-decode";

std::vector<uint8_t> random_bytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> out(n);
  for (auto& b : out) b = static_cast<uint8_t>(rng());
  return out;
}

// A smooth colour pattern (JPEG keeps it nearly exact): channel c of pixel (x, y).
std::vector<uint8_t> smooth_pixels(int w, int h, int channels) {
  std::vector<uint8_t> out(static_cast<size_t>(w) * h * channels);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < channels; ++c)
        out[(static_cast<size_t>(y) * w + x) * channels + c] =
            static_cast<uint8_t>(40 + (x * 150) / w + (y * 50) / h + c * 10);
  return out;
}

void append(void* context, void* data, int size) {
  auto* out = static_cast<std::vector<uint8_t>*>(context);
  out->insert(out->end(), static_cast<uint8_t*>(data), static_cast<uint8_t*>(data) + size);
}

enum class Format { Png, Jpeg, Bmp, Tga };
std::vector<uint8_t> encode(Format format, int w, int h, int channels, const std::vector<uint8_t>& pixels) {
  std::vector<uint8_t> out;
  int ok = 0;
  switch (format) {
    case Format::Png: ok = stbi_write_png_to_func(append, &out, w, h, channels, pixels.data(), w * channels); break;
    case Format::Jpeg: ok = stbi_write_jpg_to_func(append, &out, w, h, channels, pixels.data(), 95); break;
    case Format::Bmp: ok = stbi_write_bmp_to_func(append, &out, w, h, channels, pixels.data()); break;
    case Format::Tga: ok = stbi_write_tga_to_func(append, &out, w, h, channels, pixels.data()); break;
  }
  REQUIRE_MESSAGE(ok, "stb_image_write failed to encode the test image");
  return out;
}

uint32_t crc32(const uint8_t* data, size_t n, uint32_t crc = 0) {
  crc = ~crc;
  for (size_t i = 0; i < n; ++i) {
    crc ^= data[i];
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

void put_be32(std::vector<uint8_t>& out, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<uint8_t>(v >> s));
}

void png_chunk(std::vector<uint8_t>& out, const char* type, const std::vector<uint8_t>& data) {
  put_be32(out, static_cast<uint32_t>(data.size()));
  std::vector<uint8_t> body(type, type + 4);
  body.insert(body.end(), data.begin(), data.end());
  out.insert(out.end(), body.begin(), body.end());
  put_be32(out, crc32(body.data(), body.size()));
}

// A PNG with the given IHDR and samples (bit depth 8 or 16), zlib "stored" blocks, no filtering.
std::vector<uint8_t> png(uint32_t w, uint32_t h, int bit_depth, int colour_type, int channels,
                         const std::vector<uint16_t>& samples) {
  std::vector<uint8_t> out = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  std::vector<uint8_t> ihdr;
  put_be32(ihdr, w);
  put_be32(ihdr, h);
  ihdr.insert(ihdr.end(), {static_cast<uint8_t>(bit_depth), static_cast<uint8_t>(colour_type), 0, 0, 0});
  png_chunk(out, "IHDR", ihdr);
  std::vector<uint8_t> raw;
  const size_t row_samples = static_cast<size_t>(w) * channels;
  for (size_t y = 0; y < h && !samples.empty(); ++y) {
    raw.push_back(0);
    for (size_t i = 0; i < row_samples; ++i) {
      const uint16_t v = samples[y * row_samples + i];
      if (bit_depth == 16) raw.push_back(static_cast<uint8_t>(v >> 8));
      raw.push_back(static_cast<uint8_t>(v));
    }
  }
  std::vector<uint8_t> zlib = {0x78, 0x01};
  size_t at = 0;
  do {
    const size_t n = std::min<size_t>(65535, raw.size() - at);
    zlib.push_back(at + n == raw.size() ? 1 : 0);
    zlib.insert(zlib.end(), {static_cast<uint8_t>(n), static_cast<uint8_t>(n >> 8), static_cast<uint8_t>(~n),
                             static_cast<uint8_t>(~n >> 8)});
    zlib.insert(zlib.end(), raw.begin() + at, raw.begin() + at + n);
    at += n;
  } while (at < raw.size());
  uint32_t a = 1, b = 0;
  for (uint8_t byte : raw) a = (a + byte) % 65521, b = (b + a) % 65521;
  put_be32(zlib, (b << 16) | a);
  png_chunk(out, "IDAT", zlib);
  png_chunk(out, "IEND", {});
  return out;
}

Image decode(const std::vector<uint8_t>& bytes, const ImageLimits& limits = {}) {
  return Image::decode_memory(bytes.data(), bytes.size(), Modality::Cfp, Eye::OD, limits, "test image");
}


void check_samples(const Image& image, int w, int h, int channels, int bit_depth,
                   const std::function<uint32_t(int x, int y, int c)>& expected) {
  REQUIRE(image.width() == w);
  REQUIRE(image.height() == h);
  REQUIRE(image.channels() == channels);
  REQUIRE(image.bit_depth() == bit_depth);
  int mismatches = 0;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < channels; ++c)
        if (image.sample(x, y, c) != expected(x, y, c) && ++mismatches <= 3)
          FAIL_CHECK("sample (" << x << ", " << y << ", " << c << ") is " << image.sample(x, y, c) << ", expected "
                                << expected(x, y, c));
  CHECK(mismatches == 0);
}

}  // namespace

TEST_CASE("8-bit PNG of every colour type decodes to the exact pixels; grey+alpha becomes RGBA") {
  const int w = 37, h = 19;
  for (int channels = 1; channels <= 4; ++channels) {
    CAPTURE(channels);
    const auto pixels = random_bytes(static_cast<size_t>(w) * h * channels, 10 + channels);
    const Image image = decode(encode(Format::Png, w, h, channels, pixels));
    const int expected_channels = channels == 2 ? 4 : channels;
    check_samples(image, w, h, expected_channels, 8, [&](int x, int y, int c) -> uint32_t {
      const size_t at = (static_cast<size_t>(y) * w + x) * channels;
      if (channels == 2) return pixels[at + (c == 3 ? 1 : 0)];
      return pixels[at + c];
    });
    CHECK(image.pixels8() != nullptr);
    CHECK(image.pixels16() == nullptr);
  }
}

TEST_CASE("16-bit PNG of every colour type decodes to the exact 16-bit samples") {
  const int w = 23, h = 11;
  const int colour_types[4] = {0, 4, 2, 6};  // grey, grey+alpha, RGB, RGBA
  for (int channels = 1; channels <= 4; ++channels) {
    CAPTURE(channels);
    std::mt19937 rng(100 + channels);
    std::vector<uint16_t> samples(static_cast<size_t>(w) * h * channels);
    for (auto& s : samples) s = static_cast<uint16_t>(rng());
    const Image image = decode(png(w, h, 16, colour_types[channels - 1], channels, samples));
    check_samples(image, w, h, channels == 2 ? 4 : channels, 16, [&](int x, int y, int c) -> uint32_t {
      const size_t at = (static_cast<size_t>(y) * w + x) * channels;
      return channels == 2 ? samples[at + (c == 3 ? 1 : 0)] : samples[at + c];
    });
    CHECK(image.max_value() == 65535);
  }
}

TEST_CASE("BMP and TGA decode to the exact pixels") {
  const int w = 31, h = 17;
  const auto rgb = random_bytes(static_cast<size_t>(w) * h * 3, 7);
  check_samples(decode(encode(Format::Bmp, w, h, 3, rgb)), w, h, 3, 8,
                [&](int x, int y, int c) -> uint32_t { return rgb[(static_cast<size_t>(y) * w + x) * 3 + c]; });
  check_samples(decode(encode(Format::Tga, w, h, 3, rgb)), w, h, 3, 8,
                [&](int x, int y, int c) -> uint32_t { return rgb[(static_cast<size_t>(y) * w + x) * 3 + c]; });
  const auto grey = random_bytes(static_cast<size_t>(w) * h, 8);
  check_samples(decode(encode(Format::Tga, w, h, 1, grey)), w, h, 1, 8,
                [&](int x, int y, int) -> uint32_t { return grey[static_cast<size_t>(y) * w + x]; });
}

TEST_CASE("baseline JPEG decodes close to the encoded pixels") {
  const int w = 64, h = 48;
  const auto pixels = smooth_pixels(w, h, 3);
  const Image image = decode(encode(Format::Jpeg, w, h, 3, pixels));
  REQUIRE(image.width() == w);
  REQUIRE(image.height() == h);
  REQUIRE(image.channels() == 3);
  double total = 0;
  for (size_t i = 0; i < pixels.size(); ++i)
    total += std::abs(static_cast<int>(image.pixels8()[i]) - static_cast<int>(pixels[i]));
  CHECK_MESSAGE(total / pixels.size() < 3.0, "mean absolute error " << total / pixels.size() << ", expected < 3");
}

TEST_CASE("progressive JPEG written by PIL decodes like PIL decodes it") {
  fs::create_directories(kWork);
  const fs::path jpeg = kWork / "progressive.jpg", reference = kWork / "progressive_pil.npy";
  const std::string script =
      "import numpy as np; from PIL import Image\n"
      "y, x = np.mgrid[0:45, 0:70]\n"
      "a = np.stack([40 + x * 2, 60 + y * 3, 200 - x - y], -1).astype(np.uint8)\n"
      "Image.fromarray(a).save(r'" + jpeg.string() + "', 'JPEG', quality=90, progressive=True)\n"
      "np.save(r'" + reference.string() + "', np.asarray(Image.open(r'" + jpeg.string() + "').convert('RGB')))\n";
  std::ofstream(kWork / "write_progressive.py") << script;
  REQUIRE(std::system(("/usr/bin/python3 " + (kWork / "write_progressive.py").string()).c_str()) == 0);

  std::ifstream in(jpeg, std::ios::binary);
  const std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  bool progressive = false;  // SOF2 marker
  for (size_t i = 0; i + 1 < bytes.size(); ++i) progressive |= bytes[i] == 0xFF && bytes[i + 1] == 0xC2;
  REQUIRE_MESSAGE(progressive, "PIL did not write a progressive JPEG (no SOF2 marker)");

  const Image image = Image::decode_file(jpeg.string(), Modality::Oct, Eye::OS);
  const NpyArray pil = read_npy(reference.string());
  REQUIRE(pil.shape == std::vector<int64_t>{45, 70, 3});
  REQUIRE(image.width() == 70);
  REQUIRE(image.height() == 45);
  REQUIRE(image.channels() == 3);
  int worst = 0;
  double total = 0;
  for (size_t i = 0; i < pil.u8.size(); ++i) {
    const int d = std::abs(static_cast<int>(image.pixels8()[i]) - pil.u8[i]);
    worst = std::max(worst, d);
    total += d;
  }
  CHECK_MESSAGE(total / pil.u8.size() < 1.0, "mean difference to PIL " << total / pil.u8.size() << ", expected < 1");
  CHECK_MESSAGE(worst <= 8, "largest difference to PIL " << worst << ", expected <= 8");
}

TEST_CASE("decode_file reads the same pixels as decode_memory and keeps modality and eye") {
  fs::create_directories(kWork);
  const auto pixels = random_bytes(20 * 10 * 3, 3);
  const auto bytes = encode(Format::Png, 20, 10, 3, pixels);
  const fs::path path = kWork / "rgb.png";
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  const Image image = Image::decode_file(path.string(), Modality::Osa, Eye::OS);
  CHECK(image.modality() == Modality::Osa);
  CHECK(image.eye() == Eye::OS);
  REQUIRE(image.width() == 20);
  CHECK(std::memcmp(image.pixels8(), pixels.data(), pixels.size()) == 0);
  test::expect_error([&] { Image::decode_file((kWork / "missing.png").string(), Modality::Cfp, Eye::OD); }, ErrorCode::Io,
              "missing.png");
}

TEST_CASE("broken, unsupported and oversized images give a clear error") {
  const auto pixels = random_bytes(40 * 30 * 3, 5);
  const auto png_bytes = encode(Format::Png, 40, 30, 3, pixels);
  test::expect_error([&] { decode({}); }, ErrorCode::InvalidFormat, "empty");
  test::expect_error([&] { decode({png_bytes.begin(), png_bytes.begin() + 20}); }, ErrorCode::InvalidFormat,
              "test image: invalid PNG header");
  test::expect_error([&] { decode({png_bytes.begin(), png_bytes.end() - 40}); }, ErrorCode::InvalidFormat,
              "truncated or corrupt PNG data");
  test::expect_error([&] { decode({'G', 'I', 'F', '8', '9', 'a', 1, 0, 1, 0, 0, 0, 0}); }, ErrorCode::Unsupported, "GIF");
  test::expect_error([&] { decode({'h', 'e', 'l', 'l', 'o', ' ', 'w', 'o', 'r', 'l', 'd'}); }, ErrorCode::Unsupported,
              "not a PNG, JPEG, BMP or TGA image");
  test::expect_error([&] { decode(png(0, 5, 8, 0, 1, {})); }, ErrorCode::InvalidFormat, "PNG");
  // 15000 × 15000 announced, no pixel data: rejected from the header, before any allocation.
  test::expect_error([&] { decode(png(15000, 15000, 8, 0, 1, {})); }, ErrorCode::InvalidArgument,
              "15000x15000 = 225000000 pixels, more than the limit of 100000000");
  // stb's own ceiling (2^30 bytes per image) is reported as a header error.
  test::expect_error([&] { decode(png(50000, 50000, 8, 2, 3, {})); }, ErrorCode::InvalidFormat, "invalid PNG header");
  test::expect_error([&] { decode(png_bytes, ImageLimits{1199}); }, ErrorCode::InvalidArgument, "limit of 1199");
  CHECK(decode(png_bytes, ImageLimits{1200}).width() == 40);
}

TEST_CASE("raw pixel buffers are copied row by row with their stride") {
  const int w = 5, h = 3, channels = 3;
  const size_t stride = w * channels + 7;  // padded rows
  auto buffer = random_bytes(stride * h, 9);
  const Image image = Image::from_pixels(buffer.data(), w, h, stride, channels, 8, Modality::Cfp, Eye::OS);
  check_samples(image, w, h, channels, 8,
                [&](int x, int y, int c) -> uint32_t { return buffer[y * stride + x * channels + c]; });
  buffer.assign(buffer.size(), 0);  // the image owns a copy
  const bool kept = image.sample(1, 1, 1) != 0 || image.sample(2, 2, 2) != 0;
  CHECK(kept);

  std::vector<uint16_t> grey16(4 * 2 + 2 * 2);  // 4 x 2, stride 6 samples = 12 bytes
  for (size_t i = 0; i < grey16.size(); ++i) grey16[i] = static_cast<uint16_t>(1000 * i + 7);
  const Image deep = Image::from_pixels(grey16.data(), 4, 2, 12, 1, 16, Modality::Oct, Eye::OD);
  check_samples(deep, 4, 2, 1, 16, [&](int x, int y, int) -> uint32_t { return grey16[y * 6 + x]; });
}

TEST_CASE("raw pixel buffers with impossible descriptions are rejected naming the field") {
  const std::vector<uint8_t> buffer(1000, 1);
  auto make = [&](const void* data, int w, int h, size_t stride, int channels, int bits, int64_t max_pixels) {
    Image::from_pixels(data, w, h, stride, channels, bits, Modality::Cfp, Eye::OD, ImageLimits{max_pixels});
  };
  test::expect_error([&] { make(buffer.data(), 0, 4, 12, 3, 8, 100); }, ErrorCode::InvalidArgument, "width and height");
  test::expect_error([&] { make(buffer.data(), 4, -1, 12, 3, 8, 100); }, ErrorCode::InvalidArgument, "width and height");
  test::expect_error([&] { make(buffer.data(), 4, 4, 12, 2, 8, 100); }, ErrorCode::InvalidArgument, "channels");
  test::expect_error([&] { make(buffer.data(), 4, 4, 12, 3, 12, 100); }, ErrorCode::InvalidArgument, "bit_depth");
  test::expect_error([&] { make(buffer.data(), 4, 4, 23, 3, 16, 100); }, ErrorCode::InvalidArgument, "row_stride 23");
  test::expect_error([&] { make(nullptr, 4, 4, 12, 3, 8, 100); }, ErrorCode::InvalidArgument, "null");
  test::expect_error([&] { make(buffer.data(), 11, 10, 33, 3, 8, 100); }, ErrorCode::InvalidArgument, "limit of 100");
}

TEST_CASE("modality and eye names parse in either case and reject anything else") {
  CHECK(parse_modality("CFP") == Modality::Cfp);
  CHECK(parse_modality("oct") == Modality::Oct);
  CHECK(parse_modality("Osa") == Modality::Osa);
  CHECK(std::string(modality_name(Modality::Osa)) == "osa");
  CHECK(parse_eye("od") == Eye::OD);
  CHECK(parse_eye("OS") == Eye::OS);
  test::expect_error([] { parse_modality("ffa"); }, ErrorCode::InvalidArgument, "expected cfp, oct or osa");
  test::expect_error([] { parse_eye("OU"); }, ErrorCode::InvalidArgument, "expected OD or OS");
}
