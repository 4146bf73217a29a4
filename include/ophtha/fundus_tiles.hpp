// Tiles of a colour fundus photograph: a reader that looks at the field of view piece by piece,
// each piece at a higher resolution than the whole field gets.
//
// preprocess() with region Tiles (preprocess.hpp) resamples the field of view's square to T × T,
// T = S + (g − 1) × stride; cut_tiles() cuts it into g × g tiles of S × S, row by row:
//
//   tile k = (row k / g, column k % g) covers square pixels [column·stride, column·stride + S) ×
//   [row·stride, row·stride + S) — overlapping by S − stride pixels (stride < S) or abutting.
//
// The demo's tile reader reads the 1024² synthetic photographs at T = 576 (3 × 3 tiles of 224² at
// stride 176): 1.8 × the linear resolution of the main encoder's 320² view, where a flame
// haemorrhage is a few pixels wide (docs/training.md, "Tile reader").
//
// Thread safety: pure functions of their arguments.
#pragma once
#include <array>
#include <cstdint>
#include <vector>

#include <ATen/core/Tensor.h>

#include "ophtha/export.h"
#include "ophtha/preprocess.hpp"

namespace ophtha {

// Tile k's square in fractions of the T × T square: [u0, u1) × [v0, v1) (u to the right, v down).
struct TileBounds {
  double u0 = 0, v0 = 0, u1 = 1, v1 = 1;
  bool contains(double u, double v) const { return u >= u0 && u < u1 && v >= v0 && v < v1; }
  // (u, v) of the square as fractions of the tile's side (in [0, 1) when contains(u, v)).
  std::array<double, 2> to_tile(double u, double v) const { return {(u - u0) / (u1 - u0), (v - v0) / (v1 - v0)}; }
};

// The number of tiles, g². Error(InvalidArgument) unless options.region is Tiles (and valid).
OPHTHA_API int tile_count(const PreprocessOptions& options);

// Tile k's bounds, k in [0, tile_count). Error(InvalidArgument) for k out of range.
OPHTHA_API TileBounds tile_bounds(const PreprocessOptions& options, int k);

// [N, 3, T, T] (or one image [3, T, T]) → [N·g², 3, S, S]: image n's tile k at n·g² + k, contiguous,
// the input's dtype. Error(InvalidArgument) naming the shape when the input is not T × T.
OPHTHA_API at::Tensor cut_tiles(const at::Tensor& squares, const PreprocessOptions& options);

// One tile, k, of image `n` of [N, 3, T, T]: a view [3, S, S] (not a copy).
OPHTHA_API at::Tensor tile_of(const at::Tensor& squares, int64_t n, const PreprocessOptions& options, int k);

}  // namespace ophtha
