// ophtha tokenize --tokenizer PATH (--text TEXT | --jsonl FILE) [--bos]
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
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
    "  --tokenizer PATH   a SentencePiece tokenizer.model, a GGUF file with an embedded vocabulary,\n"
    "                     or a Hugging Face model folder (its tokenizer.model)\n"
    "  --text TEXT        prints the ids space-separated on one line\n"
    "  --jsonl FILE       one JSON string per line; prints one JSON array of ids per line\n"
    "  --bos              prepend the BOS id (off by default)\n";

// GGUF is recognised by its magic, so a GGUF file under any name works; a path that cannot be
// read falls back to its extension, so the error comes from the reader the user meant.
static bool is_gguf(const std::string& path) {
  char magic[4] = {};
  std::ifstream in(path, std::ios::binary);
  if (in.read(magic, sizeof magic)) return std::string(magic, sizeof magic) == "GGUF";
  const std::string suffix = ".gguf";
  return path.size() >= suffix.size() && path.compare(path.size() - suffix.size(), suffix.size(), suffix) == 0;
}

static Tokenizer load_tokenizer(const std::string& path) {
  if (std::filesystem::is_directory(path)) return Tokenizer::from_sentencepiece_model(path + "/tokenizer.model");
  return is_gguf(path) ? tokenizer_from_gguf(GgufFile::open(path)) : Tokenizer::from_sentencepiece_model(path);
}

// nlohmann's message without its "[json.exception.parse_error.101] parse error at line 1, column N: "
// prefix: the line is always 1 (each line is parsed alone), the column is reported by the caller.
static std::string parse_error_reason(const nlohmann::json::parse_error& e) {
  const std::string what = e.what();
  const size_t column = what.find("column ");
  const size_t start = column == std::string::npos ? std::string::npos : what.find(": ", column);
  return start == std::string::npos ? what : what.substr(start + 2);
}

int run_tokenize(const Args& raw) {
  Args args = raw;
  args.parse({"--tokenizer", "--text", "--jsonl"}, {"--bos"});
  if (args.wants_help()) {
    std::fputs(kTokenizeHelp, stdout);
    return 0;
  }
  if (args.has("--text") == args.has("--jsonl"))
    fail(ErrorCode::InvalidArgument, "give exactly one of --text and --jsonl");
  const Tokenizer tokenizer = load_tokenizer(args.str("--tokenizer"));
  const bool bos = args.flag("--bos");
  if (args.has("--text")) {
    const std::vector<int32_t> ids = tokenizer.encode(args.str("--text"), bos);
    for (size_t i = 0; i < ids.size(); ++i) std::printf(i ? " %d" : "%d", ids[i]);
    std::printf("\n");
    return 0;
  }
  const std::string file = args.str("--jsonl");
  std::ifstream in(file);
  if (!in) fail(ErrorCode::Io, "cannot open --jsonl file '{}': {}", file, std::strerror(errno));
  std::string line;
  for (int64_t line_no = 1; std::getline(in, line); ++line_no) {
    nlohmann::json text;
    try {
      text = nlohmann::json::parse(line);
    } catch (const nlohmann::json::parse_error& e) {
      fail(ErrorCode::InvalidFormat, "{}:{}:{}: not valid JSON: {}", file, line_no, e.byte, parse_error_reason(e));
    }
    if (!text.is_string())
      fail(ErrorCode::InvalidFormat, "{}:{}: expected a JSON string, got {}", file, line_no, text.type_name());
    const std::string out = nlohmann::json(tokenizer.encode(text.get<std::string>(), bos)).dump();
    std::fwrite(out.data(), 1, out.size(), stdout);
    std::fputc('\n', stdout);
  }
  return 0;
}

}  // namespace ophtha::cli
