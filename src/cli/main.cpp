// `ophtha` command-line tool: one binary, one subcommand per job.
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>

#include <c10/util/Exception.h>

#include "cli/commands.hpp"
#include "ophtha/version.hpp"

namespace {

void print_usage() {
  std::printf(
      "ophtha %s - ophthalmic report generation (LLaMA2 engine)\n\n"
      "usage: ophtha <command> [options]\n\n"
      "commands:\n"
      "  report     write the diagnostic report of a study's images (the main job)\n"
      "  generate   generate text from a prompt with a GGUF or Hugging Face model\n"
      "  tokenize   print the token ids of a text with a tokenizer.model or GGUF\n"
      "  bench      measure load time, prefill and decode speed, peak memory\n"
      "  preprocess turn an ophthalmic image into the encoder's input tensor (.npy)\n"
      "  encode     run the vision encoder on an image and write its feature grid (.npy)\n"
      "  synth      write synthetic CFP / OCT / OSA studies with labels and reference reports\n"
      "  eval       compare generated reports with the reference reports of a manifest\n"
      "  train      train or fine-tune a model from a JSON configuration\n"
      "  feedback   add a clinician's corrected report to a corrections store, or list the store\n\n"
      "`ophtha <command> --help` describes a command's options.\n",
      OPHTHA_VERSION_STRING);
}

// Failures are reported as exactly one line on stderr, which scripts rely on: line breaks in a
// message (a path, a quoted input) are shown as spaces.
int report_error(const std::string& command, std::string message) {
  for (char& c : message)
    if (c == '\n' || c == '\r') c = ' ';
  std::fprintf(stderr, "ophtha %s: error: %s\n", command.c_str(), message.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "ophtha: no command given: expected one of report, generate, tokenize, bench, preprocess, encode, synth, eval, train, feedback (try `ophtha --help`)\n");
    return 2;
  }
  if (!std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
    print_usage();
    return 0;
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
  } catch (const c10::Error& e) {  // LibTorch's what() carries a multi-line C++ backtrace
    return report_error(command, e.what_without_backtrace());
  } catch (const std::exception& e) {
    return report_error(command, e.what());
  }
}
