// The batch API of the vision path: images in, one LLM-ready embedding [N', d] per image out.
//
//   Image ─► preprocess (by modality) ─► VisionEncoder (batches of ≤ max_batch) ─► FeatureProjector
//         (modality and eye embeddings of each image) ─► [N', d]
//
// With an EmbeddingCache, an image whose key (image_embedding_key: pixels, modality, eye,
// preprocessing options, encoder identity, projector fingerprint) is cached is not preprocessed
// or encoded again; only the misses go through the encoder, batched together.
//
// Inference only: runs under at::NoGradGuard (a trainer calls the encoder and the projector
// itself). Threads: the encoder's convolutions run on LibTorch's intra-op pool (see
// vision_encoder.hpp); embed() may be called from any number of threads at once.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "ophtha/embedding_cache.hpp"
#include "ophtha/export.h"
#include "ophtha/image.hpp"
#include "ophtha/preprocess.hpp"
#include "ophtha/projector.hpp"
#include "ophtha/vision_encoder.hpp"

namespace ophtha {

// 32 hex digits: the content hash (ContentHasher) of the file's bytes — or, for a folder, of
// every regular file in it, by sorted name. For image_embedding_key's model identity.
// Error(Io) naming the path when it cannot be read.
OPHTHA_API std::string file_fingerprint(const std::string& path);

struct ImageEmbedderOptions {
  PreprocessOptions preprocess;
  int max_batch = 8;             // images per encoder call, in [1, 256]
  // Names the encoder's weights in cache keys (e.g. file_fingerprint(encoder path)); required
  // when a cache is given, since two encoders must never share entries.
  std::string encoder_identity;
  // Keep each image's encoder grid in ImageEmbedding::tokens (and in its cache entry) — for
  // auxiliary heads that read findings by their lesion maps' peaks. Off, tokens stay undefined
  // and an entry weighs about a twelfth (the demo's encoder: 4.6 KB against 56 KB).
  bool keep_grid = false;
};

// One image through the vision path: what the LLM reads, and what the auxiliary heads read.
struct ImageEmbedding {
  at::Tensor embedding;  // (N', d) f32: the projector's output
  at::Tensor pooled;     // (C) f32: the encoder's pooled features
  at::Tensor tokens;     // (N, C) f32: the encoder's grid, with options.keep_grid (the heads' lesion maps read it)
};

class OPHTHA_API ImageEmbedder {
 public:
  // Shares ownership of the encoder, projector and cache (nullptr = no cache). Computes the
  // projector's fingerprint once, now: a projector whose parameters change later must be given
  // to a new ImageEmbedder (or the cache cleared).
  // Error(InvalidArgument) when the projector's C differs from the encoder's channels (both
  // named), for max_batch outside [1, 256], an invalid PreprocessOptions, or a cache without
  // an encoder_identity.
  ImageEmbedder(std::shared_ptr<const VisionEncoder> encoder, std::shared_ptr<const FeatureProjector> projector,
                ImageEmbedderOptions options, std::shared_ptr<EmbeddingCache> cache = nullptr);

  // One tensor (N', d) f32 per image, in order. Images may mix modalities, eyes and sizes.
  // Errors: as preprocess(), VisionEncoder::encode() and FeatureProjector::project().
  std::vector<at::Tensor> embed(const std::vector<Image>& images) const;

  // The same, with each image's pooled encoder features and, with options.keep_grid, its grid
  // (cached beside its embedding).
  std::vector<ImageEmbedding> embed_images(const std::vector<Image>& images) const;

  // What identifies the encoder + projector pair in cache keys.
  const std::string& model_identity() const { return model_identity_; }
  const ImageEmbedderOptions& options() const { return options_; }
  const std::shared_ptr<EmbeddingCache>& cache() const { return cache_; }

 private:
  std::shared_ptr<const VisionEncoder> encoder_;
  std::shared_ptr<const FeatureProjector> projector_;
  ImageEmbedderOptions options_;
  std::shared_ptr<EmbeddingCache> cache_;
  std::string model_identity_;
};

}  // namespace ophtha
