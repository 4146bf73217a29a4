// The append-only corrections store (feedback_store.hpp).
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <optional>

#include <nlohmann/json.hpp>

#include "ophtha/error.hpp"
#include "ophtha/feedback_store.hpp"
#include "tokenizer/utf8.hpp"

namespace ophtha {

namespace {

using nlohmann::json;

// Length of the valid UTF-8 sequence starting at s[i], or 0.
size_t utf8_length(const std::string& s, size_t i) { return detail::valid_utf8_length(std::string_view(s).substr(i)); }

bool valid_utf8(const std::string& s) {
  for (size_t i = 0; i < s.size();) {
    const size_t n = utf8_length(s, i);
    if (!n) return false;
    i += n;
  }
  return true;
}

std::string utc_now() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

[[noreturn]] void fail_errno(const std::string& what, const std::string& path) {
  const int err = errno;
  fail(ErrorCode::Io, "{}: {} failed: {}", path, what, std::strerror(err));
}

// The sequence number of a complete, valid correction line, or nullopt.
std::optional<int64_t> sequence_of(const std::string& line) {
  const json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return std::nullopt;
  auto it = j.find("sequence");
  if (it == j.end() || !it->is_number_integer()) return std::nullopt;
  return it->get<int64_t>();
}

// The last sequence number in the file (0 when there is none), reading backwards from the end
// one block at a time; also whether the file ends with a newline.
int64_t last_sequence(int fd, const std::string& path, bool& ends_with_newline) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) fail_errno("fstat", path);
  off_t end = st.st_size;
  ends_with_newline = true;
  if (end == 0) return 0;
  std::string tail;  // the bytes from `end` to the file's end, read so far
  constexpr off_t kBlock = 64 * 1024;
  bool first = true;
  while (true) {
    const off_t start = end > kBlock ? end - kBlock : 0;
    std::string block(static_cast<size_t>(end - start), '\0');
    if (::pread(fd, block.data(), block.size(), start) != static_cast<ssize_t>(block.size())) fail_errno("read", path);
    tail = block + tail;
    end = start;
    if (first) {
      ends_with_newline = !tail.empty() && tail.back() == '\n';
      first = false;
    }
    // Complete lines lie between newlines; try them from the last one back.
    size_t line_end = ends_with_newline ? tail.size() - 1 : tail.rfind('\n');
    while (line_end != std::string::npos) {
      const size_t line_start = line_end == 0 ? std::string::npos : tail.rfind('\n', line_end - 1);
      if (line_start == std::string::npos && start > 0) break;  // the line may begin in an earlier block
      const size_t from = line_start == std::string::npos ? 0 : line_start + 1;
      if (auto seq = sequence_of(tail.substr(from, line_end - from))) return *seq;
      if (line_start == std::string::npos) break;
      line_end = line_start;
    }
    if (start == 0) return 0;
  }
}

}  // namespace

std::map<std::pair<std::string, std::string>, Correction> CorrectionLog::latest() const {
  std::map<std::pair<std::string, std::string>, Correction> out;
  for (const Correction& c : corrections) out[{c.study, c.lang}] = c;  // in sequence order: the last wins
  return out;
}

std::string guess_report_language(const std::string& text) {
  size_t cjk = 0, letters = 0;
  for (size_t i = 0; i < text.size();) {
    const size_t n = utf8_length(text, i);
    if (n == 0) {
      ++i;
      continue;
    }
    const auto c = static_cast<unsigned char>(text[i]);
    if (n == 1) {
      letters += std::isalpha(c) != 0;
    } else if (n == 3) {
      const uint32_t cp = ((c & 0x0F) << 12) | ((text[i + 1] & 0x3F) << 6) | (text[i + 2] & 0x3F);
      if (cp >= 0x4E00 && cp <= 0x9FFF) ++cjk, ++letters;
    }
    i += n;
  }
  return letters > 0 && cjk * 4 >= letters ? "zh" : "en";
}

