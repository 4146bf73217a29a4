// ophtha train --config FILE.json [--resume] [--steps N]
// Runs the training configuration (keys in docs/training.md); progress on stderr, a summary on stdout.
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <optional>
#include <string>

#include "cli/commands.hpp"
#include "ophtha/error.hpp"
#include "ophtha/train_run.hpp"

namespace ophtha::cli {

static const char* kTrainHelp =
    "usage: ophtha train --config FILE.json [--resume] [--steps N]\n"
    "  --config FILE   the run: stage (language | vision | multimodal), model, data, method\n"
    "                  (full | lora | align), optimiser, checkpoints, outputs (keys in\n"
    "                  docs/training.md; relative paths are taken from the file's folder)\n"
    "  --resume        continue from <checkpoint.dir>/checkpoint.safetensors (same configuration)\n"
    "  --steps N       stop after N more steps (the run stays resumable; the schedule is unchanged)\n"
    "Progress (step, loss, tokens or images per second, ETA) goes to stderr; the metrics log, checkpoint and exports\n"
    "to the paths the configuration names.\n";

namespace {

std::string clock_text(double seconds) {
  const auto s = static_cast<long long>(std::max(0.0, seconds) + 0.5);
  return s >= 3600 ? fmt::format("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60) : fmt::format("{}:{:02}", s / 60, s % 60);
}

// One status line per step: redrawn in place on a terminal, every 10 % (and at validations) otherwise.
class ProgressBar {
 public:
  explicit ProgressBar(int64_t first_step) : first_step_(first_step), terminal_(::isatty(STDERR_FILENO)) {}

  void update(const TrainProgress& r) {
    steps_ += 1;
    tokens_ += r.items;
    unit_ = r.stage == "vision" ? "images" : "tok";
    seconds_ += r.seconds;
    if (r.validation_loss) last_validation_ = *r.validation_loss;
    const double per_step = seconds_ / static_cast<double>(steps_);
    const int64_t total = r.total_steps;
    constexpr int kWidth = 24;
    const int filled = static_cast<int>(kWidth * r.step / std::max<int64_t>(1, total));
    const std::string line = fmt::format(
        "step {}/{} [{}{}] loss {:.4f}{} lr {:.2e} {:.0f} {}/s ETA {}", r.step, total, std::string(filled, '#'),
        std::string(kWidth - filled, '.'), r.loss,
        std::isnan(last_validation_) ? std::string() : fmt::format(" val {:.4f}", last_validation_), r.lr,
        static_cast<double>(tokens_) / std::max(seconds_, 1e-9), unit_, clock_text(per_step * static_cast<double>(total - r.step)));
    const int64_t tenth = std::max<int64_t>(1, (total - first_step_) / 10);
    if (terminal_)
      std::fprintf(stderr, "\r%s\033[K%s", line.c_str(), r.step == total ? "\n" : "");
    else if (r.validation_loss || r.step == total || (r.step - first_step_) % tenth == 0)
      std::fprintf(stderr, "%s\n", line.c_str());
  }

  // Ends a line left open on a terminal (a run stopped by --steps before its last step).
  void finish(bool complete) const {
    if (terminal_ && steps_ > 0 && !complete) std::fputc('\n', stderr);
  }

  int64_t steps() const { return steps_; }
  int64_t tokens() const { return tokens_; }
  double seconds() const { return seconds_; }

 private:
  int64_t first_step_;
  bool terminal_;
  int64_t steps_ = 0, tokens_ = 0;
  double seconds_ = 0;
  double last_validation_ = NAN;
  std::string unit_ = "tok";
};

}  // namespace

int run_train(const Args& raw) {
  Args args = raw;
  args.parse({"--config", "--steps"}, {"--resume"});
  if (args.wants_help()) {
    std::fputs(kTrainHelp, stdout);
    return 0;
  }
  TrainRunOptions options;
  options.resume = args.flag("--resume");
  options.max_steps = args.integer_or("--steps", -1, 1, INT64_MAX);
  std::optional<ProgressBar> bar;
  options.on_step = [&](const TrainProgress& p) {
    if (!bar) bar.emplace(p.step - 1);
    bar->update(p);
    return true;
  };
  const TrainRunResult result = train_from_config_file(args.str("--config"), options);
  if (bar) bar->finish(result.complete);
  const double seconds = bar ? bar->seconds() : 0.0;
  const long long items = bar ? static_cast<long long>(bar->tokens()) : 0;
  const char* unit = result.stage == "vision" ? "images" : "tokens";
  if (bar)
    std::printf("%s stage: steps %lld/%lld, %lld %s in %.2f s: %.1f %s/s\n", result.stage.c_str(),
                static_cast<long long>(result.step), static_cast<long long>(result.total_steps), items, unit, seconds,
                static_cast<double>(items) / std::max(seconds, 1e-9), unit);
  else  // resumed after its last step: nothing trained, the outputs written again
    std::printf("%s stage: steps %lld/%lld, no step left to train\n", result.stage.c_str(),
                static_cast<long long>(result.step), static_cast<long long>(result.total_steps));
  for (const std::string& out : result.outputs) std::printf("wrote %s\n", out.c_str());
  return 0;
}

}  // namespace ophtha::cli
