#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "ophtha/error.hpp"
#include "ophtha/mapped_file.hpp"

namespace ophtha {
namespace {

constexpr size_t kBufferBytes = size_t{1} << 20;

[[noreturn]] void fail_errno(const char* what, const std::string& path) {
  const int err = errno;
  fail(ErrorCode::Io, "{}: {} failed: {}", path, what, std::strerror(err));
}

std::string parent_dir(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

// The mode the file gets: an existing target keeps its permission bits; a new one gets
// 0666 minus the process umask, as open(O_CREAT, 0666) would give it. The umask is read from
// /proc/self/status (umask(2) cannot be read without changing it, which races with other threads).
mode_t target_mode(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode)) return st.st_mode & 07777;
  mode_t mask = 022;
  if (FILE* status = std::fopen("/proc/self/status", "re")) {
    char line[256];
    while (std::fgets(line, sizeof line, status)) {
      unsigned value = 0;
      if (std::sscanf(line, "Umask: %o", &value) == 1) {
        mask = static_cast<mode_t>(value);
        break;
      }
    }
    std::fclose(status);
  }
  return 0666 & ~mask;
}

std::string base_name(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace

AtomicFileWriter::AtomicFileWriter(const std::string& path) : path_(path) {
  std::string temp = parent_dir(path) + "/." + base_name(path) + ".tmp-XXXXXX";
  const int fd = ::mkostemp(temp.data(), O_CLOEXEC);
  if (fd < 0) fail_errno("creating a temporary file", temp);
  if (::fchmod(fd, target_mode(path)) != 0) {
    const int err = errno;
    ::close(fd);
    ::unlink(temp.c_str());
    fail(ErrorCode::Io, "{}: fchmod failed: {}", temp, std::strerror(err));
  }
  fd_ = fd;
  temp_path_ = std::move(temp);
  buffer_.reserve(kBufferBytes);
}

AtomicFileWriter::~AtomicFileWriter() {
  if (fd_ >= 0) {
    ::close(fd_);
    ::unlink(temp_path_.c_str());
  }
}

void AtomicFileWriter::flush() {
  const uint8_t* p = buffer_.data();
  size_t left = buffer_.size();
  while (left > 0) {
    const ssize_t n = ::write(fd_, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail_errno("write", temp_path_);
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  buffer_.clear();
}

void AtomicFileWriter::write(const void* bytes, uint64_t n) {
  if (fd_ < 0) fail(ErrorCode::InvalidArgument, "{}: write after commit", path_);
  const auto* p = static_cast<const uint8_t*>(bytes);
  while (n > 0) {
    if (buffer_.size() == kBufferBytes) flush();
    const uint64_t take = std::min<uint64_t>(n, kBufferBytes - buffer_.size());
    buffer_.insert(buffer_.end(), p, p + take);
    p += take;
    n -= take;
    written_ += take;
  }
}

void AtomicFileWriter::write_zeros(uint64_t n) {
  static const uint8_t zeros[256] = {};
  while (n > 0) {
    const uint64_t take = std::min<uint64_t>(n, sizeof zeros);
    write(zeros, take);
    n -= take;
  }
}

void AtomicFileWriter::commit() {
  if (fd_ < 0) fail(ErrorCode::InvalidArgument, "{}: commit after commit", path_);
  flush();
  if (::fsync(fd_) != 0) fail_errno("fsync", temp_path_);  // the destructor removes the temp file
  const int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) {
    const int err = errno;
    ::unlink(temp_path_.c_str());
    fail(ErrorCode::Io, "{}: close failed: {}", temp_path_, std::strerror(err));
  }
  if (::rename(temp_path_.c_str(), path_.c_str()) != 0) {
    const int err = errno;
    ::unlink(temp_path_.c_str());
    fail(ErrorCode::Io, "{}: rename from {} failed: {}", path_, temp_path_, std::strerror(err));
  }
  const std::string dir = parent_dir(path_);
  const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) fail_errno("open", dir);
  const int synced = ::fsync(dir_fd);
  const int err = errno;
  ::close(dir_fd);
  if (synced != 0) fail(ErrorCode::Io, "{}: fsync failed: {}", dir, std::strerror(err));
}

}  // namespace ophtha
