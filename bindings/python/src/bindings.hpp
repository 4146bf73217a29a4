// What the files of the extension `ophtha._ophtha` share: raising ophtha.Error subclasses from
// C statuses, carrying Python exceptions across C callbacks, and the bind_* entry points.
//
// The extension calls only the C ABI (ophtha/ophtha.h). Every call that computes runs with the
// GIL released; C callbacks take the GIL back only while they call into Python.
#pragma once
#include <pybind11/pybind11.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "ophtha/ophtha.h"

namespace ophtha_python {

namespace py = pybind11;

// Raises the ophtha.Error subclass for `status` (ophtha._errors.error_for_status) with `message`.
// Needs the GIL.
[[noreturn]] void raise_status(ophtha_status status, std::string_view message);

// Raises for a failed C call: `status` with ophtha_last_error_message(), which must still be the
// message of that call (read it on the same thread before any other ophtha call). Needs the GIL.
[[noreturn]] void raise_last_error(ophtha_status status);

// Raises InvalidArgumentError when `text` holds a NUL byte (the C ABI reads NUL-terminated strings).
void require_no_nul(std::string_view text, const char* what);

// The first Python exception raised inside a C callback. A callback cannot let it through the C
// library, so it stores it here, asks the library to stop, and the binding raises it once the C
// call has returned.
class CallbackError {
 public:
  // Stores the pending exception (the GIL is held inside the callback).
  void capture(py::error_already_set& error) {
    if (!error_) error_.emplace(std::move(error));
  }
  bool pending() const { return error_.has_value(); }
  // Raises the stored exception, if any. Needs the GIL.
  void rethrow_if_pending() {
    if (error_) {
      py::error_already_set error = std::move(*error_);
      error_.reset();
      throw error;
    }
  }

 private:
  std::optional<py::error_already_set> error_;
};

// Runs Python's signal handlers (so Ctrl-C raises KeyboardInterrupt in the main thread) and an
// optional `should_abort()` callable (`should_abort(fraction)` for load progress), at most once per `interval`, from a C abort or progress
// callback. Returns true when the C call should stop: a handler raised (stored in `error`) or
// should_abort returned something true.
class AbortPoll {
 public:
  AbortPoll(py::object should_abort, double interval_seconds, CallbackError& error)
      : should_abort_(should_abort.is_none() ? py::object() : std::move(should_abort)),
        interval_(std::chrono::duration_cast<std::chrono::steady_clock::duration>(
            std::chrono::duration<double>(interval_seconds))),
        error_(error) {}
  // Called without the GIL; takes it only when a check is due. `fraction` (load progress) is
  // passed to should_abort when given.
  bool due_and_stop(std::optional<float> fraction = std::nullopt);

 private:
  py::object should_abort_;
  std::chrono::steady_clock::duration interval_;
  std::chrono::steady_clock::time_point next_{};
  CallbackError& error_;
};

// The ophtha_image behind an `_ophtha.Image`, kept alive by the returned pointer (also through a
// close() on another thread). Raises InvalidArgumentError naming `what` for another type or a
// closed image. Needs the GIL.
std::shared_ptr<ophtha_image> image_handle(const py::handle& image, const std::string& what);

void bind_errors_and_versions(py::module_& m);
void bind_log(py::module_& m);
void bind_model(py::module_& m);
void bind_image(py::module_& m);
void bind_tools(py::module_& m);

}  // namespace ophtha_python
