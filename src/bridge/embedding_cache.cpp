#include "ophtha/embedding_cache.hpp"

#include "ophtha/error.hpp"

namespace ophtha {
namespace {

void hash_options(ContentHasher& h, const PreprocessOptions& o) {
  h.value(o.size);
  for (float v : o.mean) h.value(v);
  for (float v : o.std) h.value(v);
  h.value(o.pad_value);
  h.value(o.fov.corner_fraction).value(o.fov.centre_fraction).value(o.fov.threshold_fraction);
  h.value(o.fov.min_contrast).value(o.fov.min_line_fraction);
  h.value(static_cast<int32_t>(o.region)).value(o.disc_side);
  if (o.region == PreprocessRegion::Tiles) h.value(static_cast<int32_t>(o.tile_grid)).value(static_cast<int32_t>(o.tile_stride));
}

}  // namespace

ContentDigest image_embedding_key(const Image& image, const PreprocessOptions& options,
                                  const std::string& model_identity) {
  ContentHasher h;
  h.text("ophtha image embedding v1").text(model_identity);
  hash_options(h, options);
  h.value(static_cast<int32_t>(image.modality())).value(static_cast<int32_t>(image.eye()));
  h.value(image.width()).value(image.height()).value(image.channels()).value(image.bit_depth());
  const size_t samples = static_cast<size_t>(image.width()) * image.height() * image.channels();
  if (image.bit_depth() == 8) h.update(image.pixels8(), samples);
  else h.update(image.pixels16(), samples * sizeof(uint16_t));
  return h.digest();
}

EmbeddingCache::EmbeddingCache(size_t max_bytes) : max_bytes_(max_bytes) {}

std::optional<at::Tensor> EmbeddingCache::find(const ContentDigest& key) {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto it = index_.find(key);
  if (it == index_.end()) {
    ++stats_.misses;
    return std::nullopt;
  }
  ++stats_.hits;
  lru_.splice(lru_.begin(), lru_, it->second);
  return it->second->embedding;
}

void EmbeddingCache::insert(const ContentDigest& key, const at::Tensor& embedding) {
  if (!embedding.defined()) fail(ErrorCode::InvalidArgument, "EmbeddingCache::insert: the embedding is undefined");
  const at::Tensor stored = embedding.detach().contiguous();
  const size_t bytes = static_cast<size_t>(stored.numel()) * stored.element_size();
  std::lock_guard<std::mutex> lock(mutex_);
  if (const auto it = index_.find(key); it != index_.end()) {
    stats_.bytes -= it->second->bytes;
    lru_.erase(it->second);
    index_.erase(it);
  }
  if (bytes > max_bytes_) {
    stats_.entries = lru_.size();
    return;
  }
  evict_to(max_bytes_ - bytes);
  lru_.push_front({key, stored, bytes});
  index_.emplace(key, lru_.begin());
  stats_.bytes += bytes;
  ++stats_.insertions;
  stats_.entries = lru_.size();
}

void EmbeddingCache::evict_to(size_t budget) {
  while (stats_.bytes > budget && !lru_.empty()) {
    stats_.bytes -= lru_.back().bytes;
    index_.erase(lru_.back().key);
    lru_.pop_back();
    ++stats_.evictions;
  }
  stats_.entries = lru_.size();
}

void EmbeddingCache::clear() {
  std::lock_guard<std::mutex> lock(mutex_);
  lru_.clear();
  index_.clear();
  stats_.bytes = 0;
  stats_.entries = 0;
}

EmbeddingCacheStats EmbeddingCache::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

}  // namespace ophtha
