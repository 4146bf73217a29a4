// ggml's reference quantisers, bit for bit: small blocks worked out by hand, the vectorised
// activation quantiser against the scalar one, and both against a numpy transcription of
// quantize_row_q8_0_ref / quantize_row_q4_0_ref.
#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "kernels/kernels_internal.hpp"
#include "ophtha/error.hpp"
#include "ophtha/kernels.hpp"

using namespace ophtha;
using namespace ophtha::kernels;

namespace {

std::vector<BlockQ8_0> q8(const std::vector<float>& x) {
  std::vector<BlockQ8_0> out(x.size() / 32);
  quantize_row_q8_0(x.data(), out.data(), static_cast<int64_t>(x.size()));
  return out;
}

std::vector<BlockQ4_0> q4(const std::vector<float>& x) {
  std::vector<BlockQ4_0> out(x.size() / 32);
  quantize_row_q4_0(x.data(), out.data(), static_cast<int64_t>(x.size()));
  return out;
}

// Test vectors, block by block: normal values at several scales; values on exact rounding
// ties (k + 0.5 with a 127 in the block, so d = 1); and values placed within a few ulp of
// the Q8_0 or Q4_0 rounding boundaries of their block (where rounding x / d differently,
// or fusing x * (1 / d) + 8.5 into one FMA, would change the result).
std::vector<float> awkward_values(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.f, 1.f);
  std::uniform_int_distribution<int> kind(0, 5), k(-127, 126), nudge(-2, 2), q4_level(1, 15);
  std::vector<float> x(static_cast<size_t>(n));
  const auto near = [&](float v) {
    for (int s = nudge(rng); s != 0; s += s > 0 ? -1 : 1) v = std::nextafter(v, s > 0 ? INFINITY : -INFINITY);
    return v;
  };
  for (int64_t b = 0; b < n / 32; ++b) {
    float* xb = x.data() + b * 32;
    const int block_kind = kind(rng);
    const float m = normal(rng) * 5.f + 0.1f;  // the block's extreme value, at j = 0
    const float d8 = std::fabs(m) / 127.0f, inv8 = 1.0f / d8;
    const float d4 = m / -8.0f, inv4 = 1.0f / d4;
    for (int64_t j = 0; j < 32; ++j) {
      switch (block_kind) {
        case 0: xb[j] = normal(rng); break;
        case 1: xb[j] = normal(rng) * 1e-3f; break;
        case 2: xb[j] = j == 0 ? 127.f : static_cast<float>(k(rng)) + 0.5f; break;
        case 3: xb[j] = j == 0 ? 0.f : normal(rng) * 300.f; break;
        case 4: xb[j] = j == 0 ? m : near((static_cast<float>(k(rng)) + 0.5f) / inv8); break;
        default: xb[j] = j == 0 ? m : near((static_cast<float>(q4_level(rng)) - 8.5f) / inv4); break;
      }
    }
  }
  return x;
}

}  // namespace

TEST_CASE("quantize_row_q8_0 matches a block worked out by hand") {
  // x = -16..15: amax 16, d = 16/127 = 0.12598425f, 1/d = 7.9375f, f16(d) = 0x3008
  // (0.1259765625); q = roundf(x * 7.9375): -16 -> -127, -8 -> -63.5 -> -64, 1 -> 8, 15 -> 119.0625 -> 119.
  std::vector<float> x(32);
  for (int j = 0; j < 32; ++j) x[static_cast<size_t>(j)] = static_cast<float>(j - 16);
  const BlockQ8_0 block = q8(x)[0];
  CHECK(block.d == 0x3008);
  CHECK(block.qs[0] == -127);
  CHECK(block.qs[8] == -64);
  CHECK(block.qs[16] == 0);
  CHECK(block.qs[17] == 8);
  CHECK(block.qs[31] == 119);
}

