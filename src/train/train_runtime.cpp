// Process settings and model construction that every training stage shares (train_runtime.hpp).
#include "train/train_runtime.hpp"

#include <malloc.h>

#include <mutex>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include "llm/cpu_threads.hpp"
#include "ophtha/random.hpp"

namespace ophtha::train {

// One owner of the CPU threads, as for inference (llm/cpu_threads.hpp): OpenBLAS runs the matrix
// products on `threads` threads, LibTorch's intra-op pool stays at one. Measured on the 2-core
// VM (5M-parameter model, docs/training.md): LibTorch's OpenMP pool at 2 threads next to OpenBLAS
// ran 1.5–6× slower than at 1 thread, as soon as anything else used a core.
int claim_threads(int threads, TrainPrecision precision) {
  const int n = threads > 0 ? threads : llm::available_cores();
  const bool bf16 = precision == TrainPrecision::Bf16;
  llm::claim_blas_threads(bf16 ? 1 : n);
  at::set_num_threads(bf16 ? n : 1);
  return n;
}

// A step allocates and frees the same large activations (logits alone are batch × tokens × vocab
// floats, tens of MiB) every micro-batch. Above glibc's mmap threshold (at most 32 MiB by its
// dynamic rule) each is a fresh mmap and munmap, and every page is faulted in again: on the 5M
// benchmark the kernel's page-fault work was 39 % of the time. Kept on the heap instead, they are
// reused: 1.8× the tokens/s.
void keep_large_blocks_on_the_heap() {
  static std::once_flag once;
  std::call_once(once, [] {
    mallopt(M_MMAP_THRESHOLD, 1 << 30);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
  });
}

TrainableLlama build_model(const TrainConfig& c) {
  if (!c.init_from.empty()) return TrainableLlama::load(c.init_from);
  auto tokenizer = std::make_shared<const Tokenizer>(Tokenizer::from_sentencepiece_model(c.tokenizer));
  LlamaConfig config = c.scratch;
  config.vocab_size = tokenizer->n_vocab();
  return TrainableLlama::random(config, std::move(tokenizer), c.seed, c.init_std);
}

// The dropout seed of micro-batch m: a function of the run seed and m alone.
uint64_t dropout_seed(uint64_t seed, int64_t m) {
  return Random(seed ^ 0xD7C3A9E1B5F20486ull).fork(static_cast<uint64_t>(m)).next();
}


std::pair<double, double> finish_step(AdamW& optimizer, const std::vector<at::Tensor>& tensors,
                                      const LrSchedule& schedule, int64_t step, double grad_clip) {
  for (const at::Tensor& t : tensors)
    if (!t.grad().defined()) t.mutable_grad() = at::zeros_like(t);
  const double norm = clip_grad_norm(tensors, grad_clip);
  const double lr = schedule.at(step);
  optimizer.step(lr);
  for (const at::Tensor& t : tensors) t.mutable_grad() = at::Tensor();
  return {norm, lr};
}

}  // namespace ophtha::train
