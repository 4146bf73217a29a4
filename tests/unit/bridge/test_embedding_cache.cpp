// The image-embedding cache: keys that change with everything an embedding depends on, hit and
// miss counts, least-recently-used eviction by bytes, and concurrent use.
#include "support/doctest_with_aten.hpp"

#include <thread>
#include <vector>

#include "ophtha/embedding_cache.hpp"
#include "ophtha/error.hpp"
#include "support/expect_error.hpp"

using namespace ophtha;

namespace {

Image image(Modality modality = Modality::Cfp, Eye eye = Eye::OD, uint8_t seed = 1) {
  std::vector<uint8_t> pixels(16 * 12 * 3);
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<uint8_t>(i * 7 + seed);
  return Image::from_pixels(pixels.data(), 16, 12, 16 * 3, 3, 8, modality, eye);
}

ContentDigest key(const Image& im, const PreprocessOptions& o = {}, const std::string& model = "m") {
  return image_embedding_key(im, o, model);
}

at::Tensor embedding(int64_t tokens, float value) { return at::full({tokens, 8}, value); }  // tokens × 32 bytes

}  // namespace

TEST_CASE("the key changes with the pixels, modality, eye, every preprocessing option and the model identity") {
  const ContentDigest base = key(image());
  CHECK(key(image()) == base);
  CHECK(key(image(Modality::Oct)) != base);
  CHECK(key(image(Modality::Cfp, Eye::OS)) != base);
  CHECK(key(image(Modality::Cfp, Eye::OD, 2)) != base);
  CHECK(key(image(), {}, "other model") != base);
  std::vector<PreprocessOptions> variants(6);
  variants[0].size = 336;
  variants[1].mean[2] = 0.5f;
  variants[2].std[0] = 0.3f;
  variants[3].pad_value = 0.5f;
  variants[4].fov.threshold_fraction = 0.2;
  variants[5].fov.corner_fraction = 0.1;
  for (size_t i = 0; i < variants.size(); ++i) {
    INFO("option variant ", i);
    CHECK(key(image(), variants[i]) != base);
  }
  std::vector<uint16_t> deep(16 * 12 * 3, 1);  // same size, 16-bit
  CHECK(key(Image::from_pixels(deep.data(), 16, 12, 16 * 6, 3, 16, Modality::Cfp, Eye::OD)) != base);
}

TEST_CASE("find counts hits and misses; a different modality is a miss") {
  EmbeddingCache cache(1 << 20);
  CHECK_FALSE(cache.find(key(image())).has_value());
  cache.insert(key(image()), embedding(4, 1.0f));
  const auto hit = cache.find(key(image()));
  REQUIRE(hit.has_value());
  CHECK(at::equal(*hit, embedding(4, 1.0f)));
  CHECK_FALSE(cache.find(key(image(Modality::Osa))).has_value());
  const EmbeddingCacheStats s = cache.stats();
  CHECK(s.hits == 1);
  CHECK(s.misses == 2);
  CHECK(s.insertions == 1);
  CHECK(s.entries == 1);
  CHECK(s.bytes == 4 * 8 * 4);
}

TEST_CASE("entries are evicted least recently used first when the bytes would exceed the budget") {
  EmbeddingCache cache(3 * 128);  // three embeddings of 4 × 8 floats
  const ContentDigest a = key(image(Modality::Cfp)), b = key(image(Modality::Oct)), c = key(image(Modality::Osa)),
                      d = key(image(Modality::Cfp, Eye::OS));
  cache.insert(a, embedding(4, 1));
  cache.insert(b, embedding(4, 2));
  cache.insert(c, embedding(4, 3));
  CHECK(cache.find(a).has_value());  // a is now the most recent; b the least
  cache.insert(d, embedding(4, 4));
  CHECK(cache.stats().evictions == 1);
  CHECK_FALSE(cache.find(b).has_value());
  CHECK(cache.find(a).has_value());
  CHECK(cache.find(c).has_value());
  CHECK(cache.find(d).has_value());
  CHECK(cache.stats().bytes == 3 * 128);
  cache.insert(a, embedding(8, 5));  // replacing a with a bigger one evicts the least recent (c)
  CHECK(cache.stats().bytes <= 3 * 128);
  CHECK_FALSE(cache.find(c).has_value());
  CHECK(cache.find(a)->size(0) == 8);
  cache.insert(b, embedding(13, 6));  // larger than the whole budget: not stored, nothing evicted
  CHECK_FALSE(cache.find(b).has_value());
  CHECK(cache.find(d).has_value());
  cache.clear();
  CHECK(cache.stats().entries == 0);
  CHECK(cache.stats().bytes == 0);
  EmbeddingCache none(0);
  none.insert(a, embedding(1, 1));
  CHECK_FALSE(none.find(a).has_value());
  CHECK(test::error_from([&] { none.insert(a, at::Tensor()); }).code() == ErrorCode::InvalidArgument);
}

TEST_CASE("stored embeddings are detached from autograd") {
  EmbeddingCache cache(1 << 20);
  const at::Tensor tracked = (embedding(2, 1) * at::ones({1}).set_requires_grad(true));
  cache.insert(key(image()), tracked);
  CHECK_FALSE(cache.find(key(image()))->requires_grad());
}

TEST_CASE("many threads inserting and finding at once keep the counts and the budget") {
  EmbeddingCache cache(20 * 128);
  std::vector<ContentDigest> keys;
  for (int i = 0; i < 40; ++i) keys.push_back(key(image(), {}, "model " + std::to_string(i)));
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 200; ++round) {
        const ContentDigest& k = keys[(round * 7 + t) % keys.size()];
        if (auto hit = cache.find(k)) {
          CHECK(hit->size(0) == 4);
        } else {
          cache.insert(k, embedding(4, static_cast<float>(t)));
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  const EmbeddingCacheStats s = cache.stats();
  CHECK(s.hits + s.misses == 800);
  CHECK(s.bytes <= 20 * 128);
  CHECK(s.entries == s.bytes / 128);
}
