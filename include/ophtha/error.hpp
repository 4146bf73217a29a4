// The one exception type the C++ API throws. Every message says what was wrong,
// where (file, key, tensor, field) and what was expected.
#pragma once
#include <stdexcept>
#include <string>

#include <fmt/format.h>

#include "ophtha/export.h"

namespace ophtha {

// Stable categories; the C ABI maps each to a status code.
enum class ErrorCode {
  InvalidArgument,   // a caller passed something out of range or inconsistent
  Io,                // a file could not be opened, read, mapped or written
  InvalidFormat,     // a file's contents break its format (magic, bounds, types, shapes)
  Unsupported,       // valid but not supported here (tensor type, architecture)
  ContextOverflow,   // more tokens than the session's context length
  Aborted,           // a caller's abort callback asked to stop
  Internal,
};

class OPHTHA_API Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ErrorCode code() const noexcept { return code_; }

 private:
  ErrorCode code_;
};

template <typename... Args>
[[noreturn]] void fail(ErrorCode code, fmt::format_string<Args...> format, Args&&... args) {
  throw Error(code, fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace ophtha
