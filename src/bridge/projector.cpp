// FeatureProjector: construction, the forward pass, fingerprint. Reading and writing the
// safetensors file is projector_file.cpp.
#include "ophtha/projector.hpp"

#include <array>
#include <cmath>

#include <ATen/ATen.h>
#include <fmt/ranges.h>

#include "bridge/projector_layout.hpp"
#include "ophtha/content_hash.hpp"
#include "ophtha/error.hpp"
#include "ophtha/random.hpp"

namespace ophtha {
namespace {

constexpr std::array<std::pair<ProjectorKind, std::string_view>, 2> kKindNames{{
    {ProjectorKind::Linear, "linear"},
    {ProjectorKind::MlpGelu, "mlp2x_gelu"},
}};

int64_t modality_row(Modality m) {
  switch (m) {
    case Modality::Cfp: return 0;
    case Modality::Oct: return 1;
    case Modality::Osa: return 2;
  }
  fail(ErrorCode::InvalidArgument, "unknown Modality value {}", static_cast<int>(m));
}

int64_t eye_row(Eye e) {
  switch (e) {
    case Eye::OD: return 0;
    case Eye::OS: return 1;
  }
  fail(ErrorCode::InvalidArgument, "unknown Eye value {}", static_cast<int>(e));
}

at::Tensor uniform_tensor(Random& random, at::IntArrayRef shape, double bound) {
  at::Tensor t = at::empty(shape, at::kFloat);
  float* p = t.data_ptr<float>();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = static_cast<float>(random.uniform(-bound, bound));
  return t;
}

at::Tensor normal_tensor(Random& random, at::IntArrayRef shape, double sd) {
  at::Tensor t = at::empty(shape, at::kFloat);
  float* p = t.data_ptr<float>();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = static_cast<float>(random.normal(0.0, sd));
  return t;
}

}  // namespace

std::string_view projector_kind_name(ProjectorKind kind) {
  for (const auto& [k, name] : kKindNames)
    if (k == kind) return name;
  fail(ErrorCode::InvalidArgument, "unknown ProjectorKind value {}", static_cast<int>(kind));
}

ProjectorKind parse_projector_kind(std::string_view name) {
  for (const auto& [kind, known] : kKindNames)
    if (known == name) return kind;
  fail(ErrorCode::InvalidArgument, "unknown projector type '{}', expected linear or mlp2x_gelu", name);
}

void ProjectorConfig::validate(const std::string& source) const {
  projector_kind_name(kind);
  if (vision_channels < 1 || vision_channels > bridge::kMaxProjectorWidth)
    fail(ErrorCode::InvalidArgument, "{}: projector vision_channels (C) is {}, expected 1 to {}", source,
         vision_channels, bridge::kMaxProjectorWidth);
  if (embedding_dim < 1 || embedding_dim > bridge::kMaxProjectorWidth)
    fail(ErrorCode::InvalidArgument, "{}: projector embedding_dim (d) is {}, expected 1 to {}", source, embedding_dim,
         bridge::kMaxProjectorWidth);
  if (pool_side < 0 || pool_side > bridge::kMaxPoolSide)
    fail(ErrorCode::InvalidArgument, "{}: projector pool_side is {}, expected 0 (no pooling) to {}", source, pool_side,
         bridge::kMaxPoolSide);
}

std::vector<bridge::ProjectorParameterSpec> bridge::projector_layout(const ProjectorConfig& c) {
  const int64_t C = c.vision_channels, d = c.embedding_dim;
  std::vector<ProjectorParameterSpec> specs;
  if (c.kind == ProjectorKind::Linear) {
    specs = {{"mm_projector.weight", {d, C}, C}, {"mm_projector.bias", {d}, C}};
  } else {
    specs = {{"mm_projector.0.weight", {d, C}, C},
             {"mm_projector.0.bias", {d}, C},
             {"mm_projector.2.weight", {d, d}, d},
             {"mm_projector.2.bias", {d}, d}};
  }
  specs.push_back({std::string(kModalityEmbedding), {kModalityCount, d}, 0});
  specs.push_back({std::string(kEyeEmbedding), {kEyeCount, d}, 0});
  return specs;
}

FeatureProjector::FeatureProjector(ProjectorConfig config, std::vector<std::pair<std::string, at::Tensor>> parameters)
    : config_(config), parameters_(std::move(parameters)) {}

FeatureProjector FeatureProjector::random(const ProjectorConfig& config, uint64_t seed) {
  config.validate("FeatureProjector::random");
  Random random(seed);
  std::vector<std::pair<std::string, at::Tensor>> parameters;
  for (const bridge::ProjectorParameterSpec& spec : bridge::projector_layout(config)) {
    at::Tensor t = spec.fan_in > 0 ? uniform_tensor(random, spec.shape, 1.0 / std::sqrt(double(spec.fan_in)))
                                   : normal_tensor(random, spec.shape, 0.02);
    parameters.emplace_back(spec.name, std::move(t));
  }
  return FeatureProjector(config, std::move(parameters));
}

FeatureProjector FeatureProjector::from_parameters(const ProjectorConfig& config,
                                                   const std::vector<std::pair<std::string, at::Tensor>>& given) {
  config.validate("FeatureProjector::from_parameters");
  const auto specs = bridge::projector_layout(config);
  std::vector<std::pair<std::string, at::Tensor>> parameters;
  for (const bridge::ProjectorParameterSpec& spec : specs) {
    const at::Tensor* found = nullptr;
    for (const auto& [name, t] : given)
      if (name == spec.name) found = &t;
    if (!found || !found->defined())
      fail(ErrorCode::InvalidArgument, "FeatureProjector::from_parameters: parameter '{}' [{}] is missing", spec.name,
           fmt::join(spec.shape, ", "));
    if (found->sizes() != at::IntArrayRef(spec.shape))
      fail(ErrorCode::InvalidArgument, "FeatureProjector::from_parameters: parameter '{}' has shape [{}], expected [{}]",
           spec.name, fmt::join(found->sizes(), ", "), fmt::join(spec.shape, ", "));
    parameters.emplace_back(spec.name, found->detach().to(at::kCPU, at::kFloat).contiguous().clone());
  }
  for (const auto& [name, t] : given) {
    bool known = false;
    for (const auto& spec : specs) known = known || spec.name == name;
    if (!known)
      fail(ErrorCode::InvalidArgument, "FeatureProjector::from_parameters: a {} projector has no parameter '{}'",
           projector_kind_name(config.kind), name);
  }
  return FeatureProjector(config, std::move(parameters));
}

at::Tensor FeatureProjector::project(const VisionFeatures& features, const std::vector<Modality>& modalities,
                                     const std::vector<Eye>& eyes) const {
  const at::Tensor& tokens = features.tokens;
  const int64_t C = config_.vision_channels;
  if (!tokens.defined() || tokens.dim() != 3 || tokens.size(0) < 1 || tokens.size(1) < 1 || tokens.size(2) != C)
    fail(ErrorCode::InvalidArgument, "FeatureProjector::project: feature tokens have shape [{}], expected [B, N, {}] "
         "(the projector's C = {})", tokens.defined() ? fmt::format("{}", fmt::join(tokens.sizes(), ", ")) : "undefined",
         C, C);
  if (tokens.scalar_type() != at::kFloat || !tokens.device().is_cpu())
    fail(ErrorCode::InvalidArgument, "FeatureProjector::project: feature tokens are {} on {}, expected float32 on the CPU",
         c10::toString(tokens.scalar_type()), tokens.device().str());
  const int64_t B = tokens.size(0), N = tokens.size(1);
  const bool grid = features.grid_height > 0 || features.grid_width > 0;
  if (grid && (features.grid_height < 1 || features.grid_width < 1 || features.grid_height * features.grid_width != N))
    fail(ErrorCode::InvalidArgument, "FeatureProjector::project: grid {} x {} does not hold the {} tokens given",
         features.grid_height, features.grid_width, N);
  if (static_cast<int64_t>(modalities.size()) != B || static_cast<int64_t>(eyes.size()) != B)
    fail(ErrorCode::InvalidArgument, "FeatureProjector::project: {} images in the batch, but {} modalities and {} eyes given",
         B, modalities.size(), eyes.size());

  at::Tensor x = tokens;
  if (const int64_t p = config_.pool_side; p > 0) {
    if (grid) {
      const at::Tensor planes = tokens.transpose(1, 2).reshape({B, C, features.grid_height, features.grid_width});
      x = at::adaptive_avg_pool2d(planes, {p, p}).flatten(2).transpose(1, 2);
    } else {
      x = at::adaptive_avg_pool1d(tokens.transpose(1, 2), {p * p}).transpose(1, 2);
    }
  }
  at::Tensor y;
  if (config_.kind == ProjectorKind::Linear) {
    y = at::linear(x, parameter(0), parameter(1));
  } else {
    y = at::linear(at::gelu(at::linear(x, parameter(0), parameter(1))), parameter(2), parameter(3));
  }
  std::vector<int64_t> modality_rows, eye_rows;
  for (int64_t b = 0; b < B; ++b) {
    modality_rows.push_back(modality_row(modalities[b]));
    eye_rows.push_back(eye_row(eyes[b]));
  }
  const size_t m = parameters_.size() - 2;  // the two embeddings come last
  const at::Tensor image_code = parameter(m).index_select(0, at::tensor(modality_rows, at::kLong)) +
                                parameter(m + 1).index_select(0, at::tensor(eye_rows, at::kLong));  // (B, d)
  return (y + image_code.unsqueeze(1)).contiguous();
}

std::string FeatureProjector::fingerprint() const {
  ContentHasher h;
  h.text("ophtha projector v1").text(projector_kind_name(config_.kind));
  h.value(config_.vision_channels).value(config_.embedding_dim).value(config_.pool_side);
  for (const auto& [name, t] : parameters_) {
    const at::Tensor c = t.detach().contiguous();
    h.text(name).update(c.data_ptr(), static_cast<size_t>(c.numel()) * c.element_size());
  }
  return h.digest().hex();
}

void check_projector_fits(const FeatureProjector& projector, int64_t encoder_channels, int64_t llm_dim) {
  const ProjectorConfig& c = projector.config();
  if (c.vision_channels != encoder_channels || c.embedding_dim != llm_dim)
    fail(ErrorCode::InvalidArgument,
         "the projector maps C = {} channels to d = {}, but the vision encoder gives C = {} channels and the LLM's "
         "embedding size is d = {}; expected a projector {} -> {}",
         c.vision_channels, c.embedding_dim, encoder_channels, llm_dim, encoder_channels, llm_dim);
}

}  // namespace ophtha
