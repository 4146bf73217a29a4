// A synthetic dataset on disk (ophtha/synth.hpp, synthesize_dataset): studies are built on
// worker threads from their own random streams, and appended to the manifest in study order by
// the calling thread, so the bytes written do not depend on the thread count.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <exception>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>

#include <fmt/format.h>

#include "ophtha/error.hpp"
#include "ophtha/label_sampler.hpp"
#include "ophtha/manifest.hpp"
#include "ophtha/report_writer.hpp"
#include "ophtha/synth.hpp"

namespace ophtha {

namespace {

namespace fs = std::filesystem;

// Sub-streams of a study's Random (fork tags). Each piece of a study has its own, so that e.g.
// asking for one more report language leaves the images as they were.
constexpr uint64_t kLabelStream = 1, kSplitStream = 2, kReportStream = 16, kImageStream = 64, kFindingsStream = 128;
constexpr int64_t kMaxStudies = 999'999;  // ids have six digits
constexpr int kCfpJpegQuality = 90;       // the highest quality at which stb subsamples chroma (4:2:0)
constexpr int64_t kMaxAhead = 512;        // studies a worker may finish before the manifest takes them

// Slot of an (eye, modality) pair among a study's at most 2 × 3 images.
uint64_t image_slot(Eye eye, Modality modality) {
  return static_cast<uint64_t>(eye) * 3 + static_cast<uint64_t>(modality);
}

std::string study_id(int64_t index) { return fmt::format("syn-{:06d}", index + 1); }

// Writes an image atomically: a temporary file in the same folder renamed over `path`, so a
// reader never sees half an image. Unlike AtomicFileWriter it does not fsync each file (two
// fsyncs cost ~5 ms, more than rendering the image); synthesize_dataset syncs the whole file
// system once before it commits the manifest, so every image a manifest names is on disk.
void write_image_file(const std::string& path, const std::vector<uint8_t>& bytes, mode_t mode) {
  const fs::path target(path);
  std::string temp = (target.parent_path() / ("." + target.filename().string() + ".tmp-XXXXXX")).string();
  const int fd = ::mkostemp(temp.data(), O_CLOEXEC);
  if (fd < 0) fail(ErrorCode::Io, "{}: cannot create a temporary file: {}", path, std::strerror(errno));
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = errno;
      ::close(fd);
      ::unlink(temp.c_str());
      fail(ErrorCode::Io, "{}: write failed: {}", temp, std::strerror(err));
    }
    done += static_cast<size_t>(n);
  }
  if (::fchmod(fd, mode) != 0 || ::close(fd) != 0 || ::rename(temp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(temp.c_str());
    fail(ErrorCode::Io, "{}: cannot move {} into place: {}", path, temp, std::strerror(err));
  }
}

// Flushes every file written under `folder` to the disk (one syncfs for the whole dataset).
void sync_folder(const std::string& folder) {
  const int fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) fail(ErrorCode::Io, "{}: cannot open: {}", folder, std::strerror(errno));
  const int synced = ::syncfs(fd);
  const int err = errno;
  ::close(fd);
  if (synced != 0) fail(ErrorCode::Io, "{}: syncfs failed: {}", folder, std::strerror(err));
}

struct BuiltStudy {
  Study study;
  int64_t images = 0;
  uint64_t bytes = 0;
};

BuiltStudy build_study(const SynthOptions& options, int64_t index, mode_t file_mode) {
  const Random stream = Random(options.seed).fork(static_cast<uint64_t>(index));
  BuiltStudy built;
  Study& study = built.study;
  study.id = study_id(index);
  Random label_random = stream.fork(kLabelStream);
  study.labels = sample_study_labels(label_random);

  const std::string findings_language =
      std::find(options.languages.begin(), options.languages.end(), "zh") != options.languages.end() ? "zh" : "en";
  for (const auto& [eye, labels] : study.labels.eyes)
    for (Modality modality : labels.imaged) {
      const uint64_t slot = image_slot(eye, modality);
      Random image_random = stream.fork(kImageStream + slot);
      std::vector<LesionMark> marks;
      const Image image = render_image(labels, eye, modality, image_random, &marks);
      const std::vector<uint8_t> bytes =
          modality == Modality::Cfp ? encode_jpeg(image, kCfpJpegQuality) : encode_png(image);
      StudyImage entry;
      entry.path = synth_image_path(study.id, eye, modality);
      entry.modality = modality;
      entry.eye = eye;
      if (modality == Modality::Cfp) entry.lesions = std::move(marks);
      Random findings_random = stream.fork(kFindingsStream + slot);
      entry.findings_text = write_instrument_findings(labels, eye, modality, findings_language, findings_random);
      write_image_file((fs::path(options.out_dir) / entry.path).string(), bytes, file_mode);
      study.images.push_back(std::move(entry));
      ++built.images;
      built.bytes += bytes.size();
    }
  for (const std::string& language : options.languages) {
    Random report_random = stream.fork(kReportStream + (language == "zh" ? 0 : 1));
    study.reports[language] = write_report(study.labels, language, report_random);
  }
  Random split_random = stream.fork(kSplitStream);
  const double u = split_random.uniform();
  study.split = u < options.split[0] ? Split::Train : u < options.split[0] + options.split[1] ? Split::Val : Split::Test;
  return built;
}

