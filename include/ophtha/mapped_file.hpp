// A read-only memory map of a whole file: the weight readers (gguf.hpp, safetensors.hpp) hand out
// pointers into it instead of copying tensor data.
//
// Ownership: MappedFile::open returns a shared_ptr; the mapping lives until the last owner lets
// go. Everything that points into data() (tensor infos, views) must keep that shared_ptr alive.
// Thread safety: immutable after open(); any number of threads may read data() at once.
// The file is opened O_RDONLY and mapped PROT_READ | MAP_PRIVATE: Ophtha never modifies it.
// Caveat of every mmap: if another process truncates the file while it is mapped, reading the
// vanished pages raises SIGBUS. Do not rewrite weight files in place while a model is loaded
// (Ophtha's own writers replace files atomically by rename, which is safe).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ophtha/export.h"

namespace ophtha {

class OPHTHA_API MappedFile {
 public:
  // Maps the whole of `path`. An empty file gives size() == 0 and data() == nullptr.
  // Throws Error(Io) naming the path and the system's reason (strerror) when the file cannot be
  // opened, stat'ed or mapped, or when it is not a regular file (a directory, a pipe).
  static std::shared_ptr<const MappedFile> open(const std::string& path);

  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  // First byte of the file; page-aligned. Valid while this object lives.
  const uint8_t* data() const { return data_; }
  // Length of the file in bytes when it was opened.
  uint64_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  MappedFile(std::string path, const uint8_t* data, uint64_t size);

  std::string path_;
  const uint8_t* data_;
  uint64_t size_;
};

// Writes a file so that readers see either the old contents or the complete new ones, never a
// part: bytes go to a temporary file "<dir>/.<name>.tmp-XXXXXX" next to `path`; commit() fsyncs it,
// renames it over `path` and fsyncs the folder. Destroying the writer without commit() removes the
// temporary file and leaves `path` as it was. GgufWriter and write_safetensors write through it.
// Thread safety: one writer object belongs to one thread at a time.
// Errors: the constructor, write() and commit() throw Error(Io) naming the path and strerror when a
// system call fails; write() or commit() after commit() throw Error(InvalidArgument).
class OPHTHA_API AtomicFileWriter {
 public:
  // Creates the temporary file. Its mode is the target's when the target exists (a rewrite keeps
  // the permissions), else 0666 minus the umask.
  explicit AtomicFileWriter(const std::string& path);
  ~AtomicFileWriter();
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;

  void write(const void* bytes, uint64_t n);
  void write_zeros(uint64_t n);
  uint64_t bytes_written() const { return written_; }
  // Flushes, fsyncs and renames over the target. The writer accepts no more bytes afterwards.
  void commit();

 private:
  void flush();
  std::string path_, temp_path_;
  int fd_ = -1;
  uint64_t written_ = 0;
  std::vector<uint8_t> buffer_;  // up to 1 MiB of bytes not yet written
};

}  // namespace ophtha
