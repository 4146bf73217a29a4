// ophtha.hpp — a header-only C++17 wrapper over the C ABI (ophtha.h): RAII handles and
// exceptions. It only calls ophtha.h functions, so a program built with it depends on nothing
// but libophtha.so's C ABI (not on the C++ component API or its compiler).
//
// Errors: every failing call throws ophtha::api::Error carrying the ophtha_status and the
// library's message. Exceptions thrown by your callbacks are caught at the C boundary, stop the
// call (generation is cancelled, a load or abort check aborts) and are rethrown from the
// wrapper call that ran them.
// Ownership and threads follow ophtha.h: a Model is shared by any number of threads (copies
// share one loaded model); a Session is used by one thread at a time; an Image is immutable.
#pragma once
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "ophtha/ophtha.h"

namespace ophtha::api {

class Error : public std::runtime_error {
 public:
  Error(ophtha_status status, const std::string& message) : std::runtime_error(message), status_(status) {}
  ophtha_status status() const noexcept { return status_; }

 private:
  ophtha_status status_;
};

// Throws Error with the calling thread's last error message when `status` is not OK.
inline void check(ophtha_status status) {
  if (status != OPHTHA_STATUS_OK) {
    const std::string message = ophtha_last_error_message();
    throw Error(status, message.empty() ? ophtha_status_string(status) : message);
  }
}

// Throws Error(OPHTHA_STATUS_UNSUPPORTED) when the loaded libophtha.so has another ABI version
// than the ophtha.h this program was built with.
inline void check_abi_version() {
  if (ophtha_abi_version() != OPHTHA_ABI_VERSION)
    throw Error(OPHTHA_STATUS_UNSUPPORTED, "libophtha.so has ABI version " + std::to_string(ophtha_abi_version()) +
                                               ", this program was built for " + std::to_string(OPHTHA_ABI_VERSION));
}

namespace detail {

// Carries an exception out of a C callback: the trampoline stores it and tells the library to
// stop; the wrapper rethrows it once the C call has returned.
struct CallbackState {
  std::exception_ptr error;

  template <typename F>
  int32_t run(F&& f) noexcept {
    try {
      return f() ? 0 : 1;
    } catch (...) {
      error = std::current_exception();
      return 1;
    }
  }
  // Rethrows a callback's exception in preference to the status it caused.
  void finish(ophtha_status status) {
    if (error) std::rethrow_exception(error);
    check(status);
  }
};

// The C token and abort callbacks of one generate / report call: they run the caller's
// std::functions (which must outlive the call) and carry an exception out through `state`.
struct CallCallbacks {
  CallbackState state;
  std::function<bool(std::string_view, int32_t)> on_token;  // empty: no token callback
  const std::function<bool()>* should_abort = nullptr;      // null or empty: no abort check

  template <typename Params>
  void install(Params& params) {
    params.token_callback = nullptr;
    params.abort_callback = nullptr;
    if (on_token) {
      params.token_callback = [](const char* text, size_t length, int32_t token, void* user_data) -> int32_t {
        auto* c = static_cast<CallCallbacks*>(user_data);
        return c->state.run([&] { return c->on_token(std::string_view(text, length), token); });
      };
      params.token_user_data = this;
    }
    if (should_abort && *should_abort) {
      params.abort_callback = [](void* user_data) -> int32_t {
        auto* c = static_cast<CallCallbacks*>(user_data);
        return c->state.run([&] { return !(*c->should_abort)(); });
      };
      params.abort_user_data = this;
    }
  }
};

struct ModelFree {
  void operator()(ophtha_model* m) const noexcept { ophtha_model_free(m); }
};
struct SessionFree {
  void operator()(ophtha_session* s) const noexcept { ophtha_session_free(s); }
};
struct ImageFree {
  void operator()(ophtha_image* i) const noexcept { ophtha_image_free(i); }
};

}  // namespace detail

class Model {
 public:
  // Called with the fraction loaded; return false to cancel (Error with OPHTHA_STATUS_ABORTED).
  using Progress = std::function<bool(float fraction)>;

  // Loads a .gguf file or a Hugging Face folder (ophtha_model_load).
  static Model load(const std::string& path, const Progress& progress = {}) {
    ophtha_model_params params;
    check(ophtha_model_params_default(&params, sizeof params));
    detail::CallbackState state;
    struct Context {
      const Progress* progress;
      detail::CallbackState* state;
    } context{&progress, &state};
    if (progress) {
      params.progress_callback = [](float fraction, void* user_data) -> int32_t {
        auto* c = static_cast<Context*>(user_data);
        return c->state->run([&] { return (*c->progress)(fraction); });
      };
      params.progress_user_data = &context;
    }
    ophtha_model* model = nullptr;
    state.finish(ophtha_model_load(path.c_str(), &params, &model));
    return Model(model);
  }

