// TrainableResNet: torchvision's ResNet with live BatchNorm, on ATen.
#include <cmath>
#include <cstring>

#include <ATen/ATen.h>
#include <fmt/ranges.h>

#include "ophtha/error.hpp"
#include "ophtha/random.hpp"
#include "ophtha/safetensors.hpp"
#include "ophtha/trainable_resnet.hpp"
#include "vision/encoder_resnet.hpp"

namespace ophtha {

namespace {

constexpr double kBatchNormMomentum = 0.1;  // torchvision's nn.BatchNorm2d default

std::vector<uint8_t> bytes_of(const at::Tensor& t) {
  const at::Tensor c = t.detach().contiguous();
  std::vector<uint8_t> out(static_cast<size_t>(c.nbytes()));
  if (!out.empty()) std::memcpy(out.data(), c.data_ptr(), out.size());
  return out;
}

}  // namespace

TrainableResNet TrainableResNet::random(EncoderArch arch, uint64_t seed, int64_t base_width) {
  const vision::ResNetLayout layout = vision::resnet_layout(arch, base_width);
  Random rng(seed);
  std::map<std::string, at::Tensor> tensors;
  auto init = [&](const vision::ConvBnSpec& s) {
    const double sd = std::sqrt(2.0 / static_cast<double>(s.out * s.kernel * s.kernel));
    at::Tensor w = at::empty({s.out, s.in, s.kernel, s.kernel}, at::kFloat);
    float* p = w.data_ptr<float>();
    for (int64_t i = 0; i < w.numel(); ++i) p[i] = static_cast<float>(rng.normal(0.0, sd));
    tensors[s.conv + ".weight"] = w;
    tensors[s.bn + ".weight"] = at::ones({s.out}, at::kFloat);
    tensors[s.bn + ".bias"] = at::zeros({s.out}, at::kFloat);
    tensors[s.bn + ".running_mean"] = at::zeros({s.out}, at::kFloat);
    tensors[s.bn + ".running_var"] = at::ones({s.out}, at::kFloat);
  };
  init(layout.stem);
  for (const auto& block : layout.blocks) {
    for (const auto& conv : block.path) init(conv);
    if (block.downsample) init(*block.downsample);
  }

  TrainableResNet net;
  net.arch_ = arch;
  net.channels_ = layout.channels;
  auto add = [&](const vision::ConvBnSpec& s) {
    net.layers_.push_back({s.conv, s.bn, s.stride, s.padding, tensors.at(s.conv + ".weight"),
                           tensors.at(s.bn + ".weight"), tensors.at(s.bn + ".bias"),
                           tensors.at(s.bn + ".running_mean"), tensors.at(s.bn + ".running_var"),
                           at::zeros({}, at::kLong)});
    return net.layers_.size() - 1;
  };
  add(layout.stem);
  for (const auto& spec : layout.blocks) {
    Block block;
    for (const auto& conv : spec.path) block.path.push_back(add(conv));
    if (spec.downsample) block.downsample = static_cast<int64_t>(add(*spec.downsample));
    net.blocks_.push_back(std::move(block));
  }
  return net;
}

TrainableResNet TrainableResNet::load(const std::string& path, EncoderArch arch) {
  const vision::ResNetCheckpoint checkpoint = vision::read_resnet_checkpoint(path, arch);
  const std::map<std::string, at::Tensor>& tensors = checkpoint.tensors;
  TrainableResNet net = random(arch, 0, checkpoint.layout.base_width);  // the structure; tensors replaced below
  for (auto& layer : net.layers_) {
    layer.weight = tensors.at(layer.conv + ".weight").contiguous();
    layer.gamma = tensors.at(layer.bn + ".weight").contiguous();
    layer.beta = tensors.at(layer.bn + ".bias").contiguous();
    layer.running_mean = tensors.at(layer.bn + ".running_mean").contiguous();
    layer.running_var = tensors.at(layer.bn + ".running_var").contiguous();
  }
  return net;
}

int64_t TrainableResNet::channels() const { return channels_; }

at::Tensor TrainableResNet::conv_bn(const ConvBnState& layer, const at::Tensor& x) {
  const at::Tensor y = at::conv2d(x, layer.weight, {}, {layer.stride, layer.stride}, {layer.padding, layer.padding});
  // One value per channel (a batch of one image whose map is 1 × 1 here) has no variance: its
  // unbiased estimate would write NaN into running_var. Such a layer normalises with the running
  // statistics and leaves them (and its batch counter) as they were.
  const bool batch_statistics = training_ && y.size(0) * y.size(2) * y.size(3) > 1;
  if (batch_statistics) {
    at::NoGradGuard no_grad;
    layer.batches.add_(1);
  }
  return at::batch_norm(y, layer.gamma, layer.beta, layer.running_mean, layer.running_var, batch_statistics,
                        kBatchNormMomentum, vision::kBatchNormEps, /*cudnn_enabled=*/false);
}

VisionFeatures TrainableResNet::forward(const at::Tensor& images) {
  if (images.dim() != 4 || images.size(1) != 3 || images.size(0) < 1 || images.size(2) < 1 || images.size(3) < 1 ||
      images.scalar_type() != at::kFloat)
    fail(ErrorCode::InvalidArgument, "TrainableResNet::forward: images must be (B, 3, H, W) float32, got [{}] {}",
         fmt::join(images.sizes(), ", "), c10::toString(images.scalar_type()));
  at::Tensor x = at::relu(conv_bn(layers_[0], images));
  x = at::max_pool2d(x, {3, 3}, {2, 2}, {1, 1});
  for (const Block& block : blocks_) {
    const at::Tensor identity = block.downsample >= 0 ? conv_bn(layers_[static_cast<size_t>(block.downsample)], x) : x;
    at::Tensor h = x;
    for (size_t i = 0; i < block.path.size(); ++i) {
      h = conv_bn(layers_[block.path[i]], h);
      if (i + 1 < block.path.size()) h = at::relu(h);
    }
    x = at::relu(h + identity);
  }
  VisionFeatures out;
  out.grid_height = x.size(2);
  out.grid_width = x.size(3);
  out.tokens = x.flatten(2).transpose(1, 2).contiguous();  // (B, h·w, C)
  out.pooled = out.tokens.mean(1);
  return out;
}

std::vector<std::pair<std::string, at::Tensor>> TrainableResNet::named_parameters() const {
  std::vector<std::pair<std::string, at::Tensor>> out;
  for (const auto& layer : layers_) {
    out.emplace_back(layer.conv + ".weight", layer.weight);
    out.emplace_back(layer.bn + ".weight", layer.gamma);
    out.emplace_back(layer.bn + ".bias", layer.beta);
  }
  return out;
}

std::vector<std::pair<std::string, at::Tensor>> TrainableResNet::named_buffers() const {
  std::vector<std::pair<std::string, at::Tensor>> out;
  for (const auto& layer : layers_) {
    out.emplace_back(layer.bn + ".running_mean", layer.running_mean);
    out.emplace_back(layer.bn + ".running_var", layer.running_var);
    out.emplace_back(layer.bn + ".num_batches_tracked", layer.batches);
  }
  return out;
}

void TrainableResNet::save(const std::string& path, const std::string& prefix) const {
  std::vector<SafetensorsTensorData> tensors;
  auto add = [&](const std::string& name, const at::Tensor& t) {
    const bool counter = t.scalar_type() == at::kLong;
    const at::Tensor stored = counter ? t : t.detach().to(at::kFloat);
    tensors.push_back({prefix + name, counter ? "I64" : "F32",
                       std::vector<int64_t>(stored.sizes().begin(), stored.sizes().end()), bytes_of(stored)});
  };
  for (const auto& [name, t] : named_parameters()) add(name, t);
  for (const auto& [name, t] : named_buffers()) add(name, t);
  write_safetensors(path, tensors, {{"format", "pt"}, {"ophtha_arch", std::string(encoder_arch_name(arch_))}});
}

}  // namespace ophtha