TEST_CASE("quantize_row_q8_0 rounds ties away from zero like roundf") {
  // max 127: d = 1 (f16 0x3C00), so q = roundf(x) directly.
  std::vector<float> x(32, 0.f);
  const float values[] = {127.f, 0.5f, -0.5f, 2.5f, -2.5f, 3.49f, -100.4f, 1.5f};
  std::copy(std::begin(values), std::end(values), x.begin());
  const BlockQ8_0 block = q8(x)[0];
  CHECK(block.d == 0x3C00);
  const int expected[] = {127, 1, -1, 3, -3, 3, -100, 2, 0};
  for (int j = 0; j < 9; ++j) CHECK_MESSAGE(block.qs[j] == expected[j], "element ", j);
}

TEST_CASE("quantize_row_q8_0 gives zero scale and zero values for an all-zero block") {
  const BlockQ8_0 block = q8(std::vector<float>(32, 0.f))[0];
  CHECK(block.d == 0);
  for (int8_t q : block.qs) CHECK(q == 0);
}

TEST_CASE("quantize_row_q4_0 matches blocks worked out by hand") {
  SUBCASE("negative extreme: d = -8 / -8 = 1, q = min(15, trunc(x + 8.5))") {
    std::vector<float> x(32, 0.f);
    const float values[] = {-8.f, 7.f, 7.4f, -0.5f, 0.49f, 0.5f, -7.6f, 3.f};
    std::copy(std::begin(values), std::end(values), x.begin());
    x[16] = 1.f;   // high nibble of byte 0: trunc(9.5) = 9
    x[17] = -3.f;  // high nibble of byte 1: trunc(5.5) = 5
    const BlockQ4_0 block = q4(x)[0];
    CHECK(block.d == 0x3C00);
    const int low[] = {0, 15, 15, 8, 8, 9, 0, 11, 8};
    for (int j = 0; j < 9; ++j) CHECK_MESSAGE((block.qs[j] & 0x0F) == low[j], "element ", j);
    CHECK((block.qs[0] >> 4) == 9);
    CHECK((block.qs[1] >> 4) == 5);
    CHECK((block.qs[2] >> 4) == 8);  // x = 0
  }
  SUBCASE("positive extreme, first of equal magnitudes wins, clamp at 15") {
    // max = +16 (before -16): d = -2 (f16 0xC000), 1/d = -0.5.
    // 16 -> -8 + 8.5 = 0.5 -> 0; -16 -> 16.5 -> 16 -> clamped 15; -14 -> 15.5 -> 15; 3 -> 7.
    std::vector<float> x(32, 0.f);
    x[0] = 16.f;
    x[1] = -16.f;
    x[2] = -14.f;
    x[3] = 3.f;
    const BlockQ4_0 block = q4(x)[0];
    CHECK(block.d == 0xC000);
    CHECK((block.qs[0] & 0x0F) == 0);
    CHECK((block.qs[1] & 0x0F) == 15);
    CHECK((block.qs[2] & 0x0F) == 15);
    CHECK((block.qs[3] & 0x0F) == 7);
    CHECK((block.qs[4] & 0x0F) == 8);
  }
}

TEST_CASE("quantisers refuse lengths that are not whole blocks") {
  std::vector<float> x(48, 1.f);
  std::vector<uint8_t> out(64);
  CHECK_THROWS_AS(quantize_row_q8_0(x.data(), out.data(), 48), Error);
  CHECK_THROWS_AS(quantize_row_q4_0(x.data(), out.data(), 48), Error);
}

