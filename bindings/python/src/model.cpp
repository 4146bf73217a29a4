// _ophtha.Model (ophtha_model: load, facts, tokenize, detokenize, image embeddings) and
// _ophtha.Session (ophtha_session: generate and report, with streaming, cancellation and abort).
#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

#include "bindings.hpp"

namespace ophtha_python {
namespace {

// How often, by default, abort and progress callbacks run Python's signal handlers and the
// caller's should_abort (seconds). The library polls per layer; taking the GIL that often
// would slow generation down whenever another Python thread is busy.
constexpr double kDefaultPollSeconds = 0.05;

// A loaded model. Calls that use the handle hold `lock_` shared; close() holds it exclusively,
// so a model closed on one thread is never freed under a call running on another.
class Model {
 public:
  explicit Model(const std::string& path, py::object progress, double poll_seconds) : path_(path) {
    require_no_nul(path, "path");
    CallbackError error;
    AbortPoll poll(std::move(progress), poll_seconds, error);
    ophtha_model_params params;
    ophtha_model_params_default(&params, sizeof params);
    params.progress_user_data = &poll;
    params.progress_callback = [](float fraction, void* user_data) -> int32_t {
      return static_cast<AbortPoll*>(user_data)->due_and_stop(fraction) ? 1 : 0;
    };
    ophtha_model* handle = nullptr;
    ophtha_status status;
    {
      py::gil_scoped_release release;
      status = ophtha_model_load(path.c_str(), &params, &handle);
    }
    if (status != OPHTHA_STATUS_OK) {
      error.rethrow_if_pending();
      raise_last_error(status);
    }
    handle_ = handle;
  }
  ~Model() { ophtha_model_free(handle_); }
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  void close() {
    py::gil_scoped_release release;
    std::unique_lock lock(lock_);
    ophtha_model_free(handle_);
    handle_ = nullptr;
  }
  bool closed() const { return handle_ == nullptr; }
  const std::string& path() const { return path_; }

  // Runs `f(handle)` under the shared lock, so the handle stays alive meanwhile; the handle is
  // NULL once the model is closed. Call it without the GIL; `f` must not touch Python objects.
  template <class F>
  auto with_handle(F&& f) const {
    std::shared_lock lock(lock_);
    return f(handle_);
  }

  int32_t fact(int32_t (*getter)(const ophtha_model*)) const {
    std::shared_lock lock(lock_);
    require_open();
    return getter(handle_);
  }

  void require_open() const {
    if (!handle_) raise_status(OPHTHA_STATUS_INVALID_ARGUMENT, "the model '" + path_ + "' is closed");
  }

  py::array_t<int32_t> tokenize(const std::string& text, bool add_bos) const {
    std::vector<int32_t> tokens(text.size() + 2);
    size_t n_tokens = 0;
    ophtha_status status;
    {
      py::gil_scoped_release release;
      std::shared_lock lock(lock_);
      status = handle_ ? OPHTHA_STATUS_OK : OPHTHA_STATUS_INVALID_ARGUMENT;
      if (handle_) {
        status = ophtha_tokenize(handle_, text.data(), text.size(), add_bos, tokens.data(), tokens.size(), &n_tokens);
        if (status == OPHTHA_STATUS_BUFFER_TOO_SMALL) {  // invalid UTF-8 can need three tokens per byte
          tokens.resize(n_tokens);
          status = ophtha_tokenize(handle_, text.data(), text.size(), add_bos, tokens.data(), tokens.size(),
                                   &n_tokens);
        }
      }
    }
    if (status != OPHTHA_STATUS_OK) {
      require_open();
      raise_last_error(status);
    }
    return py::array_t<int32_t>(static_cast<py::ssize_t>(n_tokens), tokens.data());
  }

