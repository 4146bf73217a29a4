// ophtha tokenize --tokenizer PATH (--text TEXT | --jsonl FILE) [--bos]
#include <cstdio>
#include <fstream>

#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "llm/tokenizer_from_gguf.hpp"
#include "ophtha/error.hpp"
#include "ophtha/gguf.hpp"
#include "ophtha/tokenizer.hpp"

namespace ophtha::cli {

static const char* kTokenizeHelp =
    "usage: ophtha tokenize --tokenizer PATH (--text TEXT | --jsonl FILE) [--bos]\n"
    "  --tokenizer PATH   a SentencePiece tokenizer.model or a .gguf with an embedded vocabulary\n"
    "  --text TEXT        prints the ids space-separated on one line\n"
    "  --jsonl FILE       one JSON string per line; prints one JSON array of ids per line\n"
    "  --bos              prepend the BOS id (off by default)\n";

static bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

int run_tokenize(const Args& raw) {
  Args args = raw;
  args.parse({"--tokenizer", "--text", "--jsonl"}, {"--bos"});
  if (args.wants_help()) {
    std::fputs(kTokenizeHelp, stdout);
    return 0;
  }
  const std::string path = args.str("--tokenizer");
  const Tokenizer tokenizer = ends_with(path, ".gguf") ? tokenizer_from_gguf(GgufFile::open(path))
                                                       : Tokenizer::from_sentencepiece_model(path);
  const bool bos = args.flag("--bos");
  if (args.has("--text") == args.has("--jsonl"))
    fail(ErrorCode::InvalidArgument, "give exactly one of --text and --jsonl");
  if (args.has("--text")) {
    const std::vector<int32_t> ids = tokenizer.encode(args.str("--text"), bos);
    for (size_t i = 0; i < ids.size(); ++i) std::printf(i ? " %d" : "%d", ids[i]);
    std::printf("\n");
    return 0;
  }
  const std::string file = args.str("--jsonl");
  std::ifstream in(file);
  if (!in) fail(ErrorCode::Io, "cannot open '{}'", file);
  std::string line;
  for (int64_t line_no = 1; std::getline(in, line); ++line_no) {
    nlohmann::json text;
    try {
      text = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception& e) {
      fail(ErrorCode::InvalidFormat, "{}:{}: not valid JSON ({})", file, line_no, e.what());
    }
    if (!text.is_string()) fail(ErrorCode::InvalidFormat, "{}:{}: expected a JSON string", file, line_no);
    const std::string out = nlohmann::json(tokenizer.encode(text.get<std::string>(), bos)).dump();
    std::fwrite(out.data(), 1, out.size(), stdout);
    std::fputc('\n', stdout);
  }
  return 0;
}

}  // namespace ophtha::cli
