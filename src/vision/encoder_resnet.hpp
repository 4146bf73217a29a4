// ResNet-18/34/50 as torchvision builds them (torchvision/models/resnet.py), described once as a
// table of convolution + BatchNorm pairs named as in torchvision's state_dict, and the weights read
// into it. resnet_weights.cpp reads; resnet.cpp runs.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "ophtha/vision_encoder.hpp"

namespace ophtha::vision {

// One convolution (no bias) followed by one BatchNorm2d, as torchvision's names give them.
struct ConvBnSpec {
  std::string conv;  // "layer2.0.conv1": tensor conv + ".weight" (out, in, kernel, kernel)
  std::string bn;    // "layer2.0.bn1": bn + ".weight", ".bias", ".running_mean", ".running_var" (out)
  int64_t in, out, kernel, stride, padding;
};

// A residual block: `path` is 2 convolutions (BasicBlock: 3×3, 3×3) or 3 (Bottleneck: 1×1, 3×3
// with the stride, 1×1), ReLU after each but the last; then + identity (or downsample(x)), ReLU.
struct BlockSpec {
  std::vector<ConvBnSpec> path;
  std::optional<ConvBnSpec> downsample;  // "layerN.0.downsample.0" / ".1" where shape changes
};

struct ResNetLayout {
  std::string name;               // "resnet50", for messages
  int64_t base_width = 64;        // stem and layer1 channels; layer k has base_width · 2^(k−1) planes
  ConvBnSpec stem;                // conv1 7×7/2 + bn1, then ReLU and max-pool 3×3/2
  std::vector<BlockSpec> blocks;  // layer1.0, layer1.1, ..., layer4.last in order
  int64_t channels;               // C of layer4's output
};

// torchvision's ResNets have base width 64; a narrower one (same structure and names, every
// channel count scaled) is a smaller encoder for small models and slow machines.
constexpr int64_t kMaxResNetBaseWidth = 256;
ResNetLayout resnet_layout(EncoderArch arch, int64_t base_width = 64);

// A convolution with its eval-mode BatchNorm folded in: y = conv(x, weight) + bias, where
// weight = W·γ/√(σ²+ε) per output channel and bias = β − μ·γ/√(σ²+ε) (ε = 1e-5, torchvision's).
struct ConvBn {
  at::Tensor weight;  // (out, in, kernel, kernel) f32
  at::Tensor bias;    // (out) f32
  int64_t stride, padding;
};

struct ResidualBlock {
  std::vector<ConvBn> path;
  std::optional<ConvBn> downsample;
};

struct ResNetWeights {
  ConvBn stem;
  std::vector<ResidualBlock> blocks;
};

// A torchvision state_dict read and checked (see load_vision_encoder in vision_encoder.hpp): the
// layout (its base width read from conv1.weight) and every convolution weight and the four
// BatchNorm tensors of each ConvBnSpec, widened to f32, by their names without the checkpoint's
// prefix ("layer1.0.bn1.running_var").
struct ResNetCheckpoint {
  ResNetLayout layout;
  std::map<std::string, at::Tensor> tensors;
};
ResNetCheckpoint read_resnet_checkpoint(const std::string& path, EncoderArch arch);

// Each BatchNorm folded into its convolution (inference).
ResNetWeights fold_batch_norms(const ResNetCheckpoint& checkpoint);

// BatchNorm2d's ε in torchvision's ResNets.
constexpr double kBatchNormEps = 1e-5;

}  // namespace ophtha::vision
