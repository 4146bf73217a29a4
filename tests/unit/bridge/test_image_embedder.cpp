// The batch API: images of mixed modalities and sizes in one call give what the pipeline gives
// one image at a time (preprocess → encoder → projector), and the cache spares re-encoding.
#include "support/doctest_with_aten.hpp"

#include <cmath>
#include <string>
#include <vector>

#include "ophtha/error.hpp"
#include "ophtha/image_embedder.hpp"
#include "support/expect_error.hpp"
#include "support/tensor_check.hpp"
#include "support/test_models.hpp"

using namespace ophtha;
using ophtha::test::check_message;
using ophtha::test::error_from;

namespace {

std::string encoder_path() {
  return test::cached_script_output("tests/tools/torchvision_encoder_reference.py", "encoder-ref",
                                    "--arch resnet18 --seed 11 --inputs 1x32x32", "", "weights.safetensors") +
         "/weights.safetensors";
}

std::shared_ptr<const VisionEncoder> encoder() {
  static const std::shared_ptr<const VisionEncoder> e = load_vision_encoder(encoder_path(), EncoderArch::ResNet18);
  return e;
}

std::shared_ptr<const FeatureProjector> projector(int64_t channels = 512, int64_t pool = 2) {
  ProjectorConfig config;
  config.vision_channels = channels;
  config.embedding_dim = 16;
  config.pool_side = pool;
  return std::make_shared<const FeatureProjector>(FeatureProjector::random(config, 5));
}

// A smooth pattern that differs per seed, 8-bit, 1 or 3 channels.
Image pattern(int width, int height, int channels, Modality modality, Eye eye, int seed) {
  std::vector<uint8_t> pixels(static_cast<size_t>(width) * height * channels);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x)
      for (int c = 0; c < channels; ++c)
        pixels[(static_cast<size_t>(y) * width + x) * channels + c] =
            static_cast<uint8_t>(127 + 120 * std::sin(0.1 * seed * x + 0.07 * y + c));
  return Image::from_pixels(pixels.data(), width, height, static_cast<size_t>(width) * channels, channels, 8, modality,
                            eye);
}

ImageEmbedderOptions options() {
  ImageEmbedderOptions o;
  o.preprocess.size = 64;
  o.max_batch = 2;
  o.encoder_identity = file_fingerprint(encoder_path());
  return o;
}

std::vector<Image> study() {
  return {pattern(80, 60, 3, Modality::Cfp, Eye::OD, 1), pattern(90, 40, 1, Modality::Oct, Eye::OS, 2),
          pattern(50, 70, 1, Modality::Osa, Eye::OD, 3)};
}

}  // namespace

TEST_CASE("embed() on a mixed batch equals preprocess → encode → project one image at a time") {
  const auto proj = projector();
  const ImageEmbedder embedder(encoder(), proj, options());
  const std::vector<Image> images = study();
  const std::vector<at::Tensor> got = embedder.embed(images);
  REQUIRE(got.size() == images.size());
  for (size_t i = 0; i < images.size(); ++i) {
    const at::Tensor one = proj->project(encoder()->encode(preprocess(images[i], options().preprocess).unsqueeze(0)),
                                         {images[i].modality()}, {images[i].eye()})[0];
    CHECK(got[i].sizes() == at::IntArrayRef{4, 16});
    test::check_close(got[i], one, "image " + std::to_string(i), 1e-5);
  }
  CHECK(embedder.embed({}).empty());
}

TEST_CASE("asking again about the same images hits the cache; a new image or another modality is encoded") {
  auto cache = std::make_shared<EmbeddingCache>(1 << 20);
  const ImageEmbedder embedder(encoder(), projector(), options(), cache);
  std::vector<Image> images = study();
  const std::vector<at::Tensor> first = embedder.embed({images[0], images[1]});
  CHECK(cache->stats().misses == 2);
  CHECK(cache->stats().hits == 0);
  const std::vector<at::Tensor> again = embedder.embed(images);
  CHECK(cache->stats().hits == 2);
  CHECK(cache->stats().misses == 3);
  CHECK(at::equal(again[0], first[0]));
  CHECK(at::equal(again[1], first[1]));
  const Image as_oct = pattern(80, 60, 3, Modality::Oct, Eye::OD, 1);  // image 0's pixels, other modality
  const at::Tensor oct = embedder.embed({as_oct})[0];
  CHECK(cache->stats().misses == 4);
  CHECK_FALSE(at::allclose(oct, first[0]));
  // Another projector (other parameters) never sees this one's entries.
  const ImageEmbedder other(encoder(), std::make_shared<const FeatureProjector>(FeatureProjector::random(
                                           projector()->config(), 6)), options(), cache);
  other.embed({images[0]});
  CHECK(cache->stats().misses == 5);
}

