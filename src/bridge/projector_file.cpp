// FeatureProjector::load / save: LLaVA's mm_projector tensor names in safetensors, the
// configuration in __metadata__ (docs/vision.md, "Projector file").
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <map>
#include <set>

#include <ATen/ATen.h>
#include <fmt/ranges.h>

#include "bridge/projector_layout.hpp"
#include "ophtha/error.hpp"
#include "ophtha/projector.hpp"
#include "ophtha/safetensors.hpp"

namespace ophtha {
namespace {

constexpr const char* kVersionKey = "ophtha_projector_version";
constexpr const char* kTypeKey = "mm_projector_type";
constexpr const char* kChannelsKey = "mm_hidden_size";
constexpr const char* kDimKey = "hidden_size";
constexpr const char* kPoolKey = "ophtha_pool_side";

bool ends_with(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The one prefix P such that P + "mm_projector.0.weight" or P + "mm_projector.weight" is a tensor.
std::string find_prefix(const SafetensorsFile& file, const std::string& path) {
  std::set<std::string> prefixes;
  for (const SafetensorsTensor& t : file.tensors()) {
    for (std::string_view first : {"mm_projector.0.weight", "mm_projector.weight"})
      if (ends_with(t.name, first)) prefixes.insert(t.name.substr(0, t.name.size() - first.size()));
  }
  if (prefixes.empty())
    fail(ErrorCode::InvalidFormat, "{}: no tensor 'mm_projector.0.weight' or 'mm_projector.weight' (under any prefix); "
         "not a projector file", path);
  if (prefixes.size() > 1)
    fail(ErrorCode::InvalidFormat, "{}: projector weights under several prefixes ('{}'), expected one",
         path, fmt::join(prefixes, "', '"));
  return *prefixes.begin();
}

int64_t metadata_integer(const std::map<std::string, std::string>& metadata, const char* key, const std::string& path,
                         int64_t lo, int64_t hi) {
  const auto it = metadata.find(key);
  if (it == metadata.end()) fail(ErrorCode::InvalidFormat, "{}: __metadata__ lacks '{}'", path, key);
  const std::string& text = it->second;
  char* end = nullptr;
  errno = 0;
  const long long value = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || errno == ERANGE || value < lo || value > hi)
    fail(ErrorCode::InvalidFormat, "{}: __metadata__ '{}' is '{}', expected an integer in [{}, {}]", path, key, text, lo,
         hi);
  return value;
}

// The configuration: from __metadata__ when the file is Ophtha's, otherwise from the names and shapes.
ProjectorConfig read_config(const SafetensorsFile& file, const std::string& prefix, const std::string& path,
                            bool& ophtha_file) {
  const auto& metadata = file.metadata();
  ProjectorConfig c;
  ophtha_file = metadata.count(kVersionKey) > 0;
  if (ophtha_file) {
    if (metadata.at(kVersionKey) != "1")
      fail(ErrorCode::Unsupported, "{}: __metadata__ '{}' is '{}', expected '1'", path, kVersionKey,
           metadata.at(kVersionKey));
    const auto type = metadata.find(kTypeKey);
    if (type == metadata.end()) fail(ErrorCode::InvalidFormat, "{}: __metadata__ lacks '{}'", path, kTypeKey);
    if (type->second != "linear" && type->second != "mlp2x_gelu")
      fail(ErrorCode::InvalidFormat, "{}: __metadata__ '{}' is '{}', expected linear or mlp2x_gelu", path, kTypeKey,
           type->second);
    c.kind = parse_projector_kind(type->second);
    c.vision_channels = metadata_integer(metadata, kChannelsKey, path, 1, bridge::kMaxProjectorWidth);
    c.embedding_dim = metadata_integer(metadata, kDimKey, path, 1, bridge::kMaxProjectorWidth);
    c.pool_side = metadata_integer(metadata, kPoolKey, path, 0, bridge::kMaxPoolSide);
    return c;
  }
  const SafetensorsTensor* first = file.find(prefix + "mm_projector.0.weight");
  c.kind = first ? ProjectorKind::MlpGelu : ProjectorKind::Linear;
  if (!first) first = file.find(prefix + "mm_projector.weight");
  if (first->shape.size() != 2)
    fail(ErrorCode::InvalidFormat, "{}: tensor '{}' has shape [{}], expected [d, C]", path, first->name,
         fmt::join(first->shape, ", "));
  c.embedding_dim = first->shape[0];
  c.vision_channels = first->shape[1];
  if (c.vision_channels < 1 || c.vision_channels > bridge::kMaxProjectorWidth || c.embedding_dim < 1 ||
      c.embedding_dim > bridge::kMaxProjectorWidth)
    fail(ErrorCode::InvalidFormat, "{}: tensor '{}' has shape [{}], expected [d, C] with d and C in [1, {}]", path,
         first->name, fmt::join(first->shape, ", "), bridge::kMaxProjectorWidth);
  return c;
}

at::Tensor read_f32(const SafetensorsTensor& t, const std::string& path) {
  at::ScalarType type;
  if (t.dtype == "F32") type = at::kFloat;
  else if (t.dtype == "F16") type = at::kHalf;
  else if (t.dtype == "BF16") type = at::kBFloat16;
  else
    fail(ErrorCode::Unsupported, "{}: tensor '{}' has dtype {}, expected F32, F16 or BF16", path, t.name, t.dtype);
  at::Tensor stored = at::empty(t.shape, type);
  std::memcpy(stored.data_ptr(), t.data, t.nbytes);
  at::Tensor f32 = stored.to(at::kFloat);
  if (!at::isfinite(f32).all().item<bool>())
    fail(ErrorCode::InvalidFormat, "{}: tensor '{}' holds a value that is not finite", path, t.name);
  return f32;
}

std::vector<uint8_t> f32_bytes(const at::Tensor& t) {
  const at::Tensor c = t.detach().to(at::kCPU, at::kFloat).contiguous();
  const auto* p = static_cast<const uint8_t*>(c.data_ptr());
  return std::vector<uint8_t>(p, p + c.numel() * sizeof(float));
}

}  // namespace

FeatureProjector FeatureProjector::load(const std::string& path) {
  const SafetensorsFile file = SafetensorsFile::open(path);
  const std::string prefix = find_prefix(file, path);
  bool ophtha_file = false;
  const ProjectorConfig config = read_config(file, prefix, path, ophtha_file);

  std::vector<std::pair<std::string, at::Tensor>> parameters;
  std::set<std::string> used;
  for (const bridge::ProjectorParameterSpec& spec : bridge::projector_layout(config)) {
    const std::string name = prefix + spec.name;
    const SafetensorsTensor* t = file.find(name);
    if (!t) {
      const bool embedding = spec.name == bridge::kModalityEmbedding || spec.name == bridge::kEyeEmbedding;
      if (embedding && !ophtha_file) {  // a bare LLaVA projector: no modality or eye information
        parameters.emplace_back(spec.name, at::zeros(spec.shape, at::kFloat));
        continue;
      }
      fail(ErrorCode::InvalidFormat, "{}: tensor '{}' [{}] of the {} projector {} -> {} is missing", path, name,
           fmt::join(spec.shape, ", "), projector_kind_name(config.kind), config.vision_channels, config.embedding_dim);
    }
    if (t->shape != spec.shape)
      fail(ErrorCode::InvalidFormat, "{}: tensor '{}' has shape [{}], expected [{}] for the {} projector {} -> {}", path,
           name, fmt::join(t->shape, ", "), fmt::join(spec.shape, ", "), projector_kind_name(config.kind),
           config.vision_channels, config.embedding_dim);
    parameters.emplace_back(spec.name, read_f32(*t, path));
    used.insert(name);
  }
  std::vector<std::string> extra;
  for (const SafetensorsTensor& t : file.tensors())
    if (!used.count(t.name)) extra.push_back(t.name);
  if (!extra.empty()) {
    const size_t shown = std::min<size_t>(extra.size(), 4);
    fail(ErrorCode::InvalidFormat, "{}: {} tensor(s) the {} projector does not have: '{}'{}", path, extra.size(),
         projector_kind_name(config.kind), fmt::join(extra.begin(), extra.begin() + shown, "', '"),
         extra.size() > shown ? ", ..." : "");
  }
  return FeatureProjector(config, std::move(parameters));
}

void FeatureProjector::save(const std::string& path, const std::string& prefix) const {
  std::vector<SafetensorsTensorData> tensors;
  for (const auto& [name, t] : parameters_) tensors.push_back({prefix + name, "F32", t.sizes().vec(), f32_bytes(t)});
  const std::map<std::string, std::string> metadata = {
      {"format", "pt"},
      {kVersionKey, "1"},
      {kTypeKey, std::string(projector_kind_name(config_.kind))},
      {kChannelsKey, std::to_string(config_.vision_channels)},
      {kDimKey, std::to_string(config_.embedding_dim)},
      {kPoolKey, std::to_string(config_.pool_side)},
  };
  write_safetensors(path, tensors, metadata);
}

}  // namespace ophtha
