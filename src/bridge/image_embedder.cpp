#include "ophtha/image_embedder.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <optional>

#include <ATen/ATen.h>

#include "ophtha/content_hash.hpp"
#include "ophtha/error.hpp"

namespace ophtha {
namespace {

void hash_file(ContentHasher& h, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(ErrorCode::Io, "{}: cannot be opened for reading", path);
  std::vector<char> buffer(size_t{1} << 20);
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    h.update(buffer.data(), static_cast<size_t>(in.gcount()));
  }
  if (in.bad()) fail(ErrorCode::Io, "{}: read failed", path);
}

}  // namespace

std::string file_fingerprint(const std::string& path) {
  namespace fs = std::filesystem;
  ContentHasher h;
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    std::vector<std::string> names;
    for (const fs::directory_entry& entry : fs::directory_iterator(path, ec))
      if (entry.is_regular_file(ec)) names.push_back(entry.path().filename().string());
    if (ec) fail(ErrorCode::Io, "{}: cannot list the folder: {}", path, ec.message());
    std::sort(names.begin(), names.end());
    for (const std::string& name : names) {
      h.text(name);
      hash_file(h, path + "/" + name);
    }
  } else {
    hash_file(h, path);
  }
  return h.digest().hex();
}

ImageEmbedder::ImageEmbedder(std::shared_ptr<const VisionEncoder> encoder,
                             std::shared_ptr<const FeatureProjector> projector, ImageEmbedderOptions options,
                             std::shared_ptr<EmbeddingCache> cache)
    : encoder_(std::move(encoder)), projector_(std::move(projector)), options_(std::move(options)),
      cache_(std::move(cache)) {
  if (!encoder_ || !projector_) fail(ErrorCode::InvalidArgument, "ImageEmbedder: the encoder and projector are required");
  if (projector_->config().vision_channels != encoder_->channels())
    fail(ErrorCode::InvalidArgument, "ImageEmbedder: the projector takes C = {} channels but the {} encoder gives C = {}",
         projector_->config().vision_channels, encoder_arch_name(encoder_->arch()), encoder_->channels());
  if (options_.max_batch < 1 || options_.max_batch > 256)
    fail(ErrorCode::InvalidArgument, "ImageEmbedder: max_batch is {}, expected 1 to 256", options_.max_batch);
  if (cache_ && options_.encoder_identity.empty())
    fail(ErrorCode::InvalidArgument, "ImageEmbedder: a cache needs options.encoder_identity (e.g. file_fingerprint of "
         "the encoder's weights)");
  // preprocess() validates the options; fail here, before any image, rather than in embed().
  preprocess(Image::from_pixels("\0\0\0", 1, 1, 3, 3, 8, Modality::Oct, Eye::OD), options_.preprocess);
  // Entries with and without the grid differ in layout: they never answer for each other.
  model_identity_ = options_.encoder_identity + "/" + std::string(encoder_arch_name(encoder_->arch())) + "/" +
                    projector_->fingerprint() + (options_.keep_grid ? "/grid" : "");
}

std::vector<at::Tensor> ImageEmbedder::embed(const std::vector<Image>& images) const {
  std::vector<at::Tensor> out;
  for (ImageEmbedding& e : embed_images(images)) out.push_back(std::move(e.embedding));
  return out;
}

// A cache entry holds the tensors of an image, flattened one after the other behind the number
// of embedding rows: [N' | embedding (N'·d) | pooled (C) | grid (N·C), with keep_grid], so that
// one lookup answers for all.
std::vector<ImageEmbedding> ImageEmbedder::embed_images(const std::vector<Image>& images) const {
  at::NoGradGuard no_grad;
  const int64_t channels = encoder_->channels();
  const int64_t dim = projector_->config().embedding_dim;
  std::vector<ImageEmbedding> out(images.size());
  std::vector<ContentDigest> keys(images.size());
  std::vector<size_t> misses;
  auto unpack = [&](const at::Tensor& packed) {
    const auto n = static_cast<int64_t>(packed[0].item<float>());
    const int64_t grid_start = 1 + n * dim + channels;
    ImageEmbedding e{packed.narrow(0, 1, n * dim).view({n, dim}), packed.narrow(0, 1 + n * dim, channels), {}};
    if (options_.keep_grid) {
      const int64_t cells = (packed.numel() - grid_start) / channels;
      e.tokens = packed.narrow(0, grid_start, cells * channels).view({cells, channels});
    }
    return e;
  };
  for (size_t i = 0; i < images.size(); ++i) {
    if (cache_) {
      keys[i] = image_embedding_key(images[i], options_.preprocess, model_identity_);
      if (std::optional<at::Tensor> hit = cache_->find(keys[i])) {
        out[i] = unpack(*hit);
        continue;
      }
    }
    misses.push_back(i);
  }
  for (size_t from = 0; from < misses.size(); from += static_cast<size_t>(options_.max_batch)) {
    const size_t to = std::min(misses.size(), from + static_cast<size_t>(options_.max_batch));
    std::vector<at::Tensor> inputs;
    std::vector<Modality> modalities;
    std::vector<Eye> eyes;
    for (size_t k = from; k < to; ++k) {
      const Image& image = images[misses[k]];
      inputs.push_back(preprocess(image, options_.preprocess));  // all [3, S, S]: one batch
      modalities.push_back(image.modality());
      eyes.push_back(image.eye());
    }
    const VisionFeatures features = encoder_->encode(at::stack(inputs));
    const at::Tensor projected = projector_->project(features, modalities, eyes);
    for (size_t k = from; k < to; ++k) {
      const size_t i = misses[k];
      const auto row = static_cast<int64_t>(k - from);
      // One storage per image, not the batch's.
      const at::Tensor rows = at::full({1}, static_cast<float>(projected.size(1)), at::kFloat);
      std::vector<at::Tensor> parts{rows, projected[row].flatten(), features.pooled[row]};
      if (options_.keep_grid) parts.push_back(features.tokens[row].flatten());
      const at::Tensor packed = at::cat(parts);
      out[i] = unpack(packed);
      if (cache_) cache_->insert(keys[i], packed);
    }
  }
  return out;
}

}  // namespace ophtha
