// The projector's parameters by name and shape, shared by construction and the file reader.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ophtha/projector.hpp"

namespace ophtha::bridge {

constexpr int64_t kMaxProjectorWidth = 65536;  // C and d: far above any encoder or LLaMA
constexpr int64_t kMaxPoolSide = 64;
constexpr std::string_view kModalityEmbedding = "mm_projector.modality_embedding";
constexpr std::string_view kEyeEmbedding = "mm_projector.eye_embedding";

struct ProjectorParameterSpec {
  std::string name;            // without prefix
  std::vector<int64_t> shape;
  int64_t fan_in;              // of a Linear's weight and bias; 0 for an embedding
};

// In named_parameters() order; the two embeddings last.
std::vector<ProjectorParameterSpec> projector_layout(const ProjectorConfig& config);

}  // namespace ophtha::bridge
