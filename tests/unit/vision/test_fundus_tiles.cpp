// Tiles of a fundus photograph's field of view (fundus_tiles.hpp): the square they are cut from is
// the field of view's square resampled at T, each tile is the slice its bounds say, the tiles
// cover the square, and bad grids and shapes are refused by name.
#include "support/doctest_with_aten.hpp"

#include <ATen/ATen.h>

#include <random>
#include <vector>

#include "ophtha/error.hpp"
#include "ophtha/fundus_tiles.hpp"
#include "ophtha/image.hpp"
#include "ophtha/preprocess.hpp"
#include "support/expect_error.hpp"

using namespace ophtha;

namespace {

PreprocessOptions tiled(int size, int grid, int stride) {
  PreprocessOptions o;
  o.size = size;
  o.region = PreprocessRegion::Tiles;
  o.tile_grid = grid;
  o.tile_stride = stride;
  return o;
}

// A fundus-like RGB photograph: a bright disc with speckle on a dark border.
Image fundus(int w, int h, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> rgb(static_cast<size_t>(w) * h * 3);
  const double cx = w / 2.0, cy = h / 2.0, r = 0.45 * std::min(w, h);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      const bool inside = (x + 0.5 - cx) * (x + 0.5 - cx) + (y + 0.5 - cy) * (y + 0.5 - cy) < r * r;
      for (int c = 0; c < 3; ++c)
        rgb[(static_cast<size_t>(y) * w + x) * 3 + c] = static_cast<uint8_t>(inside ? 120 + rng() % 100 : rng() % 6);
    }
  return Image::from_pixels(rgb.data(), w, h, static_cast<size_t>(w) * 3, 3, 8, Modality::Cfp, Eye::OD);
}

}  // namespace

TEST_CASE("the tiled square is the field of view's square resampled at T = S + (g - 1) x stride") {
  const Image image = fundus(300, 260, 1);
  const PreprocessOptions tiles = tiled(64, 3, 48);
  CHECK(preprocessed_side(tiles) == 160);
  PreprocessOptions whole;
  whole.size = 160;
  const at::Tensor square = preprocess(image, tiles);
  REQUIRE(square.sizes() == at::IntArrayRef({3, 160, 160}));
  CHECK(at::equal(square, preprocess(image, whole)));  // the same square, the same resampling
  const SquareRegion a = preprocess_region(image, tiles), b = preprocess_region(image, whole);
  CHECK(a.x0 == b.x0);
  CHECK(a.y0 == b.y0);
  CHECK(a.side == b.side);
  CHECK(preprocessed_side(whole) == 160);  // other regions: S
}

TEST_CASE("each tile is the slice of the square its bounds name, row by row, overlapping by S - stride") {
  const PreprocessOptions o = tiled(64, 3, 48);
  CHECK(tile_count(o) == 9);
  const at::Tensor squares = at::randn({2, 3, 160, 160});
  const at::Tensor cut = cut_tiles(squares, o);
  REQUIRE(cut.sizes() == at::IntArrayRef({18, 3, 64, 64}));
  at::Tensor covered = at::zeros({160, 160});
  for (int64_t n = 0; n < 2; ++n)
    for (int k = 0; k < 9; ++k) {
      const int64_t row = k / 3, column = k % 3;
      const at::Tensor expected = squares[n].slice(1, row * 48, row * 48 + 64).slice(2, column * 48, column * 48 + 64);
      CHECK(at::equal(cut[n * 9 + k], expected));
      CHECK(at::equal(tile_of(squares, n, o, k), expected));
      const TileBounds b = tile_bounds(o, k);
      CHECK(b.u0 == doctest::Approx(column * 48 / 160.0));
      CHECK(b.u1 == doctest::Approx((column * 48 + 64) / 160.0));
      CHECK(b.v0 == doctest::Approx(row * 48 / 160.0));
      CHECK(b.v1 == doctest::Approx((row * 48 + 64) / 160.0));
      if (n == 0) covered.slice(0, row * 48, row * 48 + 64).slice(1, column * 48, column * 48 + 64) += 1;
    }
  CHECK(covered.min().item<float>() == 1.0f);  // every pixel in some tile
  CHECK(covered.max().item<float>() == 4.0f);  // the overlaps' corners in four
  // A single image [3, T, T] is cut the same.
  CHECK(at::equal(cut_tiles(squares[1], o), cut.slice(0, 9, 18)));
  // A point of the square in a tile's own fractions.
  const TileBounds centre = tile_bounds(o, 4);
  CHECK(centre.contains(0.5, 0.5));
  CHECK_FALSE(centre.contains(0.1, 0.5));
  const std::array<double, 2> at_tile = centre.to_tile(0.5, 0.5);
  CHECK(at_tile[0] == doctest::Approx((80 - 48) / 64.0));
  CHECK(at_tile[1] == doctest::Approx((80 - 48) / 64.0));
}

TEST_CASE("bad tiles are refused naming what was wrong") {
  test::expect_error([] { preprocessed_side(tiled(64, 0, 48)); }, ErrorCode::InvalidArgument, "tile_grid must be in [1, 8], got 0");
  test::expect_error([] { preprocessed_side(tiled(64, 9, 48)); }, ErrorCode::InvalidArgument, "tile_grid must be in [1, 8], got 9");
  test::expect_error([] { preprocessed_side(tiled(64, 3, 65)); }, ErrorCode::InvalidArgument,
                     "tile_stride must be in [1, size = 64]");
  test::expect_error([] { preprocessed_side(tiled(8000, 3, 100)); }, ErrorCode::InvalidArgument, "tiled side");
  PreprocessOptions whole;
  test::expect_error([&] { tile_count(whole); }, ErrorCode::InvalidArgument, "tiles need PreprocessOptions::region Tiles");
  test::expect_error([] { tile_bounds(tiled(64, 2, 48), 4); }, ErrorCode::InvalidArgument, "tile 4 of a 2 × 2 grid");
  test::expect_error([] { cut_tiles(at::zeros({1, 3, 100, 100}), tiled(64, 2, 48)); }, ErrorCode::InvalidArgument,
                     "expected [N, 3, 112, 112]");
  std::vector<uint8_t> grey(40 * 30, 100);
  const Image oct = Image::from_pixels(grey.data(), 40, 30, 40, 1, 8, Modality::Oct, Eye::OD);
  test::expect_error([&] { preprocess(oct, tiled(16, 2, 8)); }, ErrorCode::InvalidArgument,
                     "region is Tiles, which reads colour fundus photographs only");
}