  // ophtha_image_embed: (n_tokens, dim) float32. The size is asked first (capacity 0); the second
  // call finds the embedding in the bundle's embedding cache. The array owns the vector it wraps.
  py::array_t<float> embed(const py::handle& image) const {
    const std::shared_ptr<ophtha_image> pixels = image_handle(image, "embed: image");
    auto values = std::make_unique<std::vector<float>>();
    size_t n_tokens = 0, dim = 0;
    ophtha_status status;
    std::string message;
    {
      py::gil_scoped_release release;
      std::shared_lock lock(lock_);
      status = handle_ ? ophtha_image_embed(handle_, pixels.get(), nullptr, 0, &n_tokens, &dim)
                       : OPHTHA_STATUS_INVALID_ARGUMENT;
      if (status == OPHTHA_STATUS_BUFFER_TOO_SMALL) {
        values->resize(n_tokens * dim);
        status = ophtha_image_embed(handle_, pixels.get(), values->data(), values->size(), &n_tokens, &dim);
      }
      if (status != OPHTHA_STATUS_OK && handle_) message = ophtha_last_error_message();
    }
    if (status != OPHTHA_STATUS_OK) {
      require_open();
      raise_status(status, message);
    }
    float* data = values->data();
    py::capsule owner(values.release(), [](void* p) { delete static_cast<std::vector<float>*>(p); });
    return py::array_t<float>({static_cast<py::ssize_t>(n_tokens), static_cast<py::ssize_t>(dim)}, data, owner);
  }

  py::str detokenize(const py::array_t<int32_t, py::array::c_style>& tokens) const {
    if (tokens.ndim() != 1)
      raise_status(OPHTHA_STATUS_INVALID_ARGUMENT,
                   "detokenize: expected a 1-D sequence of token ids, got " + std::to_string(tokens.ndim()) +
                       " dimensions");
    const int32_t* ids = tokens.data();
    const size_t n = static_cast<size_t>(tokens.size());
    std::string text(n * 8 + 16, '\0');
    size_t length = 0;
    ophtha_status status;
    {
      py::gil_scoped_release release;
      std::shared_lock lock(lock_);
      status = handle_ ? OPHTHA_STATUS_OK : OPHTHA_STATUS_INVALID_ARGUMENT;
      if (handle_) {
        status = ophtha_detokenize(handle_, ids, n, text.data(), text.size(), &length);
        if (status == OPHTHA_STATUS_BUFFER_TOO_SMALL) {
          text.assign(length + 1, '\0');
          status = ophtha_detokenize(handle_, ids, n, text.data(), text.size(), &length);
        }
      }
    }
    if (status != OPHTHA_STATUS_OK) {
      require_open();
      raise_last_error(status);
    }
    return py::str(text.data(), length);
  }

 private:
  std::string path_;
  ophtha_model* handle_ = nullptr;
  mutable std::shared_mutex lock_;
};

// Set from any thread (no GIL needed) to end a running generation cleanly (stop reason
// CANCELLED) at the next token.
class CancelFlag {
 public:
  void set() { flag_.store(true); }
  bool is_set() const { return flag_.load(); }

 private:
  std::atomic<bool> flag_{false};
};

// What the C callbacks of one ophtha_generate call see.
struct GenerateCallbacks {
  py::object on_text;  // on_text(piece: str) -> bool-ish; true ends generation (CANCELLED)
  std::shared_ptr<CancelFlag> cancel;
  AbortPoll* abort_poll;
  CallbackError* error;
};

int32_t on_token(const char* text, size_t length, int32_t, void* user_data) {
  auto& c = *static_cast<GenerateCallbacks*>(user_data);
  if (c.cancel && c.cancel->is_set()) return 1;
  if (!c.on_text || length == 0) return 0;
  py::gil_scoped_acquire gil;
  if (c.error->pending()) return 1;
  try {
    // Strict UTF-8: the library promises whole characters in every piece.
    py::str piece(text, length);
    return py::bool_(c.on_text(piece)) ? 1 : 0;
  } catch (py::error_already_set& error) {
    c.error->capture(error);
    return 1;
  }
}

int32_t on_abort_poll(void* user_data) {
  return static_cast<GenerateCallbacks*>(user_data)->abort_poll->due_and_stop() ? 1 : 0;
}

// A session: KV cache, scratch and RNG on one model, one generation at a time (`busy`).
class Session {
 public:
  Session(std::shared_ptr<Model> model, int32_t n_threads, int32_t context_length) : model_(std::move(model)) {
    ophtha_session_params params;
    ophtha_session_params_default(&params, sizeof params);
    params.n_threads = n_threads;
    params.context_length = context_length;
    ophtha_session* handle = nullptr;
    ophtha_status status;
    {
      py::gil_scoped_release release;
      status = model_->with_handle([&](ophtha_model* m) {
        return m ? ophtha_session_create(m, &params, &handle) : OPHTHA_STATUS_INVALID_ARGUMENT;
      });
    }
    if (status != OPHTHA_STATUS_OK) {
      model_->require_open();
      raise_last_error(status);
    }
    handle_ = handle;
    context_length_ = ophtha_session_context_length(handle);
  }
  ~Session() { ophtha_session_free(handle_); }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  void close() {
    refuse_reentry("close");
    py::gil_scoped_release release;
    std::lock_guard lock(busy_);
    ophtha_session_free(handle_);
    handle_ = nullptr;
  }
  bool closed() const { return handle_ == nullptr; }

