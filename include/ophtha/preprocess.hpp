// Modality-aware, deterministic preprocessing: Image → float tensor [3, S, S] for a vision encoder.
//
//   CFP: find the circular field of view (detect_fundus_fov), take the square around its bounding
//        box (centred, padded where it leaves the image), resize to S × S. With region OpticDisc,
//        the square instead is disc_side × the field of view's side, centred on the optic disc
//        (locate_optic_disc) — a disc-centred crop, as glaucoma graders look at the disc. With
//        region Tiles, the field of view's square is resized to T × T, T = S + (tile_grid − 1) ×
//        tile_stride, for fundus_tiles.hpp to cut into tile_grid² overlapping S × S tiles.
//   OCT, OSA: convert to grey (torchvision's weights 0.2989 R + 0.587 G + 0.114 B), take the
//        square around the whole image (centred, the short side padded: aspect ratio kept, never
//        stretched), resize to S × S, replicate the grey channel to 3.
// Samples are scaled to [0, 1] (÷ 255 or ÷ 65535), padding is `pad_value`, the resize is
// antialiased bilinear exactly as torchvision.transforms.functional.resize(antialias=True) on a
// float tensor (PyTorch's upsample_bilinear2d_aa), then each channel c becomes
// (x − mean[c]) / std[c]. Alpha is ignored. The algorithm and its parameters: docs/vision.md.
//
// Thread safety: pure functions of their arguments; any number of threads may call them.
// Errors: Error(InvalidArgument) for an out-of-range option (size outside [1, 8192], a std ≤ 0,
// a non-finite mean or pad value, FOV fractions outside their ranges, a disc_side outside (0, 1],
// a tile_grid outside [1, 8] or tile_stride outside [1, S], a tiled side above 8192, region
// OpticDisc or Tiles for an image that is not CFP); nothing else fails.
#pragma once
#include <array>

#include <ATen/core/Tensor.h>

#include "ophtha/export.h"
#include "ophtha/image.hpp"

namespace ophtha {

// Parameters of the fundus field-of-view detection (docs/vision.md, "CFP").
struct FundusFovOptions {
  double corner_fraction = 0.05;      // side of the four corner patches that sample the border, × min(w, h)
  double centre_fraction = 0.5;       // side of the central patch that samples the fundus, × min(w, h)
  double threshold_fraction = 0.1;    // threshold = border + this × (fundus − border)
  double min_contrast = 0.1;          // fundus − border below this (of full scale): no dark border
  double min_line_fraction = 0.05;    // a row/column belongs to the FOV when ≥ this × the fullest one is inside
};

// A pixel rectangle [x0, x1) × [y0, y1) in image coordinates.
struct PixelBox {
  int x0 = 0, y0 = 0, x1 = 0, y1 = 0;
  int width() const { return x1 - x0; }
  int height() const { return y1 - y0; }
};

struct FundusFov {
  bool found = false;      // false: no dark border (already cropped, or blank); box is the whole image
  PixelBox box;            // bounding box of the field of view
  float border_level = 0;  // brightness of the border (median over the corner patches), 0..1
  float fundus_level = 0;  // brightness of the fundus (median over the central patch), 0..1
  float threshold = 0;     // pixels brighter than this are inside the field of view
};

// Brightness = the largest colour sample of a pixel (alpha ignored), scaled to [0, 1].
OPHTHA_API FundusFov detect_fundus_fov(const Image& image, const FundusFovOptions& options = {});

// Where the optic disc of a colour fundus photograph is, in image pixels: the peak of its grey
// level (torchvision's weights) over the field of view's square resampled to 128 × 128 and blurred
// by a Gaussian of σ = 3 cells (~1/3 of a disc's radius) — the disc is the largest bright patch of
// a fundus; a small bright lesion (an exudate) is blurred below it. The algorithm: docs/vision.md
// ("Optic disc"). Error(InvalidArgument) for an image that is not CFP.
struct OpticDiscLocation {
  double x = 0, y = 0;  // the disc's centre, image pixels (may lie in the padding of a cut field)
  int fov_side = 0;     // side of the field of view's square, pixels
};
OPHTHA_API OpticDiscLocation locate_optic_disc(const Image& image, const FundusFovOptions& fov = {});

// Which square of a CFP image preprocess() reads (OCT and OSA: always the whole image).
enum class PreprocessRegion : uint8_t {
  FieldOfView = 0,  // the square around the field of view
  OpticDisc = 1,    // disc_side × the field of view's side, centred on locate_optic_disc
  Tiles = 2,        // the field of view's square at T × T, for tiles (fundus_tiles.hpp)
};

struct PreprocessOptions {
  int size = 224;                                    // S
  std::array<float, 3> mean = {0.485f, 0.456f, 0.406f};  // ImageNet, per output channel
  std::array<float, 3> std = {0.229f, 0.224f, 0.225f};
  float pad_value = 0.0f;                            // fill outside the image, in [0, 1] before normalising
  FundusFovOptions fov;
  PreprocessRegion region = PreprocessRegion::FieldOfView;
  double disc_side = 0.28;                           // region OpticDisc: the square's side, × the FOV's side, in (0, 1]
  int tile_grid = 3;                                 // region Tiles: tiles per row and per column, in [1, 8]
  int tile_stride = 224;                             // region Tiles: pixels between tiles' origins, in [1, S]
};

// The side preprocess() gives: S, or with region Tiles T = S + (tile_grid − 1) × tile_stride.
OPHTHA_API int preprocessed_side(const PreprocessOptions& options);

// The square (side × side at x0, y0; may extend past the image, padded there) that preprocess()
// resizes to S × S: for CFP around the detected field of view (or, with region OpticDisc, around
// the optic disc), otherwise around the whole image.
struct SquareRegion {
  int x0 = 0, y0 = 0, side = 0;
};
OPHTHA_API SquareRegion preprocess_region(const Image& image, const PreprocessOptions& options = {});

// The tensor [3, S, S] float32 (contiguous, CPU) for `image`, by its modality; [3, T, T] with
// region Tiles (preprocessed_side).
OPHTHA_API at::Tensor preprocess(const Image& image, const PreprocessOptions& options = {});

}  // namespace ophtha
