// Modality-aware preprocessing: the fundus field of view found on synthetic photographs whose
// disc is known, the square that is resized for each modality (aspect ratio kept by padding),
// grey replication, normalisation, determinism and option checks.
#include "support/doctest_with_aten.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "ophtha/error.hpp"
#include "support/expect_error.hpp"
#include "ophtha/image.hpp"
#include "ophtha/preprocess.hpp"

using namespace ophtha;

namespace {

struct Disc {
  double cx, cy, r;
  bool contains(int x, int y) const {
    const double dx = x + 0.5 - cx, dy = y + 0.5 - cy;
    return dx * dx + dy * dy < r * r;
  }
};

// An RGB fundus-like photograph: a disc whose red level falls linearly from `left_level` at its
// left edge to `right_level` at its right edge (uneven illumination), green and blue below it,
// on a border of level ~`border` with noise of a few levels.
std::vector<uint8_t> render_disc(int w, int h, const Disc& disc, double left_level, double right_level, int border,
                                 uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> rgb(static_cast<size_t>(w) * h * 3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      uint8_t* p = rgb.data() + (static_cast<size_t>(y) * w + x) * 3;
      if (disc.contains(x, y)) {
        const double t = std::clamp((x + 0.5 - (disc.cx - disc.r)) / (2 * disc.r), 0.0, 1.0);
        const double red = 255 * (left_level + (right_level - left_level) * t) + static_cast<int>(rng() % 7) - 3;
        p[0] = static_cast<uint8_t>(std::clamp(red, 0.0, 255.0));
        p[1] = static_cast<uint8_t>(p[0] * 0.45);
        p[2] = static_cast<uint8_t>(p[0] * 0.2);
      } else {
        for (int c = 0; c < 3; ++c) p[c] = static_cast<uint8_t>(border + rng() % 4);
      }
    }
  return rgb;
}

Image rgb_image(const std::vector<uint8_t>& rgb, int w, int h, Modality modality) {
  return Image::from_pixels(rgb.data(), w, h, static_cast<size_t>(w) * 3, 3, 8, modality, Eye::OD);
}

// The bounding box of the pixels the disc covers inside the image.
PixelBox true_box(int w, int h, const Disc& disc) {
  PixelBox box{w, h, 0, 0};
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      if (disc.contains(x, y))
        box.x0 = std::min(box.x0, x), box.y0 = std::min(box.y0, y), box.x1 = std::max(box.x1, x + 1),
        box.y1 = std::max(box.y1, y + 1);
  return box;
}

void check_box_near(const PixelBox& found, const PixelBox& expected, int tolerance) {
  INFO("found [" << found.x0 << ", " << found.x1 << ") x [" << found.y0 << ", " << found.y1 << "), expected ["
                 << expected.x0 << ", " << expected.x1 << ") x [" << expected.y0 << ", " << expected.y1 << ")");
  CHECK(std::abs(found.x0 - expected.x0) <= tolerance);
  CHECK(std::abs(found.x1 - expected.x1) <= tolerance);
  CHECK(std::abs(found.y0 - expected.y0) <= tolerance);
  CHECK(std::abs(found.y1 - expected.y1) <= tolerance);
}


void expect_invalid_argument(const std::function<void()>& action, const std::string& needle) {
  test::expect_error(action, ErrorCode::InvalidArgument, needle);
}

}  // namespace

TEST_CASE("the field of view of a disc under strong illumination falloff is the disc's bounding box") {
  const int w = 640, h = 480;
  const Disc disc{331.0, 242.0, 200.0};
  // The right edge of the disc is at 18% of the left edge's brightness: a threshold between
  // the two halves (Otsu, a global mean) would cut it off.
  const auto rgb = render_disc(w, h, disc, 0.85, 0.15, 3, 1);
  const FundusFov fov = detect_fundus_fov(rgb_image(rgb, w, h, Modality::Cfp));
  CHECK(fov.found);
  CHECK(fov.border_level < 0.03f);
  CHECK(fov.threshold < 0.15f * 0.6f);
  check_box_near(fov.box, true_box(w, h, disc), 1);
}

