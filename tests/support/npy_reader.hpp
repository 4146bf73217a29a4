// A minimal reader of NumPy .npy files for tests: float32, little-endian, C order only (what
// np.save writes for a float32 array), version 1.0, 2.0 or 3.0. Everything else is rejected with a
// std::runtime_error naming the file and what was found, so a reference file that is not what a
// test expects fails the test instead of being misread.
#pragma once
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

namespace ophtha::test {

struct NpyArray {
  std::vector<int64_t> shape;
  std::vector<float> data;  // C order
};

namespace npy_detail {

[[noreturn]] inline void fail(const std::string& path, const std::string& what) {
  throw std::runtime_error(path + ": not a float32 C-order .npy file: " + what);
}

// The value text after 'key': in the header dict, up to the next top-level ',' or '}'.
inline std::string dict_value(const std::string& path, const std::string& header, const std::string& key) {
  const std::string quoted = "'" + key + "':";
  const size_t at = header.find(quoted);
  if (at == std::string::npos) fail(path, "header has no " + quoted);
  size_t i = at + quoted.size();
  while (i < header.size() && header[i] == ' ') ++i;
  const size_t begin = i;
  int depth = 0;
  for (; i < header.size(); ++i) {
    const char c = header[i];
    if (c == '(') ++depth;
    if (c == ')') --depth;
    if (depth == 0 && (c == ',' || c == '}')) break;
  }
  if (i == header.size() || depth != 0) fail(path, "header value of " + quoted + " is not terminated");
  return header.substr(begin, i - begin);
}

}  // namespace npy_detail

inline NpyArray read_npy(const std::string& path) {
  using npy_detail::fail;
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path + ": cannot open");
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (bytes.size() < 10 || bytes.compare(0, 6, "\x93NUMPY") != 0) fail(path, "no \\x93NUMPY magic");
  const auto u8 = [&](size_t i) { return static_cast<uint64_t>(static_cast<unsigned char>(bytes[i])); };
  const int major = static_cast<int>(u8(6));
  size_t header_len, header_start;
  if (major == 1) {
    header_len = u8(8) | u8(9) << 8;
    header_start = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) fail(path, "truncated header length");
    header_len = u8(8) | u8(9) << 8 | u8(10) << 16 | u8(11) << 24;
    header_start = 12;
  } else {
    fail(path, "format version " + std::to_string(major));
  }
  if (header_len > bytes.size() - header_start) fail(path, "header runs past the end of the file");
  const std::string header = bytes.substr(header_start, header_len);

  const std::string descr = npy_detail::dict_value(path, header, "descr");
  if (descr != "'<f4'") fail(path, "descr " + descr + ", expected '<f4'");
  const std::string order = npy_detail::dict_value(path, header, "fortran_order");
  if (order != "False") fail(path, "fortran_order " + order + ", expected False");

  std::string shape_text = npy_detail::dict_value(path, header, "shape");
  if (shape_text.size() < 2 || shape_text.front() != '(' || shape_text.back() != ')')
    fail(path, "shape " + shape_text + " is not a tuple");
  NpyArray array;
  uint64_t count = 1;
  size_t i = 1;
  while (i + 1 < shape_text.size()) {
    while (shape_text[i] == ' ' || shape_text[i] == ',') ++i;
    if (i + 1 >= shape_text.size()) break;
    uint64_t dim = 0;
    size_t digits = 0;
    for (; shape_text[i] >= '0' && shape_text[i] <= '9'; ++i, ++digits) {
      dim = dim * 10 + static_cast<uint64_t>(shape_text[i] - '0');
      if (dim > (uint64_t{1} << 40)) fail(path, "dimension too large in shape " + shape_text);
    }
    if (digits == 0) fail(path, "shape " + shape_text + " holds something other than integers");
    if (dim != 0 && count > (uint64_t{1} << 40) / dim) fail(path, "shape " + shape_text + " is too large");
    count *= dim;
    array.shape.push_back(static_cast<int64_t>(dim));
  }

  const size_t data_start = header_start + header_len;
  if (bytes.size() - data_start != count * sizeof(float))
    fail(path, "shape " + shape_text + " needs " + std::to_string(count * sizeof(float)) + " data bytes, file has " +
                   std::to_string(bytes.size() - data_start));
  array.data.resize(count);
  if (count) std::memcpy(array.data.data(), bytes.data() + data_start, count * sizeof(float));
  return array;
}

}  // namespace ophtha::test
