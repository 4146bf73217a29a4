// Hostile images: every prefix (sampled) and seeded random byte flips of valid PNG, JPEG, BMP and
// TGA files. Each must decode or throw ophtha::Error — never crash, hang or throw anything else —
// and a decoded image must stay within the limit it was given.
#include <doctest/doctest.h>

#include <random>
#include <string>
#include <vector>

#include "ophtha/error.hpp"
#include "ophtha/image.hpp"

#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include "stb_image_write.h"

using namespace ophtha;

namespace {

void append(void* context, void* data, int size) {
  auto* out = static_cast<std::vector<uint8_t>*>(context);
  out->insert(out->end(), static_cast<uint8_t*>(data), static_cast<uint8_t*>(data) + size);
}

struct Sample {
  const char* name;
  std::vector<uint8_t> bytes;
};

std::vector<Sample> valid_files() {
  const int w = 48, h = 40;
  std::vector<uint8_t> rgba(static_cast<size_t>(w) * h * 4);
  std::mt19937 rng(1);
  for (size_t i = 0; i < rgba.size(); ++i) rgba[i] = static_cast<uint8_t>((i * 7) % 251 + rng() % 5);
  std::vector<Sample> files = {{"PNG", {}}, {"PNG grey+alpha", {}}, {"JPEG", {}}, {"BMP", {}}, {"TGA", {}}};
  REQUIRE(stbi_write_png_to_func(append, &files[0].bytes, w, h, 4, rgba.data(), w * 4));
  REQUIRE(stbi_write_png_to_func(append, &files[1].bytes, w, h, 2, rgba.data(), w * 2));
  REQUIRE(stbi_write_jpg_to_func(append, &files[2].bytes, w, h, 3, rgba.data(), 80));
  REQUIRE(stbi_write_bmp_to_func(append, &files[3].bytes, w, h, 3, rgba.data()));
  REQUIRE(stbi_write_tga_to_func(append, &files[4].bytes, w, h, 4, rgba.data()));
  return files;
}

// Decodes `bytes`; returns true when it decoded, false when it threw ophtha::Error.
bool survives(const std::vector<uint8_t>& bytes, const ImageLimits& limits) {
  try {
    const Image image = Image::decode_memory(bytes.data(), bytes.size(), Modality::Cfp, Eye::OD, limits, "fuzz");
    const bool within = image.width() > 0 && image.height() > 0 &&
                        static_cast<int64_t>(image.width()) * image.height() <= limits.max_pixels;
    CHECK_MESSAGE(within, "decoded " << image.width() << "x" << image.height() << " beyond the limit");
    return true;
  } catch (const Error&) {
    return false;
  }
}

}  // namespace

TEST_CASE("every truncation of a valid image decodes or throws ophtha::Error") {
  const ImageLimits limits{1 << 20};
  for (const Sample& file : valid_files()) {
    const std::string name = file.name;
    CAPTURE(name);
    REQUIRE(survives(file.bytes, limits));
    int rejected = 0;
    const size_t step = std::max<size_t>(1, file.bytes.size() / 400);
    for (size_t n = 0; n < file.bytes.size(); n += step)
      rejected += !survives(std::vector<uint8_t>(file.bytes.begin(), file.bytes.begin() + n), limits);
    // The empty prefix and the header-only prefixes must be rejected.
    CHECK_MESSAGE(rejected >= 1, name << ": no truncation was rejected");
  }
}

TEST_CASE("random byte flips of valid images decode or throw ophtha::Error") {
  const ImageLimits limits{1 << 20};
  std::mt19937 rng(20240611);
  for (const Sample& file : valid_files()) {
    const std::string name = file.name;
    CAPTURE(name);
    int rejected = 0;
    for (int round = 0; round < 1500; ++round) {
      std::vector<uint8_t> bytes = file.bytes;
      const int flips = 1 + static_cast<int>(rng() % 8);
      // Half of the rounds hit the first 64 bytes, where the headers are.
      for (int k = 0; k < flips; ++k) {
        const size_t span = (round % 2 == 0) ? std::min<size_t>(64, bytes.size()) : bytes.size();
        bytes[rng() % span] ^= static_cast<uint8_t>(1 + rng() % 255);
      }
      if (round % 10 == 0) bytes.resize(rng() % bytes.size());
      rejected += !survives(bytes, limits);
    }
    MESSAGE(std::string(file.name) << ": " << rejected << " of 1500 mutations rejected");
  }
}