TEST_CASE("a disc cut at the top and bottom gives a square padded above and below") {
  const int w = 700, h = 480;
  const Disc disc{350.0, 240.0, 300.0};  // taller than the frame
  const auto rgb = render_disc(w, h, disc, 0.7, 0.5, 2, 2);
  const Image image = rgb_image(rgb, w, h, Modality::Cfp);
  const FundusFov fov = detect_fundus_fov(image);
  const PixelBox expected = true_box(w, h, disc);
  REQUIRE(expected.y0 == 0);
  REQUIRE(expected.y1 == h);
  check_box_near(fov.box, expected, 1);
  const SquareRegion square = preprocess_region(image);
  CHECK(square.side == fov.box.width());
  CHECK(square.x0 == fov.box.x0);
  CHECK(square.y0 == -(square.side - h) / 2);

  // The padded rows come out as the normalised pad value in every channel.
  PreprocessOptions options;
  options.size = 64;
  const at::Tensor out = preprocess(image, options);
  const auto a = out.accessor<float, 3>();
  for (int c = 0; c < 3; ++c) {
    const float pad = (0.0f - options.mean[c]) / options.std[c];
    CHECK(a[c][0][32] == doctest::Approx(pad).epsilon(1e-6));
    CHECK(a[c][63][32] == doctest::Approx(pad).epsilon(1e-6));
    CHECK(a[c][32][32] > pad + 0.5f);
  }
}

TEST_CASE("a caption in the border does not enlarge the field of view") {
  const int w = 640, h = 480;
  const Disc disc{330.0, 250.0, 190.0};
  auto rgb = render_disc(w, h, disc, 0.8, 0.4, 2, 3);
  for (int y = 8; y < 30; ++y)  // white text block in the top-left corner, clear of the disc
    for (int x = 40; x < 150; ++x)
      for (int c = 0; c < 3; ++c) rgb[(static_cast<size_t>(y) * w + x) * 3 + c] = 250;
  const FundusFov fov = detect_fundus_fov(rgb_image(rgb, w, h, Modality::Cfp));
  CHECK(fov.found);
  check_box_near(fov.box, true_box(w, h, disc), 1);
}

TEST_CASE("a 16-bit grey fundus photograph gets the same field of view") {
  const int w = 400, h = 300;
  const Disc disc{190.0, 160.0, 120.0};
  const auto rgb = render_disc(w, h, disc, 0.6, 0.3, 4, 4);
  std::vector<uint16_t> grey(static_cast<size_t>(w) * h);
  for (size_t i = 0; i < grey.size(); ++i) grey[i] = static_cast<uint16_t>(rgb[i * 3] * 257);
  const Image image = Image::from_pixels(grey.data(), w, h, w * 2, 1, 16, Modality::Cfp, Eye::OS);
  const FundusFov fov = detect_fundus_fov(image);
  CHECK(fov.found);
  check_box_near(fov.box, true_box(w, h, disc), 1);
  // A grey photograph is replicated: the three channels differ only by their normalisation.
  const at::Tensor out = preprocess(image);
  const PreprocessOptions d;
  const at::Tensor pixels0 = out[0] * d.std[0] + d.mean[0];
  const at::Tensor pixels2 = out[2] * d.std[2] + d.mean[2];
  CHECK(at::allclose(pixels0, pixels2, 0.0, 1e-5));
}

TEST_CASE("without a dark border the whole image is the field of view") {
  const int w = 300, h = 200;
  std::vector<uint8_t> bright(static_cast<size_t>(w) * h * 3);
  std::mt19937 rng(5);
  for (auto& v : bright) v = static_cast<uint8_t>(120 + rng() % 40);
  const FundusFov cropped = detect_fundus_fov(rgb_image(bright, w, h, Modality::Cfp));
  CHECK_FALSE(cropped.found);
  CHECK(cropped.box.width() == w);
  CHECK(cropped.box.height() == h);
  const std::vector<uint8_t> black(static_cast<size_t>(w) * h * 3, 0);
  const FundusFov blank = detect_fundus_fov(rgb_image(black, w, h, Modality::Cfp));
  CHECK_FALSE(blank.found);
  const SquareRegion square = preprocess_region(rgb_image(black, w, h, Modality::Cfp));
  CHECK(square.side == 300);
  CHECK(square.y0 == -50);
}

