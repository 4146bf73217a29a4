#include "capi/log.hpp"

#include <cstdio>
#include <mutex>

namespace ophtha::capi {
namespace {

struct LogSink {
  // Recursive: the callback may log again or call ophtha_log_set on its own thread. Holding the
  // lock while calling it serializes the calls and lets ophtha_log_set wait for a running one.
  std::recursive_mutex mutex;
  ophtha_log_callback callback = nullptr;  // nullptr: stderr
  void* user_data = nullptr;
  ophtha_log_level min_level = OPHTHA_LOG_WARN;
};

LogSink& sink() {
  static LogSink instance;
  return instance;
}

const char* level_name(ophtha_log_level level) {
  switch (level) {
    case OPHTHA_LOG_DEBUG: return "debug";
    case OPHTHA_LOG_INFO: return "info";
    case OPHTHA_LOG_WARN: return "warn";
    case OPHTHA_LOG_ERROR: return "error";
    default: return "log";
  }
}

}  // namespace

void log_message(ophtha_log_level level, const char* message) noexcept {
  LogSink& s = sink();
  std::lock_guard<std::recursive_mutex> lock(s.mutex);
  if (level < s.min_level || level >= OPHTHA_LOG_NONE) return;
  if (s.callback)
    s.callback(level, message, s.user_data);
  else
    std::fprintf(stderr, "ophtha [%s] %s\n", level_name(level), message);
}

}  // namespace ophtha::capi

extern "C" void ophtha_log_set(ophtha_log_callback callback, void* user_data, ophtha_log_level min_level) {
  ophtha::capi::LogSink& s = ophtha::capi::sink();
  std::lock_guard<std::recursive_mutex> lock(s.mutex);
  s.callback = callback;
  s.user_data = user_data;
  s.min_level = min_level;
}
