// The images of a study manifest as the vision and multimodal stages see them: which studies a
// run uses (by split), each image's targets, and every image preprocessed once, in parallel.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "ophtha/auxiliary_heads.hpp"
#include "ophtha/manifest.hpp"
#include "ophtha/preprocess.hpp"

namespace ophtha::train {

struct TrainImage {
  std::string path;      // as a program opens it
  Modality modality = Modality::Cfp;
  Eye eye = Eye::OD;
  size_t study = 0;      // index into the selected studies
  ImageTargets targets;  // image_targets(the eye's labels, modality)
};

// The studies of `manifest` whose split is one of `splits`, in file order.
std::vector<const Study*> studies_in(const Manifest& manifest, const std::vector<Split>& splits);

// Every image of `studies`, in study then image order.
std::vector<TrainImage> images_of(const Manifest& manifest, const std::vector<const Study*>& studies);

// The preprocessing every modality gets in a trained model: side `size`, ImageNet statistics.
PreprocessOptions training_preprocess(int64_t size);

// Decodes and preprocesses every image on `threads` threads: [N, 3, S, S] in `dtype` (f16 halves
// the memory of a large set; f32 for exactness). Errors: those of Image::decode_file and preprocess,
// naming the image's file.
at::Tensor preprocess_images(const std::vector<TrainImage>& images, const PreprocessOptions& options, int threads,
                             at::ScalarType dtype);

}  // namespace ophtha::train
