// A vendor's backbone saved with torch.jit.save, run as it is. Its output is read as a feature grid
// [B, C, h, w] or a token sequence [B, N, C]; anything else is the file's fault and is named so.
#include <sys/stat.h>

#include <mutex>

#include <ATen/ops/zeros.h>
#include <fmt/ranges.h>
#include <torch/script.h>

#include "ophtha/error.hpp"
#include "vision/encoder_internal.hpp"

namespace ophtha::vision {

namespace {

constexpr int64_t kProbeSize = 224;  // the probe image that measures channels() at load time

class TorchScriptEncoder final : public VisionEncoder {
 public:
  explicit TorchScriptEncoder(const std::string& path) : path_(path), who_(fmt::format("torchscript encoder ({})", path)) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode))
      fail(ErrorCode::Io, "{}: cannot read the TorchScript module: no such regular file", path);
    try {
      module_ = torch::jit::load(path, at::kCPU);
    } catch (const c10::Error& e) {
      fail(ErrorCode::InvalidFormat, "{}: not a TorchScript module (torch.jit.save): {}", path,
           e.what_without_backtrace());
    }
    module_.eval();
    channels_ = encode(at::zeros({1, 3, kProbeSize, kProbeSize})).tokens.size(2);
  }

  VisionFeatures encode(const at::Tensor& images) const override {
    check_encoder_input(images, who_);
    at::NoGradGuard no_grad;
    c10::IValue output;
    {
      // Serialised: a scripted forward may update the module's own attributes.
      std::lock_guard<std::mutex> lock(mutex_);
      try {
        output = module_.forward({images});
      } catch (const std::exception& e) {
        const auto* torch_error = dynamic_cast<const c10::Error*>(&e);
        fail(ErrorCode::Internal, "{}: forward failed on a batch of shape [{}]: {}", who_,
             fmt::join(images.sizes(), ", "), torch_error ? torch_error->what_without_backtrace() : e.what());
      }
    }
    if (!output.isTensor())
      fail(ErrorCode::InvalidFormat, "{}: forward returned a {}, expected a tensor [B, C, h, w] or [B, N, C]", path_,
           output.tagKind());
    const at::Tensor out = output.toTensor();
    if (!at::isFloatingType(out.scalar_type()))
      fail(ErrorCode::InvalidFormat, "{}: forward returned a {} tensor of shape [{}], expected floating point", path_,
           c10::toString(out.scalar_type()), fmt::join(out.sizes(), ", "));
    if (out.dim() != 3 && out.dim() != 4)
      fail(ErrorCode::InvalidFormat, "{}: forward returned shape [{}], expected [B, C, h, w] or [B, N, C]", path_,
           fmt::join(out.sizes(), ", "));
    if (out.size(0) != images.size(0))
      fail(ErrorCode::InvalidFormat, "{}: forward returned shape [{}] for a batch of {}, expected the same batch size",
           path_, fmt::join(out.sizes(), ", "), images.size(0));
    if (out.numel() == 0)
      fail(ErrorCode::InvalidFormat, "{}: forward returned an empty tensor of shape [{}]", path_,
           fmt::join(out.sizes(), ", "));
    const int64_t channels = out.size(out.dim() == 4 ? 1 : 2);
    if (channels_ != 0 && channels != channels_)
      fail(ErrorCode::InvalidFormat, "{}: forward returned shape [{}], {} channels where the probe image gave {}", path_,
           fmt::join(out.sizes(), ", "), channels, channels_);
    // A copy, so that the features never alias the input or the module's own tensors.
    const at::Tensor owned = out.to(at::TensorOptions().dtype(at::kFloat).device(at::kCPU), false, true);
    return out.dim() == 4 ? features_from_grid(owned) : features_from_tokens(owned);
  }

  int64_t channels() const override { return channels_; }
  EncoderArch arch() const override { return EncoderArch::TorchScript; }

 private:
  std::string path_;
  std::string who_;
  mutable torch::jit::Module module_;
  mutable std::mutex mutex_;
  int64_t channels_ = 0;
};

}  // namespace

std::unique_ptr<VisionEncoder> load_torchscript_encoder(const std::string& path) {
  return std::make_unique<TorchScriptEncoder>(path);
}

}  // namespace ophtha::vision
