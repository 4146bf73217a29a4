// The content hash is MurmurHash3 x64_128: SMHasher's verification value, and the same digest
// however the stream is cut into update() calls.
#include <doctest/doctest.h>

#include <cstring>
#include <vector>

#include "ophtha/content_hash.hpp"

using namespace ophtha;

namespace {

// MurmurHash3_x64_128's output bytes: h1 then h2, little-endian (ContentDigest: high = h1).
void digest_bytes(const ContentDigest& d, uint8_t* out) {
  for (int i = 0; i < 8; ++i) {
    out[i] = static_cast<uint8_t>(d.high >> (8 * i));
    out[8 + i] = static_cast<uint8_t>(d.low >> (8 * i));
  }
}

}  // namespace

TEST_CASE("the digest passes SMHasher's VerificationTest for MurmurHash3_x64_128 (0x6384BA69)") {
  // Hash keys {0}, {0,1}, ..., {0..254} with seed 256 − length, hash the 256 digests with seed 0;
  // the first four bytes of the result, little-endian, are the published verification value.
  std::vector<uint8_t> key(256), hashes(256 * 16);
  for (int i = 0; i < 256; ++i) {
    key[i] = static_cast<uint8_t>(i);
    ContentHasher h(256 - i);
    h.update(key.data(), static_cast<size_t>(i));
    digest_bytes(h.digest(), &hashes[i * 16]);
  }
  ContentHasher final_hash(0);
  final_hash.update(hashes.data(), hashes.size());
  uint8_t out[16];
  digest_bytes(final_hash.digest(), out);
  const uint32_t verification = out[0] | (out[1] << 8) | (out[2] << 16) | (uint32_t{out[3]} << 24);
  CHECK(verification == 0x6384BA69u);
}

TEST_CASE("the digest does not depend on how the bytes are split into update() calls") {
  std::vector<uint8_t> data(1000);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i * 37 + 11);
  ContentHasher whole;
  whole.update(data.data(), data.size());
  for (size_t step : {1, 3, 7, 15, 16, 17, 100}) {
    ContentHasher pieces;
    for (size_t at = 0; at < data.size(); at += step) pieces.update(&data[at], std::min(step, data.size() - at));
    INFO("step ", step);
    CHECK(pieces.digest() == whole.digest());
  }
  ContentHasher changed;
  data[500] ^= 1;
  changed.update(data.data(), data.size());
  CHECK(changed.digest() != whole.digest());
  CHECK(whole.digest().hex().size() == 32);
}

TEST_CASE("text() is length-prefixed: (\"ab\", \"c\") and (\"a\", \"bc\") differ") {
  ContentHasher a, b;
  a.text("ab").text("c");
  b.text("a").text("bc");
  CHECK(a.digest() != b.digest());
}
