// The extension module ophtha._ophtha: thin classes over the C ABI (models, sessions with text
// generation and reports, images, the tools). The package `ophtha`
// (bindings/python/ophtha) builds the documented Python API on top of it.
#include "bindings.hpp"

PYBIND11_MODULE(_ophtha, m) {
  m.doc() =
      "Low-level bindings of libophtha's C ABI (ophtha.h). Use the `ophtha` package instead; this module's "
      "interface follows the C ABI and may change with it.";
  ophtha_python::bind_errors_and_versions(m);
  ophtha_python::bind_log(m);
  ophtha_python::bind_model(m);
  ophtha_python::bind_image(m);
  ophtha_python::bind_tools(m);
}
