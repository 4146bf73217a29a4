#include "ophtha/vision_encoder.hpp"

#include <array>
#include <utility>

#include <ATen/ops/mean.h>
#include <fmt/ranges.h>

#include "ophtha/error.hpp"
#include "vision/encoder_internal.hpp"

namespace ophtha {

namespace {

constexpr std::array<std::pair<EncoderArch, std::string_view>, 4> kArchNames{{
    {EncoderArch::ResNet18, "resnet18"},
    {EncoderArch::ResNet34, "resnet34"},
    {EncoderArch::ResNet50, "resnet50"},
    {EncoderArch::TorchScript, "torchscript"},
}};

}  // namespace

std::string_view encoder_arch_name(EncoderArch arch) {
  for (const auto& [a, name] : kArchNames)
    if (a == arch) return name;
  fail(ErrorCode::InvalidArgument, "unknown EncoderArch value {}", static_cast<int>(arch));
}

EncoderArch parse_encoder_arch(std::string_view name) {
  for (const auto& [arch, known] : kArchNames)
    if (known == name) return arch;
  fail(ErrorCode::InvalidArgument, "unknown encoder architecture '{}', expected resnet18, resnet34, resnet50 or torchscript",
       name);
}

std::unique_ptr<VisionEncoder> load_vision_encoder(const std::string& path, EncoderArch arch) {
  if (arch == EncoderArch::TorchScript) return vision::load_torchscript_encoder(path);
  return vision::load_resnet_encoder(path, arch);
}

namespace vision {

void check_encoder_input(const at::Tensor& images, const std::string& who) {
  if (!images.defined()) fail(ErrorCode::InvalidArgument, "{}: the image batch is an undefined tensor", who);
  if (images.dim() != 4 || images.size(0) < 1 || images.size(1) != 3 || images.size(2) < 1 || images.size(3) < 1)
    fail(ErrorCode::InvalidArgument, "{}: image batch has shape [{}], expected [B, 3, H, W] with B, H, W >= 1", who,
         fmt::join(images.sizes(), ", "));
  if (images.scalar_type() != at::kFloat)
    fail(ErrorCode::InvalidArgument, "{}: image batch has dtype {}, expected float32", who,
         c10::toString(images.scalar_type()));
  if (!images.device().is_cpu())
    fail(ErrorCode::InvalidArgument, "{}: image batch is on {}, expected the CPU", who, images.device().str());
}

VisionFeatures features_from_grid(const at::Tensor& grid) {
  VisionFeatures f;
  f.grid_height = grid.size(2);
  f.grid_width = grid.size(3);
  f.tokens = grid.flatten(2).transpose(1, 2).to(at::kFloat).contiguous();
  f.pooled = at::mean(f.tokens, {1});
  return f;
}

VisionFeatures features_from_tokens(const at::Tensor& tokens) {
  VisionFeatures f;
  f.tokens = tokens.to(at::kFloat).contiguous();
  f.pooled = at::mean(f.tokens, {1});
  return f;
}

}  // namespace vision
}  // namespace ophtha
