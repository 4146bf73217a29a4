#include <algorithm>
#include <cerrno>
#include <cstdlib>

#include "cli/commands.hpp"
#include "ophtha/error.hpp"

namespace ophtha::cli {

void Args::parse(const std::vector<std::string>& value_options, const std::vector<std::string>& flags) {
  auto known = [](const std::vector<std::string>& list, const std::string& name) {
    return std::find(list.begin(), list.end(), name) != list.end();
  };
  for (size_t i = 0; i < raw_.size(); ++i) {
    const std::string& arg = raw_[i];
    if (arg == "--help" || arg == "-h") {
      values_.emplace("help", "");
    } else if (known(flags, arg)) {
      values_.emplace(arg, "");
    } else if (known(value_options, arg)) {
      if (i + 1 >= raw_.size()) fail(ErrorCode::InvalidArgument, "option {} expects a value", arg);
      values_.emplace(arg, raw_[++i]);
    } else {
      fail(ErrorCode::InvalidArgument, "unknown option '{}'", arg);
    }
  }
}

bool Args::wants_help() const { return has("help"); }

std::string Args::str(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end()) fail(ErrorCode::InvalidArgument, "option {} is required", name);
  return it->second;
}

std::string Args::str_or(const std::string& name, const std::string& fallback) const {
  auto it = values_.find(name);
  return it == values_.end() ? fallback : it->second;
}

std::vector<std::string> Args::all(const std::string& name) const {
  std::vector<std::string> out;
  auto range = values_.equal_range(name);
  for (auto it = range.first; it != range.second; ++it) out.push_back(it->second);
  return out;
}

long long Args::integer_or(const std::string& name, long long fallback, long long lo, long long hi) const {
  if (!has(name)) return fallback;
  const std::string text = str(name);
  char* end = nullptr;
  errno = 0;
  const long long value = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || errno == ERANGE || value < lo || value > hi)
    fail(ErrorCode::InvalidArgument, "option {} expects an integer in [{}, {}], got '{}'", name, lo, hi, text);
  return value;
}

double Args::number_or(const std::string& name, double fallback, double lo, double hi) const {
  if (!has(name)) return fallback;
  const std::string text = str(name);
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0' || !(value >= lo && value <= hi))
    fail(ErrorCode::InvalidArgument, "option {} expects a number in [{}, {}], got '{}'", name, lo, hi, text);
  return value;
}

const std::vector<Command>& commands() {
  static const std::vector<Command> table = {
      {"report", run_report},
      {"generate", run_generate},
      {"tokenize", run_tokenize},
      {"bench", run_bench},
      {"preprocess", run_preprocess},
      {"encode", run_encode},
      {"synth", run_synth},
      {"eval", run_eval},
      {"train", run_train},
      {"feedback", run_feedback},
  };
  return table;
}

}  // namespace ophtha::cli
