// Mixed-precision training on the CPU (the configuration's "precision", docs/training.md).
//
// bf16: LibTorch's CPU autocast runs the matrix products and convolutions of the forward pass in
// bfloat16 (oneDNN; the weights stay f32 and AdamW updates them in f32, as torch.autocast with
// dtype=torch.bfloat16 does), the losses are taken in f32. On a CPU with native bf16 dot products
// (AVX512-BF16 or AMX) a step runs 2–3× faster (docs/benchmarks.md); elsewhere oneDNN emulates
// them and bf16 is slower than f32, which is what "auto" avoids.
#pragma once

#include "ophtha/train.hpp"

namespace ophtha::train {

// True when this CPU computes bf16 dot products natively (AVX512-BF16 or AMX-BF16).
bool cpu_has_native_bf16();

// The forward pass of one micro-batch in the run's precision: under bf16, autocast is on for the
// scope's lifetime and its cache of bf16 weight copies is dropped at the end (the optimizer changes
// the weights between steps). Under f32 it does nothing. One scope per thread at a time.
class AutocastScope {
 public:
  explicit AutocastScope(TrainPrecision precision);
  ~AutocastScope();
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  bool active_ = false;
};

}  // namespace ophtha::train
