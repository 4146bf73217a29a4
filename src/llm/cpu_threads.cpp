#include "llm/cpu_threads.hpp"

#include <dlfcn.h>
#include <sched.h>

#include <atomic>
#include <mutex>

#include <ATen/Parallel.h>

namespace ophtha::llm {

int available_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    const int n = CPU_COUNT(&set);
    if (n > 0) return n;
  }
  return 1;
}

void claim_blas_threads(int n_threads) {
  static std::once_flag torch_once;
  std::call_once(torch_once, [] { at::set_num_threads(1); });

  using SetThreads = void (*)(int);
  using GetThreads = int (*)();
  static const auto set_threads =
      reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
  static const auto get_threads =
      reinterpret_cast<GetThreads>(dlsym(RTLD_DEFAULT, "openblas_get_num_threads"));
  if (set_threads && (!get_threads || get_threads() != n_threads)) set_threads(n_threads);
}

}  // namespace ophtha::llm
