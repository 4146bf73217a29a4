// Catching the ophtha::Error an operation must throw, for tests that then check its code and
// message. Include after doctest (or support/doctest_with_aten.hpp).
#pragma once
#include <doctest/doctest.h>

#include <exception>
#include <stdexcept>
#include <utility>
#include <string>
#include <vector>

#include "ophtha/error.hpp"

namespace ophtha::test {

// The ophtha::Error `f` throws; a test failure when it throws anything else or nothing.
template <typename F>
Error error_from(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e;
  } catch (const std::exception& e) {
    FAIL("expected ophtha::Error, got another exception: " << std::string(e.what()));
  }
  FAIL("expected ophtha::Error, nothing was thrown");
  throw std::logic_error("unreachable");
}

// "" when f() returns; the message of the ophtha::Error it throws otherwise; a test failure when
// it throws anything else. For inputs that may either load or be refused, but never crash.
template <typename F>
std::string error_message_or_empty(F&& f) {
  try {
    f();
    return "";
  } catch (const Error& e) {
    return e.what();
  } catch (const std::exception& e) {
    FAIL("threw something other than ophtha::Error: " << std::string(e.what()));
  }
  return "";
}

// Checks the code and that the message contains `part`.
inline void check_message(const Error& e, ErrorCode code, const std::string& part) {
  const std::string message = e.what();
  INFO("message: " << message);
  CHECK(e.code() == code);
  CHECK(message.find(part) != std::string::npos);
}

// Checks the code and that the message contains every one of `parts`.
inline void check_message_all(const Error& e, ErrorCode code, const std::vector<std::string>& parts) {
  const std::string message = e.what();
  INFO("message: " << message);
  CHECK(e.code() == code);
  for (const std::string& part : parts) {
    INFO("expected in the message: " << part);
    CHECK(message.find(part) != std::string::npos);
  }
}

// `f` must throw an ophtha::Error with `code` whose message contains `part`.
template <typename F>
void expect_error(F&& f, ErrorCode code, const std::string& part) {
  check_message(error_from(std::forward<F>(f)), code, part);
}

}  // namespace ophtha::test
