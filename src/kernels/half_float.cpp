// binary16 and bfloat16 conversions in portable integer code, bit-identical to F16C's
// vcvtph2ps / vcvtps2ph (round to nearest even) for every input, NaNs included.
#include <cstring>

#include "kernels/kernels_internal.hpp"

namespace ophtha::kernels {
namespace {

uint32_t float_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

float bits_float(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

}  // namespace

float fp16_to_fp32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  const uint32_t exponent = (h >> 10) & 0x1F;
  const uint32_t mantissa = h & 0x3FF;
  if (exponent == 0x1F) {
    // inf, or NaN made quiet (F16C sets the quiet bit of a signalling NaN)
    const uint32_t quiet = mantissa ? 0x00400000u : 0u;
    return bits_float(sign | 0x7F800000u | quiet | (mantissa << 13));
  }
  if (exponent == 0) {
    // zero or subnormal: mantissa * 2^-24, exact in f32
    return bits_float(sign | float_bits(static_cast<float>(mantissa) * 0x1.0p-24f));
  }
  return bits_float(sign | ((exponent + 112) << 23) | (mantissa << 13));
}

uint16_t fp32_to_fp16(float f) {
  const uint32_t u = float_bits(f);
  const auto sign = static_cast<uint16_t>((u >> 16) & 0x8000);
  const uint32_t magnitude = u & 0x7FFFFFFFu;
  if (magnitude > 0x7F800000u)  // NaN: quiet, top 10 payload bits kept
    return static_cast<uint16_t>(sign | 0x7E00 | ((magnitude >> 13) & 0x3FF));
  if (magnitude >= 0x477FF000u)  // >= 65520 rounds (ties to even) past 65504: inf
    return static_cast<uint16_t>(sign | 0x7C00);
  if (magnitude < 0x38800000u) {
    // Below 2^-14: subnormal half = round_even(|f| * 2^24); the scaling is exact, and adding
    // then subtracting 2^23 rounds a value in [0, 2^10] to the nearest even integer. A result
    // of 0x400 is the smallest normal half, which is also its correct encoding.
    const float scaled = bits_float(magnitude) * 0x1.0p24f;
    const float rounded = (scaled + 0x1.0p23f) - 0x1.0p23f;
    return static_cast<uint16_t>(sign | static_cast<uint16_t>(rounded));
  }
  // Normal: drop 13 mantissa bits rounding to nearest even, then rebias the exponent
  // (127 - 15 = 112); a carry out of the mantissa correctly bumps the exponent.
  const uint32_t rounded = magnitude + 0xFFFu + ((magnitude >> 13) & 1u);
  return static_cast<uint16_t>(sign | ((rounded - (112u << 23)) >> 13));
}

float bf16_to_fp32(uint16_t h) { return bits_float(static_cast<uint32_t>(h) << 16); }

uint16_t fp32_to_bf16(float f) {
  const uint32_t u = float_bits(f);
  if ((u & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<uint16_t>((u >> 16) | 64);  // quiet NaN
  return static_cast<uint16_t>((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
}

}  // namespace ophtha::kernels
