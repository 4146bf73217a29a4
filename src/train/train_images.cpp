#include "train/train_images.hpp"

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <thread>

#include <ATen/ATen.h>

#include <fmt/format.h>

#include "ophtha/error.hpp"
#include "ophtha/image.hpp"
#include "vision/preprocess_square.hpp"

namespace ophtha::train {

std::vector<const Study*> studies_in(const Manifest& manifest, const std::vector<Split>& splits) {
  std::vector<const Study*> out;
  for (const Study& s : manifest.studies)
    if (std::find(splits.begin(), splits.end(), s.split) != splits.end()) out.push_back(&s);
  return out;
}

std::vector<TrainImage> images_of(const Manifest& manifest, const std::vector<const Study*>& studies) {
  std::vector<TrainImage> out;
  for (size_t i = 0; i < studies.size(); ++i)
    for (const StudyImage& image : studies[i]->images) {
      TrainImage t;
      t.path = manifest.image_path(image);
      t.modality = image.modality;
      t.eye = image.eye;
      t.study = i;
      t.lesions = image.lesions;
      t.where = fmt::format("{}: study {} image {}", manifest.path, studies[i]->id, &image - studies[i]->images.data());
      const auto eye = studies[i]->labels.eyes.find(image.eye);
      t.targets = image_targets(eye == studies[i]->labels.eyes.end() ? EyeLabels{} : eye->second, image.modality);
      out.push_back(std::move(t));
    }
  return out;
}

PreprocessOptions training_preprocess(int64_t size) {
  PreprocessOptions o;
  o.size = static_cast<int>(size);
  return o;
}

namespace {

LesionPoints lesion_points_of(const TrainImage& t, const Image& image, const SquareRegion& region) {
  LesionPoints out;
  if (!t.lesions) return out;
  out.annotated = true;
  for (size_t k = 0; k < t.lesions->size(); ++k) {
    const LesionMark& m = (*t.lesions)[k];
    if (!(m.x < image.width() && m.y < image.height()))
      fail(ErrorCode::InvalidFormat, "{} ({}): lesions[{}] at ({}, {}) lies outside the {} × {} image", t.where, t.path,
           k, m.x, m.y, image.width(), image.height());
    const double u = (m.x - region.x0) / region.side, v = (m.y - region.y0) / region.side;
    if (u >= 0 && u < 1 && v >= 0 && v < 1) out.points.push_back({m.finding, {static_cast<float>(u), static_cast<float>(v)}});
  }
  return out;
}

}  // namespace

at::Tensor preprocess_images(const std::vector<TrainImage>& images, const PreprocessOptions& options, int threads,
                             at::ScalarType dtype, std::vector<LesionPoints>* lesion_points) {
  const int64_t n = static_cast<int64_t>(images.size()), side = preprocessed_side(options);
  at::Tensor out = at::empty({n, 3, side, side}, at::TensorOptions().dtype(dtype));
  if (lesion_points) lesion_points->assign(images.size(), {});
  std::atomic<int64_t> next{0};
  std::exception_ptr error;
  std::mutex error_mutex;
  auto work = [&] {
    for (int64_t i = next++; i < n; i = next++) {
      try {
        const TrainImage& t = images[static_cast<size_t>(i)];
        const Image image = Image::decode_file(t.path, t.modality, t.eye);
        const SquareRegion region = preprocess_region(image, options);  // found once: with the disc, not cheap
        out[i].copy_(vision::preprocess_square(image, region, options));
        if (lesion_points) (*lesion_points)[static_cast<size_t>(i)] = lesion_points_of(t, image, region);
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_mutex);
        if (!error) error = std::current_exception();
        next = n;
      }
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < std::max(1, threads); ++t) pool.emplace_back(work);
  work();
  for (std::thread& t : pool) t.join();
  if (error) std::rethrow_exception(error);
  return out;
}

LesionTargets lesion_targets(const std::vector<TrainImage>& images, const std::vector<LesionPoints>& points,
                             const std::vector<int64_t>& indices, int64_t grid_h, int64_t grid_w) {
  const int64_t batch = static_cast<int64_t>(indices.size()), cells = grid_h * grid_w;
  LesionTargets out{at::zeros({batch, cells, kFindingCount}, at::kFloat), at::zeros({batch, kFindingCount}, at::kFloat)};
  float* cell = out.cells.data_ptr<float>();
  float* supervised = out.supervised.data_ptr<float>();
  for (int64_t b = 0; b < batch; ++b) {
    const auto i = static_cast<size_t>(indices[static_cast<size_t>(b)]);
    const LesionPoints& p = points.at(i);
    if (!p.annotated) continue;
    std::array<bool, kFindingCount> marked{};
    for (const auto& [finding, uv] : p.points) {
      const auto f = static_cast<int64_t>(finding);
      const int64_t x = std::min(grid_w - 1, static_cast<int64_t>(uv[0] * static_cast<float>(grid_w)));
      const int64_t y = std::min(grid_h - 1, static_cast<int64_t>(uv[1] * static_cast<float>(grid_h)));
      cell[(b * cells + y * grid_w + x) * kFindingCount + f] = 1.0f;
      marked[static_cast<size_t>(f)] = true;
    }
    const ImageTargets& t = images[i].targets;
    for (int f = 0; f < kFindingCount; ++f)
      supervised[b * kFindingCount + f] = t.findings[f] == 0 || (t.findings[f] == 1 && marked[static_cast<size_t>(f)]);
  }
  return out;
}

TileTargets tile_targets(const ImageTargets& image, const LesionPoints& points, const TileBounds& tile,
                         const std::vector<Finding>& findings) {
  TileTargets out;
  out.targets.modality = image.modality;
  out.targets.gradable = image.gradable;
  out.targets.findings.fill(-1);
  out.targets.grades.fill(-1);
  out.points.annotated = points.annotated;
  std::array<bool, kFindingCount> marked{}, inside{};
  for (const auto& [finding, uv] : points.points) {
    const auto f = static_cast<size_t>(finding);
    marked[f] = true;
    if (!tile.contains(uv[0], uv[1])) continue;
    inside[f] = true;
    const std::array<double, 2> at = tile.to_tile(uv[0], uv[1]);
    out.points.points.push_back({finding, {static_cast<float>(at[0]), static_cast<float>(at[1])}});
  }
  for (Finding finding : findings) {
    const auto f = static_cast<size_t>(finding);
    const int8_t truth = image.findings[f];
    out.targets.findings[f] = truth == 0 ? 0 : truth == 1 && points.annotated && marked[f] ? (inside[f] ? 1 : 0) : -1;
  }
  return out;
}

std::vector<int> tiles_with_marks(const ImageTargets& targets, const LesionPoints& points, const PreprocessOptions& tiles,
                                  const std::vector<Finding>& findings) {
  std::vector<int> out;
  for (int k = 0; k < tile_count(tiles); ++k) {
    const TileBounds tile = tile_bounds(tiles, k);
    bool holds = false;
    for (const auto& [finding, uv] : points.points)
      holds = holds || (targets.findings[static_cast<size_t>(finding)] == 1 &&
                        std::find(findings.begin(), findings.end(), finding) != findings.end() &&
                        tile.contains(uv[0], uv[1]));
    if (holds) out.push_back(k);
  }
  return out;
}

}  // namespace ophtha::train
