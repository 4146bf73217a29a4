// Training throughput of the LLaMA trainer: `ophtha_bench_train_llama CONFIG.json [STEPS]` runs the
// configuration (docs/training.md) for STEPS optimizer steps (default 20) and prints tokens/s of
// the steps after the first (the first pays for allocations). Same loop as `ophtha train`.
#include <cstdio>
#include <cstdlib>
#include <exception>

#include "ophtha/train.hpp"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s CONFIG.json [STEPS]\n", argv[0]);
    return 2;
  }
  try {
    ophtha::TrainConfig config = ophtha::TrainConfig::from_json_file(argv[1]);
    config.checkpoint_dir.clear();
    config.output_gguf.clear();
    config.output_hf.clear();
    config.metrics_log.clear();
    config.loss_plot.clear();
    ophtha::Trainer trainer(config);
    const long steps = argc > 2 ? std::atol(argv[2]) : 20;
    long long tokens = 0;
    double seconds = 0;
    long done = 0;
    trainer.run(
        [&](const ophtha::TrainStepReport& r) {
          if (done++ == 0) return;
          tokens += r.tokens;
          seconds += r.seconds;
        },
        steps);
    std::printf("%lld parameters, threads %d: %ld steps, %.1f tokens/s (steps 2..%ld)\n",
                static_cast<long long>(trainer.model().parameter_count()), config.threads, done,
                static_cast<double>(tokens) / seconds, done);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
