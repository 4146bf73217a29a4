// preprocess() with its source square already known (preprocess_region), for callers that need the
// square too — the optic disc's locator and training's lesion marks — and should not find the
// field of view (and the disc) twice. Same result as preprocess(image, options) when `square` is
// preprocess_region(image, options).
#pragma once
#include <ATen/core/Tensor.h>

#include "ophtha/image.hpp"
#include "ophtha/preprocess.hpp"

namespace ophtha::vision {

at::Tensor preprocess_square(const Image& image, const SquareRegion& square, const PreprocessOptions& options);

}  // namespace ophtha::vision
