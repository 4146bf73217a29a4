// The subcommands of the `ophtha` tool and the small option parser they share.
#pragma once
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace ophtha::cli {

// Options of the form `--name value`, `--flag` and `-n value`. A command declares which
// names take a value and which are flags; anything else is an error naming the option.
class Args {
 public:
  Args(int argc, char** argv) : raw_(argv, argv + argc) {}
  explicit Args(std::vector<std::string> raw) : raw_(std::move(raw)) {}

  // The arguments as given (before parse), for commands with a sub-command word first.
  const std::vector<std::string>& raw() const { return raw_; }

  // Parses raw arguments; throws ophtha::Error(InvalidArgument) on unknown or incomplete options.
  void parse(const std::vector<std::string>& value_options, const std::vector<std::string>& flags);

  bool has(const std::string& name) const { return values_.count(name) > 0; }
  bool flag(const std::string& name) const { return has(name); }
  std::string str(const std::string& name) const;  // required
  std::string str_or(const std::string& name, const std::string& fallback) const;
  std::vector<std::string> all(const std::string& name) const;  // every occurrence
  long long integer_or(const std::string& name, long long fallback, long long lo, long long hi) const;
  double number_or(const std::string& name, double fallback, double lo, double hi) const;
  bool wants_help() const;

 private:
  std::vector<std::string> raw_;
  std::multimap<std::string, std::string> values_;
};

struct Command {
  const char* name;
  int (*run)(const Args& args);
};

const std::vector<Command>& commands();

int run_generate(const Args& args);
int run_tokenize(const Args& args);
int run_bench(const Args& args);
int run_preprocess(const Args& args);
int run_encode(const Args& args);
int run_synth(const Args& args);
int run_eval(const Args& args);
int run_train(const Args& args);
int run_feedback(const Args& args);
int run_report(const Args& args);

}  // namespace ophtha::cli
