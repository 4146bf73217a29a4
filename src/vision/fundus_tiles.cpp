// Tiles of the field of view's square (fundus_tiles.hpp).
#include "ophtha/fundus_tiles.hpp"

#include <ATen/ATen.h>
#include <fmt/ranges.h>

#include "ophtha/error.hpp"

namespace ophtha {
namespace {

void check_tiled(const PreprocessOptions& options) {
  if (options.region != PreprocessRegion::Tiles)
    fail(ErrorCode::InvalidArgument, "tiles need PreprocessOptions::region Tiles, got region {}",
         static_cast<int>(options.region));
  preprocessed_side(options);  // checks the grid, the stride and the side
}

}  // namespace

int tile_count(const PreprocessOptions& options) {
  check_tiled(options);
  return options.tile_grid * options.tile_grid;
}

TileBounds tile_bounds(const PreprocessOptions& options, int k) {
  const int n = tile_count(options);
  if (k < 0 || k >= n) fail(ErrorCode::InvalidArgument, "tile {} of a {} × {} grid, expected 0 … {}", k,
                            options.tile_grid, options.tile_grid, n - 1);
  const double side = preprocessed_side(options);
  const int column = k % options.tile_grid, row = k / options.tile_grid;
  TileBounds b;
  b.u0 = column * options.tile_stride / side, b.u1 = (column * options.tile_stride + options.size) / side;
  b.v0 = row * options.tile_stride / side, b.v1 = (row * options.tile_stride + options.size) / side;
  return b;
}

at::Tensor tile_of(const at::Tensor& squares, int64_t n, const PreprocessOptions& options, int k) {
  tile_bounds(options, k);  // checks k
  const int column = k % options.tile_grid, row = k / options.tile_grid;
  return squares[n].narrow(1, static_cast<int64_t>(row) * options.tile_stride, options.size)
      .narrow(2, static_cast<int64_t>(column) * options.tile_stride, options.size);
}

at::Tensor cut_tiles(const at::Tensor& squares, const PreprocessOptions& options) {
  const int tiles = tile_count(options);
  const int64_t side = preprocessed_side(options);
  const at::Tensor batch = squares.dim() == 3 ? squares.unsqueeze(0) : squares;
  if (batch.dim() != 4 || batch.size(1) != 3 || batch.size(2) != side || batch.size(3) != side)
    fail(ErrorCode::InvalidArgument, "cut_tiles: expected [N, 3, {}, {}] (or [3, {}, {}]), got [{}]", side, side, side,
         side, fmt::join(squares.sizes(), ", "));
  std::vector<at::Tensor> out;
  out.reserve(static_cast<size_t>(batch.size(0) * tiles));
  for (int64_t n = 0; n < batch.size(0); ++n)
    for (int k = 0; k < tiles; ++k) out.push_back(tile_of(batch, n, options, k));
  return at::stack(out).contiguous();
}

}  // namespace ophtha
