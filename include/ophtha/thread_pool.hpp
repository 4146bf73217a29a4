// The one owner of Ophtha's CPU threads: a fork/join pool sized once per session.
//
// Decode calls parallel_for a few hundred times per token, so a call must cost a few
// microseconds, not the tens a sleeping thread needs to wake up. Workers therefore spin
// (with pause) for a short while after each call, then block on a condition variable, so
// an idle pool never holds a core while another library (OpenBLAS in prefill) runs.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>

#include "ophtha/export.h"

namespace ophtha {

class OPHTHA_API ThreadPool {
 public:
  // How long an idle worker (and a caller waiting for workers) spins before blocking. Waking a
  // blocked worker costs 20-50 µs on the 2-core VMs measured (a hand-off to a spinning one
  // ~0.2 µs), so the spin outlasts the serial gaps between the kernels of one decode step
  // (norms, RoPE, sampling: ~1-40 µs) yet stays short against a BLAS product (milliseconds).
  static constexpr int kDefaultSpinMicroseconds = 50;

  // Starts n_threads - 1 worker threads; the thread that calls parallel_for is worker 0.
  // Throws ophtha::Error: InvalidArgument when n_threads < 1 or spin_microseconds < 0,
  // Internal when the system refuses a thread.
  explicit ThreadPool(int n_threads, int spin_microseconds = kDefaultSpinMicroseconds);
  // Joins the workers. Must not run while a parallel_for is in progress.
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  // Number of threads, the caller's included.
  int size() const;

  // Runs fn(begin, end, thread_index) over [0, n) split into size() contiguous chunks, chunk t
  // to thread t (thread 0 = the caller), chunk boundaries multiples of `grain` (>= 1); empty
  // chunks are skipped, and when n <= grain or size() == 1 the caller runs fn(0, n, 0) alone.
  // Returns when every chunk is done. An exception thrown by fn on any thread is rethrown
  // here (the lowest thread index's, when several throw) after all chunks have finished.
  // One call at a time: a nested call from inside fn or a concurrent call from another thread
  // throws ophtha::Error(InvalidArgument) instead of deadlocking.
  void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t, int)>& fn);

  // Tells idle workers to block now rather than spin out their budget: call before handing
  // the cores to another threaded library (a BLAS product). Same thread rule as parallel_for.
  void park();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ophtha
