// A bounded cache of projected image embeddings, so that asking again about the same images
// (a second question on one study, a regenerated report) does not re-encode them.
//
// The key is a content hash (image_embedding_key) of everything the embedding depends on: the
// pixels (size, channels, bit depth, samples), the modality and the eye, every preprocessing
// option, and the identity of the encoder and projector (their fingerprints). The value is the
// embedding [N', d] f32. Entries are evicted least recently used first when the bytes held would
// exceed the budget.
//
// Ownership: the cache holds a reference to each stored tensor; find() hands out that same
// tensor, which callers must treat as read-only (clone() before writing into it).
// Thread safety: every method may be called from any number of threads at once (one mutex;
// hashing happens outside it, in image_embedding_key).
#pragma once
#include <cstddef>
#include <cstdint>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include <ATen/core/Tensor.h>

#include "ophtha/content_hash.hpp"
#include "ophtha/export.h"
#include "ophtha/image.hpp"
#include "ophtha/preprocess.hpp"

namespace ophtha {

// The key of `image`'s embedding under `options` for the model named by `model_identity`
// (e.g. the encoder's file fingerprint followed by FeatureProjector::fingerprint()).
// Reads every pixel (~10 GB/s: about 3 ms for a 3000 × 3000 RGB photograph).
OPHTHA_API ContentDigest image_embedding_key(const Image& image, const PreprocessOptions& options,
                                             const std::string& model_identity);

struct EmbeddingCacheStats {
  uint64_t hits = 0;
  uint64_t misses = 0;
  uint64_t insertions = 0;
  uint64_t evictions = 0;
  size_t entries = 0;
  size_t bytes = 0;  // of the tensors held (numel × element size)
};

class OPHTHA_API EmbeddingCache {
 public:
  // Holds at most `max_bytes` of tensor data (0: stores nothing, every find() misses).
  explicit EmbeddingCache(size_t max_bytes);
  EmbeddingCache(const EmbeddingCache&) = delete;
  EmbeddingCache& operator=(const EmbeddingCache&) = delete;

  // The embedding stored under `key` (now the most recently used), or nullopt; counts a hit or
  // a miss.
  std::optional<at::Tensor> find(const ContentDigest& key);

  // Stores `embedding` (detached from any autograd graph, made contiguous; the cache keeps a
  // reference, not a copy, of a tensor that already is) under `key`, replacing an entry with
  // that key, then evicts least recently used entries until the budget holds. A tensor larger
  // than the whole budget is not stored. Error(InvalidArgument) for an undefined tensor.
  void insert(const ContentDigest& key, const at::Tensor& embedding);

  void clear();  // drops every entry; the counters stay
  EmbeddingCacheStats stats() const;
  size_t max_bytes() const { return max_bytes_; }

 private:
  struct Entry {
    ContentDigest key;
    at::Tensor embedding;
    size_t bytes;
  };
  void evict_to(size_t budget);  // with mutex_ held

  const size_t max_bytes_;
  mutable std::mutex mutex_;
  std::list<Entry> lru_;  // front = most recently used
  std::unordered_map<ContentDigest, std::list<Entry>::iterator, ContentDigestHash> index_;
  EmbeddingCacheStats stats_;
};

}  // namespace ophtha
