// The PNG and JPEG files the synthesiser writes decode to the same sizes and pixels with Pillow
// (Debian's /usr/bin/python3) as with our decoder (image.hpp): PNG exactly, and equal to what was
// rendered; JPEG within the rounding two decoders may differ by, and close to the rendering.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "ophtha/error.hpp"
#include "ophtha/synth.hpp"

using namespace ophtha;

namespace {

const std::string kDir = std::string(OPHTHA_TEST_WORK_DIR) + "/synth-encode";

void save(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

// Pillow's decoding of `path`: writes "<width> <height> <channels>" and the raw samples
// (row-major, channels interleaved) next to it, and reads them back.
struct Decoded {
  int width = 0, height = 0, channels = 0;
  std::vector<uint8_t> samples;
};

Decoded decode_with_pillow(const std::string& path) {
  const std::string raw = path + ".pillow";
  const std::string command = "/usr/bin/python3 -c \"import sys; from PIL import Image; im = Image.open(sys.argv[1]); "
                              "im.load(); b = im.tobytes(); open(sys.argv[2] + '.txt', 'w').write('%d %d %d' % "
                              "(im.width, im.height, len(im.getbands()))); open(sys.argv[2], 'wb').write(b)\" '" +
                              path + "' '" + raw + "'";
  REQUIRE_MESSAGE(std::system(command.c_str()) == 0, "Pillow failed: " << command);
  Decoded d;
  std::ifstream(raw + ".txt") >> d.width >> d.height >> d.channels;
  std::ifstream in(raw, std::ios::binary);
  d.samples.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return d;
}

struct Difference {
  double mean = 0;
  int max = 0;
};

Difference difference(const uint8_t* a, const uint8_t* b, size_t n) {
  Difference d;
  double sum = 0;
  for (size_t i = 0; i < n; ++i) {
    const int diff = std::abs(int{a[i]} - int{b[i]});
    sum += diff;
    d.max = std::max(d.max, diff);
  }
  d.mean = sum / static_cast<double>(n);
  return d;
}

EyeLabels eye_with(std::vector<Finding> findings) {
  EyeLabels labels;
  labels.findings = std::move(findings);
  labels.vertical_cdr = 0.4;
  return labels;
}

}  // namespace

TEST_CASE("PNG files decode identically with Pillow and with our decoder, equal to the rendering") {
  std::filesystem::create_directories(kDir);
  Random oct_random(1), osa_random(2);
  const Image rendered[] = {render_oct(eye_with({Finding::OctDrusen}), Eye::OD, oct_random),
                            render_osa(eye_with({}), Eye::OS, osa_random)};
  for (const Image& image : rendered) {
    const std::string path = kDir + "/" + modality_name(image.modality()) + ".png";
    save(path, encode_png(image));
    const Image ours = Image::decode_file(path, image.modality(), image.eye());
    const Decoded pillow = decode_with_pillow(path);
    const size_t n = static_cast<size_t>(image.width()) * image.height() * image.channels();
    REQUIRE(ours.width() == image.width());
    REQUIRE(ours.height() == image.height());
    REQUIRE(ours.channels() == 1);
    REQUIRE(pillow.width == image.width());
    REQUIRE(pillow.height == image.height());
    REQUIRE(pillow.channels == 1);
    REQUIRE(pillow.samples.size() == n);
    CHECK_MESSAGE(difference(ours.pixels8(), image.pixels8(), n).max == 0, path << ": our decoder differs");
    CHECK_MESSAGE(difference(pillow.samples.data(), image.pixels8(), n).max == 0, path << ": Pillow differs");
  }
}

TEST_CASE("JPEG files decode to the same size with Pillow and our decoder, pixels within rounding") {
  std::filesystem::create_directories(kDir);
  Random random(3);
  const Image image = render_cfp(eye_with({Finding::HardExudates, Finding::DotBlotHaemorrhages}), Eye::OD, random);
  const std::string path = kDir + "/cfp.jpg";
  save(path, encode_jpeg(image, 90));
  const Image ours = Image::decode_file(path, Modality::Cfp, Eye::OD);
  const Decoded pillow = decode_with_pillow(path);
  const size_t n = static_cast<size_t>(kCfpSize) * kCfpSize * 3;
  REQUIRE(ours.width() == kCfpSize);
  REQUIRE(ours.height() == kCfpSize);
  REQUIRE(ours.channels() == 3);
  REQUIRE(pillow.width == kCfpSize);
  REQUIRE(pillow.height == kCfpSize);
  REQUIRE(pillow.channels == 3);
  REQUIRE(pillow.samples.size() == n);
  // stb_image and libjpeg upsample chroma differently; they agree to a level or two on average.
  const Difference decoders = difference(ours.pixels8(), pillow.samples.data(), n);
  CHECK_MESSAGE(decoders.mean < 1.0, "decoders differ by " << decoders.mean << " on average (max " << decoders.max << ")");
  const Difference lossy = difference(ours.pixels8(), image.pixels8(), n);
  CHECK_MESSAGE(lossy.mean < 3.0, "JPEG q90 is " << lossy.mean << " levels from the rendering on average");
}

TEST_CASE("16-bit images and out-of-range JPEG qualities are refused") {
  const std::vector<uint16_t> deep(16, 1000);
  const Image image16 = Image::from_pixels(deep.data(), 4, 4, 8, 1, 16, Modality::Oct, Eye::OD);
  CHECK_THROWS_AS(encode_png(image16), ophtha::Error);
  CHECK_THROWS_AS(encode_jpeg(image16), ophtha::Error);
  const std::vector<uint8_t> grey(16, 7);
  const Image image8 = Image::from_pixels(grey.data(), 4, 4, 4, 1, 8, Modality::Oct, Eye::OD);
  CHECK_THROWS_AS(encode_jpeg(image8, 0), ophtha::Error);
  CHECK_THROWS_AS(encode_jpeg(image8, 101), ophtha::Error);
}