TEST_CASE("OCT and OSA keep the aspect ratio: the short side is padded, the content is not stretched") {
  const int w = 400, h = 100, size = 64;
  std::vector<uint8_t> grey(static_cast<size_t>(w) * h);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) grey[static_cast<size_t>(y) * w + x] = static_cast<uint8_t>(200 - y);
  for (Modality modality : {Modality::Oct, Modality::Osa}) {
    const std::string name = modality_name(modality);
    CAPTURE(name);
    const Image image = Image::from_pixels(grey.data(), w, h, w, 1, 8, modality, Eye::OD);
    const SquareRegion square = preprocess_region(image);
    CHECK(square.side == 400);
    CHECK(square.x0 == 0);
    CHECK(square.y0 == -150);
    PreprocessOptions options;
    options.size = size;
    options.mean = {0.5f, 0.5f, 0.5f};
    options.std = {0.5f, 0.5f, 0.5f};
    const at::Tensor out = preprocess(image, options);
    const bool shape_ok = out.sizes() == at::IntArrayRef({3, size, size});
    const bool float_ok = out.scalar_type() == at::kFloat;
    REQUIRE(shape_ok);
    CHECK(float_ok);
    CHECK(out.is_contiguous());
    const auto a = out.accessor<float, 3>();
    // 100 of 400 rows → rows 24..39 of 64 hold the image; rows 0..22 and 41..63 are padding (-1).
    for (int y : {0, 22, 41, 63}) CHECK(a[1][y][10] == -1.0f);
    for (int y : {25, 32, 38}) CHECK(a[1][y][10] > -0.25f);  // the image is at least 101/255
    // A vertical ramp stays vertical: every column of a row is the same.
    CHECK(a[1][30][5] == doctest::Approx(a[1][30][60]).epsilon(1e-5));
    // Grey replicated to the three channels.
    CHECK(at::equal(out[0], out[1]));
    CHECK(at::equal(out[1], out[2]));
  }
}

TEST_CASE("OCT of a colour image is converted to grey with torchvision's weights") {
  const uint8_t rgb[3] = {255, 0, 0};
  const Image image = Image::from_pixels(rgb, 1, 1, 3, 3, 8, Modality::Oct, Eye::OD);
  PreprocessOptions options;
  options.size = 1;
  options.mean = {0, 0, 0};
  options.std = {1, 1, 1};
  const at::Tensor out = preprocess(image, options);
  CHECK(out[0][0][0].item<float>() == doctest::Approx(0.2989f).epsilon(1e-6));
  CHECK(out[2][0][0].item<float>() == doctest::Approx(0.2989f).epsilon(1e-6));
}

TEST_CASE("preprocessing is deterministic") {
  const int w = 320, h = 240;
  const auto rgb = render_disc(w, h, Disc{160, 120, 100}, 0.7, 0.4, 2, 6);
  const Image image = rgb_image(rgb, w, h, Modality::Cfp);
  CHECK(at::equal(preprocess(image), preprocess(image)));
}

TEST_CASE("out-of-range options are rejected naming the option") {
  const uint8_t grey[4] = {1, 2, 3, 4};
  const Image image = Image::from_pixels(grey, 2, 2, 2, 1, 8, Modality::Cfp, Eye::OD);
  PreprocessOptions options;
  options.size = 0;
  expect_invalid_argument([&] { preprocess(image, options); }, "PreprocessOptions::size");
  options = {};
  options.std[1] = 0.0f;
  expect_invalid_argument([&] { preprocess(image, options); }, "PreprocessOptions::std[1]");
  options = {};
  options.mean[2] = NAN;
  expect_invalid_argument([&] { preprocess(image, options); }, "PreprocessOptions::mean[2]");
  options = {};
  options.fov.threshold_fraction = 1.5;
  expect_invalid_argument([&] { preprocess(image, options); }, "FundusFovOptions::threshold_fraction");
  options = {};
  options.fov.corner_fraction = 0.75;
  expect_invalid_argument([&] { preprocess(image, options); }, "corner_fraction");
}

