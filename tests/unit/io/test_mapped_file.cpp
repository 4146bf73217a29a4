// MappedFile (read-only whole-file mapping) and AtomicFileWriter (replace by rename), mapped_file.hpp.
#include <doctest/doctest.h>

#include <sys/stat.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "ophtha/error.hpp"
#include "ophtha/mapped_file.hpp"

using namespace ophtha;

namespace {

std::string work_dir(const std::string& name) {
  const std::string dir = std::string(OPHTHA_TEST_WORK_DIR) + "/test_mapped_file/" + name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

void write_text(const std::string& path, const std::string& text) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  REQUIRE(f);
  std::fwrite(text.data(), 1, text.size(), f);
  std::fclose(f);
}

std::string contents(const std::string& path) {
  const auto file = MappedFile::open(path);
  return std::string(reinterpret_cast<const char*>(file->data()), static_cast<size_t>(file->size()));
}

std::vector<std::string> names_in(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir))
    names.push_back(entry.path().filename().string());
  return names;
}

// The ophtha::Error message `f` throws, checking its code.
template <typename F>
std::string error_message(ErrorCode code, F&& f) {
  try {
    f();
  } catch (const Error& e) {
    CHECK(e.code() == code);
    return e.what();
  }
  FAIL("expected ophtha::Error, nothing was thrown");
  return "";
}

}  // namespace

TEST_CASE("a mapped file shows the file's bytes and path") {
  const std::string path = work_dir("bytes") + "/f.bin";
  write_text(path, std::string("abc\0def", 7));
  const auto file = MappedFile::open(path);
  CHECK(file->size() == 7);
  CHECK(file->path() == path);
  CHECK(std::memcmp(file->data(), "abc\0def", 7) == 0);
}

TEST_CASE("an empty file maps to size 0") {
  const std::string path = work_dir("empty") + "/empty.bin";
  write_text(path, "");
  CHECK(MappedFile::open(path)->size() == 0);
}

TEST_CASE("a missing file or a folder throws Error(Io) naming the path and the reason") {
  const std::string dir = work_dir("missing");
  const std::string missing = error_message(ErrorCode::Io, [&] { MappedFile::open(dir + "/nope.gguf"); });
  CHECK(missing.find(dir + "/nope.gguf") != std::string::npos);
  CHECK(missing.find("No such file or directory") != std::string::npos);
  const std::string folder = error_message(ErrorCode::Io, [&] { MappedFile::open(dir); });
  CHECK(folder.find("not a regular file") != std::string::npos);
}

TEST_CASE("a mapping stays readable after its file is replaced by an atomic write") {
  const std::string path = work_dir("replace") + "/w.bin";
  write_text(path, "old contents");
  const auto old_mapping = MappedFile::open(path);
  AtomicFileWriter w(path);
  w.write("new", 3);
  w.write_zeros(2);
  CHECK(w.bytes_written() == 5);
  w.commit();
  CHECK(contents(path) == std::string("new\0\0", 5));
  CHECK(std::string(reinterpret_cast<const char*>(old_mapping->data()), 12) == "old contents");
}

TEST_CASE("an AtomicFileWriter dropped without commit leaves the old file and no temporary file") {
  const std::string dir = work_dir("abandon");
  const std::string path = dir + "/w.bin";
  write_text(path, "keep me");
  {
    AtomicFileWriter w(path);
    w.write("partial", 7);
    CHECK(names_in(dir).size() == 2);  // the temporary file exists while writing
  }
  CHECK(contents(path) == "keep me");
  CHECK(names_in(dir) == std::vector<std::string>{"w.bin"});
}

TEST_CASE("an AtomicFileWriter writes more than its buffer, and refuses bytes after commit") {
  const std::string path = work_dir("large") + "/big.bin";
  std::vector<uint8_t> bytes(3 * (1 << 20) + 17);
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<uint8_t>(i * 31);
  AtomicFileWriter w(path);
  w.write(bytes.data(), bytes.size());
  w.commit();
  const auto file = MappedFile::open(path);
  REQUIRE(file->size() == bytes.size());
  CHECK(std::memcmp(file->data(), bytes.data(), bytes.size()) == 0);
  error_message(ErrorCode::InvalidArgument, [&] { w.write("x", 1); });
  error_message(ErrorCode::InvalidArgument, [&] { w.commit(); });
}

TEST_CASE("an AtomicFileWriter in a missing folder throws Error(Io) naming it") {
  const std::string dir = work_dir("nofolder") + "/absent";
  const std::string message = error_message(ErrorCode::Io, [&] { AtomicFileWriter w(dir + "/f.bin"); });
  CHECK(message.find(dir) != std::string::npos);
}

TEST_CASE("a FIFO is refused as not a regular file without waiting for a writer") {
  const std::string dir = work_dir("fifo");
  const std::string path = dir + "/pipe";
  REQUIRE(::mkfifo(path.c_str(), 0600) == 0);
  try {
    MappedFile::open(path);
    FAIL("a FIFO was mapped");
  } catch (const Error& e) {
    CHECK(e.code() == ErrorCode::Io);
    CHECK(std::string(e.what()).find("not a regular file") != std::string::npos);
  }
}

TEST_CASE("an AtomicFileWriter keeps an existing file's mode and gives a new file 0666 minus the umask") {
  const std::string dir = work_dir("mode");
  const std::string existing = dir + "/existing.bin";
  write_text(existing, "old");
  REQUIRE(::chmod(existing.c_str(), 0640) == 0);
  {
    AtomicFileWriter writer(existing);
    writer.write("new", 3);
    writer.commit();
  }
  struct stat st {};
  REQUIRE(::stat(existing.c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0640);

  const mode_t old_mask = ::umask(027);
  const std::string fresh = dir + "/fresh.bin";
  {
    AtomicFileWriter writer(fresh);
    writer.write("x", 1);
    writer.commit();
  }
  ::umask(old_mask);
  REQUIRE(::stat(fresh.c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0640);  // 0666 & ~027
}
