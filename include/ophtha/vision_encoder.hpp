// The vision encoder: preprocessed images in, a grid of feature tokens out.
//
//   images   [B, 3, H, W] f32, already preprocessed (resized, normalised) for the backbone
//     │  ResNet-18/34/50 (torchvision's structure and tensor names, weights from safetensors)
//     │  or any TorchScript backbone a vendor exports
//     ▼
//   tokens   [B, N, C] f32   the last stage's feature grid, N = h·w cells in row-major order
//                            (cell (y, x) is token y·w + x)
//   pooled   [B, C]    f32   the mean over the N tokens (torchvision's avgpool before fc)
//
// Inference only: BatchNorm uses its running statistics (eval mode), and no autograd graph is
// recorded (at::NoGradGuard, not InferenceMode, so that the features may feed a projector that is
// being trained). One call encodes a whole batch.
//
// Threads: the convolutions run on LibTorch's intra-op pool, sized by at::set_num_threads (the
// LLaMA session sets it to 1 and owns the CPU itself; a caller that encodes between generations
// may raise it for the encoder and lower it again).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <ATen/core/Tensor.h>

#include "ophtha/export.h"

namespace ophtha {

// Which backbone a weights file holds.
enum class EncoderArch {
  ResNet18,     // BasicBlock ×[2, 2, 2, 2], C = 512
  ResNet34,     // BasicBlock ×[3, 4, 6, 3], C = 512
  ResNet50,     // Bottleneck ×[3, 4, 6, 3], C = 2048 (torchvision's "v1.5": stride on the 3×3)
  TorchScript,  // a module saved by torch.jit.save
};

// "resnet18", "resnet34", "resnet50", "torchscript" (as written in a model bundle's manifest).
OPHTHA_API std::string_view encoder_arch_name(EncoderArch arch);
// The inverse of encoder_arch_name. Error(InvalidArgument) naming the text and the known names.
OPHTHA_API EncoderArch parse_encoder_arch(std::string_view name);

struct VisionFeatures {
  at::Tensor tokens;  // (B, N, C) f32, contiguous
  at::Tensor pooled;  // (B, C) f32, contiguous
  // The grid the tokens were read from (grid_height · grid_width == N), or 0 × 0 for a TorchScript
  // backbone that returns a token sequence [B, N, C] with no grid.
  int64_t grid_height = 0;
  int64_t grid_width = 0;
};

// An encoder ready to run. Immutable after loading.
// Thread safety: encode() may be called from any number of threads at once.
class OPHTHA_API VisionEncoder {
 public:
  virtual ~VisionEncoder() = default;

  // Encodes `images` (B ≥ 1, 3, H ≥ 1, W ≥ 1) f32 on the CPU, any strides; the result holds no
  // reference to `images`.
  // Errors: Error(InvalidArgument) naming the shape or dtype got and what was expected;
  // for a TorchScript backbone, Error(InvalidFormat) naming the file and the output shape got when
  // the module returns something other than a float tensor [B, C, h, w] or [B, N, C], and
  // Error(Internal) with LibTorch's message when the module itself throws.
  virtual VisionFeatures encode(const at::Tensor& images) const = 0;

  // C, the width of every token and of the pooled vector. For a TorchScript backbone it is
  // measured at load time by encoding one 224 × 224 image of zeros.
  virtual int64_t channels() const = 0;

  virtual EncoderArch arch() const = 0;
};

// Loads an encoder. Ownership: the caller owns the result; it keeps its own copy of the weights
// (widened to f32, BatchNorm folded into the convolutions) and does not keep the file open.
//
// ResNet: `path` is a .safetensors file (or a checkpoint folder, see SafetensorsCheckpoint) holding
// a torchvision state_dict — "conv1.weight", "bn1.running_mean", "layer1.0.conv1.weight", ...,
// "layer2.0.downsample.0.weight", "layer2.0.downsample.1.running_var" — with or without one common
// prefix ("encoder.", "backbone.", "visual.", ...: whatever stands before the one "conv1.weight"
// that has "bn1.weight" and "layer1.0.conv1.weight" beside it). F32, F16 and BF16 tensors are
// widened to f32; "fc.*" and "*.num_batches_tracked" are ignored. The base width (64 in
// torchvision) is read from conv1.weight [W, 3, 7, 7]: a narrower ResNet with the same names and
// every channel count scaled by W / 64 (C = 8·W, or 32·W for ResNet-50) loads too — the small
// encoders TrainableResNet trains for small models.
// Errors: Error(Io) when the file cannot be opened; Error(InvalidFormat) naming the file and the
// tensor for a missing tensor, a shape other than the architecture's (both shapes named), tensors
// the architecture does not have (a few named), no or several candidate prefixes, a running
// variance that is negative or not finite; Error(Unsupported) for a dtype other than F32/F16/BF16;
// anything SafetensorsCheckpoint::open rejects.
//
// TorchScript: `path` is a file written by torch.jit.save whose forward maps [B, 3, H, W] f32 to
// [B, C, h, w] (a feature grid: tokens as above, pooled = mean over the grid) or to [B, N, C]
// (tokens as they are, pooled = mean over N). The module is put in eval mode.
// Errors: Error(Io) when the file cannot be read; Error(InvalidFormat) with LibTorch's message when
// it is not a TorchScript archive, and as encode() when its output on the probe image is wrong.
OPHTHA_API std::unique_ptr<VisionEncoder> load_vision_encoder(const std::string& path, EncoderArch arch);

}  // namespace ophtha
