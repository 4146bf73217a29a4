// ophtha bench --model PATH [--threads N] [--prompt-tokens 128] [--gen-tokens 64] [--drafts N]
//              [--repetitions 3] [--json]
// Measures what llama-bench measures (pp = batched prompt pass, tg = one token at a time),
// plus load time and peak resident memory; with --drafts N also N continuations of the prompt
// decoded side by side as branches (as ReportSession decodes its drafts), in tokens/s over all.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "ophtha/error.hpp"
#include "ophtha/llama.hpp"
#include "ophtha/tensor_type.hpp"
#include "common/sample_stats.hpp"

namespace ophtha::cli {
namespace {

const char* kBenchHelp =
    "usage: ophtha bench --model PATH [options]\n"
    "  --threads N         CPU threads (default: all available)\n"
    "  --prompt-tokens N   tokens in the batched prompt pass (default 128)\n"
    "  --gen-tokens N      tokens decoded one at a time (default 64)\n"
    "  --drafts N          also decode N branches of --gen-tokens each after the prompt, side by side\n"
    "  --repetitions N     timed runs after one warm-up (default 3)\n"
    "  --json              one JSON object on stdout instead of a table\n";

using Clock = std::chrono::steady_clock;

double seconds(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }


double peak_rss_mib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux
}

}  // namespace

int run_bench(const Args& raw) {
  Args args = raw;
  args.parse({"--model", "--threads", "--prompt-tokens", "--gen-tokens", "--drafts", "--repetitions"}, {"--json"});
  if (args.wants_help()) {
    std::fputs(kBenchHelp, stdout);
    return 0;
  }
  const std::string path = args.str("--model");
  const auto n_prompt = args.integer_or("--prompt-tokens", 128, 1, 1 << 20);
  const auto n_gen = args.integer_or("--gen-tokens", 64, 1, 1 << 20);
  const auto reps = args.integer_or("--repetitions", 3, 1, 1000);
  const auto n_drafts = args.integer_or("--drafts", 1, 1, LlamaSession::kMaxBranches);

  const auto t0 = Clock::now();
  auto model = LlamaModel::load(path);
  const double load_s = seconds(t0, Clock::now());
  const LlamaConfig& c = model->config();
  LlamaSessionOptions options;
  options.n_threads = static_cast<int>(args.integer_or("--threads", 0, 0, 1024));
  options.context_length = std::min<int64_t>(c.context_length, std::max<int64_t>(n_prompt, n_gen));
  if (n_drafts > 1) {
    if (n_prompt + n_gen > c.context_length)
      fail(ErrorCode::InvalidArgument, "--drafts: --prompt-tokens {} + --gen-tokens {} exceed {}'s context length {}",
           n_prompt, n_gen, path, c.context_length);
    options.context_length = n_prompt + n_gen;
  }
  LlamaSession session(model, options);

  // Random ids, as llama-bench uses; skip the first ids (control and byte tokens).
  std::mt19937 rng(42);
  std::uniform_int_distribution<int32_t> pick(std::min<int32_t>(300, static_cast<int32_t>(c.vocab_size) - 1),
                                              static_cast<int32_t>(c.vocab_size) - 1);
  std::vector<int32_t> prompt(static_cast<size_t>(n_prompt));
  for (auto& id : prompt) id = pick(rng);

  std::vector<double> pp, tg, drafts;
  for (int64_t r = 0; r <= reps; ++r) {  // run 0 is the warm-up
    session.rewind(0);
    auto a = Clock::now();
    session.forward_tokens(prompt);
    const double pp_s = seconds(a, Clock::now());
    session.rewind(0);
    int32_t id = prompt[0];
    a = Clock::now();
    for (int64_t i = 0; i < n_gen; ++i) id = static_cast<int32_t>(session.forward_tokens({id}).argmax().item<int64_t>());
    const double tg_s = seconds(a, Clock::now());
    if (r > 0) {
      pp.push_back(static_cast<double>(n_prompt) / pp_s);
      tg.push_back(static_cast<double>(n_gen) / tg_s);
    }
    if (n_drafts > 1) {  // after the prompt, n_gen greedy tokens on every branch, one step for all
      session.rewind(0);
      session.forward_tokens(prompt);
      session.start_branches(static_cast<int>(n_drafts), n_gen);
      std::vector<int32_t> branches(static_cast<size_t>(n_drafts)), ids(static_cast<size_t>(n_drafts));
      for (int32_t b = 0; b < n_drafts; ++b) branches[b] = b, ids[b] = prompt[static_cast<size_t>(b) % prompt.size()];
      a = Clock::now();
      for (int64_t i = 0; i < n_gen; ++i) {
        const at::Tensor next = session.forward_branches(branches, ids).argmax(1);
        for (int32_t b = 0; b < n_drafts; ++b) ids[b] = static_cast<int32_t>(next[b].item<int64_t>());
      }
      if (r > 0) drafts.push_back(static_cast<double>(n_drafts * n_gen) / seconds(a, Clock::now()));
    }
  }
  const SampleStats pps = sample_stats(pp), tgs = sample_stats(tg);
  const SampleStats dts = n_drafts > 1 ? sample_stats(drafts) : SampleStats{};
  const double size_mib = static_cast<double>(model->weight_bytes()) / (1 << 20);
  const double kv_mib = 2.0 * c.n_layers * options.context_length * c.kv_dim() * 4 / (1 << 20);
  const std::string type(tensor_type_info(model->layers()[0].wq.type).name);
  if (args.flag("--json")) {
    nlohmann::json j = {{"model", path},           {"type", type},
                        {"weights_mib", size_mib}, {"threads", session.n_threads()},
                        {"load_s", load_s},        {"prompt_tokens", n_prompt},
                        {"gen_tokens", n_gen},     {"repetitions", reps},
                        {"pp_tok_s", pps.mean},    {"pp_tok_s_sd", pps.sd},
                        {"tg_tok_s", tgs.mean},    {"tg_tok_s_sd", tgs.sd},
                        {"kv_cache_mib", kv_mib},  {"peak_rss_mib", peak_rss_mib()}};
    if (n_drafts > 1) j["drafts"] = n_drafts, j["drafts_tok_s"] = dts.mean, j["drafts_tok_s_sd"] = dts.sd;
    std::printf("%s\n", j.dump().c_str());
  } else {
    const std::string drafts_head = n_drafts > 1 ? fmt::format(" tg{}×{} tok/s |", n_gen, n_drafts) : "";
    const std::string drafts_cell = n_drafts > 1 ? fmt::format(" {:.2f} ± {:.2f} |", dts.mean, dts.sd) : "";
    std::printf("| model | type | weights | threads | load | pp%lld tok/s | tg%lld tok/s |%s peak RSS |\n",
                static_cast<long long>(n_prompt), static_cast<long long>(n_gen), drafts_head.c_str());
    std::printf("| --- | --- | --- | --- | --- | --- | --- |%s --- |\n", n_drafts > 1 ? " --- |" : "");
    std::printf("| %s | %s | %.1f MiB | %d | %.2f s | %.2f ± %.2f | %.2f ± %.2f |%s %.0f MiB |\n", path.c_str(),
                type.c_str(), size_mib, session.n_threads(), load_s, pps.mean, pps.sd, tgs.mean, tgs.sd,
                drafts_cell.c_str(), peak_rss_mib());
  }
  return 0;
}

}  // namespace ophtha::cli
