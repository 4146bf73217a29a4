// The ResNet forward pass in plain ATen ops, not torch::nn modules: with each BatchNorm folded into
// its convolution at load time (exact in eval mode), the network is conv2d, ReLU, max-pool and a
// residual add, four ATen calls over weights that are ordinary tensors without autograd state,
// and one table (encoder_resnet.hpp) gives torchvision's names and shapes. Modules would add a
// parameter registry that duplicates that table, a separate BatchNorm pass over every activation,
// and the slowest headers LibTorch has.
#include <ATen/core/grad_mode.h>
#include <ATen/ops/conv2d.h>
#include <ATen/ops/max_pool2d.h>
#include <c10/util/Exception.h>
#include <fmt/ranges.h>

#include "ophtha/error.hpp"
#include "vision/encoder_internal.hpp"
#include "vision/encoder_resnet.hpp"

namespace ophtha::vision {

namespace {

at::Tensor conv_bn(const ConvBn& c, const at::Tensor& x) {
  return at::conv2d(x, c.weight, c.bias, {c.stride, c.stride}, {c.padding, c.padding});
}

class ResNetEncoder final : public VisionEncoder {
 public:
  ResNetEncoder(EncoderArch arch, const std::string& path, const ResNetCheckpoint& checkpoint)
      : arch_(arch), layout_(checkpoint.layout), weights_(fold_batch_norms(checkpoint)),
        who_(fmt::format("{} encoder ({})", layout_.name, path)) {}

  VisionFeatures encode(const at::Tensor& images) const override {
    check_encoder_input(images, who_);
    at::NoGradGuard no_grad;
    try {
      at::Tensor x = conv_bn(weights_.stem, images).relu_();
      x = at::max_pool2d(x, {3, 3}, {2, 2}, {1, 1});
      for (const ResidualBlock& block : weights_.blocks) {
        const at::Tensor identity = block.downsample ? conv_bn(*block.downsample, x) : x;
        at::Tensor y = x;
        for (size_t i = 0; i < block.path.size(); ++i) {
          y = conv_bn(block.path[i], y);
          if (i + 1 < block.path.size()) y.relu_();
        }
        x = y.add_(identity).relu_();
      }
      return features_from_grid(x);
    } catch (const c10::Error& e) {
      fail(ErrorCode::Internal, "{}: LibTorch failed on a batch of shape [{}]: {}", who_,
           fmt::join(images.sizes(), ", "), e.what_without_backtrace());
    }
  }

  int64_t channels() const override { return layout_.channels; }
  EncoderArch arch() const override { return arch_; }

 private:
  EncoderArch arch_;
  ResNetLayout layout_;
  ResNetWeights weights_;
  std::string who_;
};

}  // namespace

std::unique_ptr<VisionEncoder> load_resnet_encoder(const std::string& path, EncoderArch arch) {
  return std::make_unique<ResNetEncoder>(arch, path, read_resnet_checkpoint(path, arch));
}

}  // namespace ophtha::vision