TEST_CASE("the optic disc region rejects a disc_side outside (0, 1] and images that are not fundus photographs") {
  const uint8_t grey[4] = {1, 2, 3, 4};
  PreprocessOptions options;
  options.region = PreprocessRegion::OpticDisc;
  options.disc_side = 0.0;
  const Image fundus = Image::from_pixels(grey, 2, 2, 2, 1, 8, Modality::Cfp, Eye::OD);
  expect_invalid_argument([&] { preprocess(fundus, options); }, "PreprocessOptions::disc_side");
  options.disc_side = 1.5;
  expect_invalid_argument([&] { preprocess(fundus, options); }, "PreprocessOptions::disc_side");
  options.disc_side = 0.3;
  for (Modality m : {Modality::Oct, Modality::Osa}) {
    const Image other = Image::from_pixels(grey, 2, 2, 2, 1, 8, m, Eye::OD);
    expect_invalid_argument([&] { preprocess(other, options); }, "colour fundus photographs only");
    expect_invalid_argument([&] { locate_optic_disc(other); }, "expected a colour fundus photograph");
  }
}

// A fundus-like field with a large bright disc and, elsewhere, a smaller spot brighter still: the
// disc is the largest bright patch, and the blur keeps the spot below it.
TEST_CASE("the optic disc is the large bright patch of the field, not a smaller brighter spot") {
  const int w = 600, h = 560;
  const Disc field{300, 280, 260}, disc{430, 250, 45}, spot{200, 340, 9};
  std::mt19937 rng(3);
  std::vector<uint8_t> rgb(static_cast<size_t>(w) * h * 3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      uint8_t* p = rgb.data() + (static_cast<size_t>(y) * w + x) * 3;
      const int noise = static_cast<int>(rng() % 9) - 4;
      const auto set = [&](int r, int g, int b) {
        p[0] = static_cast<uint8_t>(std::clamp(r + noise, 0, 255));
        p[1] = static_cast<uint8_t>(std::clamp(g + noise, 0, 255));
        p[2] = static_cast<uint8_t>(std::clamp(b + noise, 0, 255));
      };
      if (!field.contains(x, y)) set(4, 4, 4);
      else if (spot.contains(x, y)) set(255, 250, 235);
      else if (disc.contains(x, y)) set(238, 168, 118);
      else set(190, 80, 45);
    }
  const Image image = rgb_image(rgb, w, h, Modality::Cfp);
  const OpticDiscLocation found = locate_optic_disc(image);
  INFO("located at (" << found.x << ", " << found.y << "), the disc is at (430, 250)");
  CHECK(std::hypot(found.x - disc.cx, found.y - disc.cy) <= 8);
  CHECK(found.fov_side == preprocess_region(image).side);

  // The region: disc_side × the field's side, centred on the located disc.
  PreprocessOptions options;
  options.region = PreprocessRegion::OpticDisc;
  options.disc_side = 0.25;
  const SquareRegion square = preprocess_region(image, options);
  CHECK(square.side == static_cast<int>(std::lround(0.25 * found.fov_side)));
  CHECK(std::abs(square.x0 + square.side / 2.0 - found.x) <= 1);
  CHECK(std::abs(square.y0 + square.side / 2.0 - found.y) <= 1);
  // The crop's centre is the disc's colour, its corners the fundus around it.
  options.size = 64;
  options.mean = {0, 0, 0};
  options.std = {1, 1, 1};
  const at::Tensor crop = preprocess(image, options);
  CHECK(crop[1][32][32].item<float>() == doctest::Approx(168.0 / 255).epsilon(0.05));
  CHECK(crop[1][0][0].item<float>() == doctest::Approx(80.0 / 255).epsilon(0.05));
}