  // A callback of this session's running generate calling generate or close on the same
  // session would wait for itself.
  void refuse_reentry(const char* what) const {
    if (generating_on_.load() == std::this_thread::get_id())
      raise_status(OPHTHA_STATUS_INVALID_ARGUMENT,
                   std::string(what) + " was called on a session from inside a callback of its own generate");
  }

  int32_t context_length() const { return context_length_; }

  // ophtha_report_generate on `images` (_ophtha.Image objects) with the GIL released; streaming,
  // cancellation and abort as generate. Returns text, json (the structured report, serialised) and
  // the ophtha_report_info fields.
  py::dict report(const py::list& images, const std::string& findings, const std::string& lang, int32_t max_tokens,
                  float temperature, float top_p, int32_t candidates, float candidate_temperature, float evidence_weight, int32_t line_drafts,
                  int32_t sentence_insertions, int32_t guided_drafts, int32_t drop_unsupported, uint64_t seed,
                  bool check_images, float modality_threshold, py::object on_text, py::object should_abort, std::shared_ptr<CancelFlag> cancel,
                  double poll_seconds) {
    refuse_reentry("report");
    require_no_nul(findings, "findings");
    require_no_nul(lang, "lang");
    std::vector<std::shared_ptr<ophtha_image>> held;
    for (size_t i = 0; i < images.size(); ++i)
      held.push_back(image_handle(images[i], "images[" + std::to_string(i) + "]"));
    std::vector<const ophtha_image*> study;
    for (const auto& image : held) study.push_back(image.get());

    CallbackError error;
    AbortPoll poll(std::move(should_abort), poll_seconds, error);
    GenerateCallbacks callbacks{on_text.is_none() ? py::object() : std::move(on_text), std::move(cancel), &poll,
                                &error};
    ophtha_report_params p;
    ophtha_report_params_default(&p, sizeof p);
    p.lang = lang.c_str();
    p.findings = findings.c_str();
    p.max_tokens = max_tokens;
    p.temperature = temperature;
    p.top_p = top_p;
    p.candidates = candidates;
    p.candidate_temperature = candidate_temperature;
    p.evidence_weight = evidence_weight;
    p.line_drafts = line_drafts;
    p.sentence_insertions = sentence_insertions;
    p.guided_drafts = guided_drafts;
    p.drop_unsupported = drop_unsupported;
    p.seed = seed;
    p.check_images = check_images;
    p.modality_threshold = modality_threshold;
    p.token_callback = on_token;
    p.token_user_data = &callbacks;
    p.abort_callback = on_abort_poll;
    p.abort_user_data = &callbacks;

    ophtha_report_info info{};
    info.struct_size = sizeof info;
    ophtha_status status;
    std::string message, text, json;
    std::vector<std::string> drafts;
    {
      py::gil_scoped_release release;
      std::lock_guard lock(busy_);
      if (!handle_) {
        status = OPHTHA_STATUS_INVALID_ARGUMENT;
        message = "the session is closed";
      } else {
        generating_on_.store(std::this_thread::get_id());
        ophtha_report* report = nullptr;
        status = ophtha_report_generate(handle_, study.data(), study.size(), &p, &report);
        generating_on_.store(std::thread::id());
        if (status == OPHTHA_STATUS_OK) status = ophtha_report_get_info(report, &info);
        if (status == OPHTHA_STATUS_OK) {
          text = ophtha_report_text(report);
          json = ophtha_report_json(report);
          for (int32_t i = 0; status == OPHTHA_STATUS_OK && i < info.n_candidates; ++i) {
            const char* draft = nullptr;
            status = ophtha_report_get_draft(report, i, &draft);
            if (status == OPHTHA_STATUS_OK) drafts.emplace_back(draft);
          }
          if (status != OPHTHA_STATUS_OK) message = ophtha_last_error_message();
        } else {
          message = ophtha_last_error_message();
        }
        ophtha_report_free(report);
      }
    }
    error.rethrow_if_pending();
    if (status != OPHTHA_STATUS_OK) raise_status(status, message);
    py::dict result;
    result["text"] = py::str(text);
    result["json"] = py::str(json);
    result["n_prompt_tokens"] = info.n_prompt_tokens;
    result["n_generated_tokens"] = info.n_generated_tokens;
    result["embed_seconds"] = info.embed_seconds;
    result["prefill_seconds"] = info.prefill_seconds;
    result["decode_seconds"] = info.decode_seconds;
    result["n_candidates"] = info.n_candidates;
    result["chosen_candidate"] = info.chosen_candidate;
    result["n_refined_lines"] = info.n_refined_lines;
    result["n_inserted_sentences"] = info.n_inserted_sentences;
    result["n_dropped_sentences"] = info.n_dropped_sentences;
    result["n_guided_sentences"] = info.n_guided_sentences;
    py::list draft_texts;
    for (const std::string& d : drafts) draft_texts.append(py::str(d));
    result["drafts"] = draft_texts;
    return result;
  }

