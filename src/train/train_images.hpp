// The images of a study manifest as the vision and multimodal stages see them: which studies a
// run uses (by split), each image's targets, and every image preprocessed once, in parallel.
#pragma once
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "ophtha/auxiliary_heads.hpp"
#include "ophtha/fundus_tiles.hpp"
#include "ophtha/manifest.hpp"
#include "ophtha/preprocess.hpp"

namespace ophtha::train {

struct TrainImage {
  std::string path;      // as a program opens it
  Modality modality = Modality::Cfp;
  Eye eye = Eye::OD;
  size_t study = 0;      // index into the selected studies
  ImageTargets targets;  // image_targets(the eye's labels, modality)
  std::optional<std::vector<LesionMark>> lesions;  // the manifest's marks, image pixels
  std::string where;     // "manifest.jsonl: study syn-000001 image 0", for messages
};

// Where an image's lesion marks fall in its preprocessed square, as fractions of its side: u to
// the right, v down, both in [0, 1). Marks outside the square (outside the field of view the
// encoder sees) are dropped. `annotated` is false for an image without marks (lesions nullopt).
struct LesionPoints {
  bool annotated = false;
  std::vector<std::pair<Finding, std::array<float, 2>>> points;  // finding, (u, v)
};

// The studies of `manifest` whose split is one of `splits`, in file order.
std::vector<const Study*> studies_in(const Manifest& manifest, const std::vector<Split>& splits);

// Every image of `studies`, in study then image order.
std::vector<TrainImage> images_of(const Manifest& manifest, const std::vector<const Study*>& studies);

// The preprocessing every modality gets in a trained model: side `size`, ImageNet statistics.
PreprocessOptions training_preprocess(int64_t size);

// Decodes and preprocesses every image on `threads` threads: [N, 3, S, S] ([N, 3, T, T] with
// region Tiles) in `dtype` (f16 halves
// the memory of a large set; f32 for exactness). Errors: those of Image::decode_file and preprocess,
// naming the image's file.
// `lesion_points` (may be null) receives each image's LesionPoints; a mark outside its image is
// Error(InvalidFormat) naming the image, the mark and the image's size.
at::Tensor preprocess_images(const std::vector<TrainImage>& images, const PreprocessOptions& options, int threads,
                             at::ScalarType dtype, std::vector<LesionPoints>* lesion_points = nullptr);

// The lesion targets of `indices` on a grid of h × w cells (cell (y, x) is token y·w + x): a mark
// lies in the cell that holds its (u, v). A finding is supervised in an annotated image when its
// target is applicable (targets.findings ≥ 0) and it is either absent from the labels or has
// marks; a finding present without marks is not localised and takes no part.
LesionTargets lesion_targets(const std::vector<TrainImage>& images, const std::vector<LesionPoints>& points,
                             const std::vector<int64_t>& indices, int64_t grid_h, int64_t grid_w);

// What tile `tile` of an image holds of a tile reader's `findings`, from the image's targets and
// its LesionPoints (in the square's (u, v)): 1 where a mark of the finding has its centre in the
// tile, 0 where the finding is absent from the image or marked only elsewhere, −1 where its target
// is not applicable or it is present without marks (where it is, is unknown); every other finding,
// every grade −1; modality and gradability the image's. `points`: the marks inside the tile, in
// the tile's own (u, v), for lesion_targets.
struct TileTargets {
  ImageTargets targets;
  LesionPoints points;
};
TileTargets tile_targets(const ImageTargets& image, const LesionPoints& points, const TileBounds& tile,
                         const std::vector<Finding>& findings);

// The tiles (0 … g² − 1) that hold the centre of a mark of one of `findings` present in the image.
std::vector<int> tiles_with_marks(const ImageTargets& targets, const LesionPoints& points, const PreprocessOptions& tiles,
                                  const std::vector<Finding>& findings);

}  // namespace ophtha::train
