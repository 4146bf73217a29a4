// ophtha train --config FILE.json [--resume] [--steps N]
// Runs the training configuration (keys in docs/training.md); progress on stderr, a summary on stdout.
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <string>

#include "cli/commands.hpp"
#include "ophtha/error.hpp"
#include "ophtha/train.hpp"

namespace ophtha::cli {

static const char* kTrainHelp =
    "usage: ophtha train --config FILE.json [--resume] [--steps N]\n"
    "  --config FILE   the run: model, data, method (full | lora), optimiser, checkpoints, outputs\n"
    "                  (keys in docs/training.md; relative paths are taken from the file's folder)\n"
    "  --resume        continue from <checkpoint.dir>/checkpoint.safetensors (same configuration)\n"
    "  --steps N       stop after N more steps (the run stays resumable; the schedule is unchanged)\n"
    "Progress (step, loss, tokens/s, ETA) goes to stderr; the metrics log, checkpoint and exports\n"
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

  void update(const TrainStepReport& r) {
    steps_ += 1;
    tokens_ += r.tokens;
    seconds_ += r.seconds;
    if (r.validation_loss) last_validation_ = *r.validation_loss;
    const double per_step = seconds_ / static_cast<double>(steps_);
    const int64_t total = r.total_steps;
    constexpr int kWidth = 24;
    const int filled = static_cast<int>(kWidth * r.step / std::max<int64_t>(1, total));
    const std::string line = fmt::format(
        "step {}/{} [{}{}] loss {:.4f}{} lr {:.2e} {:.0f} tok/s ETA {}", r.step, total, std::string(filled, '#'),
        std::string(kWidth - filled, '.'), r.loss,
        std::isnan(last_validation_) ? std::string() : fmt::format(" val {:.4f}", last_validation_), r.lr,
        static_cast<double>(tokens_) / std::max(seconds_, 1e-9), clock_text(per_step * static_cast<double>(total - r.step)));
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
};

}  // namespace

int run_train(const Args& raw) {
  Args args = raw;
  args.parse({"--config", "--steps"}, {"--resume"});
  if (args.wants_help()) {
    std::fputs(kTrainHelp, stdout);
    return 0;
  }
  const TrainConfig config = TrainConfig::from_json_file(args.str("--config"));
  Trainer trainer(config);
  if (args.flag("--resume")) trainer.resume();
  const int64_t max_steps = args.integer_or("--steps", -1, 1, INT64_MAX);
  std::fprintf(stderr, "training %s: %lld parameters (%lld trainable), %lld sequences, steps %lld → %lld\n",
               config.method == TrainMethod::Lora ? "LoRA" : "all weights",
               static_cast<long long>(trainer.model().parameter_count()),
               [&] {
                 long long n = 0;
                 for (const auto& [name, t] : trainer.model().trainable_parameters()) n += t.numel();
                 return n;
               }(),
               static_cast<long long>(trainer.train_sequences()), static_cast<long long>(trainer.step()),
               static_cast<long long>(max_steps < 0 ? trainer.total_steps()
                                                    : std::min(trainer.total_steps(), trainer.step() + max_steps)));
  ProgressBar bar(trainer.step());
  trainer.run([&](const TrainStepReport& r) { bar.update(r); }, max_steps);
  bar.finish(trainer.step() == trainer.total_steps());
  std::printf("steps %lld/%lld, %lld tokens in %.2f s: %.1f tokens/s\n", static_cast<long long>(trainer.step()),
              static_cast<long long>(trainer.total_steps()), static_cast<long long>(bar.tokens()), bar.seconds(),
              static_cast<double>(bar.tokens()) / std::max(bar.seconds(), 1e-9));
  if (trainer.step() == trainer.total_steps()) {
    for (const std::string* out : {&config.output_gguf, &config.output_hf, &config.metrics_log, &config.loss_plot})
      if (!out->empty()) std::printf("wrote %s\n", out->c_str());
  }
  return 0;
}

}  // namespace ophtha::cli
