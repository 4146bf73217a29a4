// Statuses → ophtha.Error subclasses, abort polling, versions.
#include <dlfcn.h>

#include <string>

#include "bindings.hpp"

namespace ophtha_python {

void raise_status(ophtha_status status, std::string_view message) {
  // The C side's messages may quote file names that are not UTF-8: decode with replacement.
  py::object text = py::reinterpret_steal<py::object>(
      PyUnicode_DecodeUTF8(message.data(), static_cast<Py_ssize_t>(message.size()), "replace"));
  if (!text) throw py::error_already_set();
  py::object error = py::module_::import("ophtha._errors").attr("error_for_status")(status, text);
  PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(error.ptr())), error.ptr());
  throw py::error_already_set();
}

void raise_last_error(ophtha_status status) { raise_status(status, ophtha_last_error_message()); }

void require_no_nul(std::string_view text, const char* what) {
  const size_t nul = text.find('\0');
  if (nul != std::string_view::npos)
    raise_status(OPHTHA_STATUS_INVALID_ARGUMENT,
                 std::string(what) + " holds a NUL character at byte " + std::to_string(nul) +
                     "; the library reads NUL-terminated strings");
}

bool AbortPoll::due_and_stop(std::optional<float> fraction) {
  const auto now = std::chrono::steady_clock::now();
  if (now < next_) return false;
  next_ = now + interval_;
  py::gil_scoped_acquire gil;
  if (error_.pending()) return true;
  try {
    if (PyErr_CheckSignals() != 0) throw py::error_already_set();
    if (!should_abort_) return false;
    return py::bool_(fraction ? should_abort_(*fraction) : should_abort_());
  } catch (py::error_already_set& error) {
    error_.capture(error);
    return true;
  }
}

namespace {

// The file libophtha was loaded from, for messages about which library is in use.
std::string library_path() {
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&ophtha_version), &info) == 0 || info.dli_fname == nullptr) return "";
  return info.dli_fname;
}

}  // namespace

void bind_errors_and_versions(py::module_& m) {
  m.attr("ABI_VERSION") = OPHTHA_ABI_VERSION;
  m.attr("VERSION_NUMBER") = OPHTHA_VERSION_NUMBER;
  m.def("abi_version", &ophtha_abi_version,
        "The ABI version of the libophtha this extension loaded (ophtha_abi_version()); the package "
        "refuses to import when it differs from ABI_VERSION, the one the extension was compiled against.");
  m.def("version", &ophtha_version, "The loaded libophtha's version, \"MAJOR.MINOR.PATCH\".");
  m.def("version_number", &ophtha_version_number, "The loaded libophtha's MAJOR * 10000 + MINOR * 100 + PATCH.");
  m.def("library_path", &library_path, "The path of the loaded libophtha shared library (\"\" if unknown).");
  m.def("status_string", &ophtha_status_string, py::arg("status"),
        "The library's short English name of a status code (\"invalid argument\").");

  py::dict statuses;
  statuses["OK"] = py::int_(int32_t{OPHTHA_STATUS_OK});
  statuses["INVALID_ARGUMENT"] = py::int_(int32_t{OPHTHA_STATUS_INVALID_ARGUMENT});
  statuses["IO"] = py::int_(int32_t{OPHTHA_STATUS_IO});
  statuses["INVALID_FORMAT"] = py::int_(int32_t{OPHTHA_STATUS_INVALID_FORMAT});
  statuses["UNSUPPORTED"] = py::int_(int32_t{OPHTHA_STATUS_UNSUPPORTED});
  statuses["CONTEXT_OVERFLOW"] = py::int_(int32_t{OPHTHA_STATUS_CONTEXT_OVERFLOW});
  statuses["ABORTED"] = py::int_(int32_t{OPHTHA_STATUS_ABORTED});
  statuses["BUFFER_TOO_SMALL"] = py::int_(int32_t{OPHTHA_STATUS_BUFFER_TOO_SMALL});
  statuses["OUT_OF_MEMORY"] = py::int_(int32_t{OPHTHA_STATUS_OUT_OF_MEMORY});
  statuses["INTERNAL"] = py::int_(int32_t{OPHTHA_STATUS_INTERNAL});
  m.attr("STATUS") = statuses;
}

}  // namespace ophtha_python
