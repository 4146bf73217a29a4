#include "ophtha/thread_pool.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

#include "ophtha/error.hpp"

namespace ophtha {
namespace {

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#else
  std::this_thread::yield();
#endif
}

// Spins until done() or `budget` has passed; returns done()'s last value. The clock is read
// every 64 pauses (a pause is ~10-70 cycles, a clock read ~20 ns).
template <typename Done>
bool spin_until(const Done& done, std::chrono::nanoseconds budget) {
  const auto start = std::chrono::steady_clock::now();
  for (;;) {
    for (int i = 0; i < 64; ++i) {
      if (done()) return true;
      cpu_relax();
    }
    if (std::chrono::steady_clock::now() - start > budget) return done();
  }
}

// [begin, end) of chunk t when [0, n) is cut into `parts` chunks of whole grains.
std::pair<int64_t, int64_t> chunk_range(int64_t n, int64_t grain, int t, int parts) {
  const int64_t grains = n / grain + (n % grain != 0);
  // floor(grains * t / parts) without overflow: grains = q * parts + r.
  const auto boundary = [&](int64_t k) {
    const int64_t q = grains / parts, r = grains % parts;
    const int64_t g = q * k + r * k / parts;
    return std::min(n, g * grain);
  };
  return {boundary(t), boundary(t + 1)};
}

}  // namespace

// Synchronisation: the caller publishes a call (fn, n, grain) and then bumps generation; a
// worker that sees a new generation runs its chunk and decrements pending. Sleeping on
// either side uses the Dekker pattern on seq_cst atomics (sleeper: announce, then re-check;
// waker: publish, then look for announced sleepers), so no wake-up is lost and the fast
// path takes no lock.
struct ThreadPool::Impl {
  int n_threads = 1;
  std::chrono::nanoseconds spin{0};
  std::vector<std::thread> workers;

  // The current call, written by the caller before generation is bumped.
  const std::function<void(int64_t, int64_t, int)>* fn = nullptr;
  int64_t n = 0, grain = 1;
  std::vector<std::exception_ptr> errors;  // [n_threads], slot t written only by thread t

  alignas(64) std::atomic<uint64_t> generation{0};
  alignas(64) std::atomic<int> pending{0};  // workers that have not finished this call
  alignas(64) std::atomic<int> sleeping_workers{0};
  std::atomic<bool> caller_sleeping{false};
  std::atomic<bool> stop{false};
  std::atomic<bool> parked{false};  // set by park(), cleared by the next call
  std::atomic<bool> busy{false};

  std::mutex mutex;
  std::condition_variable work_cv, done_cv;

  void run_chunk(int t) {
    const auto [begin, end] = chunk_range(n, grain, t, n_threads);
    if (begin >= end) return;
    try {
      (*fn)(begin, end, t);
    } catch (...) {
      errors[static_cast<size_t>(t)] = std::current_exception();
    }
  }

  void worker_loop(int t) {
    uint64_t seen = 0;
    for (;;) {
      const auto new_call = [&] { return generation.load(std::memory_order_acquire) != seen; };
      const auto call_or_park = [&] { return new_call() || parked.load(std::memory_order_relaxed); };
      if (!spin_until(call_or_park, spin) || !new_call()) {
        std::unique_lock<std::mutex> lock(mutex);
        sleeping_workers.fetch_add(1);
        work_cv.wait(lock, [&] { return generation.load() != seen; });
        sleeping_workers.fetch_sub(1);
      }
      seen = generation.load(std::memory_order_acquire);
      if (stop.load(std::memory_order_acquire)) return;
      run_chunk(t);
      if (pending.fetch_sub(1) == 1 && caller_sleeping.load()) {
        std::lock_guard<std::mutex> lock(mutex);
        done_cv.notify_one();
      }
    }
  }

  // Stops and joins the workers started so far.
  void stop_workers() {
    stop.store(true);
    {
      std::lock_guard<std::mutex> lock(mutex);
      generation.fetch_add(1);
      work_cv.notify_all();
    }
    for (std::thread& worker : workers) worker.join();
    workers.clear();
  }

  void wake_workers() {
    generation.fetch_add(1);
    if (sleeping_workers.load() > 0) {
      std::lock_guard<std::mutex> lock(mutex);
      work_cv.notify_all();
    }
  }

  void wait_for_workers() {
    const auto all_done = [&] { return pending.load(std::memory_order_acquire) == 0; };
    if (spin_until(all_done, spin)) return;
    std::unique_lock<std::mutex> lock(mutex);
    caller_sleeping.store(true);
    done_cv.wait(lock, [&] { return pending.load() == 0; });
    caller_sleeping.store(false);
  }
};

ThreadPool::ThreadPool(int n_threads, int spin_microseconds) : impl_(std::make_unique<Impl>()) {
  if (n_threads < 1) fail(ErrorCode::InvalidArgument, "ThreadPool: n_threads is {}, expected >= 1", n_threads);
  if (spin_microseconds < 0)
    fail(ErrorCode::InvalidArgument, "ThreadPool: spin_microseconds is {}, expected >= 0", spin_microseconds);
  impl_->n_threads = n_threads;
  impl_->spin = std::chrono::microseconds(spin_microseconds);
  impl_->errors.resize(static_cast<size_t>(n_threads));
  impl_->workers.reserve(static_cast<size_t>(n_threads - 1));
  try {
    for (int t = 1; t < n_threads; ++t) impl_->workers.emplace_back([this, t] { impl_->worker_loop(t); });
  } catch (const std::system_error& e) {
    impl_->stop_workers();
    fail(ErrorCode::Internal, "ThreadPool: could not start {} threads: {}", n_threads, e.what());
  }
}

ThreadPool::~ThreadPool() { impl_->stop_workers(); }

int ThreadPool::size() const { return impl_->n_threads; }

void ThreadPool::park() { impl_->parked.store(true, std::memory_order_relaxed); }

void ThreadPool::parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t, int)>& fn) {
  Impl& s = *impl_;
  if (grain < 1) fail(ErrorCode::InvalidArgument, "ThreadPool::parallel_for: grain is {}, expected >= 1", grain);
  if (s.busy.exchange(true, std::memory_order_acquire))
    fail(ErrorCode::InvalidArgument,
         "ThreadPool::parallel_for called while another call on this pool is running (nested or concurrent)");
  struct Release {
    std::atomic<bool>& busy;
    ~Release() { busy.store(false, std::memory_order_release); }
  } release{s.busy};
  if (n <= 0) return;
  if (n <= grain || s.n_threads == 1) {
    fn(0, n, 0);
    return;
  }

  s.fn = &fn;
  s.n = n;
  s.grain = grain;
  s.pending.store(s.n_threads - 1, std::memory_order_relaxed);
  s.parked.store(false, std::memory_order_relaxed);
  s.wake_workers();
  s.run_chunk(0);
  s.wait_for_workers();
  s.fn = nullptr;

  for (std::exception_ptr& error : s.errors) {
    if (!error) continue;
    std::exception_ptr first = error;
    for (std::exception_ptr& e : s.errors) e = nullptr;
    std::rethrow_exception(first);
  }
}

}  // namespace ophtha