  py::dict generate(const std::string& prompt, int32_t max_tokens, float temperature, int32_t top_k, float top_p,
                    float min_p, float repeat_penalty, int32_t repeat_last_n, uint64_t seed, bool add_bos,
                    bool ignore_eos, const std::vector<std::string>& stop, py::object on_text,
                    py::object should_abort, std::shared_ptr<CancelFlag> cancel, double poll_seconds) {
    refuse_reentry("generate");
    require_no_nul(prompt, "prompt");
    for (const std::string& s : stop) require_no_nul(s, "a stop string");
    std::vector<const char*> stop_strings;
    for (const std::string& s : stop) stop_strings.push_back(s.c_str());

    CallbackError error;
    AbortPoll poll(std::move(should_abort), poll_seconds, error);
    GenerateCallbacks callbacks{on_text.is_none() ? py::object() : std::move(on_text), std::move(cancel), &poll,
                                &error};

    ophtha_generate_params p;
    ophtha_generate_params_default(&p, sizeof p);
    p.max_tokens = max_tokens;
    p.temperature = temperature;
    p.top_k = top_k;
    p.top_p = top_p;
    p.min_p = min_p;
    p.repeat_penalty = repeat_penalty;
    p.repeat_last_n = repeat_last_n;
    p.seed = seed;
    p.add_bos = add_bos;
    p.ignore_eos = ignore_eos;
    p.stop_strings = stop_strings.data();
    p.n_stop_strings = stop_strings.size();
    p.token_callback = on_token;
    p.token_user_data = &callbacks;
    p.abort_callback = on_abort_poll;
    p.abort_user_data = &callbacks;

    ophtha_generation g{};
    g.struct_size = sizeof g;
    ophtha_status status;
    std::string message;
    std::vector<int32_t> tokens;
    std::string text;
    {
      py::gil_scoped_release release;
      std::lock_guard lock(busy_);
      if (!handle_) {
        status = OPHTHA_STATUS_INVALID_ARGUMENT;
        message = "the session is closed";
      } else {
        generating_on_.store(std::this_thread::get_id());
        status = ophtha_generate(handle_, prompt.c_str(), &p, &g);
        generating_on_.store(std::thread::id());
        if (status == OPHTHA_STATUS_OK) {  // copied while the session is still ours
          tokens.assign(g.tokens, g.tokens + g.n_tokens);
          text.assign(g.text, g.text_length);
        } else {
          message = ophtha_last_error_message();
        }
      }
    }
    error.rethrow_if_pending();
    if (status != OPHTHA_STATUS_OK) raise_status(status, message);
    py::dict result;
    result["text"] = py::str(text);
    result["tokens"] = py::cast(tokens);
    result["stop_reason"] = g.stop_reason;
    result["n_prompt_tokens"] = g.n_prompt_tokens;
    result["prefill_seconds"] = g.prefill_seconds;
    result["decode_seconds"] = g.decode_seconds;
    return result;
  }

