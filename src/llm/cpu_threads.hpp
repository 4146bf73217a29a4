// One owner of the CPU threads. Ophtha's kernels run on a session's ThreadPool, prefill
// matrix products on LibTorch's BLAS (OpenBLAS on Debian). LibTorch's intra-op pool and
// OpenBLAS's pool, each sized to the cores, oversubscribe a small machine (a decode loop fell
// to ~2 tok/s on 2 cores), so LibTorch's own pool is kept at one thread and OpenBLAS is sized
// to the session's thread count just before each product.
#pragma once

namespace ophtha::llm {

// Threads this process may run on (sched_getaffinity), at least 1.
int available_cores();

// Sets LibTorch's intra-op threads to 1 (once per process) and OpenBLAS's to n_threads when
// the BLAS behind LibTorch is OpenBLAS (found with dlsym; a no-op for other BLAS).
void claim_blas_threads(int n_threads);

}  // namespace ophtha::llm
