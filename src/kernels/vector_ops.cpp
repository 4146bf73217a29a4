// Per-token vector helpers: RMSNorm, dot product, axpy, and the attention helpers.
#include <cmath>

#include "kernels/kernels_internal.hpp"

namespace ophtha::kernels {

void rmsnorm(float* out, const float* x, const float* weight, int64_t n, float eps) {
  // As ggml's rms_norm followed by its mul by the weight: each square rounded to f32, summed
  // in double; out = (x * scale) * weight with two roundings.
  double sum = 0.0;
  int64_t i = 0;
#if OPHTHA_KERNELS_AVX2
  __m256d acc0 = _mm256_setzero_pd(), acc1 = _mm256_setzero_pd();
  for (; i + 8 <= n; i += 8) {
    const __m256 v = _mm256_loadu_ps(x + i);
    const __m256 squares = _mm256_mul_ps(v, v);
    acc0 = _mm256_add_pd(acc0, _mm256_cvtps_pd(_mm256_castps256_ps128(squares)));
    acc1 = _mm256_add_pd(acc1, _mm256_cvtps_pd(_mm256_extractf128_ps(squares, 1)));
  }
  alignas(32) double lanes[4];
  _mm256_store_pd(lanes, _mm256_add_pd(acc0, acc1));
  sum = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
#endif
  for (; i < n; ++i) sum += static_cast<double>(x[i] * x[i]);
  const float mean = n > 0 ? static_cast<float>(sum / static_cast<double>(n)) : 0.0f;
  const float scale = 1.0f / std::sqrt(mean + eps);
  i = 0;
#if OPHTHA_KERNELS_AVX2
  const __m256 vscale = _mm256_set1_ps(scale);
  for (; i + 8 <= n; i += 8) {
    const __m256 scaled = _mm256_mul_ps(_mm256_loadu_ps(x + i), vscale);
    _mm256_storeu_ps(out + i, _mm256_mul_ps(scaled, _mm256_loadu_ps(weight + i)));
  }
#endif
  for (; i < n; ++i) out[i] = (x[i] * scale) * weight[i];
}

float dot_f32(const float* a, const float* b, int64_t n) {
  float sum = 0.f;
  int64_t i = 0;
#if OPHTHA_KERNELS_AVX2
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  for (; i + 16 <= n; i += 16) {
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
  }
  for (; i + 8 <= n; i += 8) acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
  const __m256 acc = _mm256_add_ps(acc0, acc1);
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  sum = _mm_cvtss_f32(s);
#endif
  for (; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

void axpy(float a, const float* x, float* y, int64_t n) {
  int64_t i = 0;
#if OPHTHA_KERNELS_AVX2
  const __m256 va = _mm256_set1_ps(a);
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
#endif
  for (; i < n; ++i) y[i] += a * x[i];
}

namespace {

// ((l0+l1)+(l2+l3)) + ((l4+l5)+(l6+l7)): the reduction dot_rows uses for every key.
inline float reduce_lanes(const float* l) { return ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7])); }

}  // namespace

void dot_rows(const float* q, const float* rows, int64_t stride, int64_t n, int64_t len, float scale, float* out) {
  int64_t j = 0;
#if OPHTHA_KERNELS_AVX2
  if (len % 8 == 0) {
    for (; j + 8 <= n; j += 8) {  // eight keys: eight accumulators, then one transposing reduction
      __m256 acc[8];
      for (auto& a : acc) a = _mm256_setzero_ps();
      const float* r = rows + j * stride;
      for (int64_t d = 0; d < len; d += 8) {
        const __m256 qv = _mm256_loadu_ps(q + d);
        for (int k = 0; k < 8; ++k) acc[k] = _mm256_fmadd_ps(qv, _mm256_loadu_ps(r + k * stride + d), acc[k]);
      }
      // hadd pairs lanes (0+1, 2+3) per 128-bit half; twice gives (l0+l1)+(l2+l3) and (l4+l5)+(l6+l7).
      const __m256 u0 = _mm256_hadd_ps(_mm256_hadd_ps(acc[0], acc[1]), _mm256_hadd_ps(acc[2], acc[3]));
      const __m256 u1 = _mm256_hadd_ps(_mm256_hadd_ps(acc[4], acc[5]), _mm256_hadd_ps(acc[6], acc[7]));
      const __m256 sums = _mm256_add_ps(_mm256_permute2f128_ps(u0, u1, 0x20), _mm256_permute2f128_ps(u0, u1, 0x31));
      _mm256_storeu_ps(out + j, _mm256_mul_ps(sums, _mm256_set1_ps(scale)));
    }
    for (; j < n; ++j) {  // the same roundings, one key at a time
      __m256 acc = _mm256_setzero_ps();
      for (int64_t d = 0; d < len; d += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(q + d), _mm256_loadu_ps(rows + j * stride + d), acc);
      alignas(32) float lanes[8];
      _mm256_store_ps(lanes, acc);
      out[j] = reduce_lanes(lanes) * scale;
    }
    return;
  }
#endif
  for (; j < n; ++j) {
    float lanes[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (int64_t d = 0; d < len; ++d) lanes[d % 8] += q[d] * rows[j * stride + d];
    out[j] = reduce_lanes(lanes) * scale;
  }
}

void weighted_rows_sum(const float* w, const float* rows, int64_t stride, int64_t n, int64_t len, float* out) {
  int64_t d0 = 0;
#if OPHTHA_KERNELS_AVX2
  for (; d0 + 64 <= len; d0 += 64) {  // 64 outputs held in eight registers over all keys
    __m256 acc[8];
    for (int k = 0; k < 8; ++k) acc[k] = _mm256_loadu_ps(out + d0 + 8 * k);
    for (int64_t j = 0; j < n; ++j) {
      const __m256 wj = _mm256_set1_ps(w[j]);
      const float* r = rows + j * stride + d0;
      for (int k = 0; k < 8; ++k) acc[k] = _mm256_fmadd_ps(wj, _mm256_loadu_ps(r + 8 * k), acc[k]);
    }
    for (int k = 0; k < 8; ++k) _mm256_storeu_ps(out + d0 + 8 * k, acc[k]);
  }
  for (; d0 + 8 <= len; d0 += 8) {
    __m256 acc = _mm256_loadu_ps(out + d0);
    for (int64_t j = 0; j < n; ++j)
      acc = _mm256_fmadd_ps(_mm256_set1_ps(w[j]), _mm256_loadu_ps(rows + j * stride + d0), acc);
    _mm256_storeu_ps(out + d0, acc);
  }
#endif
  for (int64_t d = d0; d < len; ++d) {
    float acc = out[d];
    for (int64_t j = 0; j < n; ++j) acc = std::fma(w[j], rows[j * stride + d], acc);
    out[d] = acc;
  }
}

}  // namespace ophtha::kernels