  const ophtha_model* get() const noexcept { return model_.get(); }
  int32_t n_vocab() const noexcept { return ophtha_model_n_vocab(get()); }
  int32_t context_length() const noexcept { return ophtha_model_context_length(get()); }
  int32_t bos() const noexcept { return ophtha_model_token_bos(get()); }
  int32_t eos() const noexcept { return ophtha_model_token_eos(get()); }
  // True for a model bundle (reports and image embeddings).
  bool has_vision() const noexcept { return ophtha_model_has_vision(get()) != 0; }

  // ophtha_tokenize, sized in one call for short texts and two for long ones.
  std::vector<int32_t> tokenize(std::string_view text, bool add_bos) const {
    std::vector<int32_t> tokens(text.size() + 2);
    size_t n = 0;
    ophtha_status status =
        ophtha_tokenize(get(), text.data(), text.size(), add_bos ? 1 : 0, tokens.data(), tokens.size(), &n);
    if (status == OPHTHA_STATUS_BUFFER_TOO_SMALL) {
      tokens.resize(n);
      status = ophtha_tokenize(get(), text.data(), text.size(), add_bos ? 1 : 0, tokens.data(), tokens.size(), &n);
    }
    check(status);
    tokens.resize(n);
    return tokens;
  }

  // ophtha_detokenize: asks for the size, then fills the string.
  std::string detokenize(const std::vector<int32_t>& tokens) const {
    size_t length = 0;
    ophtha_status status = ophtha_detokenize(get(), tokens.data(), tokens.size(), nullptr, 0, &length);
    if (status != OPHTHA_STATUS_BUFFER_TOO_SMALL) check(status);
    std::string text(length, '\0');
    check(ophtha_detokenize(get(), tokens.data(), tokens.size(), text.data(), text.size() + 1, &length));
    return text;
  }

 private:
  explicit Model(ophtha_model* model) : model_(model, detail::ModelFree{}) {}
  std::shared_ptr<ophtha_model> model_;
};

// What to generate: the C parameters (defaults filled in) plus C++ callbacks and stop strings.
struct GenerateOptions {
  GenerateOptions() { check(ophtha_generate_params_default(&params, sizeof params)); }

  // Sampling and limits: max_tokens, temperature, top_k, top_p, min_p, repeat_penalty,
  // repeat_last_n, seed, add_bos, ignore_eos. The callback and stop-string fields are set
  // from the members below.
  ophtha_generate_params params;
  std::vector<std::string> stop_strings;
  // Each piece of complete UTF-8 text as it is generated (token -1: the final tail); return
  // false to end generation (OPHTHA_STOP_CANCELLED).
  std::function<bool(std::string_view text, int32_t token)> on_token;
  // Polled per token and per layer; return true to abort (Error with OPHTHA_STATUS_ABORTED).
  std::function<bool()> should_abort;
};

struct Generation {
  std::string text;
  std::vector<int32_t> tokens;
  ophtha_stop_reason stop_reason = OPHTHA_STOP_TOKEN_LIMIT;
  size_t prompt_tokens = 0;
  double prefill_seconds = 0;
  double decode_seconds = 0;
};

class Image;

// ophtha_report_params with C++ callbacks; `params` holds the defaults (ophtha_report_params_default).
struct ReportOptions {
  ReportOptions() { check(ophtha_report_params_default(&params, sizeof params)); }
  ophtha_report_params params;
  std::string lang = "en";
  std::string findings;
  std::function<bool(std::string_view piece)> on_text;  // return false to stop
  std::function<bool()> should_abort;                   // return true to abort
};

struct Report {
  std::string text;
  std::string json;  // the structured report (docs/reports.md)
};

class Session {
 public:
  // n_threads 0: every core; context_length 0: the model's.
  // The session keeps the model alive: `model` may be destroyed first.
  explicit Session(const Model& model, int32_t n_threads = 0, int32_t context_length = 0) {
    ophtha_session_params params;
    check(ophtha_session_params_default(&params, sizeof params));
    params.n_threads = n_threads;
    params.context_length = context_length;
    ophtha_session* session = nullptr;
    check(ophtha_session_create(model.get(), &params, &session));
    session_.reset(session);
  }

  int32_t context_length() const noexcept { return ophtha_session_context_length(session_.get()); }

