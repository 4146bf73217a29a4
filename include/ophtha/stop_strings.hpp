// Stop strings over a stream of generated text: finds the first occurrence of any stop string even
// when it arrives split across pieces, and never lets the caller see it.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "ophtha/export.h"

namespace ophtha {

// Works on bytes. Text is released only up to the start of a stop string or of a suffix that could
// still grow into one, and a stop string is valid UTF-8 starting with a lead byte, so when each piece
// pushed ends on a whole UTF-8 character, so does each piece returned.
// Not thread-safe: one matcher per generation, used by one thread at a time.
class OPHTHA_API StopStringMatcher {
 public:
  // Throws Error(InvalidArgument) naming the index of an empty stop string. No stop strings at all
  // is allowed: push() then returns its input unchanged.
  explicit StopStringMatcher(std::vector<std::string> stops);

  // Appends `text` to the stream and returns the part that is safe to emit now: everything except a
  // trailing suffix that is the beginning of some stop string (held back until the next push or
  // flush). When a stop string completes, returns the text before its first occurrence (where two
  // stop strings match, the one that starts earlier wins), drops it and everything after, and
  // stopped() becomes true; from then on push() and flush() return "".
  std::string push(std::string_view text);

  // Returns the held-back tail at the end of the stream (it never completed a stop string) and
  // forgets it; "" once stopped.
  std::string flush();

  // True once a stop string has appeared in the stream.
  bool stopped() const { return stopped_; }

 private:
  // Length of the longest suffix of pending_ that is a proper prefix of some stop string.
  size_t held_back_length() const;

  std::vector<std::string> stops_;
  std::string pending_;  // text received but not yet returned; shorter than the longest stop string
  bool stopped_ = false;
};

}  // namespace ophtha
