// What the encoders share: input checks, grid/sequence → tokens + pooled, and the two loaders
// behind load_vision_encoder.
#pragma once
#include <memory>
#include <string>

#include <ATen/core/Tensor.h>

#include "ophtha/vision_encoder.hpp"

namespace ophtha::vision {

// Error(InvalidArgument) unless `images` is a CPU f32 tensor (B ≥ 1, 3, H ≥ 1, W ≥ 1); `who`
// names the encoder in the message.
void check_encoder_input(const at::Tensor& images, const std::string& who);

// grid (B, C, h, w) → tokens (B, h·w, C) in row-major cell order, pooled (B, C) = mean over cells.
VisionFeatures features_from_grid(const at::Tensor& grid);
// tokens (B, N, C) → tokens as they are (contiguous f32), pooled (B, C) = mean over N.
VisionFeatures features_from_tokens(const at::Tensor& tokens);

std::unique_ptr<VisionEncoder> load_resnet_encoder(const std::string& path, EncoderArch arch);
std::unique_ptr<VisionEncoder> load_torchscript_encoder(const std::string& path);

}  // namespace ophtha::vision
