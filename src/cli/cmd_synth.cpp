// ophtha synth --out DIR --studies N --seed S [--lang zh|en|both] [--split A,B,C] [--threads T] [--force]
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <sstream>

#include "cli/commands.hpp"
#include "ophtha/error.hpp"
#include "ophtha/synth.hpp"

namespace ophtha::cli {

static const char* kSynthHelp =
    "usage: ophtha synth --out DIR --studies N --seed S [options]\n"
    "  --out DIR          output folder: DIR/manifest.jsonl and DIR/images/ (must be empty or absent)\n"
    "  --studies N        number of studies, 1..999999 (ids syn-000001, ...)\n"
    "  --seed S           the seed; the same seed writes the same bytes (default 0)\n"
    "  --lang L           reference reports: zh, en or both (default both)\n"
    "  --split A,B,C      train,val,test fractions summing to 1 (default 0.8,0.1,0.1)\n"
    "  --threads T        rendering threads, 1..256 (default 2); the output does not depend on it\n"
    "  --force            write into a non-empty DIR: files of the same names are overwritten,\n"
    "                     no other file is touched or deleted\n"
    "The manifest holds each study's labels, reference reports, instrument findings text and, for\n"
    "each fundus photograph, where every lesion was drawn (images[].lesions, docs/formats.md).\n"
    "The images are synthetic and carry no clinical validity; see docs/synthetic.md.\n";

// "a,b,c" → three numbers.
static void parse_split(const std::string& text, double (&split)[3]) {
  std::istringstream in(text);
  char comma = 0;
  for (int i = 0; i < 3; ++i)
    if ((i > 0 && !(in >> comma && comma == ',')) || !(in >> split[i]))
      fail(ErrorCode::InvalidArgument, "option --split expects three comma-separated fractions (train,val,test), got '{}'",
           text);
  if (!(in >> std::ws).eof())
    fail(ErrorCode::InvalidArgument, "option --split expects three comma-separated fractions (train,val,test), got '{}'",
         text);
}

// Set by SIGINT / SIGTERM: synthesize_dataset stops between studies and leaves no temporary
// manifest behind.
static std::atomic<bool> g_stop_requested{false};
static void request_stop(int) { g_stop_requested.store(true); }

int run_synth(const Args& raw) {
  Args args = raw;
  args.parse({"--out", "--studies", "--seed", "--lang", "--split", "--threads"}, {"--force"});
  if (args.wants_help()) {
    std::fputs(kSynthHelp, stdout);
    return 0;
  }
  SynthOptions options;
  options.out_dir = args.str("--out");
  options.studies = args.integer_or("--studies", options.studies, 1, 999'999);
  options.seed = static_cast<uint64_t>(args.integer_or("--seed", 0, 0, INT64_MAX));
  const std::string lang = args.str_or("--lang", "both");
  if (lang == "both")
    options.languages = {"zh", "en"};
  else if (lang == "zh" || lang == "en")
    options.languages = {lang};
  else
    fail(ErrorCode::InvalidArgument, "option --lang expects zh, en or both, got '{}'", lang);
  if (args.has("--split")) parse_split(args.str("--split"), options.split);
  options.threads = static_cast<int>(args.integer_or("--threads", options.threads, 1, 256));
  options.force = args.flag("--force");

  // One line, rewritten in place on a terminal; a new line every ~5 s otherwise (logs).
  const bool terminal = ::isatty(STDERR_FILENO) != 0;
  double last_line = -10;
  auto show = [&](const SynthProgress& p) {
    const bool done = p.studies_done == p.studies_total;
    if (!terminal && !done && p.seconds - last_line < 5) return;
    last_line = p.seconds;
    const double rate = p.seconds > 0 ? p.studies_done / p.seconds : 0;
    const double eta = rate > 0 ? (p.studies_total - p.studies_done) / rate : 0;
    std::fprintf(stderr, "%ssynth: %lld/%lld studies, %lld images, %.1f MB, %.1f s, %.1f studies/s, ETA %.0f s%s",
                 terminal ? "\r" : "", static_cast<long long>(p.studies_done), static_cast<long long>(p.studies_total),
                 static_cast<long long>(p.images_written), p.bytes_written / 1e6, p.seconds, rate, eta,
                 terminal && !done ? "" : "\n");
    std::fflush(stderr);
  };
  options.stop_requested = &g_stop_requested;
  std::signal(SIGINT, request_stop);
  std::signal(SIGTERM, request_stop);
  const SynthSummary summary = synthesize_dataset(options, show);
  std::printf("%s: %lld studies (train %lld, val %lld, test %lld), %lld images in %.1f s\n",
              summary.manifest_path.c_str(), static_cast<long long>(summary.totals.studies_done),
              static_cast<long long>(summary.split_counts[0]), static_cast<long long>(summary.split_counts[1]),
              static_cast<long long>(summary.split_counts[2]), static_cast<long long>(summary.totals.images_written),
              summary.totals.seconds);
  return 0;
}

}  // namespace ophtha::cli
