// Kernel benchmark: weight bytes read per second by matvec for each stored type on the
// decode shapes of a 1.1B LLaMA (TinyLlama: dim 2048, ffn 5632, vocab 32000), and the
// thread pool's fork/join latency.
//
//   ophtha_bench_kernels [--threads N] [--seconds S] [--spin-us U] [--types f32,f16,bf16,q8_0,q4_0]
//
// Each matrix is replicated until the copies span >= 160 MiB and the calls cycle through
// them, so every call reads from DRAM as decode does (the L3 here is 32 MiB).
#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <iterator>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "ophtha/kernels.hpp"
#include "ophtha/tensor_type.hpp"
#include "ophtha/thread_pool.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using ophtha::TensorType;
namespace kernels = ophtha::kernels;

constexpr uint64_t kMinFootprintBytes = 160ull << 20;  // 5x the L3

struct Options {
  int threads = 2;
  int spin_us = ophtha::ThreadPool::kDefaultSpinMicroseconds;
  double seconds = 1.0;
  std::vector<TensorType> types{TensorType::F32, TensorType::F16, TensorType::BF16, TensorType::Q8_0,
                                TensorType::Q4_0};
};

struct Shape {
  int64_t rows, cols;
  const char* role;
};

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// One row-major [rows, cols] matrix of `type` with values drawn from N(0, 1).
std::vector<uint8_t> random_matrix(TensorType type, int64_t rows, int64_t cols, std::mt19937& rng) {
  const auto row_bytes = static_cast<size_t>(*ophtha::tensor_bytes(type, static_cast<uint64_t>(cols)));
  std::vector<uint8_t> out(row_bytes * static_cast<size_t>(rows));
  std::normal_distribution<float> normal(0.f, 1.f);
  std::vector<float> row(static_cast<size_t>(cols));
  for (int64_t r = 0; r < rows; ++r) {
    for (float& v : row) v = normal(rng);
    uint8_t* dst = out.data() + static_cast<size_t>(r) * row_bytes;
    switch (type) {
      case TensorType::F32: std::memcpy(dst, row.data(), row_bytes); break;
      case TensorType::F16:
      case TensorType::BF16:
        for (int64_t j = 0; j < cols; ++j) {
          const float v = row[static_cast<size_t>(j)];
          const uint16_t h = type == TensorType::F16 ? kernels::fp32_to_fp16(v) : kernels::fp32_to_bf16(v);
          std::memcpy(dst + 2 * j, &h, 2);
        }
        break;
      case TensorType::Q8_0: kernels::quantize_row_q8_0(row.data(), dst, cols); break;
      case TensorType::Q4_0: kernels::quantize_row_q4_0(row.data(), dst, cols); break;
    }
  }
  return out;
}

// One benchmarked product: copies of a random matrix spanning >= kMinFootprintBytes, and the
// time of every call made on it.
struct MatvecCase {
  TensorType type;
  Shape shape;
  uint64_t bytes = 0;  // of one copy
  size_t copies = 0;
  std::vector<uint8_t> weights;
  std::vector<float> x, y;
  std::vector<double> seconds;
  size_t next_copy = 0;

  MatvecCase(TensorType t, const Shape& s, std::mt19937& rng) : type(t), shape(s) {
    const std::vector<uint8_t> one = random_matrix(type, shape.rows, shape.cols, rng);
    bytes = one.size();
    copies = static_cast<size_t>(std::max<uint64_t>(1, (kMinFootprintBytes + bytes - 1) / bytes));
    weights.resize(one.size() * copies);
    for (size_t c = 0; c < copies; ++c) {
      uint8_t* copy = weights.data() + c * one.size();
      std::memcpy(copy, one.data(), one.size());
      // Flip the lowest bit of one byte per 4 KiB page, at an offset unique to the copy, so no
      // two pages are equal and a host that merges equal pages cannot fold copies into cache.
      for (size_t page = 0; c > 0 && page + 4096 <= one.size(); page += 4096) copy[page + (c * 7) % 4096] ^= 1;
    }
    std::normal_distribution<float> normal(0.f, 1.f);
    x.resize(static_cast<size_t>(shape.cols));
    y.resize(static_cast<size_t>(shape.rows));
    for (float& v : x) v = normal(rng);
  }

  void call(ophtha::ThreadPool& pool) {
    const uint8_t* W = weights.data() + (next_copy++ % copies) * bytes;
    kernels::matvec(type, W, shape.rows, shape.cols, x.data(), y.data(), &pool);
  }

  // Calls for `budget` seconds (at least 3 calls), recording each call's time.
  void run(ophtha::ThreadPool& pool, double budget) {
    const auto start = Clock::now();
    for (int i = 0; i < 3 || seconds_since(start) < budget; ++i) {
      const auto t0 = Clock::now();
      call(pool);
      seconds.push_back(seconds_since(t0));
    }
  }

  // GB/s of weight bytes at the median and at the fastest call.
  std::pair<double, double> gbs() const {
    std::vector<double> sorted = seconds;
    std::sort(sorted.begin(), sorted.end());
    const double gb = static_cast<double>(bytes) / 1e9;
    return {gb / sorted[sorted.size() / 2], gb / sorted.front()};
  }
};

// Busy work on the calling thread for `us` microseconds (the serial part of a decode step).
void serial_work(double us) {
  const auto start = Clock::now();
  while (seconds_since(start) * 1e6 < us) {
  }
}

