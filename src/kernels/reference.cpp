// Scalar references: one element at a time through row_element, sums in double. Slow and
// plain on purpose; the fast kernels are tested against these.
#include "kernels/kernels_internal.hpp"
#include "ophtha/error.hpp"

namespace ophtha::kernels {

int64_t checked_row_bytes(const char* function, TensorType type, int64_t rows, int64_t cols) {
  if (rows < 0 || cols < 0)
    fail(ErrorCode::InvalidArgument, "{}: shape [{}, {}] has a negative size", function, rows, cols);
  const auto bytes = tensor_bytes(type, static_cast<uint64_t>(cols));
  if (!bytes)
    fail(ErrorCode::InvalidArgument, "{}: a {} row of {} elements is not a whole number of {}-element blocks",
         function, tensor_type_info(type).name, cols, tensor_type_info(type).block_elems);
  return static_cast<int64_t>(*bytes);
}

void matvec_reference(TensorType type, const void* W, int64_t rows, int64_t cols, const float* x, float* y) {
  const int64_t row_bytes = checked_row_bytes("matvec_reference", type, rows, cols);
  for (int64_t r = 0; r < rows; ++r) {
    const uint8_t* row = static_cast<const uint8_t*>(W) + r * row_bytes;
    double sum = 0.0;
    for (int64_t j = 0; j < cols; ++j) sum += static_cast<double>(row_element(type, row, j)) * x[j];
    y[r] = static_cast<float>(sum);
  }
}

void dequantize_rows_reference(TensorType type, const void* W, int64_t row0, int64_t rows, int64_t cols,
                               float* dst) {
  const int64_t row_bytes = checked_row_bytes("dequantize_rows_reference", type, rows, cols);
  if (row0 < 0) fail(ErrorCode::InvalidArgument, "dequantize_rows_reference: row0 is {}", row0);
  for (int64_t r = 0; r < rows; ++r) {
    const uint8_t* row = static_cast<const uint8_t*>(W) + (row0 + r) * row_bytes;
    for (int64_t j = 0; j < cols; ++j) dst[r * cols + j] = row_element(type, row, j);
  }
}

}  // namespace ophtha::kernels
