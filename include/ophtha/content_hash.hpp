// A 128-bit content hash (MurmurHash3 x64_128 over a byte stream, fed in pieces) for cache keys:
// image pixels, preprocessing options, model parameters. Not cryptographic: it guards against
// accidental collisions (about 2^-64 for 2^32 distinct inputs), not against an adversary who
// crafts them.
//
// Thread safety: a ContentHasher is a value; one thread at a time per object.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>

#include "ophtha/export.h"

namespace ophtha {

struct ContentDigest {
  uint64_t high = 0;
  uint64_t low = 0;

  // 32 lowercase hex digits, high word first.
  OPHTHA_API std::string hex() const;
  bool operator==(const ContentDigest& other) const { return high == other.high && low == other.low; }
  bool operator!=(const ContentDigest& other) const { return !(*this == other); }
};

struct ContentDigestHash {
  size_t operator()(const ContentDigest& d) const { return static_cast<size_t>(d.low ^ (d.high * 0x9E3779B97F4A7C15ull)); }
};

class OPHTHA_API ContentHasher {
 public:
  explicit ContentHasher(uint64_t seed = 0) : h1_(seed), h2_(seed) {}

  // Feeds `size` bytes; the digest depends only on the concatenation of everything fed, not on
  // how it was split into calls.
  ContentHasher& update(const void* bytes, size_t size);

  // A scalar's bytes (native order: digests are meant for one machine's cache, not for files).
  template <typename T>
  ContentHasher& value(T v) {
    static_assert(std::is_arithmetic_v<T> || std::is_enum_v<T>, "hash scalars only; fields of a struct one by one");
    return update(&v, sizeof v);
  }
  // A string, prefixed with its length so that ("ab", "c") and ("a", "bc") differ.
  ContentHasher& text(std::string_view s) {
    value<uint64_t>(s.size());
    return update(s.data(), s.size());
  }

  // The digest of everything fed so far (the hasher may go on being fed).
  ContentDigest digest() const;

 private:
  void mix_block(uint64_t k1, uint64_t k2);

  uint64_t h1_, h2_;
  uint64_t length_ = 0;
  unsigned char pending_[16] = {};
  size_t pending_size_ = 0;
};

}  // namespace ophtha