 private:
  std::shared_ptr<Model> model_;
  ophtha_session* handle_ = nullptr;
  std::mutex busy_;
  std::atomic<std::thread::id> generating_on_{};
  int32_t context_length_ = 0;  // fixed at creation; read without waiting for a running generate
};

py::dict report_defaults() {
  ophtha_report_params p;
  ophtha_report_params_default(&p, sizeof p);
  py::dict d;
  d["max_tokens"] = p.max_tokens;
  d["temperature"] = p.temperature;
  d["top_p"] = p.top_p;
  d["seed"] = p.seed;
  d["check_images"] = p.check_images != 0;
  d["modality_threshold"] = p.modality_threshold;
  return d;
}

py::dict generate_defaults() {
  ophtha_generate_params p;
  ophtha_generate_params_default(&p, sizeof p);
  py::dict d;
  d["max_tokens"] = p.max_tokens;
  d["temperature"] = p.temperature;
  d["top_k"] = p.top_k;
  d["top_p"] = p.top_p;
  d["min_p"] = p.min_p;
  d["repeat_penalty"] = p.repeat_penalty;
  d["repeat_last_n"] = p.repeat_last_n;
  d["seed"] = p.seed;
  d["add_bos"] = p.add_bos != 0;
  d["ignore_eos"] = p.ignore_eos != 0;
  return d;
}

}  // namespace

void bind_model(py::module_& m) {
  m.attr("DEFAULT_POLL_SECONDS") = kDefaultPollSeconds;
  py::dict stop_reasons;
  stop_reasons["EOS"] = py::int_(int32_t{OPHTHA_STOP_EOS});
  stop_reasons["STRING"] = py::int_(int32_t{OPHTHA_STOP_STRING});
  stop_reasons["TOKEN_LIMIT"] = py::int_(int32_t{OPHTHA_STOP_TOKEN_LIMIT});
  stop_reasons["CANCELLED"] = py::int_(int32_t{OPHTHA_STOP_CANCELLED});
  m.attr("STOP_REASON") = stop_reasons;
  m.def("generate_defaults", &generate_defaults,
        "The library's default generation parameters (ophtha_generate_params_default) as a dict.");
  m.def("report_defaults", &report_defaults,
        "The library's default report parameters (ophtha_report_params_default) as a dict.");

  py::class_<Model, std::shared_ptr<Model>>(m, "Model",
                                            "ophtha_model: an immutable loaded language model, shareable by threads.")
      .def(py::init<const std::string&, py::object, double>(), py::arg("path"), py::arg("progress") = py::none(),
           py::arg("poll_seconds") = kDefaultPollSeconds,
           "Loads a .gguf file or a Hugging Face folder (ophtha_model_load) with the GIL released. "
           "`progress(fraction)` (or None) is called with the GIL about every `poll_seconds` during the load; "
           "returning true cancels it (AbortedError). Ctrl-C in the main thread cancels it too.")
      .def("close", &Model::close, "Frees the model (ophtha_model_free); sessions made from it keep working.")
      .def_property_readonly("closed", &Model::closed, "True once close() has been called.")
      .def_property_readonly("path", &Model::path, "The path given to the constructor.")
      .def_property_readonly("n_vocab", [](const Model& m) { return m.fact(ophtha_model_n_vocab); }, "ophtha_model_n_vocab.")
      .def_property_readonly("context_length", [](const Model& m) { return m.fact(ophtha_model_context_length); }, "ophtha_model_context_length.")
      .def_property_readonly("bos_id", [](const Model& m) { return m.fact(ophtha_model_token_bos); }, "ophtha_model_token_bos.")
      .def_property_readonly("eos_id", [](const Model& m) { return m.fact(ophtha_model_token_eos); }, "ophtha_model_token_eos.")
      .def("tokenize", &Model::tokenize, py::arg("text"), py::arg("add_bos"),
           "ophtha_tokenize: the ids of `text` (str, encoded as UTF-8, or bytes) as an int32 array.")
      .def("detokenize", &Model::detokenize, py::arg("tokens"),
           "ophtha_detokenize: the text of a 1-D C-contiguous int32 array of ids.")
      .def_property_readonly("has_vision", [](const Model& m) { return m.fact(ophtha_model_has_vision) != 0; },
                             "ophtha_model_has_vision: loaded from a model bundle.")
      .def("embed", &Model::embed, py::arg("image"),
           "ophtha_image_embed with the GIL released: the projected embeddings of an Image, a float32 array "
           "of shape (n_tokens, dim).");

  py::class_<CancelFlag, std::shared_ptr<CancelFlag>>(
      m, "CancelFlag", "Set from any thread to end a generation cleanly (stop reason CANCELLED) at the next token.")
      .def(py::init<>())
      .def("set", &CancelFlag::set, "Asks the generation to end at its next token.")
      .def("is_set", &CancelFlag::is_set, "True once set() has been called.");

  py::class_<Session>(m, "Session", "ophtha_session: KV cache, scratch and RNG; one generation at a time.")
      .def(py::init<std::shared_ptr<Model>, int32_t, int32_t>(), py::arg("model"), py::arg("n_threads") = 0,
           py::arg("context_length") = 0, "ophtha_session_create; 0 means the library's default for each.")
      .def("close", &Session::close, "Frees the session (waits for a generation running on another thread).")
      .def_property_readonly("closed", &Session::closed, "True once close() has been called.")
      .def_property_readonly("context_length", &Session::context_length, "ophtha_session_context_length.")
      .def("generate", &Session::generate, py::arg("prompt"), py::arg("max_tokens"), py::arg("temperature"),
           py::arg("top_k"), py::arg("top_p"), py::arg("min_p"), py::arg("repeat_penalty"), py::arg("repeat_last_n"),
           py::arg("seed"), py::arg("add_bos"), py::arg("ignore_eos"), py::arg("stop"), py::arg("on_text"),
           py::arg("should_abort"), py::arg("cancel"), py::arg("poll_seconds"),
           "ophtha_generate with the GIL released. `on_text(piece)` gets each non-empty piece of text (whole "
           "UTF-8 characters) with the GIL; a true return ends generation (CANCELLED). `should_abort()` and "
           "Python's signal handlers run about every `poll_seconds`; a true return raises AbortedError, an "
           "exception (KeyboardInterrupt) is raised as is. Returns a dict: text, tokens, stop_reason, "
           "n_prompt_tokens, prefill_seconds, decode_seconds.")
      .def("report", &Session::report, py::arg("images"), py::arg("findings"), py::arg("lang"),
           py::arg("max_tokens"), py::arg("temperature"), py::arg("top_p"), py::arg("candidates"),
           py::arg("candidate_temperature"), py::arg("evidence_weight"), py::arg("line_drafts"),
           py::arg("sentence_insertions"), py::arg("guided_drafts"), py::arg("drop_unsupported"), py::arg("seed"),
           py::arg("check_images"),
           py::arg("modality_threshold"), py::arg("on_text"), py::arg("should_abort"), py::arg("cancel"),
           py::arg("poll_seconds"),
           "ophtha_report_generate with the GIL released on a list of Image; callbacks as generate. Returns a "
           "dict: text, json (the structured report, serialised), n_prompt_tokens, n_generated_tokens, "
           "embed_seconds, prefill_seconds, decode_seconds, n_candidates, chosen_candidate, n_refined_lines, n_inserted_sentences, n_dropped_sentences, n_guided_sentences, drafts.");
}

}  // namespace ophtha_python
