// ophtha eval --manifest M --predictions P.jsonl [--lang zh|en] [--split test] [--out DIR]
//             [--bleu-smoothing method0..7]
#include <cstdio>

#include "cli/commands.hpp"
#include "ophtha/error.hpp"
#include "ophtha/evaluation.hpp"

namespace ophtha::cli {

static const char* kEvalHelp =
    "usage: ophtha eval --manifest M --predictions P.jsonl [--lang zh|en] [--split test] [--out DIR]\n"
    "                   [--bleu-smoothing method0]\n"
    "  --manifest M        the study manifest with the reference reports and labels (JSON Lines)\n"
    "  --predictions P     generated reports, one JSON object per line:\n"
    "                      {\"id\", \"lang\"?, \"report\", \"structured\"?}\n"
    "  --lang zh|en        score only this language (also the language of lines without \"lang\");\n"
    "                      default: every language in the predictions\n"
    "  --split S           train, val, test (default) or all\n"
    "  --out DIR           write DIR/metrics.json, DIR/summary.md and the plots (DIR/*.png)\n"
    "  --bleu-smoothing M  nltk's method0 (none, the default), method1, 2, 3, 4, 5 or 7\n"
    "Prints the Markdown summary. Malformed lines, unknown ids, other splits and repeated ids are\n"
    "counted and listed with their line numbers; studies without a prediction score as empty reports.\n";

static BleuSmoothing parse_smoothing(const std::string& name) {
  static const std::pair<const char*, BleuSmoothing> names[] = {
      {"method0", BleuSmoothing::Method0}, {"method1", BleuSmoothing::Method1}, {"method2", BleuSmoothing::Method2},
      {"method3", BleuSmoothing::Method3}, {"method4", BleuSmoothing::Method4}, {"method5", BleuSmoothing::Method5},
      {"method7", BleuSmoothing::Method7}};
  for (const auto& [n, s] : names)
    if (name == n) return s;
  fail(ErrorCode::InvalidArgument, "option --bleu-smoothing: unknown method '{}', expected method0, method1, method2, "
       "method3, method4, method5 or method7", name);
}

int run_eval(const Args& raw) {
  Args args = raw;
  args.parse({"--manifest", "--predictions", "--lang", "--split", "--out", "--bleu-smoothing"}, {});
  if (args.wants_help()) {
    std::fputs(kEvalHelp, stdout);
    return 0;
  }
  EvaluationOptions options;
  options.lang = args.str_or("--lang", "");
  if (!options.lang.empty() && options.lang != "zh" && options.lang != "en")
    fail(ErrorCode::InvalidArgument, "option --lang expects zh or en, got '{}'", options.lang);
  options.split = args.str_or("--split", "test");
  options.bleu.smoothing = parse_smoothing(args.str_or("--bleu-smoothing", "method0"));
  const Manifest manifest = read_manifest(args.str("--manifest"));
  const PredictionFile predictions = read_predictions(args.str("--predictions"), options.lang);
  const EvaluationResult result = evaluate(manifest, predictions, options);
  if (args.has("--out")) write_evaluation(args.str("--out"), result);
  std::fputs(summary_markdown(result).c_str(), stdout);
  return 0;
}

}  // namespace ophtha::cli
