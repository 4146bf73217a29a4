// The training checkpoint file (layout in include/ophtha/train.hpp): named f32 tensors and string
// metadata in one safetensors file, written atomically.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>

namespace ophtha::train {

inline constexpr const char* kCheckpointFormat = "ophtha-train-checkpoint-1";

struct CheckpointContents {
  std::map<std::string, at::Tensor> tensors;         // "param/…", "adamw/…"; f32
  std::map<std::string, std::string> metadata;       // "format", "step", "adamw_steps", "run", …
};

// Creates `dir` (and its parents) when missing, then writes <dir>/checkpoint.safetensors atomically.
// Error(Io) when the folder cannot be created or the file written.
void write_checkpoint(const std::string& path, const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata);

// Reads a checkpoint into memory (copies; the file is not kept mapped). Error(Io) when missing;
// Error(InvalidFormat) when it is not a safetensors file, its format tag is not kCheckpointFormat,
// or a tensor is not F32.
CheckpointContents read_checkpoint(const std::string& path);

// The integer stored under `key`; Error(InvalidFormat) naming the file and key otherwise.
int64_t metadata_integer(const CheckpointContents& c, const std::string& key, const std::string& path);

// mkdir -p; Error(Io) naming the folder.
void make_directories(const std::string& dir);

}  // namespace ophtha::train
