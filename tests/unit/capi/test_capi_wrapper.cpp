// The header-only C++ wrapper (ophtha.hpp) over the C ABI: RAII handles, errors as
// ophtha::api::Error with the library's status and message, and exceptions thrown by callbacks
// carried across the C boundary and rethrown where the wrapper call was made.
#include <doctest/doctest.h>

#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "ophtha/ophtha.hpp"
#include "support/test_models.hpp"

namespace {

const std::string kShape = "--type f32 --dim 64 --layers 2 --heads 4 --kv-heads 2 --ffn 172 --ctx 64 --seed 3";

std::string model_path() { return ophtha::test::test_model("capi-wrapper", "--format gguf " + kShape); }

template <typename F>
ophtha::api::Error api_error_from(F&& f) {
  try {
    f();
  } catch (const ophtha::api::Error& e) {
    return e;
  }
  FAIL("expected ophtha::api::Error");
  throw std::logic_error("unreachable");
}

}  // namespace

TEST_CASE("a failing call throws ophtha::api::Error with the status and the library's message") {
  const ophtha::api::Error e = api_error_from([] { ophtha::api::Model::load("/nonexistent/model.gguf"); });
  CHECK(e.status() == OPHTHA_STATUS_IO);
  CHECK(std::string(e.what()).find("ophtha_model_load: cannot open model '/nonexistent/model.gguf'") !=
        std::string::npos);
  CHECK_NOTHROW(ophtha::api::check_abi_version());
}

TEST_CASE("tokenize and detokenize round-trip texts longer than the first guess") {
  const ophtha::api::Model model = ophtha::api::Model::load(model_path());
  const std::string text = "视网膜 Retina 黄斑 \xF0\x9F\x91\x81";  // CJK, Latin, an emoji through byte fallback
  const std::vector<int32_t> tokens = model.tokenize(text, true);
  CHECK(tokens.front() == model.bos());
  CHECK(model.detokenize(tokens) == text);
  CHECK(model.detokenize({}).empty());
  const ophtha::api::Error e = api_error_from([&] { model.detokenize({5, -1}); });
  CHECK(e.status() == OPHTHA_STATUS_INVALID_ARGUMENT);
  CHECK(std::string(e.what()).find("tokens[1] is -1") != std::string::npos);
}

TEST_CASE("a Hugging Face folder loads through the same call and generates what the GGUF file does") {
  const ophtha::api::Model gguf = ophtha::api::Model::load(model_path());
  const ophtha::api::Model hf = ophtha::api::Model::load(ophtha::test::test_model("capi-wrapper", "--format hf " + kShape));
  CHECK(hf.n_vocab() == gguf.n_vocab());
  CHECK(hf.context_length() == gguf.context_length());
  ophtha::api::GenerateOptions options;
  options.params.max_tokens = 6;
  options.params.temperature = 0.f;
  options.params.ignore_eos = 1;
  CHECK(ophtha::api::Session(hf, 1).generate("Fundus", options).tokens ==
        ophtha::api::Session(gguf, 1).generate("Fundus", options).tokens);
}

TEST_CASE("a session keeps working after the last Model handle is gone") {
  std::optional<ophtha::api::Model> model = ophtha::api::Model::load(model_path());
  ophtha::api::Session session(*model, 1, 32);
  model.reset();
  ophtha::api::GenerateOptions options;
  options.params.max_tokens = 4;
  options.params.temperature = 0.f;
  const ophtha::api::Generation g = session.generate("Fundus", options);
  CHECK(g.tokens.size() <= 4);
  CHECK(session.context_length() == 32);
}

TEST_CASE("an exception thrown by a callback stops the call and is rethrown by the wrapper") {
  const ophtha::api::Model model = ophtha::api::Model::load(model_path());
  ophtha::api::Session session(model, 1);
  ophtha::api::GenerateOptions options;
  options.params.max_tokens = 20;
  options.params.ignore_eos = 1;
  int pieces = 0;
  options.on_token = [&](std::string_view, int32_t) -> bool {
    if (++pieces == 3) throw std::runtime_error("display closed");
    return true;
  };
  CHECK_THROWS_WITH_AS(session.generate("Fundus", options), "display closed", std::runtime_error);
  CHECK(pieces == 3);  // no piece after the throwing one

  options.on_token = nullptr;
  options.should_abort = [] () -> bool { throw std::out_of_range("watchdog"); };
  CHECK_THROWS_WITH_AS(session.generate("Fundus", options), "watchdog", std::out_of_range);

  CHECK_THROWS_WITH_AS(ophtha::api::Model::load(model_path(), [](float) -> bool { throw std::runtime_error("ui"); }),
                       "ui", std::runtime_error);
  const ophtha::api::Error cancelled =
      api_error_from([] { ophtha::api::Model::load(model_path(), [](float) { return false; }); });
  CHECK(cancelled.status() == OPHTHA_STATUS_ABORTED);
}

