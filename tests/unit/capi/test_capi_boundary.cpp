// The C boundary (src/capi/boundary.hpp): whatever the C++ side throws becomes the documented
// status and a message on the calling thread, and nothing escapes.
#include "support/doctest_with_aten.hpp"

#include <new>
#include <stdexcept>
#include <string>

#include "capi/boundary.hpp"

using ophtha::ErrorCode;
using ophtha::capi::guarded;

namespace {

std::string message() { return ophtha_last_error_message(); }

}  // namespace

TEST_CASE("each ErrorCode becomes its own status, with the function named in the message") {
  const std::pair<ErrorCode, ophtha_status> cases[] = {
      {ErrorCode::InvalidArgument, OPHTHA_STATUS_INVALID_ARGUMENT},
      {ErrorCode::Io, OPHTHA_STATUS_IO},
      {ErrorCode::InvalidFormat, OPHTHA_STATUS_INVALID_FORMAT},
      {ErrorCode::Unsupported, OPHTHA_STATUS_UNSUPPORTED},
      {ErrorCode::ContextOverflow, OPHTHA_STATUS_CONTEXT_OVERFLOW},
      {ErrorCode::Aborted, OPHTHA_STATUS_ABORTED},
      {ErrorCode::Internal, OPHTHA_STATUS_INTERNAL},
  };
  for (const auto& [code, status] : cases) {
    CHECK(guarded("ophtha_f", [&] { ophtha::fail(code, "field 'x' is {}", 3); }) == status);
    CHECK(message() == "ophtha_f: field 'x' is 3");
  }
  CHECK(guarded("ophtha_f", [] {}) == OPHTHA_STATUS_OK);
  CHECK(message().empty());
}

TEST_CASE("LibTorch errors, allocation failures and foreign exceptions never cross the boundary") {
  // A real allocation LibTorch cannot make (4 TiB) is OUT_OF_MEMORY, not INTERNAL.
  CHECK(guarded("ophtha_f", [] { at::empty({int64_t{1} << 40}, at::kFloat); }) == OPHTHA_STATUS_OUT_OF_MEMORY);
  CHECK(message().find("ophtha_f: ") == 0);
  CHECK(message().find("memory") != std::string::npos);

  CHECK(guarded("ophtha_f", [] { TORCH_CHECK(false, "shape mismatch"); }) == OPHTHA_STATUS_INTERNAL);
  CHECK(message().find("shape mismatch") != std::string::npos);
  CHECK(message().find("Exception raised from") == std::string::npos);  // no backtrace in the message

  CHECK(guarded("ophtha_f", [] { throw std::bad_alloc(); }) == OPHTHA_STATUS_OUT_OF_MEMORY);
  CHECK(message() == "ophtha_f: out of memory");
  CHECK(guarded("ophtha_f", [] { throw std::logic_error("bug"); }) == OPHTHA_STATUS_INTERNAL);
  CHECK(message() == "ophtha_f: bug");
  CHECK(guarded("ophtha_f", [] { throw 42; }) == OPHTHA_STATUS_INTERNAL);
  CHECK(message() == "ophtha_f: an exception that is not a std::exception");
}

TEST_CASE("statuses have fixed names") {
  CHECK(std::string(ophtha_status_string(OPHTHA_STATUS_BUFFER_TOO_SMALL)) == "buffer too small");
  CHECK(std::string(ophtha_status_string(OPHTHA_STATUS_INTERNAL)) == "internal error");
  CHECK(std::string(ophtha_status_string(10)) == "unknown status");
}
