// Ophtha's resampling and whole preprocessing against torchvision (a reference no one here
// wrote): tests/tools/torchvision_resize_reference.py runs torchvision.transforms.functional
// .resize(antialias=True, bilinear) on the exact pixels the test writes, via /usr/bin/python3.
#include "support/doctest_with_aten.hpp"

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "ophtha/image.hpp"
#include "ophtha/npy.hpp"
#include "ophtha/preprocess.hpp"
#include "vision/preprocess_resample.hpp"

#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include "stb_image_write.h"

using namespace ophtha;
namespace fs = std::filesystem;

namespace {

const fs::path kWork = fs::path(OPHTHA_TEST_WORK_DIR) / "vision-vs-torchvision";
const std::string kReference = std::string(OPHTHA_SOURCE_DIR) + "/tests/tools/torchvision_resize_reference.py";

void run_reference(const std::string& arguments) {
  const std::string command = "/usr/bin/python3 " + kReference + " " + arguments;
  REQUIRE_MESSAGE(std::system(command.c_str()) == 0, "reference failed: " << command);
}

// Largest |a − b| over two equally long arrays, and where.
struct Difference {
  float worst = 0;
  size_t at = 0;
};
Difference compare(const float* a, const float* b, size_t n) {
  Difference d;
  for (size_t i = 0; i < n; ++i)
    if (std::abs(a[i] - b[i]) > d.worst || std::isnan(a[i] - b[i])) d.worst = std::abs(a[i] - b[i]), d.at = i;
  return d;
}

struct ResizeCase {
  int channels, in_h, in_w, out_h, out_w;
};

// A fundus-like photograph: a disc cut at top and bottom, illumination falling across it, an
// optic disc, a darker macula, branching vessels, sensor noise; dark noisy border and a caption.
std::vector<uint8_t> render_fundus(int w, int h, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> noise(0.0, 2.0);
  const double cx = w * 0.5, cy = h * 0.5, r = h * 0.56;
  const double disc_x = cx + r * 0.45, disc_y = cy - r * 0.05, macula_x = cx - r * 0.1, macula_y = cy + r * 0.05;
  std::vector<uint8_t> rgb(static_cast<size_t>(w) * h * 3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      uint8_t* p = rgb.data() + (static_cast<size_t>(y) * w + x) * 3;
      const double dx = x + 0.5 - cx, dy = y + 0.5 - cy;
      if (dx * dx + dy * dy >= r * r) {
        const bool caption = y > h * 0.03 && y < h * 0.07 && x > w * 0.02 && x < w * 0.15 && (x / 3 + y / 4) % 3;
        for (int c = 0; c < 3; ++c) p[c] = caption ? 230 : static_cast<uint8_t>(std::clamp(4 + noise(rng), 0.0, 255.0));
        continue;
      }
      const double illumination = 1.0 - 0.45 * (dx / r + 1) / 2 - 0.25 * (dx * dx + dy * dy) / (r * r);
      double red = 200 * illumination, green = 90 * illumination, blue = 40 * illumination;
      const double od = std::hypot(x - disc_x, y - disc_y) / (r * 0.16);
      if (od < 1) red += 50 * (1 - od), green += 110 * (1 - od), blue += 70 * (1 - od);
      const double mac = std::hypot(x - macula_x, y - macula_y) / (r * 0.2);
      if (mac < 1) red *= 0.8 + 0.2 * mac, green *= 0.75 + 0.25 * mac;
      // Vessels: sinusoidal arcs leaving the optic disc, thinner with distance.
      for (int v = 0; v < 6; ++v) {
        const double angle = std::atan2(y - disc_y, x - disc_x), dist = std::hypot(x - disc_x, y - disc_y);
        const double centre = 2.6 + v * 0.28 + 0.15 * std::sin(dist / (r * 0.2) + v);
        const double width = 0.035 * std::max(0.3, 1 - dist / (1.6 * r));
        if (std::abs(std::remainder(angle - centre, 2 * M_PI)) < width) red *= 0.7, green *= 0.55, blue *= 0.6;
      }
      p[0] = static_cast<uint8_t>(std::clamp(red + noise(rng), 0.0, 255.0));
      p[1] = static_cast<uint8_t>(std::clamp(green + noise(rng), 0.0, 255.0));
      p[2] = static_cast<uint8_t>(std::clamp(blue + noise(rng), 0.0, 255.0));
    }
  return rgb;
}

void write_png(const fs::path& path, int w, int h, int channels, const std::vector<uint8_t>& pixels) {
  REQUIRE(stbi_write_png(path.string().c_str(), w, h, channels, pixels.data(), w * channels));
}

std::string floats(const std::array<float, 3>& v) { return fmt::format("{} {} {}", v[0], v[1], v[2]); }

// Runs Ophtha's preprocess() on the PNG at `path` and the reference on the same square; compares.
void check_pipeline(const fs::path& path, Modality modality, const PreprocessOptions& options) {
  const Image image = Image::decode_file(path.string(), modality, Eye::OD);
  const SquareRegion square = preprocess_region(image, options);
  const at::Tensor ours = preprocess(image, options);
  const fs::path reference = path.string() + ".torchvision.npy";
  run_reference(fmt::format("preprocess {} {} --left {} --top {} --side {} --size {} --pad-value {} --mean {} --std {}{}",
                            path.string(), reference.string(), square.x0, square.y0, square.side, options.size,
                            options.pad_value, floats(options.mean), floats(options.std),
                            modality == Modality::Cfp ? "" : " --grey"));
  const NpyArray theirs = read_npy(reference.string());
  REQUIRE(theirs.shape == std::vector<int64_t>{3, options.size, options.size});
  const Difference d = compare(ours.data_ptr<float>(), theirs.f32.data(), theirs.f32.size());
  // The bound of the task is 1/255 of a pixel value, i.e. (1/255)/std after normalising;
  // the arithmetic is the same, so the difference is rounding only.
  const float bound = 1e-4f / *std::min_element(options.std.begin(), options.std.end());
  CHECK_MESSAGE(d.worst <= bound, path.filename().string() << ": largest difference " << d.worst << " at flat index "
                                                           << d.at << ", expected <= " << bound);
  MESSAGE(path.filename().string() << " (" << image.width() << "x" << image.height() << ", square " << square.side
                                   << " at " << square.x0 << "," << square.y0 << "): largest difference " << d.worst);
}

}  // namespace

