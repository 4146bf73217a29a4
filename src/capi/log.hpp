// The process-wide log sink behind ophtha_log_set.
#pragma once
#include "ophtha/ophtha.h"

namespace ophtha::capi {

// Hands `message` (one line) to the log callback, or to stderr by default, when `level` is at or
// above the minimum level. Thread-safe; never throws.
void log_message(ophtha_log_level level, const char* message) noexcept;

}  // namespace ophtha::capi
