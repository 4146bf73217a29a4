// The training checkpoint file (layout in include/ophtha/train.hpp): named f32 tensors and string
// metadata in one safetensors file, written atomically.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>

#include "ophtha/train_optim.hpp"

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

// What every trainer's resume does with a checkpoint read from `path`:
//   check_run_identity: Error(InvalidFormat) when its "run" metadata differs from `identity`
//     (both named);
//   restore_tensors: copies "<prefix><name>" into each tensor (in place, no gradient), converting
//     to the tensor's dtype; Error(InvalidFormat) naming a missing or misshapen tensor;
//   optimizer_moments: the "adamw/…" tensors with the prefix removed (AdamW::load_state's input).
void check_run_identity(const CheckpointContents& c, const std::string& identity, const std::string& path);
void restore_tensors(const CheckpointContents& c, const std::string& prefix,
                     const std::vector<std::pair<std::string, at::Tensor>>& tensors, const std::string& path);
std::map<std::string, at::Tensor> optimizer_moments(const CheckpointContents& c);

// A run's checkpoint at `path`: "param/<name>" for `params`, "buffer/<name>" for `buffers`, the
// optimizer's moments, and the step, the optimizer's step count and the run identity.
void save_run_checkpoint(const std::string& path, const std::vector<std::pair<std::string, at::Tensor>>& params,
                         const std::vector<std::pair<std::string, at::Tensor>>& buffers, const AdamW& optimizer,
                         int64_t step, const std::string& identity);

// Reads what save_run_checkpoint wrote back into the same tensors and the optimizer (checking the
// run identity); returns the step.
int64_t load_run_checkpoint(const std::string& path, const std::vector<std::pair<std::string, at::Tensor>>& params,
                            const std::vector<std::pair<std::string, at::Tensor>>& buffers, AdamW& optimizer,
                            const std::string& identity);

}  // namespace ophtha::train