TEST_CASE("antialiased bilinear resizing matches torchvision when up- and down-scaling, odd sizes, 3000 to 224") {
  fs::create_directories(kWork);
  const std::vector<ResizeCase> cases = {
      {3, 17, 23, 224, 224},   {3, 500, 333, 224, 224}, {1, 3000, 3000, 224, 224}, {2, 1001, 97, 61, 300},
      {3, 224, 224, 224, 224}, {3, 225, 224, 224, 224}, {1, 7, 1, 5, 3},            {1, 1, 640, 1, 64},
  };
  std::mt19937 rng(42);
  std::ofstream jobs(kWork / "jobs.txt");
  std::vector<std::vector<float>> inputs;
  for (size_t k = 0; k < cases.size(); ++k) {
    const ResizeCase& c = cases[k];
    std::vector<float> in(static_cast<size_t>(c.channels) * c.in_h * c.in_w);
    // Half smooth pattern, half noise, on the 8-bit grid an image would have.
    for (size_t i = 0; i < in.size(); ++i) {
      const double smooth = 0.5 + 0.4 * std::sin(0.013 * static_cast<double>(i % c.in_w) + 0.007 * (i / c.in_w));
      in[i] = static_cast<float>(std::lround(255 * (0.5 * smooth + 0.5 * (rng() % 256) / 255.0))) / 255.0f;
    }
    const fs::path src = kWork / fmt::format("in_{}.npy", k), dst = kWork / fmt::format("out_{}.npy", k);
    write_npy(src.string(), in.data(), {c.channels, c.in_h, c.in_w});
    jobs << src.string() << ' ' << dst.string() << ' ' << c.out_h << ' ' << c.out_w << '\n';
    inputs.push_back(std::move(in));
  }
  jobs.close();
  run_reference("resize " + (kWork / "jobs.txt").string());
  for (size_t k = 0; k < cases.size(); ++k) {
    const ResizeCase& c = cases[k];
    CAPTURE(k);
    std::vector<float> ours(static_cast<size_t>(c.channels) * c.out_h * c.out_w);
    vision::resize_antialiased_bilinear(inputs[k].data(), c.channels, c.in_h, c.in_w, c.out_h, c.out_w, ours.data());
    const NpyArray theirs = read_npy((kWork / fmt::format("out_{}.npy", k)).string());
    REQUIRE(theirs.shape == std::vector<int64_t>{c.channels, c.out_h, c.out_w});
    const Difference d = compare(ours.data(), theirs.f32.data(), ours.size());
    CHECK_MESSAGE(d.worst <= 1e-5f, c.channels << "x" << c.in_h << "x" << c.in_w << " -> " << c.out_h << "x" << c.out_w
                                               << ": largest difference " << d.worst << " at flat index " << d.at
                                               << ", expected <= 1e-5 (task bound 1/255)");
  }
}

