// ophtha generate --model PATH --prompt TEXT [-n N] [--temp T] [--top-k K] [--top-p P] [--min-p P]
//                 [--repeat-penalty R] [--seed S] [--threads N] [--ctx N] [--ignore-eos] [--print-token-ids]
#include <cstdio>

#include "cli/commands.hpp"
#include "ophtha/error.hpp"
#include "ophtha/generate.hpp"

namespace ophtha::cli {

static const char* kGenerateHelp =
    "usage: ophtha generate --model PATH --prompt TEXT [options]\n"
    "  --model PATH         a .gguf file or a Hugging Face folder (config.json + safetensors)\n"
    "  --prompt TEXT        the prompt; encoded with BOS, as llama.cpp does\n"
    "  -n N                 tokens to generate (default 128)\n"
    "  --temp T             temperature; 0 = greedy (default 0.8)\n"
    "  --top-k K            (default 40; 0 = off)   --top-p P (default 0.95)   --min-p P (default 0.05)\n"
    "  --repeat-penalty R   (default 1 = off, as llama.cpp) over the last 64 tokens\n"
    "  --seed S             sampling seed (default 1234); the same seed gives the same text\n"
    "  --threads N          CPU threads (default: all available)\n"
    "  --ctx N              context length (default: the model's)\n"
    "  --stop TEXT          stop before TEXT (repeatable)\n"
    "  --ignore-eos         keep generating after the end-of-sequence token\n"
    "  --print-token-ids    print only the generated token ids, space-separated, on one line\n";

int run_generate(const Args& raw) {
  Args args = raw;
  args.parse({"--model", "--prompt", "-n", "--temp", "--top-k", "--top-p", "--min-p", "--repeat-penalty", "--seed",
              "--threads", "--ctx", "--stop"},
             {"--ignore-eos", "--print-token-ids"});
  if (args.wants_help()) {
    std::fputs(kGenerateHelp, stdout);
    return 0;
  }
  GenerateOptions options;
  options.max_tokens = static_cast<int32_t>(args.integer_or("-n", 128, 0, 1 << 20));
  options.sampling.temperature = static_cast<float>(args.number_or("--temp", 0.8, 0, 100));
  options.sampling.top_k = static_cast<int32_t>(args.integer_or("--top-k", 40, 0, 1 << 22));
  options.sampling.top_p = static_cast<float>(args.number_or("--top-p", 0.95, 0, 1));
  options.sampling.min_p = static_cast<float>(args.number_or("--min-p", 0.05, 0, 1));
  options.sampling.repeat_penalty = static_cast<float>(args.number_or("--repeat-penalty", 1.0, 0.01, 100));
  options.sampling.seed = static_cast<uint64_t>(args.integer_or("--seed", 1234, 0, INT64_MAX));
  options.ignore_eos = args.flag("--ignore-eos");
  options.stop_strings = args.all("--stop");
  const bool print_ids = args.flag("--print-token-ids");

  auto model = LlamaModel::load(args.str("--model"));
  LlamaSessionOptions session_options;
  session_options.n_threads = static_cast<int>(args.integer_or("--threads", 0, 0, 1024));
  session_options.context_length = args.integer_or("--ctx", 0, 0, model->config().context_length);
  LlamaSession session(model, session_options);
  const std::vector<int32_t> prompt = model->tokenizer().encode(args.str("--prompt"), true);

  if (!print_ids) {
    options.on_token = [](std::string_view text, int32_t) {
      std::fwrite(text.data(), 1, text.size(), stdout);
      std::fflush(stdout);
      return true;
    };
  }
  const GenerateResult result = generate(session, prompt, options);
  if (print_ids) {
    for (size_t i = 0; i < result.tokens.size(); ++i) std::printf(i ? " %d" : "%d", result.tokens[i]);
  }
  std::printf("\n");
  std::fflush(stdout);  // the text before the statistics on a shared terminal
  const double decoded = static_cast<double>(result.tokens.size());
  std::fprintf(stderr, "prompt: %lld tokens in %.3f s (%.1f tok/s); generated: %zu tokens in %.3f s (%.1f tok/s); stop: %s\n",
               static_cast<long long>(result.prompt_tokens), result.prefill_seconds,
               result.prompt_tokens / std::max(result.prefill_seconds, 1e-9), result.tokens.size(),
               result.decode_seconds, decoded / std::max(result.decode_seconds, 1e-9), stop_reason_name(result.reason));
  return 0;
}

}  // namespace ophtha::cli
