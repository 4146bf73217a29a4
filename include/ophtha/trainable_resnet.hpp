// A ResNet-18/34/50 that can be trained: torchvision's structure and tensor names, BatchNorm with
// batch statistics while training (running statistics updated with momentum 0.1) and running
// statistics in evaluation — exactly torchvision's nn.BatchNorm2d — and differentiable ATen
// arithmetic on f32 parameter tensors.
//
//   images [B, 3, H, W] f32
//     │  conv1 7×7/2 → bn1 → ReLU → max-pool 3×3/2 → layer1 … layer4 (torchvision's blocks)
//     ▼
//   tokens [B, h·w, C] (cell (y, x) is token y·w + x), pooled [B, C] = mean over the tokens
//
// What training writes (save) is a torchvision state_dict that load_vision_encoder reads for
// inference (BatchNorm folded), so a trained encoder goes straight into a model bundle.
//
// Thread safety: forward() in training mode updates the running statistics in place: one thread at
// a time. In evaluation mode forward() only reads, like VisionEncoder::encode.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>

#include "ophtha/export.h"
#include "ophtha/vision_encoder.hpp"

namespace ophtha {

class OPHTHA_API TrainableResNet {
 public:
  // Fresh weights as torchvision initialises them, the same on every platform for a seed:
  // convolutions N(0, 2 / fan_out) (kaiming_normal_, mode "fan_out", ReLU), BatchNorm weight 1,
  // bias 0, running mean 0, running variance 1. `base_width` is 64 for torchvision's ResNets; a
  // narrower network (every channel count scaled by base_width / 64, same names) is a smaller
  // encoder that load_vision_encoder reads as well. Error(InvalidArgument) for a non-ResNet arch
  // or a base width outside [1, 256].
  static TrainableResNet random(EncoderArch arch, uint64_t seed, int64_t base_width = 64);

  // From a torchvision state_dict in safetensors (the checks, prefix and base-width rules of
  // load_vision_encoder); the tensors are copied to f32.
  static TrainableResNet load(const std::string& path, EncoderArch arch);

  // Training mode (batch statistics, running statistics updated) or evaluation mode.
  void set_training(bool training) { training_ = training; }
  bool training() const { return training_; }

  // images (B ≥ 1, 3, H, W) f32. In training, a BatchNorm whose input holds one value per channel
  // (B = 1 and a 1 × 1 map at that stage: a last micro-batch of one small image) has no batch
  // variance; it normalises with its running statistics and does not update them, where
  // torchvision's nn.BatchNorm2d raises "Expected more than 1 value per channel when training".
  // Differentiable in the parameters and the images. Error(InvalidArgument) naming the shape for
  // anything else.
  VisionFeatures forward(const at::Tensor& images);

  // Trainable parameters (convolution weights, BatchNorm weight and bias) by torchvision name, in
  // the order of the network; the tensors are the model's own (a trainer sets requires_grad and
  // updates them in place).
  std::vector<std::pair<std::string, at::Tensor>> named_parameters() const;
  // Running statistics and batch counters ("bn1.running_mean", "bn1.running_var",
  // "bn1.num_batches_tracked" (int64), ...).
  std::vector<std::pair<std::string, at::Tensor>> named_buffers() const;

  // Writes parameters and buffers as a torchvision state_dict (F32, I64 counters), under `prefix`,
  // atomically. Error(Io) when writing fails.
  void save(const std::string& path, const std::string& prefix = "") const;

  EncoderArch arch() const { return arch_; }
  int64_t channels() const;

 private:
  struct ConvBnState {
    std::string conv, bn;
    int64_t stride, padding;
    at::Tensor weight, gamma, beta, running_mean, running_var, batches;
  };
  struct Block {
    std::vector<size_t> path;  // indices into layers_
    int64_t downsample = -1;
  };
  TrainableResNet() = default;
  at::Tensor conv_bn(const ConvBnState& layer, const at::Tensor& x);

  EncoderArch arch_ = EncoderArch::ResNet18;
  int64_t channels_ = 0;
  bool training_ = true;
  std::vector<ConvBnState> layers_;  // stem first, then every block's convolutions and downsamples
  std::vector<Block> blocks_;
};

}  // namespace ophtha
