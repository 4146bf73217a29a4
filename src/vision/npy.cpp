// .npy reader and writer. The header is a Python dict literal, e.g.
//   {'descr': '<f4', 'fortran_order': False, 'shape': (3, 224, 224), }
// padded with spaces and a newline so that the data starts at a multiple of 64 bytes.
#include <cstring>
#include <limits>

#include <fmt/ranges.h>

#include "ophtha/error.hpp"
#include "ophtha/mapped_file.hpp"
#include "ophtha/npy.hpp"

namespace ophtha {
namespace {

static_assert(sizeof(float) == 4 && std::numeric_limits<float>::is_iec559, "npy '<f4' needs IEEE float");
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the .npy reader assumes a little-endian host"
#endif

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicSize = 6;

// A recursive-descent reader of the header dict: only what numpy writes (strings in single or
// double quotes, True/False, tuples of non-negative integers).
class HeaderParser {
 public:
  HeaderParser(const std::string& text, const std::string& source) : text_(text), source_(source) {}

  void parse(std::string& descr, bool& fortran_order, std::vector<int64_t>& shape) {
    bool have_descr = false, have_order = false, have_shape = false;
    expect('{');
    while (true) {
      skip_space();
      if (peek() == '}') break;
      const std::string key = string_literal();
      expect(':');
      if (key == "descr") {
        descr = string_literal();
        have_descr = true;
      } else if (key == "fortran_order") {
        fortran_order = boolean();
        have_order = true;
      } else if (key == "shape") {
        shape = int_tuple();
        have_shape = true;
      } else {
        fail(ErrorCode::InvalidFormat, "{}: unexpected key '{}' in the .npy header", source_, key);
      }
      skip_space();
      if (peek() == ',') {
        ++at_;
        continue;
      }
      skip_space();
      if (peek() != '}') error("',' or '}'");
    }
    if (!have_descr || !have_order || !have_shape)
      fail(ErrorCode::InvalidFormat, "{}: .npy header lacks {}", source_,
           !have_descr ? "'descr'" : !have_order ? "'fortran_order'" : "'shape'");
  }

 private:
  char peek() const { return at_ < text_.size() ? text_[at_] : '\0'; }
  void skip_space() {
    while (at_ < text_.size() && (text_[at_] == ' ' || text_[at_] == '\t' || text_[at_] == '\n')) ++at_;
  }
  [[noreturn]] void error(const char* expected) const {
    fail(ErrorCode::InvalidFormat, "{}: malformed .npy header at byte {}: expected {} in \"{}\"", source_, at_,
         expected, text_);
  }
  void expect(char c) {
    skip_space();
    if (peek() != c) error(std::string(1, c).c_str());
    ++at_;
  }
  std::string string_literal() {
    skip_space();
    const char quote = peek();
    if (quote != '\'' && quote != '"') error("a quoted string");
    const size_t end = text_.find(quote, at_ + 1);
    if (end == std::string::npos) error("a closing quote");
    std::string value = text_.substr(at_ + 1, end - at_ - 1);
    at_ = end + 1;
    return value;
  }
  bool boolean() {
    skip_space();
    if (text_.compare(at_, 4, "True") == 0) return at_ += 4, true;
    if (text_.compare(at_, 5, "False") == 0) return at_ += 5, false;
    error("True or False");
  }
  std::vector<int64_t> int_tuple() {
    expect('(');
    std::vector<int64_t> dims;
    while (true) {
      skip_space();
      if (peek() == ')') break;
      if (peek() < '0' || peek() > '9') error("a non-negative integer");
      int64_t value = 0;
      while (peek() >= '0' && peek() <= '9') {
        if (value > (std::numeric_limits<int64_t>::max() - 9) / 10) error("a dimension below 2^63");
        value = value * 10 + (text_[at_++] - '0');
      }
      dims.push_back(value);
      skip_space();
      if (peek() == ',') ++at_;
      else if (peek() != ')') error("',' or ')'");
    }
    ++at_;
    return dims;
  }

