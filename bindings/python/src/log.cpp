// Library log lines: to stderr (ophtha_log_set's default) or to a Python callable.
#include <cstring>
#include <string>

#include "bindings.hpp"

namespace ophtha_python {
namespace {

// The callable receiving log lines, or NULL. Allocated on the heap and never destroyed by a
// static destructor, which could run without the GIL after the interpreter has gone.
py::object* log_handler = nullptr;

// Runs on the thread that logs (a thread calling into the library), never twice at once.
void forward_log_line(ophtha_log_level level, const char* message, void* user_data) {
  py::gil_scoped_acquire gil;
  try {
    py::object text = py::reinterpret_steal<py::object>(
        PyUnicode_DecodeUTF8(message, static_cast<Py_ssize_t>(std::strlen(message)), "replace"));
    if (!text) throw py::error_already_set();
    (*static_cast<py::object*>(user_data))(level, text);
  } catch (py::error_already_set& error) {
    error.discard_as_unraisable("ophtha log handler");
  }
}

// `handler(level, message)` or None (stderr) for every line at `level` or above.
void set_log_handler(py::object handler, int32_t level) {
  if (level < OPHTHA_LOG_DEBUG || level > OPHTHA_LOG_NONE)
    raise_status(OPHTHA_STATUS_INVALID_ARGUMENT,
                 "log level is " + std::to_string(level) + ", expected DEBUG 0, INFO 1, WARN 2, ERROR 3 or NONE 4");
  py::object* next = handler.is_none() ? nullptr : new py::object(std::move(handler));
  {
    // ophtha_log_set waits for a running call of the previous handler, which needs the GIL.
    py::gil_scoped_release release;
    ophtha_log_set(next ? forward_log_line : nullptr, next, level);
  }
  delete log_handler;  // no call to it is running or will start
  log_handler = next;
}

}  // namespace

void bind_log(py::module_& m) {
  py::dict levels;
  levels["DEBUG"] = py::int_(int32_t{OPHTHA_LOG_DEBUG});
  levels["INFO"] = py::int_(int32_t{OPHTHA_LOG_INFO});
  levels["WARN"] = py::int_(int32_t{OPHTHA_LOG_WARN});
  levels["ERROR"] = py::int_(int32_t{OPHTHA_LOG_ERROR});
  levels["NONE"] = py::int_(int32_t{OPHTHA_LOG_NONE});
  m.attr("LOG_LEVEL") = levels;
  m.def("set_log_handler", &set_log_handler, py::arg("handler"), py::arg("level"),
        "ophtha_log_set: sends every log line at `level` or above to handler(level: int, message: str), called "
        "with the GIL on the thread that logs, or to stderr when handler is None. An exception the handler raises "
        "goes to sys.unraisablehook.");
}

}  // namespace ophtha_python
