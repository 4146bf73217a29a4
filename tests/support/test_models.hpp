// Test models with seeded random weights, written on demand by tests/tools/make_llama_model.py
// (numpy, /usr/bin/python3) into the test work folder. The file name is derived from the
// arguments, and the script writes atomically, so tests running in parallel may share them.
#pragma once
#include <sys/stat.h>

#include <cstdlib>
#include <functional>
#include <stdexcept>
#include <string>

namespace ophtha::test {

inline std::string work_dir() {
  const std::string dir = OPHTHA_TEST_WORK_DIR;
  ::mkdir(dir.c_str(), 0755);
  return dir;
}

// Runs `/usr/bin/python3 <source>/<script> --out PATH <args>` once for each distinct `args` and
// returns PATH = <work dir>/<stem>-<hash of args><suffix>. The output counts as made when
// PATH/<marker> exists (PATH itself when `marker` is empty); scripts write atomically or write the
// marker last, so tests running in parallel may share the outputs. Throws std::runtime_error with
// the command when the script fails.
inline std::string cached_script_output(const std::string& script, const std::string& stem, const std::string& args,
                                        const std::string& suffix = "", const std::string& marker = "") {
  const size_t key = std::hash<std::string>{}(args);
  const std::string path = work_dir() + "/" + stem + "-" + std::to_string(key % 1000000007) + suffix;
  const std::string done = marker.empty() ? path : path + "/" + marker;
  struct stat st {};
  if (::stat(done.c_str(), &st) == 0) return path;
  const std::string command = std::string("/usr/bin/python3 ") + OPHTHA_SOURCE_DIR + "/" + script + " --out '" +
                              path + "' " + args + " > /dev/null";
  if (std::system(command.c_str()) != 0) throw std::runtime_error("test data script failed: " + command);
  return path;
}

// `args`: make_llama_model.py arguments other than --out, e.g.
// "--format gguf --type f32 --dim 64 --layers 2 --heads 4 --kv-heads 2 --ffn 172 --seed 1".
// `name` is a readable stem; the returned path is a .gguf file or an HF folder.
inline std::string test_model(const std::string& name, const std::string& args) {
  const bool gguf = args.find("--format gguf") != std::string::npos;
  return cached_script_output("tests/tools/make_llama_model.py", name, args, gguf ? ".gguf" : "");
}

}  // namespace ophtha::test
