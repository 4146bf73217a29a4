// What every training stage shares besides the optimiser: the CPU thread policy, the allocator
// setting, the language model a configuration names, and the per-micro-batch dropout seed.
#pragma once
#include <cstdint>
#include <utility>
#include <vector>

#include "ophtha/train.hpp"

namespace ophtha::train {

// f32: OpenBLAS runs the matrix products on `threads` threads (0 = every core this process may
// use), LibTorch's intra-op pool stays at one (llm/cpu_threads.hpp). bf16: the products run in
// oneDNN on LibTorch's pool, so that pool gets the threads and OpenBLAS one. Returns the count.
int claim_threads(int threads, TrainPrecision precision);

// glibc's mmap and trim thresholds raised to 1 GiB, once per process (train.hpp says why).
void keep_large_blocks_on_the_heap();

// The model of `config`: loaded from model.from, or drawn from the seed with model.tokenizer.
TrainableLlama build_model(const TrainConfig& config);

// The end of an optimizer step after backward(): a tensor no example reached gets a zero gradient
// (torch's zero_grad(set_to_none=False)), the gradients are clipped to `grad_clip`, AdamW steps
// with the schedule's rate at `step`, and the gradients are dropped. Returns {norm before
// clipping, learning rate}.
std::pair<double, double> finish_step(AdamW& optimizer, const std::vector<at::Tensor>& tensors,
                                      const LrSchedule& schedule, int64_t step, double grad_clip);

// The dropout seed of micro-batch m: a function of the run seed and m alone.
uint64_t dropout_seed(uint64_t seed, int64_t m);

}  // namespace ophtha::train
