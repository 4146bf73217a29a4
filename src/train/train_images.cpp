#include "train/train_images.hpp"

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <thread>

#include <ATen/ATen.h>

#include "ophtha/error.hpp"
#include "ophtha/image.hpp"

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

at::Tensor preprocess_images(const std::vector<TrainImage>& images, const PreprocessOptions& options, int threads,
                             at::ScalarType dtype) {
  const int64_t n = static_cast<int64_t>(images.size()), side = options.size;
  at::Tensor out = at::empty({n, 3, side, side}, at::TensorOptions().dtype(dtype));
  std::atomic<int64_t> next{0};
  std::exception_ptr error;
  std::mutex error_mutex;
  auto work = [&] {
    for (int64_t i = next++; i < n; i = next++) {
      try {
        const TrainImage& t = images[static_cast<size_t>(i)];
        const Image image = Image::decode_file(t.path, t.modality, t.eye);
        out[i].copy_(preprocess(image, options));
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

}  // namespace ophtha::train