TEST_CASE("the matvec activation quantiser gives quantize_row_q8_0's bits") {
  const int64_t n = 32 * 512;
  const std::vector<float> x = awkward_values(n, 7);
  const std::vector<BlockQ8_0> expected = q8(x);
  std::vector<int8_t> qs(static_cast<size_t>(n));
  std::vector<float> d(static_cast<size_t>(n / 32));
  quantize_activation_q8(x.data(), n, qs.data(), d.data());
  int mismatches = 0;
  for (int64_t b = 0; b < n / 32; ++b) {
    const BlockQ8_0& e = expected[static_cast<size_t>(b)];
    const bool same_values = std::memcmp(e.qs, qs.data() + b * 32, 32) == 0;
    const bool same_scale = fp16_to_fp32(e.d) == d[static_cast<size_t>(b)];
    if (!(same_values && same_scale) && ++mismatches <= 3)
      MESSAGE("block ", b, " differs (values ", same_values, ", scale ", same_scale, ")");
  }
  CHECK(mismatches == 0);
}

TEST_CASE("quantisers match a numpy transcription of ggml's reference quantisers") {
  const std::string dir = OPHTHA_TEST_WORK_DIR;
  ::mkdir(dir.c_str(), 0755);
  const std::string stem = dir + "/kernels_quantize_" + std::to_string(::getpid());
  const int64_t n = 32 * 4096;
  const std::vector<float> x = awkward_values(n, 11);
  std::ofstream(stem + ".f32", std::ios::binary)
      .write(reinterpret_cast<const char*>(x.data()), static_cast<std::streamsize>(n * 4));

  // Float32 throughout, products and sums rounded separately, as the C reference reads.
  const std::string script = R"PY(
import sys, numpy as np
x = np.fromfile(sys.argv[1] + '.f32', dtype=np.float32).reshape(-1, 32)
f = np.float32
amax = np.abs(x).max(axis=1, keepdims=True)
d = (amax / f(127)).astype(np.float32)
inv = np.where(d != 0, f(1) / np.where(d != 0, d, f(1)), f(0)).astype(np.float32)
v = (x * inv).astype(np.float32)
a = np.abs(v); fl = np.floor(a)
q = (np.sign(v) * (fl + (a - fl >= f(0.5)))).astype(np.int8)
np.concatenate([d.astype(np.float16).view(np.uint8), q.view(np.uint8)], axis=1).tofile(sys.argv[1] + '.q8')
imax = np.abs(x).argmax(axis=1)[:, None]
m = np.take_along_axis(x, imax, axis=1)
d = (m / f(-8)).astype(np.float32)
inv = np.where(d != 0, f(1) / np.where(d != 0, d, f(1)), f(0)).astype(np.float32)
q = np.minimum(np.trunc((x * inv).astype(np.float32) + f(8.5)).astype(np.int8), 15).astype(np.uint8)
qs = q[:, :16] | (q[:, 16:] << 4)
np.concatenate([d.astype(np.float16).view(np.uint8), qs], axis=1).tofile(sys.argv[1] + '.q4')
)PY";
  std::ofstream(stem + ".py") << script;
  const std::string command = "/usr/bin/python3 '" + stem + ".py' '" + stem + "' 2>/dev/null";
  if (std::system(command.c_str()) != 0) {
    MESSAGE("skipped: /usr/bin/python3 with numpy is not available");
    return;
  }
  const auto read = [](const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
  };
  const std::vector<uint8_t> numpy_q8 = read(stem + ".q8"), numpy_q4 = read(stem + ".q4");
  const std::vector<BlockQ8_0> ours_q8 = q8(x);
  const std::vector<BlockQ4_0> ours_q4 = q4(x);
  REQUIRE(numpy_q8.size() == ours_q8.size() * sizeof(BlockQ8_0));
  REQUIRE(numpy_q4.size() == ours_q4.size() * sizeof(BlockQ4_0));
  CHECK_MESSAGE(std::memcmp(numpy_q8.data(), ours_q8.data(), numpy_q8.size()) == 0, "Q8_0 bytes differ from numpy");
  CHECK_MESSAGE(std::memcmp(numpy_q4.data(), ours_q4.data(), numpy_q4.size()) == 0, "Q4_0 bytes differ from numpy");
  for (const char* ext : {".f32", ".py", ".q8", ".q4"}) std::remove((stem + ext).c_str());
}