  const std::string& text_;
  const std::string& source_;
  size_t at_ = 0;
};

size_t item_size(NpyDtype dtype) { return dtype == NpyDtype::Float32 ? 4 : 1; }

}  // namespace

NpyArray parse_npy(const void* bytes_in, size_t size, const std::string& source) {
  const auto* bytes = static_cast<const uint8_t*>(bytes_in);
  if (size < kMagicSize + 4 || std::memcmp(bytes, kMagic, kMagicSize) != 0)
    fail(ErrorCode::InvalidFormat, "{}: not a .npy file (expected the magic \\x93NUMPY, {} bytes)", source, size);
  const uint8_t major = bytes[6];
  size_t header_len = 0, header_at = 0;
  if (major == 1) {
    header_len = bytes[8] | (static_cast<size_t>(bytes[9]) << 8);
    header_at = 10;
  } else if (major == 2 || major == 3) {
    if (size < 12) fail(ErrorCode::InvalidFormat, "{}: truncated .npy header length", source);
    header_len = bytes[8] | (static_cast<size_t>(bytes[9]) << 8) | (static_cast<size_t>(bytes[10]) << 16) |
                 (static_cast<size_t>(bytes[11]) << 24);
    header_at = 12;
  } else {
    fail(ErrorCode::Unsupported, "{}: .npy format version {}.{}, expected 1.0, 2.0 or 3.0", source, major,
         bytes[7]);
  }
  if (header_len > size - header_at)
    fail(ErrorCode::InvalidFormat, "{}: .npy header of {} bytes runs past the end of the {}-byte file", source,
         header_len, size);
  const std::string header(reinterpret_cast<const char*>(bytes + header_at), header_len);
  std::string descr;
  bool fortran_order = false;
  NpyArray array;
  HeaderParser(header, source).parse(descr, fortran_order, array.shape);

  if (descr == "<f4") array.dtype = NpyDtype::Float32;
  else if (descr == "|u1" || descr == "<u1" || descr == "u1") array.dtype = NpyDtype::UInt8;
  else fail(ErrorCode::Unsupported, "{}: .npy dtype '{}', expected '<f4' (float32) or '|u1' (uint8)", source, descr);
  if (fortran_order)
    fail(ErrorCode::Unsupported, "{}: .npy array in Fortran order, expected C order (fortran_order False)", source);

  const size_t data_at = header_at + header_len;
  const size_t item = item_size(array.dtype);
  uint64_t count = 1;
  for (int64_t d : array.shape) {
    if (d != 0 && count > std::numeric_limits<uint64_t>::max() / item / static_cast<uint64_t>(d))
      fail(ErrorCode::InvalidFormat, "{}: .npy shape overflows 64 bits", source);
    count *= static_cast<uint64_t>(d);
  }
  const uint64_t data_bytes = count * item;
  if (data_bytes != size - data_at)
    fail(ErrorCode::InvalidFormat, "{}: .npy shape {} of '{}' needs {} data bytes, the file has {}", source,
         fmt::join(array.shape, "x"), descr, data_bytes, size - data_at);
  if (array.dtype == NpyDtype::Float32) {
    array.f32.resize(count);
    if (count) std::memcpy(array.f32.data(), bytes + data_at, data_bytes);
  } else {
    array.u8.assign(bytes + data_at, bytes + data_at + data_bytes);
  }
  return array;
}

NpyArray read_npy(const std::string& path) {
  const auto file = MappedFile::open(path);
  return parse_npy(file->data(), file->size(), path);
}

std::vector<uint8_t> serialize_npy(NpyDtype dtype, const void* values, const std::vector<int64_t>& shape) {
  uint64_t count = 1;
  for (int64_t d : shape) {
    if (d < 0) fail(ErrorCode::InvalidArgument, "npy: negative dimension {} in shape", d);
    count *= static_cast<uint64_t>(d);
  }
  // Python's tuple syntax: "()", "(3,)", "(3, 224, 224)".
  const std::string dims = shape.size() == 1 ? fmt::format("{},", shape[0]) : fmt::format("{}", fmt::join(shape, ", "));
  std::string header = fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': ({}), }}",
                                   dtype == NpyDtype::Float32 ? "<f4" : "|u1", dims);
  const size_t unpadded = 10 + header.size() + 1;  // + the final newline
  header.append((64 - unpadded % 64) % 64, ' ');
  header.push_back('\n');

  std::vector<uint8_t> out(kMagic, kMagic + kMagicSize);
  out.push_back(1);
  out.push_back(0);
  out.push_back(static_cast<uint8_t>(header.size() & 0xff));
  out.push_back(static_cast<uint8_t>(header.size() >> 8));
  out.insert(out.end(), header.begin(), header.end());
  const auto* data = static_cast<const uint8_t*>(values);
  if (count) out.insert(out.end(), data, data + count * item_size(dtype));
  return out;
}

static void write_file(const std::string& path, const std::vector<uint8_t>& bytes) {
  AtomicFileWriter writer(path);
  writer.write(bytes.data(), bytes.size());
  writer.commit();
}

void write_npy(const std::string& path, const float* values, const std::vector<int64_t>& shape) {
  write_file(path, serialize_npy(NpyDtype::Float32, values, shape));
}

void write_npy(const std::string& path, const uint8_t* values, const std::vector<int64_t>& shape) {
  write_file(path, serialize_npy(NpyDtype::UInt8, values, shape));
}

}  // namespace ophtha