  // ophtha_generate; the session is used by one thread at a time.
  Generation generate(const std::string& prompt, const GenerateOptions& options = {}) {
    ophtha_generate_params params = options.params;
    std::vector<const char*> stops;
    for (const std::string& s : options.stop_strings) stops.push_back(s.c_str());
    params.stop_strings = stops.data();
    params.n_stop_strings = stops.size();
    detail::CallCallbacks callbacks;
    callbacks.on_token = options.on_token;
    callbacks.should_abort = &options.should_abort;
    callbacks.install(params);
    ophtha_generation g;
    g.struct_size = sizeof g;
    callbacks.state.finish(ophtha_generate(session_.get(), prompt.c_str(), &params, &g));
    Generation result;
    result.text.assign(g.text, g.text_length);
    result.tokens.assign(g.tokens, g.tokens + g.n_tokens);
    result.stop_reason = g.stop_reason;
    result.prompt_tokens = g.n_prompt_tokens;
    result.prefill_seconds = g.prefill_seconds;
    result.decode_seconds = g.decode_seconds;
    return result;
  }

  // ophtha_report_generate (the session's model must be a model bundle).
  inline Report report(const std::vector<Image>& images, const ReportOptions& options = {});

 private:
  std::unique_ptr<ophtha_session, detail::SessionFree> session_;
};

class Image {
 public:
  static Image load_file(const std::string& path, ophtha_modality modality, ophtha_eye eye) {
    ophtha_image* image = nullptr;
    check(ophtha_image_load_file(path.c_str(), modality, eye, &image));
    return Image(image);
  }
  static Image load_memory(const void* bytes, size_t size, ophtha_modality modality, ophtha_eye eye) {
    ophtha_image* image = nullptr;
    check(ophtha_image_load_memory(bytes, size, modality, eye, &image));
    return Image(image);
  }
  static Image from_pixels(const void* pixels, int32_t width, int32_t height, size_t row_stride,
                           ophtha_pixel_format format, ophtha_modality modality, ophtha_eye eye) {
    ophtha_image* image = nullptr;
    check(ophtha_image_from_pixels(pixels, width, height, row_stride, format, modality, eye, &image));
    return Image(image);
  }

  const ophtha_image* get() const noexcept { return image_.get(); }
  int32_t width() const noexcept { return ophtha_image_width(get()); }
  int32_t height() const noexcept { return ophtha_image_height(get()); }
  ophtha_pixel_format format() const noexcept { return ophtha_image_format(get()); }
  ophtha_modality modality() const noexcept { return ophtha_image_modality(get()); }
  ophtha_eye eye() const noexcept { return ophtha_image_eye(get()); }
  const void* pixels() const noexcept { return ophtha_image_pixels(get()); }

 private:
  explicit Image(ophtha_image* image) : image_(image, detail::ImageFree{}) {}
  std::shared_ptr<ophtha_image> image_;
};

inline Report Session::report(const std::vector<Image>& images, const ReportOptions& options) {
  ophtha_report_params params = options.params;
  params.lang = options.lang.c_str();
  params.findings = options.findings.empty() ? nullptr : options.findings.c_str();
  detail::CallCallbacks callbacks;
  if (options.on_text) callbacks.on_token = [&options](std::string_view text, int32_t) { return options.on_text(text); };
  callbacks.should_abort = &options.should_abort;
  callbacks.install(params);
  std::vector<const ophtha_image*> handles;
  for (const Image& image : images) handles.push_back(image.get());
  ophtha_report* raw = nullptr;
  const ophtha_status status = ophtha_report_generate(session_.get(), handles.data(), handles.size(), &params, &raw);
  // Owned before finish() may throw (a callback's exception after the report was written).
  const std::unique_ptr<ophtha_report, void (*)(ophtha_report*)> report(raw, ophtha_report_free);
  callbacks.state.finish(status);
  return Report{ophtha_report_text(report.get()), ophtha_report_json(report.get())};
}

// ophtha_image_embed: the image's projected embeddings, n_tokens × dim floats, row-major.
struct Embedding {
  size_t n_tokens = 0;
  size_t dim = 0;
  std::vector<float> values;
};

inline Embedding embed(const Model& model, const Image& image) {
  Embedding e;
  const ophtha_status asked = ophtha_image_embed(model.get(), image.get(), nullptr, 0, &e.n_tokens, &e.dim);
  if (asked != OPHTHA_STATUS_BUFFER_TOO_SMALL) check(asked);
  e.values.resize(e.n_tokens * e.dim);
  check(ophtha_image_embed(model.get(), image.get(), e.values.data(), e.values.size(), &e.n_tokens, &e.dim));
  return e;
}

}  // namespace ophtha::api
