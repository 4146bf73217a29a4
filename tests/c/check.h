/* The checks the C tests share: CHECK(condition) and CHECK_STATUS(call, expected status, part of
 * the message or NULL), each counting into `failures` and printing the last error message. */
#ifndef OPHTHA_TESTS_C_CHECK_H
#define OPHTHA_TESTS_C_CHECK_H

#include <stdio.h>
#include <string.h>

#include "ophtha/ophtha.h"

static int failures = 0;

#define CHECK(condition)                                                                   \
  do {                                                                                     \
    if (!(condition)) {                                                                    \
      fprintf(stderr, "%s:%d: CHECK(%s) failed; last error: '%s'\n", __FILE__, __LINE__, \
              #condition, ophtha_last_error_message());                                    \
      ++failures;                                                                          \
    }                                                                                      \
  } while (0)

/* Checks a status and that the message contains `part` (NULL: any message). */
#define CHECK_STATUS(call, expected, part) check_status((call), (expected), (part), #call, __FILE__, __LINE__)

static void check_status(ophtha_status got, ophtha_status expected, const char *part, const char *call,
                         const char *file, int line) {
  const char *message = ophtha_last_error_message();
  if (got != expected) {
    fprintf(stderr, "%s:%d: %s returned %d (%s), expected %d (%s); message: '%s'\n", file, line, call, (int)got,
            ophtha_status_string(got), (int)expected, ophtha_status_string(expected), message);
    ++failures;
  } else if (part && !strstr(message, part)) {
    fprintf(stderr, "%s:%d: %s: message '%s' does not contain '%s'\n", file, line, call, message, part);
    ++failures;
  }
}

#endif