Correction append_correction(const std::string& store_dir, Correction c) {
  if (c.study.empty()) fail(ErrorCode::InvalidArgument, "correction: the study id is empty");
  if (c.report.empty()) fail(ErrorCode::InvalidArgument, "correction for study '{}': the report is empty", c.study);
  if (c.lang != "zh" && c.lang != "en")
    fail(ErrorCode::InvalidArgument, "correction for study '{}': lang is '{}', expected zh or en", c.study, c.lang);
  for (const auto& [field, text] : {std::pair<const char*, const std::string*>{"study", &c.study},
                                    {"report", &c.report},
                                    {"reviewer", &c.reviewer}})
    if (!valid_utf8(*text))
      fail(ErrorCode::InvalidArgument, "correction for study '{}': the {} is not valid UTF-8", c.study, field);
  if (c.time.empty()) c.time = utc_now();

  std::error_code ec;
  std::filesystem::create_directories(store_dir, ec);
  if (ec) fail(ErrorCode::Io, "{}: cannot create the corrections store: {}", store_dir, ec.message());
  const std::string path = store_dir + "/" + kCorrectionsFileName;
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) fail_errno("open", path);
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }  // also releases the lock
  } closer{fd};
  while (::flock(fd, LOCK_EX) != 0)
    if (errno != EINTR) fail_errno("flock", path);

  bool ends_with_newline = true;
  c.sequence = last_sequence(fd, path, ends_with_newline) + 1;
  const json line = {{"sequence", c.sequence}, {"study", c.study},   {"report", c.report},
                     {"lang", c.lang},         {"reviewer", c.reviewer}, {"time", c.time}};
  const std::string text = (ends_with_newline ? "" : "\n") + line.dump() + "\n";
  size_t written = 0;
  while (written < text.size()) {
    const ssize_t n = ::write(fd, text.data() + written, text.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail_errno("write", path);
    }
    written += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) fail_errno("fsync", path);
  return c;
}

CorrectionLog read_corrections(const std::string& store_dir) {
  CorrectionLog log;
  const std::string path = store_dir + "/" + kCorrectionsFileName;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (std::filesystem::exists(path)) fail(ErrorCode::Io, "{}: cannot be read", path);
    return log;
  }
  std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t line_number = 0;
  for (size_t pos = 0; pos < content.size();) {
    const size_t newline = content.find('\n', pos);
    const bool complete = newline != std::string::npos;
    const std::string line = content.substr(pos, complete ? newline - pos : std::string::npos);
    pos = complete ? newline + 1 : content.size();
    ++line_number;
    auto problem = [&](const std::string& what) {
      log.problems.push_back(fmt::format("{}:{}: {}", path, line_number, what));
    };
    if (!complete) {
      problem("torn line (no final newline: a write was interrupted), skipped");
      continue;
    }
    if (line.empty()) continue;
    const json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!j.is_object()) {
      problem("not a JSON object, skipped");
      continue;
    }
    Correction c;
    std::string missing;
    auto text = [&](const char* key, std::string& out, bool required) {
      auto it = j.find(key);
      if (it != j.end() && it->is_string()) out = it->get<std::string>();
      else if (required || it != j.end()) missing += std::string(missing.empty() ? "" : ", ") + key;
    };
    text("study", c.study, true);
    text("report", c.report, true);
    text("lang", c.lang, true);
    text("reviewer", c.reviewer, false);
    text("time", c.time, false);
    auto seq = j.find("sequence");
    if (seq != j.end() && seq->is_number_integer()) c.sequence = seq->get<int64_t>();
    else missing += std::string(missing.empty() ? "" : ", ") + "sequence";
    if (!missing.empty()) {
      problem("missing or mistyped field(s): " + missing + "; skipped");
      continue;
    }
    if (c.lang != "zh" && c.lang != "en") {
      problem("lang is '" + c.lang + "', expected zh or en; skipped");
      continue;
    }
    log.corrections.push_back(std::move(c));
  }
  return log;
}

}  // namespace ophtha
