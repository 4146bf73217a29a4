// One model shared by eight sessions on eight threads gives, seed for seed, exactly what one
// thread gives running the same generations one after another (the model is immutable; each
// session owns its cache, scratch and sampler). Also the thread-local last error message and the
// log setter under concurrent use. Run under ThreadSanitizer by tests/sanitizers.sh.
#include <doctest/doctest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "ophtha/ophtha.hpp"
#include "support/test_models.hpp"

namespace {

constexpr int kThreads = 8;

std::string shared_model_path() {
  return ophtha::test::test_model("capi-threads", "--format gguf --type f16 --dim 64 --layers 2 --heads 4 "
                                                   "--kv-heads 2 --ffn 172 --ctx 64 --seed 5");
}

ophtha::api::GenerateOptions sampled(uint64_t seed) {
  ophtha::api::GenerateOptions options;
  options.params.max_tokens = 12;
  options.params.temperature = 0.9f;  // sampled, so the seed matters
  options.params.top_k = 0;
  options.params.min_p = 0.f;
  options.params.ignore_eos = 1;
  options.params.seed = seed;
  return options;
}

const std::string kPrompt = "Optic disc and macula:";

}  // namespace

TEST_CASE("eight sessions on eight threads match one thread, seed for seed") {
  const ophtha::api::Model model = ophtha::api::Model::load(shared_model_path());
  std::vector<ophtha::api::Generation> expected;
  {
    ophtha::api::Session session(model, 1);
    for (int i = 0; i < kThreads; ++i) expected.push_back(session.generate(kPrompt, sampled(100 + i)));
  }
  // Different seeds give different texts, so a mix-up between threads would show.
  CHECK(expected[0].tokens != expected[1].tokens);

  std::vector<ophtha::api::Generation> got(kThreads);
  std::vector<std::string> errors(kThreads);
  std::vector<std::thread> threads;
  std::atomic<int> ready{0};
  for (int i = 0; i < kThreads; ++i)
    threads.emplace_back([&, i] {
      try {
        ophtha::api::Session session(model, 1);
        ready.fetch_add(1);
        while (ready.load() < kThreads) std::this_thread::yield();  // all generate at once
        for (int round = 0; round < 2; ++round) got[i] = session.generate(kPrompt, sampled(100 + i));
      } catch (const std::exception& e) {
        errors[i] = e.what();
      }
    });
  for (std::thread& t : threads) t.join();
  for (int i = 0; i < kThreads; ++i) {
    INFO("thread " << i << " error: " << errors[i]);
    CHECK(errors[i].empty());
    CHECK(got[i].tokens == expected[i].tokens);
    CHECK(got[i].text == expected[i].text);
  }
}

TEST_CASE("the last error message belongs to the thread whose call failed") {
  ophtha_model* model = nullptr;
  REQUIRE(ophtha_model_load("/nonexistent/a.gguf", nullptr, &model) == OPHTHA_STATUS_IO);
  const std::string mine = ophtha_last_error_message();
  CHECK(mine.find("/nonexistent/a.gguf") != std::string::npos);
  std::string other_thread_before, other_thread_after;
  std::thread([&] {
    other_thread_before = ophtha_last_error_message();
    ophtha_image* image = nullptr;
    ophtha_image_from_pixels(nullptr, 1, 1, 1, OPHTHA_PIXEL_GRAY8, OPHTHA_MODALITY_CFP, OPHTHA_EYE_OD, &image);
    other_thread_after = ophtha_last_error_message();
  }).join();
  CHECK(other_thread_before.empty());
  CHECK(other_thread_after.find("pixels is NULL") != std::string::npos);
  CHECK(std::string(ophtha_last_error_message()) == mine);
}

namespace {
struct Counter {
  std::atomic<int> calls{0};
};
void count_log(ophtha_log_level, const char*, void* user_data) { static_cast<Counter*>(user_data)->calls++; }
}  // namespace

TEST_CASE("the log callback can be replaced while other threads log") {
  Counter first, second;
  ophtha_log_set(count_log, &first, OPHTHA_LOG_DEBUG);
  std::atomic<bool> stop{false};
  std::vector<std::thread> loggers;
  for (int i = 0; i < 4; ++i)
    loggers.emplace_back([&] {
      while (!stop.load()) {  // each failure is logged at debug level
        size_t n = 0;
        ophtha_tokenize(nullptr, "", 0, 0, nullptr, 0, &n);
      }
    });
  while (first.calls.load() < 100) std::this_thread::yield();
  ophtha_log_set(count_log, &second, OPHTHA_LOG_DEBUG);
  const int first_calls_after_switch = first.calls.load();
  while (second.calls.load() < 100) std::this_thread::yield();
  stop = true;
  for (std::thread& t : loggers) t.join();
  ophtha_log_set(nullptr, nullptr, OPHTHA_LOG_WARN);
  // Once ophtha_log_set has returned, the previous callback is never called again.
  CHECK(first.calls.load() == first_calls_after_switch);
  CHECK(second.calls.load() >= 100);
}
