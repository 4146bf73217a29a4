#include "capi/boundary.hpp"

#include <cstring>

#include "capi/log.hpp"

namespace ophtha::capi {
namespace {

thread_local std::string last_error;
// Set when last_error could not hold a message (no memory): ophtha_last_error_message() then
// returns a fixed text instead.
thread_local bool last_error_lost = false;

}  // namespace

ophtha_status status_of(ErrorCode code) noexcept {
  switch (code) {
    case ErrorCode::InvalidArgument: return OPHTHA_STATUS_INVALID_ARGUMENT;
    case ErrorCode::Io: return OPHTHA_STATUS_IO;
    case ErrorCode::InvalidFormat: return OPHTHA_STATUS_INVALID_FORMAT;
    case ErrorCode::Unsupported: return OPHTHA_STATUS_UNSUPPORTED;
    case ErrorCode::ContextOverflow: return OPHTHA_STATUS_CONTEXT_OVERFLOW;
    case ErrorCode::Aborted: return OPHTHA_STATUS_ABORTED;
    case ErrorCode::Internal: return OPHTHA_STATUS_INTERNAL;
  }
  return OPHTHA_STATUS_INTERNAL;
}

ophtha_status status_of(const c10::Error& error) noexcept {
  const char* message = error.what_without_backtrace();
  return std::strstr(message, "not enough memory") || std::strstr(message, "can't allocate")
             ? OPHTHA_STATUS_OUT_OF_MEMORY
             : OPHTHA_STATUS_INTERNAL;
}

ophtha_status report_failure(ophtha_status status, const char* function, const char* message) noexcept {
  try {
    last_error.assign(function).append(": ").append(message);
    last_error_lost = false;
  } catch (...) {
    last_error_lost = true;
  }
  log_message(OPHTHA_LOG_DEBUG, last_error_lost ? message : last_error.c_str());
  return status;
}

void clear_last_error() noexcept {
  last_error.clear();
  last_error_lost = false;
}

void require(const void* pointer, const char* name) {
  if (pointer == nullptr) fail(ErrorCode::InvalidArgument, "{} is NULL", name);
}

}  // namespace ophtha::capi

extern "C" {

const char* ophtha_status_string(ophtha_status status) {
  switch (status) {
    case OPHTHA_STATUS_OK: return "ok";
    case OPHTHA_STATUS_INVALID_ARGUMENT: return "invalid argument";
    case OPHTHA_STATUS_IO: return "input/output error";
    case OPHTHA_STATUS_INVALID_FORMAT: return "invalid format";
    case OPHTHA_STATUS_UNSUPPORTED: return "unsupported";
    case OPHTHA_STATUS_CONTEXT_OVERFLOW: return "context overflow";
    case OPHTHA_STATUS_ABORTED: return "aborted";
    case OPHTHA_STATUS_BUFFER_TOO_SMALL: return "buffer too small";
    case OPHTHA_STATUS_OUT_OF_MEMORY: return "out of memory";
    case OPHTHA_STATUS_INTERNAL: return "internal error";
    default: return "unknown status";
  }
}

const char* ophtha_last_error_message(void) {
  return ophtha::capi::last_error_lost ? "out of memory while storing the error message"
                                       : ophtha::capi::last_error.c_str();
}

}  // extern "C"
