#include "ophtha/stop_strings.hpp"

#include <algorithm>

#include "ophtha/error.hpp"

namespace ophtha {

StopStringMatcher::StopStringMatcher(std::vector<std::string> stops) : stops_(std::move(stops)) {
  for (size_t i = 0; i < stops_.size(); ++i)
    if (stops_[i].empty()) fail(ErrorCode::InvalidArgument, "stop string {} is empty", i);
}

size_t StopStringMatcher::held_back_length() const {
  const std::string_view pending(pending_);
  size_t longest = 0;
  for (const std::string& stop : stops_) {
    for (size_t length = std::min(stop.size() - 1, pending.size()); length > longest; --length) {
      if (pending.substr(pending.size() - length) == std::string_view(stop).substr(0, length)) {
        longest = length;
        break;
      }
    }
  }
  return longest;
}

std::string StopStringMatcher::push(std::string_view text) {
  if (stopped_) return {};
  pending_.append(text);
  // Everything released earlier is safe: an occurrence starting there would have been a held-back
  // prefix, so searching pending_ alone finds the first occurrence in the whole stream.
  size_t first = std::string::npos;
  for (const std::string& stop : stops_) first = std::min(first, pending_.find(stop));
  if (first != std::string::npos) {
    stopped_ = true;
    std::string before = pending_.substr(0, first);
    pending_.clear();
    return before;
  }
  const size_t release = pending_.size() - held_back_length();
  std::string ready = pending_.substr(0, release);
  pending_.erase(0, release);
  return ready;
}

std::string StopStringMatcher::flush() {
  std::string tail;
  tail.swap(pending_);
  return tail;
}

}  // namespace ophtha