void check_options(const SynthOptions& options) {
  if (options.out_dir.empty()) fail(ErrorCode::InvalidArgument, "synth: the output folder (--out) is empty");
  if (options.studies < 1 || options.studies > kMaxStudies)
    fail(ErrorCode::InvalidArgument, "synth: --studies {} is outside 1..{}", options.studies, kMaxStudies);
  if (options.threads < 1 || options.threads > 256)
    fail(ErrorCode::InvalidArgument, "synth: --threads {} is outside 1..256", options.threads);
  if (options.languages.empty()) fail(ErrorCode::InvalidArgument, "synth: no report language, expected zh and/or en");
  for (const std::string& language : options.languages)
    if (language != "zh" && language != "en")
      fail(ErrorCode::InvalidArgument, "synth: report language '{}', expected zh or en", language);
  double sum = 0;
  for (double fraction : options.split) {
    if (!(fraction >= 0 && fraction <= 1))
      fail(ErrorCode::InvalidArgument, "synth: --split fraction {} is outside [0, 1]", fraction);
    sum += fraction;
  }
  if (std::abs(sum - 1) > 1e-6)
    fail(ErrorCode::InvalidArgument, "synth: --split {},{},{} sums to {}, expected 1", options.split[0],
         options.split[1], options.split[2], sum);
}

// The output folder exists (created when missing) and is empty unless `force`.
void prepare_folder(const SynthOptions& options) {
  std::error_code error;
  const fs::path out(options.out_dir);
  if (fs::exists(out, error)) {
    if (!fs::is_directory(out, error))
      fail(ErrorCode::InvalidArgument, "synth: --out {} exists and is not a folder", options.out_dir);
    if (!options.force && fs::directory_iterator(out, error) != fs::directory_iterator())
      fail(ErrorCode::InvalidArgument,
           "synth: --out {} is not empty; choose an empty folder or pass --force (files of the same names are "
           "overwritten, others are left alone)",
           options.out_dir);
  }
  fs::create_directories(out / "images", error);
  if (error) fail(ErrorCode::Io, "synth: cannot create {}: {}", (out / "images").string(), error.message());
}

}  // namespace

std::string synth_image_path(std::string_view study_id, Eye eye, Modality modality) {
  return fmt::format("images/{}_{}_{}.{}", study_id, eye_name(eye), modality_name(modality),
                     modality == Modality::Cfp ? "jpg" : "png");
}

SynthSummary synthesize_dataset(const SynthOptions& options,
                                 const std::function<void(const SynthProgress&)>& progress) {
  check_options(options);
  prepare_folder(options);
  SynthSummary summary;
  summary.manifest_path = (fs::path(options.out_dir) / "manifest.jsonl").string();
  summary.totals.studies_total = options.studies;
  ManifestWriter manifest(summary.manifest_path);
  const mode_t umask_bits = ::umask(0);  // read before any thread starts: umask() sets it too
  ::umask(umask_bits);
  const mode_t file_mode = 0666 & ~umask_bits;

  std::mutex mutex;
  std::condition_variable changed;
  std::map<int64_t, BuiltStudy> finished;  // built, not yet in the manifest
  int64_t next_to_append = 0;
  std::atomic<int64_t> next_to_build{0};
  std::exception_ptr failure;
  bool stop = false;

  auto stop_requested = [&] { return options.stop_requested && options.stop_requested->load(); };
  auto worker = [&] {
    for (;;) {
      const int64_t index = next_to_build.fetch_add(1);
      if (index >= options.studies || stop_requested()) return;
      {
        std::unique_lock<std::mutex> lock(mutex);
        changed.wait(lock, [&] { return stop || index < next_to_append + kMaxAhead; });
        if (stop) return;
      }
      try {
        BuiltStudy built = build_study(options, index, file_mode);
        std::lock_guard<std::mutex> lock(mutex);
        finished.emplace(index, std::move(built));
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex);
        if (!failure) failure = std::current_exception();
        stop = true;
      }
      changed.notify_all();
    }
  };
  std::vector<std::thread> workers;
  for (int t = 0; t < options.threads; ++t) workers.emplace_back(worker);

  const auto start = std::chrono::steady_clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };
  double last_report = -1;
  try {
    std::unique_lock<std::mutex> lock(mutex);
    while (next_to_append < options.studies && !stop) {
      if (stop_requested())
        fail(ErrorCode::Aborted, "synth: stopped after {} of {} studies; {} not written", next_to_append,
             options.studies, summary.manifest_path);
      changed.wait_for(lock, std::chrono::milliseconds(250),
                       [&] { return stop || finished.count(next_to_append) > 0; });
      while (!stop && finished.count(next_to_append) > 0) {
        BuiltStudy built = std::move(finished.at(next_to_append));
        finished.erase(next_to_append);
        ++next_to_append;
        lock.unlock();
        changed.notify_all();
        manifest.append(built.study);
        ++summary.split_counts[static_cast<int>(built.study.split)];
        summary.totals.studies_done += 1;
        summary.totals.images_written += built.images;
        summary.totals.bytes_written += built.bytes;
        lock.lock();
      }
      if (progress && next_to_append < options.studies && elapsed() - last_report >= 0.25) {
        last_report = elapsed();
        summary.totals.seconds = last_report;
        lock.unlock();
        progress(summary.totals);
        lock.lock();
      }
    }
  } catch (...) {
    std::lock_guard<std::mutex> lock(mutex);
    if (!failure) failure = std::current_exception();
    stop = true;
  }
  {
    std::lock_guard<std::mutex> lock(mutex);
    if (failure) stop = true;
  }
  changed.notify_all();
  for (std::thread& t : workers) t.join();
  if (failure) std::rethrow_exception(failure);
  sync_folder(options.out_dir);
  manifest.commit();
  summary.totals.seconds = elapsed();
  if (progress) progress(summary.totals);
  return summary;
}

}  // namespace ophtha