TEST_CASE("streamed pieces, stop strings and the result agree") {
  const ophtha::api::Model model = ophtha::api::Model::load(model_path());
  ophtha::api::Session session(model, 1);
  ophtha::api::GenerateOptions options;
  options.params.max_tokens = 16;
  options.params.temperature = 0.f;
  options.params.ignore_eos = 1;
  std::string streamed;
  options.on_token = [&](std::string_view text, int32_t) {
    streamed += text;
    return true;
  };
  const ophtha::api::Generation full = session.generate("Fundus", options);
  CHECK(streamed == full.text);
  CHECK(full.tokens.size() == 16);
  CHECK(full.stop_reason == OPHTHA_STOP_TOKEN_LIMIT);
  REQUIRE(full.text.size() > 6);
  // Cut at the first occurrence of a piece of the text, which must start on a character.
  size_t cut = 4;
  while (cut < full.text.size() && (static_cast<unsigned char>(full.text[cut]) & 0xC0) == 0x80) ++cut;
  const std::string stop = full.text.substr(cut, 1);
  options.stop_strings = {stop};
  streamed.clear();
  const ophtha::api::Generation stopped = session.generate("Fundus", options);
  CHECK(stopped.stop_reason == OPHTHA_STOP_STRING);
  CHECK(stopped.text == full.text.substr(0, full.text.find(stop)));
  CHECK(streamed == stopped.text);
}

TEST_CASE("images keep their pixels, size, modality and eye") {
  const std::vector<uint8_t> rgba = {1, 2, 3, 4, 5, 6, 7, 8};
  const ophtha::api::Image image =
      ophtha::api::Image::from_pixels(rgba.data(), 2, 1, 8, OPHTHA_PIXEL_RGBA8, OPHTHA_MODALITY_OSA, OPHTHA_EYE_OS);
  CHECK(image.width() == 2);
  CHECK(image.height() == 1);
  CHECK(image.format() == OPHTHA_PIXEL_RGBA8);
  CHECK(image.modality() == OPHTHA_MODALITY_OSA);
  CHECK(image.eye() == OPHTHA_EYE_OS);
  CHECK(static_cast<const uint8_t*>(image.pixels())[7] == 8);
  const ophtha::api::Error e = api_error_from(
      [] { ophtha::api::Image::load_memory("not an image", 12, OPHTHA_MODALITY_CFP, OPHTHA_EYE_OD); });
  CHECK(e.status() == OPHTHA_STATUS_UNSUPPORTED);
}

TEST_CASE("a bundle writes a streamed report and embeds images; a plain model refuses both") {
  const std::string bundle = ophtha::test::cached_script_output("tests/tools/make_random_bundle.py", "random-bundle",
                                                                "--seed 3", "", "ophtha-bundle.json");
  const ophtha::api::Model model = ophtha::api::Model::load(bundle);
  CHECK(model.has_vision());
  const std::string images = std::string(OPHTHA_SOURCE_DIR) + "/examples/images/syn-000033_";
  const std::vector<ophtha::api::Image> study = {
      ophtha::api::Image::load_file(images + "OD_cfp.jpg", OPHTHA_MODALITY_CFP, OPHTHA_EYE_OD),
      ophtha::api::Image::load_file(images + "OS_oct.png", OPHTHA_MODALITY_OCT, OPHTHA_EYE_OS)};
  ophtha::api::Session session(model, 1);
  ophtha::api::ReportOptions options;
  options.params.max_tokens = 10;
  options.params.temperature = 0;
  std::string streamed;
  options.on_text = [&](std::string_view piece) {
    streamed += piece;
    return true;
  };
  const ophtha::api::Report report = session.report(study, options);
  CHECK(report.text == streamed);
  CHECK(report.json.find("\"disclaimer\"") != std::string::npos);
  options.on_text = [](std::string_view) -> bool { throw std::runtime_error("from on_text"); };
  CHECK_THROWS_WITH_AS(session.report(study, options), "from on_text", std::runtime_error);

  const ophtha::api::Embedding e = ophtha::api::embed(model, study[1]);
  CHECK(e.n_tokens > 0);
  CHECK(e.values.size() == e.n_tokens * e.dim);

  const ophtha::api::Model plain = ophtha::api::Model::load(model_path());
  CHECK_FALSE(plain.has_vision());
  CHECK(api_error_from([&] { ophtha::api::embed(plain, study[0]); }).status() == OPHTHA_STATUS_UNSUPPORTED);
  ophtha::api::Session plain_session(plain, 1);
  CHECK(api_error_from([&] { plain_session.report(study); }).status() == OPHTHA_STATUS_UNSUPPORTED);
}
