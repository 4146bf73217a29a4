// The corrections store (feedback_store.hpp): appends from many threads never interleave and
// count up without gaps; a torn line is kept, reported and skipped; nothing written is ever changed.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "ophtha/error.hpp"
#include "ophtha/feedback_store.hpp"
#include "support/expect_error.hpp"

using namespace ophtha;

namespace {

std::string fresh_store(const std::string& name) {
  const std::string dir = std::string(OPHTHA_TEST_WORK_DIR) + "/test_feedback_store/" + name;
  std::filesystem::remove_all(dir);
  return dir;  // append_correction creates it
}

std::string file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

Correction correction(const std::string& study, const std::string& report, const std::string& lang = "en") {
  Correction c;
  c.study = study;
  c.report = report;
  c.lang = lang;
  c.reviewer = "Dr Test";
  return c;
}

}  // namespace

TEST_CASE("corrections read back in order with their fields; the latest per study and language wins") {
  const std::string store = fresh_store("order");
  CHECK(read_corrections(store).corrections.empty());  // no store yet: an empty log
  append_correction(store, correction("S1", "OD: no apparent DR."));
  append_correction(store, correction("S2", "双眼未见明显异常。", "zh"));
  const Correction third = append_correction(store, correction("S1", "OD: mild NPDR.\nRescreen in 12 months."));
  CHECK(third.sequence == 3);
  CHECK(third.time.size() == 20);  // 2026-11-28T13:40:00Z
  const CorrectionLog log = read_corrections(store);
  CHECK(log.problems.empty());
  REQUIRE(log.corrections.size() == 3);
  CHECK(log.corrections[1].report == "双眼未见明显异常。");
  CHECK(log.corrections[1].lang == "zh");
  CHECK(log.corrections[2].reviewer == "Dr Test");
  const auto latest = log.latest();
  CHECK(latest.size() == 2);
  CHECK(latest.at({"S1", "en"}).report == "OD: mild NPDR.\nRescreen in 12 months.");
}

TEST_CASE("appends from eight threads at once never interleave and number 1..N without gaps") {
  const std::string store = fresh_store("threads");
  constexpr int kThreads = 8, kEach = 25;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i)
        append_correction(store, correction("S" + std::to_string(t), std::string(200 + i, 'a' + t)));
    });
  for (auto& th : threads) th.join();
  const CorrectionLog log = read_corrections(store);
  CHECK(log.problems.empty());
  REQUIRE(log.corrections.size() == kThreads * kEach);
  std::set<int64_t> sequences;
  for (size_t i = 0; i < log.corrections.size(); ++i) {
    const Correction& c = log.corrections[i];
    CHECK(c.sequence == static_cast<int64_t>(i + 1));
    sequences.insert(c.sequence);
    CHECK(c.report == std::string(c.report.size(), c.report[0]));  // no bytes of another append inside
  }
  CHECK(sequences.size() == kThreads * kEach);
}

TEST_CASE("a torn last line is left as it was, reported, and the next append starts a fresh line") {
  const std::string store = fresh_store("torn");
  append_correction(store, correction("S1", "first"));
  const std::string path = store + "/" + kCorrectionsFileName;
  {
    std::ofstream out(path, std::ios::binary | std::ios::app);
    out << R"({"sequence": 2, "study": "S2", "rep)";  // a crash mid-write
  }
  const std::string before = file_bytes(path);
  CorrectionLog log = read_corrections(store);
  CHECK(log.corrections.size() == 1);
  REQUIRE(log.problems.size() == 1);
  CHECK(log.problems[0].find(":2: torn line") != std::string::npos);

  const Correction next = append_correction(store, correction("S3", "third"));
  CHECK(next.sequence == 2);  // the torn line never counted
  const std::string after = file_bytes(path);
  CHECK(after.compare(0, before.size(), before) == 0);  // the old bytes are untouched
  log = read_corrections(store);
  REQUIRE(log.corrections.size() == 2);
  CHECK(log.corrections[1].study == "S3");
  REQUIRE(log.problems.size() == 1);
  CHECK(log.problems[0].find(":2: not a JSON object") != std::string::npos);
}

TEST_CASE("a correction without a study, a report, a known language or valid UTF-8 is refused by field") {
  const std::string store = fresh_store("refused");
  test::check_message(test::error_from([&] { append_correction(store, correction("", "x")); }),
                      ErrorCode::InvalidArgument, "study id is empty");
  test::check_message(test::error_from([&] { append_correction(store, correction("S1", "")); }),
                      ErrorCode::InvalidArgument, "the report is empty");
  test::check_message(test::error_from([&] { append_correction(store, correction("S1", "x", "fr")); }),
                      ErrorCode::InvalidArgument, "lang is 'fr', expected zh or en");
  test::check_message(test::error_from([&] { append_correction(store, correction("S1", "bad \xff byte")); }),
                      ErrorCode::InvalidArgument, "the report is not valid UTF-8");
  CHECK_FALSE(std::filesystem::exists(store + "/" + kCorrectionsFileName));
}

TEST_CASE("malformed lines written by hand are reported with their line numbers and skipped") {
  const std::string store = fresh_store("hand");
  std::filesystem::create_directories(store);
  std::ofstream(store + "/" + kCorrectionsFileName)
      << R"({"sequence": 1, "study": "S1", "report": "ok", "lang": "en"})" << "\n"
      << R"({"sequence": 2, "study": "S2", "lang": "en"})" << "\n"
      << R"({"sequence": 3, "study": "S3", "report": "x", "lang": "de"})" << "\n"
      << "[1, 2]\n";
  const CorrectionLog log = read_corrections(store);
  CHECK(log.corrections.size() == 1);
  REQUIRE(log.problems.size() == 3);
  CHECK(log.problems[0].find(":2: missing or mistyped field(s): report") != std::string::npos);
  CHECK(log.problems[1].find(":3: lang is 'de'") != std::string::npos);
  CHECK(log.problems[2].find(":4: not a JSON object") != std::string::npos);
  // The last line with a sequence is line 3 (sequence 3, refused for its language but numbered).
  CHECK(append_correction(store, correction("S4", "next")).sequence == 4);
}

TEST_CASE("the report language is guessed from its script") {
  CHECK(guess_report_language("双眼眼底未见明显异常，建议一年后复查。") == "zh");
  CHECK(guess_report_language("OD: 中度非增殖期糖尿病视网膜病变 (ICDR 2)") == "zh");
  CHECK(guess_report_language("Both eyes: no apparent diabetic retinopathy.") == "en");
  CHECK(guess_report_language("") == "en");
}