// Median microseconds of parallel_for with an empty body after `gap_us` of serial work.
double fork_join_us(ophtha::ThreadPool& pool, double gap_us, int calls) {
  std::vector<double> times;
  const std::function<void(int64_t, int64_t, int)> nothing = [](int64_t, int64_t, int) {};
  for (int i = 0; i < calls; ++i) {
    serial_work(gap_us);
    const auto t0 = Clock::now();
    pool.parallel_for(pool.size(), 1, nothing);
    times.push_back(seconds_since(t0) * 1e6);
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const char* value = i + 1 < argc ? argv[i + 1] : nullptr;
    if (arg == "--threads" && value) {
      o.threads = std::atoi(value);
      ++i;
    } else if (arg == "--spin-us" && value) {
      o.spin_us = std::atoi(value);
      ++i;
    } else if (arg == "--seconds" && value) {
      o.seconds = std::atof(value);
      ++i;
    } else if (arg == "--types" && value) {
      o.types.clear();
      std::string list = value;
      for (size_t pos = 0; pos <= list.size();) {
        const size_t comma = std::min(list.find(',', pos), list.size());
        const std::string name = list.substr(pos, comma - pos);
        for (uint32_t id : {0u, 1u, 2u, 8u, 30u}) {
          const TensorType t = *ophtha::tensor_type_from_ggml(id);
          std::string lower(ophtha::tensor_type_info(t).name);
          for (char& c : lower) c = static_cast<char>(std::tolower(c));
          if (lower == name) o.types.push_back(t);
        }
        pos = comma + 1;
      }
      ++i;
    } else {
      std::fprintf(stderr, "usage: %s [--threads N] [--seconds S] [--spin-us U] [--types f32,f16,bf16,q8_0,q4_0]\n",
                   argv[0]);
      std::exit(2);
    }
  }
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  const Options options = parse(argc, argv);
  ophtha::ThreadPool pool(options.threads, options.spin_us);
  std::mt19937 rng(42);
  std::printf("kernels: %s, threads: %d, worker spin: %d µs\n\n", kernels::compiled_isa(), pool.size(), options.spin_us);

  // The machine's memory speed drifts (~10 % within an hour), so every case gets a slice of
  // each of several rounds rather than one contiguous run.
  const Shape shapes[] = {{2048, 5632, "ffn_down"}, {5632, 2048, "ffn_gate/up"}, {32000, 2048, "output"}};
  std::vector<std::unique_ptr<MatvecCase>> cases;
  for (TensorType type : options.types)
    for (const Shape& s : shapes) {
      cases.push_back(std::make_unique<MatvecCase>(type, s, rng));
      for (size_t c = 0; c < cases.back()->copies; ++c) cases.back()->call(pool);  // touch every page once
    }
  constexpr int kRounds = 5;
  for (int round = 0; round < kRounds; ++round)
    for (auto& c : cases) c->run(pool, options.seconds / kRounds);

  std::printf("matvec, GB/s of weight bytes read (median / best call)\n%-6s", "type");
  for (const Shape& s : shapes) std::printf("  %6lldx%-5lld %-11s", (long long)s.rows, (long long)s.cols, s.role);
  for (size_t i = 0; i < cases.size(); ++i) {
    if (i % std::size(shapes) == 0) std::printf("\n%-6s", std::string(ophtha::tensor_type_info(cases[i]->type).name).c_str());
    const auto [median, best] = cases[i]->gbs();
    std::printf("  %6.1f / %-6.1f      ", median, best);
  }
  std::printf("\n");
  cases.clear();

  // Prefill products: 128 tokens against the 1.1B shape's matrices, best of 5 after a warm-up.
  std::printf("\ngemm, 128 tokens, GFLOP/s (best of 5)%s\n%-6s", kernels::gemm_supported(TensorType::F32, 2048) ? "" : " — no AVX-512F: not run", "type");
  for (const Shape& s : shapes) std::printf("  %6lldx%-5lld %-11s", (long long)s.rows, (long long)s.cols, s.role);
  for (TensorType type : options.types) {
    std::printf("\n%-6s", std::string(ophtha::tensor_type_info(type).name).c_str());
    for (const Shape& s : shapes) {
      if (!kernels::gemm_supported(type, s.cols)) continue;
      const int64_t tokens = 128;
      const std::vector<uint8_t> W = random_matrix(type, s.rows, s.cols, rng);
      std::vector<float> X(static_cast<size_t>(tokens * s.cols), 0.5f), Y(static_cast<size_t>(tokens * s.rows));
      double best = 1e30;
      for (int rep = 0; rep < 6; ++rep) {
        const auto start = Clock::now();
        kernels::gemm(type, W.data(), s.rows, s.cols, X.data(), tokens, Y.data(), &pool);
        if (rep > 0) best = std::min(best, seconds_since(start));
      }
      std::printf("  %6.1f                   ", 2.0 * tokens * s.rows * s.cols / best / 1e9);
    }
  }
  std::printf("\n");

  std::printf("\nfork/join of an empty parallel_for, median µs, after serial work of:\n");
  for (double gap : {0.0, 2.0, 10.0, 40.0, 200.0, 2000.0}) {
    const int calls = gap >= 1000 ? 300 : 20000;
    std::printf("  %7.0f µs: %6.2f µs\n", gap, fork_join_us(pool, gap, calls));
  }
  return 0;
}
