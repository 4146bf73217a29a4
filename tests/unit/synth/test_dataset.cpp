// A synthetic dataset on disk: the same seed writes the same bytes whatever the thread count,
// the manifest reads back with every image present and rule-checked, a non-empty folder is
// refused without --force and with it other files are left alone, and bad options are named.
#include <doctest/doctest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "ophtha/error.hpp"
#include "ophtha/manifest.hpp"
#include "ophtha/synth.hpp"

using namespace ophtha;
namespace fs = std::filesystem;

namespace {

const std::string kRoot = std::string(OPHTHA_TEST_WORK_DIR) + "/synth-dataset";

std::string read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

SynthOptions options_for(const std::string& name, int threads) {
  SynthOptions options;
  options.out_dir = kRoot + "/" + name;
  fs::remove_all(options.out_dir);
  options.studies = 12;
  options.seed = 42;
  options.threads = threads;
  return options;
}

std::string message_of(const SynthOptions& options) {
  try {
    synthesize_dataset(options);
  } catch (const ophtha::Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("the same seed writes the same bytes with one thread and with three") {
  const SynthOptions one = options_for("one-thread", 1), three = options_for("three-threads", 3);
  const SynthSummary a = synthesize_dataset(one), b = synthesize_dataset(three);
  CHECK(a.totals.studies_done == 12);
  CHECK(a.totals.images_written == b.totals.images_written);
  CHECK(read_bytes(a.manifest_path) == read_bytes(b.manifest_path));
  int compared = 0;
  for (const auto& entry : fs::directory_iterator(fs::path(one.out_dir) / "images")) {
    const fs::path twin = fs::path(three.out_dir) / "images" / entry.path().filename();
    CHECK_MESSAGE(read_bytes(entry.path()) == read_bytes(twin), entry.path().filename() << " differs between thread counts");
    ++compared;
  }
  CHECK(compared == a.totals.images_written);
  const SynthOptions other_seed = [&] {
    SynthOptions o = options_for("other-seed", 2);
    o.seed = 43;
    return o;
  }();
  CHECK(read_bytes(synthesize_dataset(other_seed).manifest_path) != read_bytes(a.manifest_path));
}

TEST_CASE("the manifest reads back: every image exists, reports in both languages, all splits valid, CFP marked") {
  SynthOptions options = options_for("read-back", 2);
  options.studies = 30;
  const SynthSummary summary = synthesize_dataset(options);
  const Manifest manifest = read_manifest(summary.manifest_path);
  REQUIRE(manifest.studies.size() == 30);
  CHECK(manifest.studies.front().id == "syn-000001");
  int64_t images = 0, marks = 0, splits[3] = {0, 0, 0};
  for (const Study& study : manifest.studies) {
    CHECK(study.reports.count("zh") == 1);
    CHECK(study.reports.count("en") == 1);
    CHECK(!study.images.empty());
    for (const StudyImage& image : study.images) {
      CHECK(fs::exists(manifest.image_path(image)));
      CHECK(image.path == synth_image_path(study.id, image.eye, image.modality));
      // CFPs carry the marks of their lesions (read_manifest has checked each against the labels);
      // OCT and OSA images are not annotated.
      CHECK(image.lesions.has_value() == (image.modality == Modality::Cfp));
      if (image.lesions) marks += static_cast<int64_t>(image.lesions->size());
      ++images;
    }
    ++splits[static_cast<int>(study.split)];
  }
  CHECK(images == summary.totals.images_written);
  CHECK(marks > 0);
  for (int s = 0; s < 3; ++s) CHECK(splits[s] == summary.split_counts[s]);
  CHECK(splits[0] > splits[1]);
}

TEST_CASE("a non-empty folder is refused unless forced, and forcing leaves other files alone") {
  SynthOptions options = options_for("not-empty", 1);
  options.studies = 2;
  fs::create_directories(options.out_dir);
  std::ofstream(fs::path(options.out_dir) / "notes.txt") << "mine";
  const std::string refused = message_of(options);
  CHECK_MESSAGE(refused.find("not empty") != std::string::npos, "message: " << refused);
  CHECK(!fs::exists(fs::path(options.out_dir) / "manifest.jsonl"));
  options.force = true;
  synthesize_dataset(options);
  CHECK(read_bytes(fs::path(options.out_dir) / "notes.txt") == "mine");
  CHECK(fs::exists(fs::path(options.out_dir) / "manifest.jsonl"));
}

TEST_CASE("bad options are refused, naming the option") {
  SynthOptions options = options_for("bad", 1);
  options.studies = 0;
  CHECK(message_of(options).find("--studies") != std::string::npos);
  options = options_for("bad", 1);
  options.split[0] = 0.5;
  CHECK(message_of(options).find("--split") != std::string::npos);
  options = options_for("bad", 1);
  options.languages = {"fr"};
  CHECK(message_of(options).find("'fr'") != std::string::npos);
  options = options_for("bad", 0);
  CHECK(message_of(options).find("--threads") != std::string::npos);
}

TEST_CASE("a stop request ends the run with Aborted and leaves no manifest, not even a temporary one") {
  SynthOptions options = options_for("stopped", 2);
  std::atomic<bool> stop{true};
  options.stop_requested = &stop;
  const std::string message = message_of(options);
  CHECK_MESSAGE(message.find("stopped") != std::string::npos, "message: " << message);
  for (const auto& entry : fs::directory_iterator(options.out_dir))
    CHECK_MESSAGE(entry.path().filename() == "images", "left behind: " << entry.path().filename());
}
