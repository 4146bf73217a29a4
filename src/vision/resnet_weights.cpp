#include <cstring>
#include <map>
#include <set>

#include <ATen/TensorOperators.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/isfinite.h>
#include <fmt/ranges.h>

#include "ophtha/error.hpp"
#include "ophtha/safetensors.hpp"
#include "vision/encoder_resnet.hpp"

namespace ophtha::vision {

namespace {

constexpr const char* kBatchNormTensors[] = {"weight", "bias", "running_mean", "running_var"};

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool starts_with(const std::string& s, const std::string& prefix) { return s.compare(0, prefix.size(), prefix) == 0; }

template <typename Fn>
void for_each_conv_bn(const ResNetLayout& layout, Fn&& fn) {
  fn(layout.stem);
  for (const BlockSpec& block : layout.blocks) {
    for (const ConvBnSpec& conv : block.path) fn(conv);
    if (block.downsample) fn(*block.downsample);
  }
}

struct ExpectedTensor {
  std::string name;  // with the checkpoint's prefix
  std::vector<int64_t> shape;
};

std::vector<ExpectedTensor> expected_tensors(const ResNetLayout& layout, const std::string& prefix) {
  std::vector<ExpectedTensor> expected;
  for_each_conv_bn(layout, [&](const ConvBnSpec& s) {
    expected.push_back({prefix + s.conv + ".weight", {s.out, s.in, s.kernel, s.kernel}});
    for (const char* part : kBatchNormTensors) expected.push_back({prefix + s.bn + "." + part, {s.out}});
  });
  return expected;
}

// The text before the one "conv1.weight" whose "bn1.weight" and "layer1.0.conv1.weight" are
// beside it ("" for a bare torchvision state_dict).
std::string find_prefix(const std::string& path, const SafetensorsCheckpoint& checkpoint,
                        const std::vector<std::string>& names) {
  const std::string stem = "conv1.weight";
  std::vector<std::string> candidates;
  for (const std::string& name : names) {
    if (!ends_with(name, stem)) continue;
    const std::string prefix = name.substr(0, name.size() - stem.size());
    if (!prefix.empty() && prefix.back() != '.') continue;
    if (checkpoint.find(prefix + "bn1.weight") && checkpoint.find(prefix + "layer1.0.conv1.weight"))
      candidates.push_back(prefix);
  }
  if (candidates.empty())
    fail(ErrorCode::InvalidFormat,
         "{}: no torchvision ResNet state_dict found: no tensor 'conv1.weight' (bare or under a prefix such as "
         "'encoder.') with 'bn1.weight' and 'layer1.0.conv1.weight' beside it",
         path);
  if (candidates.size() > 1)
    fail(ErrorCode::InvalidFormat, "{}: holds several ResNets, under the prefixes '{}'; expected one per file", path,
         fmt::join(candidates, "', '"));
  return candidates.front();
}

// The tensor widened to f32, after checking its dtype and shape.
at::Tensor read_f32(const SafetensorsCheckpoint& checkpoint, const ExpectedTensor& expected, const std::string& arch) {
  const SafetensorsTensor* t = checkpoint.find(expected.name);
  at::ScalarType stored;
  if (t->dtype == "F32") {
    stored = at::kFloat;
  } else if (t->dtype == "F16") {
    stored = at::kHalf;
  } else if (t->dtype == "BF16") {
    stored = at::kBFloat16;
  } else {
    fail(ErrorCode::Unsupported, "{}: tensor '{}' has dtype {}, expected F32, F16 or BF16", t->file, t->name, t->dtype);
  }
  if (t->shape != expected.shape)
    fail(ErrorCode::InvalidFormat, "{}: tensor '{}' has shape [{}], expected [{}] for {}", t->file, t->name,
         fmt::join(t->shape, ", "), fmt::join(expected.shape, ", "), arch);
  // Copied, not wrapped: a tensor's offset in the file need not be aligned for its type.
  at::Tensor raw = at::empty(t->shape, at::TensorOptions().dtype(stored));
  std::memcpy(raw.data_ptr(), t->data, t->nbytes);
  return raw.to(at::kFloat);
}

}  // namespace

ResNetLayout resnet_layout(EncoderArch arch, int64_t base_width) {
  if (base_width < 1 || base_width > kMaxResNetBaseWidth)
    fail(ErrorCode::InvalidArgument, "ResNet base width {} is outside [1, {}]", base_width, kMaxResNetBaseWidth);
  bool bottleneck = false;
  int depth[4];
  switch (arch) {
    case EncoderArch::ResNet18: depth[0] = 2, depth[1] = 2, depth[2] = 2, depth[3] = 2; break;
    case EncoderArch::ResNet34: depth[0] = 3, depth[1] = 4, depth[2] = 6, depth[3] = 3; break;
    case EncoderArch::ResNet50: depth[0] = 3, depth[1] = 4, depth[2] = 6, depth[3] = 3, bottleneck = true; break;
    default: fail(ErrorCode::InvalidArgument, "{} is not a ResNet architecture", encoder_arch_name(arch));
  }
  const int64_t expansion = bottleneck ? 4 : 1;
  ResNetLayout layout;
  layout.name = std::string(encoder_arch_name(arch));
  if (base_width != 64) layout.name += fmt::format(" (base width {})", base_width);
  layout.base_width = base_width;
  layout.stem = {"conv1", "bn1", 3, base_width, 7, 2, 3};
  int64_t in = base_width;
  for (int stage = 0; stage < 4; ++stage) {
    const int64_t planes = base_width << stage;
    for (int b = 0; b < depth[stage]; ++b) {
      const int64_t stride = stage > 0 && b == 0 ? 2 : 1;
      const std::string name = fmt::format("layer{}.{}.", stage + 1, b);
      BlockSpec block;
      auto conv = [&](int i, int64_t conv_in, int64_t conv_out, int64_t kernel, int64_t conv_stride) {
        block.path.push_back({fmt::format("{}conv{}", name, i), fmt::format("{}bn{}", name, i), conv_in, conv_out,
                              kernel, conv_stride, kernel / 2});
      };
      if (bottleneck) {
        conv(1, in, planes, 1, 1);
        conv(2, planes, planes, 3, stride);
        conv(3, planes, planes * expansion, 1, 1);
      } else {
        conv(1, in, planes, 3, stride);
        conv(2, planes, planes, 3, 1);
      }
      if (stride != 1 || in != planes * expansion)
        block.downsample = ConvBnSpec{name + "downsample.0", name + "downsample.1", in, planes * expansion, 1, stride, 0};
      in = planes * expansion;
      layout.blocks.push_back(std::move(block));
    }
  }
  layout.channels = in;
  return layout;
}

ResNetCheckpoint read_resnet_checkpoint(const std::string& path, EncoderArch arch) {
  const SafetensorsCheckpoint checkpoint = SafetensorsCheckpoint::open(path);
  const std::vector<std::string> names = checkpoint.names();
  const std::string prefix = find_prefix(path, checkpoint, names);
  // The stem's output channels give the base width (64 in torchvision's ResNets).
  const SafetensorsTensor* stem = checkpoint.find(prefix + "conv1.weight");
  if (stem->shape.size() != 4 || stem->shape[0] < 1 || stem->shape[0] > kMaxResNetBaseWidth)
    fail(ErrorCode::InvalidFormat, "{}: tensor '{}conv1.weight' has shape [{}], expected [W, 3, 7, 7] with W the base "
         "width (64 in torchvision) up to {}", path, prefix, fmt::join(stem->shape, ", "), kMaxResNetBaseWidth);
  ResNetCheckpoint result;
  result.layout = resnet_layout(arch, stem->shape[0]);
  const ResNetLayout& layout = result.layout;
  const std::vector<ExpectedTensor> expected = expected_tensors(layout, prefix);

  std::vector<const ExpectedTensor*> missing;
  for (const ExpectedTensor& e : expected)
    if (!checkpoint.find(e.name)) missing.push_back(&e);
  if (!missing.empty()) {
    std::vector<std::string> some;
    for (size_t i = 0; i < missing.size() && i < 5; ++i) some.push_back(missing[i]->name);
    fail(ErrorCode::InvalidFormat, "{}: tensor '{}' (shape [{}]) is missing; {} of the {} tensors of {} are missing: {}{}",
         path, missing[0]->name, fmt::join(missing[0]->shape, ", "), missing.size(), expected.size(), layout.name,
         fmt::join(some, ", "), missing.size() > some.size() ? ", ..." : "");
  }

  std::set<std::string> known;
  for (const ExpectedTensor& e : expected) known.insert(e.name);
  std::vector<std::string> unknown;
  const std::string counter = ".num_batches_tracked";
  for (const std::string& name : names) {
    if (known.count(name) || starts_with(name, prefix + "fc.")) continue;
    if (ends_with(name, counter) && known.count(name.substr(0, name.size() - counter.size()) + ".running_mean")) continue;
    unknown.push_back(name);
  }
  if (!unknown.empty()) {
    const std::vector<std::string> some(unknown.begin(), unknown.begin() + std::min<size_t>(unknown.size(), 5));
    fail(ErrorCode::InvalidFormat, "{}: {} tensor(s) that {} does not have (prefix '{}'): {}{}", path, unknown.size(),
         layout.name, prefix, fmt::join(some, ", "), unknown.size() > some.size() ? ", ..." : "");
  }

  std::map<std::string, at::Tensor>& tensors = result.tensors;
  for (const ExpectedTensor& e : expected) {
    at::Tensor t = read_f32(checkpoint, e, layout.name);
    const std::string name = e.name.substr(prefix.size());
    if (ends_with(name, ".running_var") && !(at::isfinite(t) & (t >= 0)).all().item<bool>())
      fail(ErrorCode::InvalidFormat, "{}: tensor '{}' holds a negative or non-finite variance", path, e.name);
    tensors.emplace(name, std::move(t));
  }
  return result;
}

ResNetWeights fold_batch_norms(const ResNetCheckpoint& checkpoint) {
  const ResNetLayout& layout = checkpoint.layout;
  const std::map<std::string, at::Tensor>& tensors = checkpoint.tensors;
  auto read_conv_bn = [&](const ConvBnSpec& s) {
    auto read = [&](const std::string& name) { return tensors.at(name).to(at::kDouble); };
    const at::Tensor weight = read(s.conv + ".weight");
    const at::Tensor gamma = read(s.bn + ".weight");
    const at::Tensor beta = read(s.bn + ".bias");
    const at::Tensor mean = read(s.bn + ".running_mean");
    const at::Tensor var = read(s.bn + ".running_var");
    const at::Tensor scale = gamma / (var + kBatchNormEps).sqrt();
    return ConvBn{(weight * scale.view({-1, 1, 1, 1})).to(at::kFloat).contiguous(),
                  (beta - mean * scale).to(at::kFloat).contiguous(), s.stride, s.padding};
  };

  ResNetWeights weights;
  weights.stem = read_conv_bn(layout.stem);
  for (const BlockSpec& spec : layout.blocks) {
    ResidualBlock block;
    for (const ConvBnSpec& conv : spec.path) block.path.push_back(read_conv_bn(conv));
    if (spec.downsample) block.downsample = read_conv_bn(*spec.downsample);
    weights.blocks.push_back(std::move(block));
  }
  return weights;
}

}  // namespace ophtha::vision
