// Optimisation pieces of training: AdamW (torch.optim.AdamW's arithmetic), the learning-rate
// schedule (linear warm-up, then cosine decay) and gradient clipping by global norm
// (torch.nn.utils.clip_grad_norm_). Written here rather than taken from torch::optim so that the
// optimizer state is plain named tensors a checkpoint can hold.
//
// Thread safety: an AdamW object belongs to one thread at a time; the free functions are
// thread-safe on distinct tensors.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <ATen/core/Tensor.h>

#include "ophtha/export.h"

namespace ophtha {

struct OPHTHA_API AdamWOptions {
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.01;  // decoupled (Loshchilov & Hutter); applied to matrices only, never to norm vectors
};

class OPHTHA_API AdamW {
 public:
  // `params`: the tensors to update in place, by name (their .grad() is read at each step).
  // Error(InvalidArgument) for betas outside [0, 1), eps < 0, weight_decay < 0, or a repeated name.
  AdamW(std::vector<std::pair<std::string, at::Tensor>> params, const AdamWOptions& options);

  // One update with learning rate `lr`, per parameter p with gradient g, after t = step_count():
  //   p ← p · (1 − lr·wd);  m ← β1 m + (1−β1) g;  v ← β2 v + (1−β2) g²
  //   p ← p − lr / (1 − β1ᵗ) · m / (√v / √(1 − β2ᵗ) + eps)
  // Error(InvalidArgument) naming a parameter that has no gradient.
  void step(double lr);
  int64_t step_count() const { return steps_; }

  // The moments by name: "exp_avg/<param>", "exp_avg_sq/<param>" (each shaped as its parameter).
  std::vector<std::pair<std::string, at::Tensor>> state() const;
  // Restores moments and the step count (a checkpoint). Error(InvalidFormat) naming a missing
  // moment or one whose shape differs from its parameter's.
  void load_state(const std::map<std::string, at::Tensor>& state, int64_t step_count, const std::string& source);

 private:
  struct Slot {
    std::string name;
    at::Tensor param, exp_avg, exp_avg_sq;
    bool decay;
  };
  std::vector<Slot> slots_;
  AdamWOptions options_;
  int64_t steps_ = 0;
};

// Learning rate of optimizer step `step` (0-based) of `total_steps`:
//   step < warmup_steps:  peak · (step + 1) / warmup_steps
//   afterwards:           min + (peak − min) · ½ (1 + cos(π · (step − warmup) / max(1, total − warmup)))
struct OPHTHA_API LrSchedule {
  double peak = 3e-4;
  double min = 0.0;
  int64_t warmup_steps = 0;
  int64_t total_steps = 1;
  double at(int64_t step) const;
};

// Scales every gradient by min(1, max_norm / (‖g‖ + 1e-6)), ‖g‖ the L2 norm of all gradients
// together, as torch.nn.utils.clip_grad_norm_ does; returns ‖g‖ before scaling. max_norm ≤ 0
// only measures. Tensors without a gradient are skipped.
OPHTHA_API double clip_grad_norm(const std::vector<at::Tensor>& params, double max_norm);

}  // namespace ophtha
