// MurmurHash3 x64_128 (Austin Appleby, public domain), restated for a stream fed in pieces:
// whole 16-byte blocks are mixed as they complete, the tail and the length at digest().
#include "ophtha/content_hash.hpp"

#include <cstring>

#include <fmt/format.h>

namespace ophtha {
namespace {

constexpr uint64_t kC1 = 0x87c37b91114253d5ull;
constexpr uint64_t kC2 = 0x4cf5ad432745937full;

inline uint64_t rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

inline uint64_t fmix(uint64_t k) {
  k ^= k >> 33;
  k *= 0xff51afd7ed558ccdull;
  k ^= k >> 33;
  k *= 0xc4ceb9fe1a85ec53ull;
  k ^= k >> 33;
  return k;
}

// Little-endian load of n ≤ 8 bytes.
inline uint64_t load_le(const unsigned char* p, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i) v |= static_cast<uint64_t>(p[i]) << (8 * i);
  return v;
}

}  // namespace

std::string ContentDigest::hex() const { return fmt::format("{:016x}{:016x}", high, low); }

void ContentHasher::mix_block(uint64_t k1, uint64_t k2) {
  k1 *= kC1;
  k1 = rotl(k1, 31);
  k1 *= kC2;
  h1_ ^= k1;
  h1_ = rotl(h1_, 27);
  h1_ += h2_;
  h1_ = h1_ * 5 + 0x52dce729;
  k2 *= kC2;
  k2 = rotl(k2, 33);
  k2 *= kC1;
  h2_ ^= k2;
  h2_ = rotl(h2_, 31);
  h2_ += h1_;
  h2_ = h2_ * 5 + 0x38495ab5;
}

ContentHasher& ContentHasher::update(const void* bytes, size_t size) {
  const auto* p = static_cast<const unsigned char*>(bytes);
  length_ += size;
  if (pending_size_ > 0) {
    const size_t take = std::min(size, sizeof pending_ - pending_size_);
    std::memcpy(pending_ + pending_size_, p, take);
    pending_size_ += take;
    p += take;
    size -= take;
    if (pending_size_ < sizeof pending_) return *this;
    mix_block(load_le(pending_, 8), load_le(pending_ + 8, 8));
    pending_size_ = 0;
  }
  for (; size >= 16; p += 16, size -= 16) mix_block(load_le(p, 8), load_le(p + 8, 8));
  std::memcpy(pending_, p, size);
  pending_size_ = size;
  return *this;
}

ContentDigest ContentHasher::digest() const {
  uint64_t h1 = h1_, h2 = h2_;
  if (pending_size_ > 8) {
    uint64_t k2 = load_le(pending_ + 8, pending_size_ - 8);
    k2 *= kC2;
    k2 = rotl(k2, 33);
    k2 *= kC1;
    h2 ^= k2;
  }
  if (pending_size_ > 0) {
    uint64_t k1 = load_le(pending_, std::min<size_t>(pending_size_, 8));
    k1 *= kC1;
    k1 = rotl(k1, 31);
    k1 *= kC2;
    h1 ^= k1;
  }
  h1 ^= length_;
  h2 ^= length_;
  h1 += h2;
  h2 += h1;
  h1 = fmix(h1);
  h2 = fmix(h2);
  h1 += h2;
  h2 += h1;
  return {h1, h2};
}

}  // namespace ophtha
