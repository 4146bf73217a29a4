// ThreadPool: chunking, thread indices, exceptions, refusal of nested calls, and many quick
// calls through both the spinning and the sleeping hand-off.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>
#include <vector>

#include "ophtha/error.hpp"
#include "ophtha/thread_pool.hpp"

using namespace ophtha;

TEST_CASE("parallel_for covers [0, n) once in contiguous grain-aligned chunks, chunk t on thread t") {
  for (int threads : {1, 2, 3, 7}) {
    ThreadPool pool(threads);
    CHECK(pool.size() == threads);
    for (int64_t n : {1, 2, 5, 64, 1000, 1001}) {
      for (int64_t grain : {1, 4, 16}) {
        std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
        std::vector<std::pair<int64_t, int64_t>> chunks(static_cast<size_t>(threads), {-1, -1});
        pool.parallel_for(n, grain, [&](int64_t begin, int64_t end, int t) {
          REQUIRE(t >= 0);
          REQUIRE(t < threads);
          chunks[static_cast<size_t>(t)] = {begin, end};
          for (int64_t i = begin; i < end; ++i) hits[static_cast<size_t>(i)]++;
        });
        CAPTURE(threads);
        CAPTURE(n);
        CAPTURE(grain);
        for (int64_t i = 0; i < n; ++i) CHECK(hits[static_cast<size_t>(i)] == 1);
        int64_t next = 0;
        for (const auto& [begin, end] : chunks) {
          if (begin < 0) continue;  // empty chunks are skipped
          CHECK(begin == next);
          CHECK(begin < end);
          CHECK(begin % grain == 0);
          CHECK((end % grain == 0 || end == n));
          next = end;
        }
        CHECK(next == n);
      }
    }
  }
}

TEST_CASE("an exception thrown on a worker or on the caller is rethrown to the caller") {
  ThreadPool pool(3);
  for (int thrower : {0, 1, 2}) {
    CAPTURE(thrower);
    std::atomic<int> finished{0};
    CHECK_THROWS_WITH_AS(pool.parallel_for(3, 1,
                                           [&](int64_t, int64_t, int t) {
                                             if (t == thrower) throw std::runtime_error("chunk failed");
                                             finished++;
                                           }),
                         "chunk failed", std::runtime_error);
    CHECK(finished == 2);  // the other chunks still ran to completion
  }
  int64_t total = 0;
  std::atomic<int64_t> sum{0};
  pool.parallel_for(100, 1, [&](int64_t b, int64_t e, int) {
    for (int64_t i = b; i < e; ++i) sum += i;
  });
  for (int64_t i = 0; i < 100; ++i) total += i;
  CHECK(sum == total);  // the pool still works after a failure
}

TEST_CASE("a nested parallel_for is refused instead of deadlocking") {
  ThreadPool pool(2);
  CHECK_THROWS_AS(pool.parallel_for(2, 1, [&](int64_t, int64_t, int t) {
    if (t == 0) pool.parallel_for(2, 1, [](int64_t, int64_t, int) {});
  }),
                  Error);
  CHECK_THROWS_AS(ThreadPool(0), Error);
}

TEST_CASE("many quick calls complete, through both spinning and sleeping workers") {
  for (int spin_us : {0, ThreadPool::kDefaultSpinMicroseconds}) {
    CAPTURE(spin_us);
    ThreadPool pool(3, spin_us);
    std::atomic<int64_t> sum{0};
    const int calls = 20000;
    for (int c = 0; c < calls; ++c) {
      pool.parallel_for(3, 1, [&](int64_t b, int64_t e, int) { sum += e - b; });
      if (c % 1000 == 0) std::this_thread::sleep_for(std::chrono::microseconds(200));  // let workers sleep
    }
    CHECK(sum == 3 * calls);
  }
}

TEST_CASE("the pool can be destroyed right after creation and while workers sleep") {
  { ThreadPool pool(4); }
  ThreadPool pool(4, 0);
  pool.parallel_for(4, 1, [](int64_t, int64_t, int) {});
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
}

TEST_CASE("after park() the next calls wake the workers and still cover every index") {
  ThreadPool pool(3);
  for (int round = 0; round < 50; ++round) {
    pool.park();
    if (round % 10 == 0) std::this_thread::sleep_for(std::chrono::microseconds(300));
    std::atomic<int64_t> covered{0};
    pool.parallel_for(300, 1, [&](int64_t b, int64_t e, int) { covered += e - b; });
    CHECK(covered == 300);
  }
}