TEST_CASE("embed_images gives each image's pooled encoder features and, with keep_grid, its grid, from the cache as well") {
  auto cache = std::make_shared<EmbeddingCache>(1 << 20);
  const auto proj = projector();
  ImageEmbedderOptions with_grid = options();
  with_grid.keep_grid = true;
  const ImageEmbedder embedder(encoder(), proj, with_grid, cache);
  const std::vector<Image> images = study();
  const std::vector<ImageEmbedding> first = embedder.embed_images(images);
  const std::vector<ImageEmbedding> again = embedder.embed_images(images);
  CHECK(cache->stats().hits == 3);
  for (size_t i = 0; i < images.size(); ++i) {
    const VisionFeatures f = encoder()->encode(preprocess(images[i], options().preprocess).unsqueeze(0));
    CHECK(first[i].pooled.sizes() == at::IntArrayRef{512});
    test::check_close(first[i].pooled, f.pooled[0], "pooled " + std::to_string(i), 1e-5);
    test::check_close(first[i].embedding, proj->project(f, {images[i].modality()}, {images[i].eye()})[0],
                      "embedding " + std::to_string(i), 1e-5);
    REQUIRE(first[i].tokens.sizes() == f.tokens[0].sizes());  // (N, C): what the heads' lesion maps read
    test::check_close(first[i].tokens, f.tokens[0], "tokens " + std::to_string(i), 1e-5);
    CHECK(at::equal(again[i].pooled, first[i].pooled));
    CHECK(at::equal(again[i].embedding, first[i].embedding));
    CHECK(at::equal(again[i].tokens, first[i].tokens));
  }
  // Without keep_grid (the default) no grid is given or cached, and the entries — another layout —
  // are not those of the embedder that keeps it.
  const size_t grid_bytes = cache->stats().bytes;
  const ImageEmbedder lean(encoder(), proj, options(), cache);
  const std::vector<ImageEmbedding> lean_out = lean.embed_images(images);
  CHECK(cache->stats().misses == 6);
  size_t grids = 0;
  for (const ImageEmbedding& e : first) grids += static_cast<size_t>(e.tokens.numel()) * sizeof(float);
  CHECK(cache->stats().bytes - grid_bytes == grid_bytes - grids);  // the same entries less their grids
  for (size_t i = 0; i < images.size(); ++i) {
    CHECK_FALSE(lean_out[i].tokens.defined());
    CHECK(at::equal(lean_out[i].pooled, first[i].pooled));
    CHECK(at::equal(lean_out[i].embedding, first[i].embedding));
  }
  CHECK(cache->stats().hits == 3);
  lean.embed_images(images);
  CHECK(cache->stats().hits == 6);
}

TEST_CASE("a projector for other channels, a bad batch size or a cache without identity are refused") {
  check_message(error_from([&] { ImageEmbedder(encoder(), projector(2048), options()); }), ErrorCode::InvalidArgument,
                "the projector takes C = 2048 channels but the resnet18 encoder gives C = 512");
  ImageEmbedderOptions o = options();
  o.max_batch = 0;
  check_message(error_from([&] { ImageEmbedder(encoder(), projector(), o); }), ErrorCode::InvalidArgument,
                "max_batch is 0");
  o = options();
  o.encoder_identity.clear();
  check_message(error_from([&] { ImageEmbedder(encoder(), projector(), o, std::make_shared<EmbeddingCache>(1000)); }),
                ErrorCode::InvalidArgument, "encoder_identity");
  o = options();
  o.preprocess.size = 0;
  CHECK(error_from([&] { ImageEmbedder(encoder(), projector(), o); }).code() == ErrorCode::InvalidArgument);
  CHECK(error_from([&] { file_fingerprint("/nonexistent/encoder.safetensors"); }).code() == ErrorCode::Io);
}
