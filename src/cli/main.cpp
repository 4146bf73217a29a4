// `ophtha` command-line tool: one binary, one subcommand per job.
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>

#include "cli/commands.hpp"
#include "ophtha/version.hpp"

namespace {

void print_usage(std::FILE* out) {
  std::fprintf(out,
               "ophtha %s - ophthalmic report generation (LLaMA2 engine)\n\n"
               "usage: ophtha <command> [options]\n\n"
               "commands:\n"
               "  generate   generate text from a prompt with a GGUF or Hugging Face model\n"
               "  tokenize   print the token ids of a text with a tokenizer.model or GGUF\n"
               "  bench      measure load time, prefill and decode speed, peak memory\n\n"
               "`ophtha <command> --help` describes a command's options.\n",
               OPHTHA_VERSION_STRING);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
    print_usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  if (!std::strcmp(argv[1], "--version")) {
    std::printf("ophtha %s\n", OPHTHA_VERSION_STRING);
    return 0;
  }
  const std::string command = argv[1];
  const ophtha::cli::Args args(argc - 2, argv + 2);
  try {
    for (const auto& entry : ophtha::cli::commands())
      if (command == entry.name) return entry.run(args);
    std::fprintf(stderr, "ophtha: unknown command '%s' (try `ophtha --help`)\n", command.c_str());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ophtha %s: error: %s\n", command.c_str(), e.what());
    return 1;
  }
}
