// binary16 / bfloat16 conversions: known encodings, round-to-nearest-even cases, and every
// half (and many floats) against the F16C instructions when the build has them.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <string>

#include "kernels/kernels_internal.hpp"
#include "ophtha/kernels.hpp"

using namespace ophtha::kernels;

namespace {

std::string hex(uint32_t v) {
  char text[16];
  std::snprintf(text, sizeof text, "0x%x", v);
  return text;
}

uint32_t bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

float from_bits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

}  // namespace

TEST_CASE("fp32_to_fp16 encodes known values") {
  CHECK(fp32_to_fp16(1.0f) == 0x3C00);
  CHECK(fp32_to_fp16(-2.0f) == 0xC000);
  CHECK(fp32_to_fp16(0.0f) == 0x0000);
  CHECK(fp32_to_fp16(-0.0f) == 0x8000);
  CHECK(fp32_to_fp16(65504.0f) == 0x7BFF);                   // largest half
  CHECK(fp32_to_fp16(0x1.0p-14f) == 0x0400);                 // smallest normal
  CHECK(fp32_to_fp16(0x1.0p-24f) == 0x0001);                 // smallest subnormal
  CHECK(fp32_to_fp16(1023 * 0x1.0p-24f) == 0x03FF);          // largest subnormal
  CHECK(fp32_to_fp16(std::numeric_limits<float>::infinity()) == 0x7C00);
  CHECK(fp32_to_fp16(-std::numeric_limits<float>::infinity()) == 0xFC00);
  const uint16_t nan = fp32_to_fp16(std::numeric_limits<float>::quiet_NaN());
  CHECK((nan & 0x7C00) == 0x7C00);
  CHECK((nan & 0x03FF) != 0);
}

TEST_CASE("fp32_to_fp16 rounds to nearest, ties to even") {
  CHECK(fp32_to_fp16(1.0f + 0x1.0p-11f) == 0x3C00);         // halfway 1 | 1+2^-10: even is 1
  CHECK(fp32_to_fp16(1.0f + 3 * 0x1.0p-11f) == 0x3C02);     // halfway 1+2^-10 | 1+2^-9: even is up
  CHECK(fp32_to_fp16(1.0f + 0x1.0p-11f + 0x1.0p-20f) == 0x3C01);  // just above halfway
  CHECK(fp32_to_fp16(65519.0f) == 0x7BFF);                  // below the halfway point to 65536
  CHECK(fp32_to_fp16(65520.0f) == 0x7C00);                  // halfway: rounds to even, past max: inf
  CHECK(fp32_to_fp16(0x1.0p-25f) == 0x0000);                // half the smallest subnormal: even is 0
  CHECK(fp32_to_fp16(3 * 0x1.0p-25f) == 0x0002);            // 1.5 subnormal quanta -> 2
  CHECK(fp32_to_fp16(0x1.0p-26f) == 0x0000);
  CHECK(fp32_to_fp16(0x1.FFCp-15f) == 0x0400);              // rounds up out of the subnormals
}

TEST_CASE("fp16_to_fp32 decodes known values") {
  CHECK(fp16_to_fp32(0x3C00) == 1.0f);
  CHECK(fp16_to_fp32(0x7BFF) == 65504.0f);
  CHECK(fp16_to_fp32(0x0001) == 0x1.0p-24f);
  CHECK(fp16_to_fp32(0x03FF) == 1023 * 0x1.0p-24f);
  CHECK(fp16_to_fp32(0x8000) == 0.0f);
  CHECK(bits(fp16_to_fp32(0x8000)) == 0x80000000u);  // negative zero
  CHECK(fp16_to_fp32(0x7C00) == std::numeric_limits<float>::infinity());
  CHECK(fp16_to_fp32(0xFC00) == -std::numeric_limits<float>::infinity());
  CHECK(std::isnan(fp16_to_fp32(0x7E00)));
  CHECK(std::isnan(fp16_to_fp32(0x7C01)));
}

TEST_CASE("every non-NaN half survives a round trip through f32") {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    if ((h & 0x7C00) == 0x7C00 && (h & 0x03FF)) continue;
    const uint16_t back = fp32_to_fp16(fp16_to_fp32(static_cast<uint16_t>(h)));
    if (back != h) FAIL_CHECK("half ", hex(h), " came back as ", hex(back));
  }
}

#if OPHTHA_KERNELS_AVX2
TEST_CASE("half conversions give the F16C instructions' bits for every half and many floats") {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const float ours = fp16_to_fp32(static_cast<uint16_t>(h));
    const float f16c = _cvtsh_ss(static_cast<uint16_t>(h));
    if (bits(ours) != bits(f16c)) FAIL_CHECK("half ", hex(h), ": ", hex(bits(ours)), " vs F16C ", hex(bits(f16c)));
  }
  // Every half's value, its neighbours in f32, the midpoints to the next half, and random bits.
  std::mt19937 rng(3);
  int failures = 0;
  const auto check = [&](uint32_t u) {
    const uint16_t ours = fp32_to_fp16(from_bits(u));
    const auto f16c = static_cast<uint16_t>(_cvtss_sh(from_bits(u), _MM_FROUND_TO_NEAREST_INT));
    if (ours != f16c && ++failures <= 5) FAIL_CHECK("f32 ", hex(u), ": ", hex(ours), " vs F16C ", hex(f16c));
  };
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const uint32_t u = bits(fp16_to_fp32(static_cast<uint16_t>(h)));
    const uint32_t next = bits(fp16_to_fp32(static_cast<uint16_t>(h + 1)));
    for (uint32_t v : {u - 1, u, u + 1, (u & 0x80000000u) | (((u & 0x7FFFFFFFu) + (next & 0x7FFFFFFFu)) / 2)}) check(v);
  }
  for (int i = 0; i < 1000000; ++i) check(static_cast<uint32_t>(rng()));
  CHECK(failures == 0);
}
#endif

TEST_CASE("bfloat16 is the upper half of an f32, rounded to nearest even") {
  CHECK(bf16_to_fp32(0x3F80) == 1.0f);
  CHECK(bf16_to_fp32(0xC040) == -3.0f);
  CHECK(fp32_to_bf16(1.0f) == 0x3F80);
  CHECK(fp32_to_bf16(from_bits(0x3F808000u)) == 0x3F80);  // tie, even stays
  CHECK(fp32_to_bf16(from_bits(0x3F818000u)) == 0x3F82);  // tie, odd rounds up
  CHECK(fp32_to_bf16(from_bits(0x3F808001u)) == 0x3F81);  // above the tie
  CHECK(fp32_to_bf16(std::numeric_limits<float>::infinity()) == 0x7F80);
  const uint16_t nan = fp32_to_bf16(from_bits(0x7F800001u));  // a NaN whose payload sits in the low half
  CHECK((nan & 0x7F80) == 0x7F80);
  CHECK((nan & 0x007F) != 0);
  for (uint32_t h = 0; h < 0x10000; ++h) {
    if ((h & 0x7F80) == 0x7F80 && (h & 0x7F)) continue;
    CHECK_MESSAGE(fp32_to_bf16(bf16_to_fp32(static_cast<uint16_t>(h))) == h, "bf16 ", hex(h));
  }
}
