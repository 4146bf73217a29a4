// The boundary between the C ABI and the C++ library: every extern "C" body runs inside
// `guarded`, which turns whatever the C++ side throws into an ophtha_status and the calling
// thread's last error message, so no exception ever crosses into C.
#pragma once
#include <new>
#include <string>
#include <type_traits>

#include <c10/util/Exception.h>

#include "ophtha/error.hpp"
#include "ophtha/ophtha.h"

namespace ophtha::capi {

// The status a C caller sees for each ErrorCode.
ophtha_status status_of(ErrorCode code) noexcept;
// OUT_OF_MEMORY for LibTorch's allocation failures, INTERNAL for any other c10::Error.
ophtha_status status_of(const c10::Error& error) noexcept;

// Sets the calling thread's last error message to "<function>: <message>", logs it at debug
// level and returns `status`. Never throws (a message that cannot be stored is replaced by a
// fixed one).
ophtha_status report_failure(ophtha_status status, const char* function, const char* message) noexcept;

// Empties the calling thread's last error message.
void clear_last_error() noexcept;

// Throws Error(InvalidArgument) "<name> is NULL" when `pointer` is null.
void require(const void* pointer, const char* name);

// Runs `body` (returning void, or an ophtha_status for outcomes that are not exceptions, such as
// OPHTHA_STATUS_BUFFER_TOO_SMALL after report_failure) and maps every exception to a status.
template <typename Body>
ophtha_status guarded(const char* function, Body&& body) noexcept {
  try {
    clear_last_error();
    if constexpr (std::is_void_v<decltype(body())>) {
      body();
      return OPHTHA_STATUS_OK;
    } else {
      return body();
    }
  } catch (const Error& e) {
    return report_failure(status_of(e.code()), function, e.what());
  } catch (const c10::Error& e) {  // LibTorch's allocator says "not enough memory" through c10::Error
    return report_failure(status_of(e), function, e.what_without_backtrace());
  } catch (const std::bad_alloc&) {
    return report_failure(OPHTHA_STATUS_OUT_OF_MEMORY, function, "out of memory");
  } catch (const std::exception& e) {
    return report_failure(OPHTHA_STATUS_INTERNAL, function, e.what());
  } catch (...) {
    return report_failure(OPHTHA_STATUS_INTERNAL, function, "an exception that is not a std::exception");
  }
}

}  // namespace ophtha::capi