TEST_CASE("CFP preprocessing of a natural-looking fundus photograph matches torchvision") {
  fs::create_directories(kWork);
  const int w = 1100, h = 900;
  const fs::path path = kWork / "fundus.png";
  write_png(path, w, h, 3, render_fundus(w, h, 7));
  check_pipeline(path, Modality::Cfp, PreprocessOptions{});
  PreprocessOptions large;
  large.size = 512;
  check_pipeline(path, Modality::Cfp, large);
}

TEST_CASE("OCT and OSA preprocessing (grey, padded to square) matches torchvision") {
  fs::create_directories(kWork);
  std::mt19937 rng(11);
  // OCT: a wide grey B-scan with bright layered bands.
  const int w = 768, h = 301;
  std::vector<uint8_t> oct(static_cast<size_t>(w) * h);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const double surface = 120 + 25 * std::sin(x * 0.01);
      const double band = std::exp(-std::pow((y - surface) / 6.0, 2)) * 200 + std::exp(-std::pow((y - surface - 60) / 4.0, 2)) * 150;
      oct[static_cast<size_t>(y) * w + x] = static_cast<uint8_t>(std::clamp(band + 15 + (rng() % 30), 0.0, 255.0));
    }
  write_png(kWork / "oct.png", w, h, 1, oct);
  check_pipeline(kWork / "oct.png", Modality::Oct, PreprocessOptions{});

  // OSA: a colour (RGB) eyelid photograph, taller than wide; pad value and normalisation changed.
  const int ow = 333, oh = 480;
  std::vector<uint8_t> osa(static_cast<size_t>(ow) * oh * 3);
  for (int y = 0; y < oh; ++y)
    for (int x = 0; x < ow; ++x)
      for (int c = 0; c < 3; ++c)
        osa[(static_cast<size_t>(y) * ow + x) * 3 + c] =
            static_cast<uint8_t>((((x / 9) % 2) ? 170 : 90) + c * 20 + rng() % 25);
  write_png(kWork / "osa.png", ow, oh, 3, osa);
  PreprocessOptions options;
  options.size = 200;
  options.pad_value = 0.5f;
  options.mean = {0.5f, 0.4f, 0.3f};
  options.std = {0.25f, 0.3f, 0.35f};
  check_pipeline(kWork / "osa.png", Modality::Osa, options);
}
