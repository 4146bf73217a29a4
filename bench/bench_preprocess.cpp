// CFP preprocessing of a 3000 × 3000 colour fundus photograph: decode excluded, field-of-view
// detection + crop + antialiased resize to 224 + normalisation timed (median of N runs).
// bench/torchvision_preprocess_bench.py times torchvision on the same image.
//   ophtha_bench_preprocess [--size S] [--runs N] [--write-png PATH]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "ophtha/image.hpp"
#include "ophtha/preprocess.hpp"

#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include "stb_image_write.h"

using namespace ophtha;

// A disc of radius 0.48 × side on a dark border, with an illumination gradient and a pattern.
static std::vector<uint8_t> render(int side) {
  std::vector<uint8_t> rgb(static_cast<size_t>(side) * side * 3);
  const double c = side / 2.0, r = side * 0.48;
  for (int y = 0; y < side; ++y)
    for (int x = 0; x < side; ++x) {
      uint8_t* p = rgb.data() + (static_cast<size_t>(y) * side + x) * 3;
      const double dx = x + 0.5 - c, dy = y + 0.5 - c;
      if (dx * dx + dy * dy >= r * r) {
        p[0] = p[1] = p[2] = static_cast<uint8_t>((x * 7 + y * 3) % 5);
        continue;
      }
      const double light = 1.0 - 0.4 * (dx / r + 1) / 2;
      p[0] = static_cast<uint8_t>(200 * light + 20 * std::sin(x * 0.05) * std::sin(y * 0.03));
      p[1] = static_cast<uint8_t>(90 * light + (x ^ y) % 7);
      p[2] = static_cast<uint8_t>(40 * light);
    }
  return rgb;
}

int main(int argc, char** argv) {
  int size = 224, runs = 20, side = 3000;
  std::string png;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--size")) size = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--runs")) runs = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--write-png")) png = argv[i + 1];
  }
  const std::vector<uint8_t> rgb = render(side);
  if (!png.empty() && !stbi_write_png(png.c_str(), side, side, 3, rgb.data(), side * 3)) {
    std::fprintf(stderr, "cannot write %s\n", png.c_str());
    return 1;
  }
  const Image image = Image::from_pixels(rgb.data(), side, side, side * 3, 3, 8, Modality::Cfp, Eye::OD);
  PreprocessOptions options;
  options.size = size;
  using clock = std::chrono::steady_clock;
  auto time_ms = [&](auto&& fn) {
    std::vector<double> ms;
    for (int i = 0; i < runs; ++i) {
      const auto t0 = clock::now();
      fn();
      ms.push_back(std::chrono::duration<double, std::milli>(clock::now() - t0).count());
    }
    std::sort(ms.begin(), ms.end());
    return ms[ms.size() / 2];
  };
  const double fov = time_ms([&] { detect_fundus_fov(image); });
  float checksum = 0;
  const double full = time_ms([&] { checksum += preprocess(image, options).sum().item<float>(); });
  const SquareRegion square = preprocess_region(image, options);
  std::printf("ophtha preprocess cfp %dx%d -> [3, %d, %d] (square %d at %d,%d), median of %d runs, 1 thread:\n",
              side, side, size, size, square.side, square.x0, square.y0, runs);
  std::printf("  field of view detection  %8.2f ms\n", fov);
  std::printf("  whole preprocess         %8.2f ms   (checksum %.3f)\n", full, checksum / runs);
  return 0;
}
