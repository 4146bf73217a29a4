// The tools of the C ABI as module functions: synth (ophtha_synth), evaluate (ophtha_evaluate) and
// train (ophtha_train_run), each run with the GIL released.
#include <pybind11/stl.h>

#include <memory>
#include <optional>
#include <string>

#include "bindings.hpp"

namespace ophtha_python {
namespace {

// A string the library returned through a `char **`, freed with ophtha_string_free.
using OwnedString = std::unique_ptr<char, void (*)(char*)>;

// Runs `call(&out)` without the GIL, raises on failure (a Python exception a callback stored comes
// first) and returns the string the call returned.
template <class Call>
std::string returned_string(Call&& call, CallbackError* error) {
  char* out = nullptr;
  ophtha_status status;
  std::string message;
  {
    py::gil_scoped_release release;
    status = call(&out);
    if (status != OPHTHA_STATUS_OK) message = ophtha_last_error_message();
  }
  OwnedString owned(out, ophtha_string_free);
  if (error) error->rethrow_if_pending();
  if (status != OPHTHA_STATUS_OK) raise_status(status, message);
  return owned ? std::string(owned.get()) : std::string();
}

void synth(const std::string& out_dir, int64_t studies, uint64_t seed, const std::string& lang, double split_train,
           double split_val, double split_test, int32_t threads, bool force, py::object progress,
           double poll_seconds) {
  require_no_nul(out_dir, "out");
  require_no_nul(lang, "lang");
  CallbackError error;
  AbortPoll poll(std::move(progress), poll_seconds, error);
  ophtha_synth_params p;
  ophtha_synth_params_default(&p, sizeof p);
  p.out_dir = out_dir.c_str();
  p.studies = studies;
  p.seed = seed;
  p.lang = lang.c_str();
  p.split_train = split_train;
  p.split_val = split_val;
  p.split_test = split_test;
  p.threads = threads;
  p.force = force;
  p.progress_user_data = &poll;
  p.progress_callback = [](float fraction, void* user_data) -> int32_t {
    return static_cast<AbortPoll*>(user_data)->due_and_stop(fraction) ? 1 : 0;
  };
  returned_string([&](char**) { return ophtha_synth(&p); }, &error);
}

std::string evaluate(const std::string& manifest, const std::string& predictions,
                     const std::optional<std::string>& out_dir, const std::optional<std::string>& lang,
                     const std::optional<std::string>& split) {
  require_no_nul(manifest, "manifest");
  require_no_nul(predictions, "predictions");
  if (out_dir) require_no_nul(*out_dir, "out");
  if (lang) require_no_nul(*lang, "lang");
  if (split) require_no_nul(*split, "split");
  ophtha_evaluate_params p;
  ophtha_evaluate_params_default(&p, sizeof p);
  p.lang = lang ? lang->c_str() : nullptr;
  p.split = split ? split->c_str() : nullptr;
  return returned_string(
      [&](char** out) {
        return ophtha_evaluate(manifest.c_str(), predictions.c_str(), out_dir ? out_dir->c_str() : nullptr, &p, out);
      },
      nullptr);
}

// What the step callback of one ophtha_train_run call sees.
struct TrainCallbacks {
  py::object on_step;  // on_step(dict) -> False stops the run
  CallbackError* error;
};

// Takes the GIL after every step: runs Python's signal handlers (Ctrl-C stops the run after this
// step and is raised) and on_step.
int32_t on_train_step(const ophtha_train_step* step, void* user_data) {
  auto& c = *static_cast<TrainCallbacks*>(user_data);
  py::gil_scoped_acquire gil;
  if (c.error->pending()) return 1;
  try {
    if (PyErr_CheckSignals() != 0) throw py::error_already_set();
    if (!c.on_step) return 0;
    py::dict d;
    d["stage"] = py::str(step->stage);
    d["step"] = step->step;
    d["total_steps"] = step->total_steps;
    d["loss"] = step->loss;
    d["lr"] = step->lr;
    d["seconds"] = step->seconds;
    d["items"] = step->items;
    d["validation_loss"] = step->has_validation_loss ? py::object(py::float_(step->validation_loss)) : py::none();
    const py::object answer = c.on_step(d);
    return !answer.is_none() && !py::bool_(answer) ? 1 : 0;
  } catch (py::error_already_set& error) {
    c.error->capture(error);
    return 1;
  }
}

std::string train(const std::string& config, bool resume, int64_t max_steps, py::object on_step) {
  require_no_nul(config, "config");
  CallbackError error;
  TrainCallbacks callbacks{on_step.is_none() ? py::object() : std::move(on_step), &error};
  ophtha_train_params p;
  ophtha_train_params_default(&p, sizeof p);
  p.resume = resume;
  p.max_steps = max_steps;
  p.step_callback = on_train_step;
  p.step_user_data = &callbacks;
  return returned_string([&](char** out) { return ophtha_train_run(config.c_str(), &p, out); }, &error);
}

}  // namespace

void bind_tools(py::module_& m) {
  m.def("synth", &synth, py::arg("out_dir"), py::arg("studies"), py::arg("seed"), py::arg("lang"),
        py::arg("split_train"), py::arg("split_val"), py::arg("split_test"), py::arg("threads"), py::arg("force"),
        py::arg("progress"), py::arg("poll_seconds"),
        "ophtha_synth with the GIL released. `progress(fraction)` (or None) and Python's signal handlers run "
        "about every `poll_seconds` (at most every 0.25 s); a true return cancels (AbortedError).");
  m.def("evaluate", &evaluate, py::arg("manifest"), py::arg("predictions"), py::arg("out_dir"), py::arg("lang"),
        py::arg("split"),
        "ophtha_evaluate with the GIL released; None for out_dir, lang or split means the default. Returns "
        "the results JSON as a str.");
  m.def("train", &train, py::arg("config"), py::arg("resume"), py::arg("max_steps"), py::arg("on_step"),
        "ophtha_train_run with the GIL released. After every step `on_step(dict)` (or None) runs with the "
        "GIL: a False return stops the run (resumable); an exception stops it and is raised, as is Ctrl-C. "
        "Returns the result JSON as a str.");
}

}  // namespace ophtha_python
