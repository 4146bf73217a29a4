// VisionTrainer (train_stages.hpp): the encoder and the auxiliary heads on a manifest's images.
#include <algorithm>
#include <chrono>
#include <tuple>
#include <cmath>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include "llm/cpu_threads.hpp"
#include "ophtha/clinical_metrics.hpp"
#include "ophtha/error.hpp"
#include "ophtha/fundus_tiles.hpp"
#include "ophtha/heads_findings.hpp"
#include "ophtha/model_bundle.hpp"
#include "ophtha/random.hpp"
#include "ophtha/trainable_resnet.hpp"
#include "ophtha/train_stages.hpp"
#include "train/mixed_precision.hpp"
#include "train/train_checkpoint.hpp"
#include "train/train_images.hpp"
#include "train/train_metrics.hpp"
#include "train/train_runtime.hpp"

namespace ophtha {

struct VisionTrainer::State {
  TrainConfig config;
  std::optional<TrainableResNet> encoder;
  std::optional<AuxiliaryHeads> heads;
  std::vector<train::TrainImage> train, validation;
  // An epoch's entries: image indices, each repeated data.oversample times. With tiles, 2 × the
  // index + 0 for a tile holding a mark of the reader's findings, + 1 for a tile at random.
  std::vector<int64_t> entries;
  bool tiled = false;  // encoder.region "tiles"
  int64_t tiles = 1;   // per image: 1, or the grid's g² with encoder.region "tiles"
  // [N, 3, S, S] f16. The training images are preprocessed at the first step that needs them: a
  // finished run resumed to calibrate or write its outputs never does.
  at::Tensor train_pixels, validation_pixels;
  PreprocessOptions preprocess;
  int threads = 1;
  std::vector<train::LesionPoints> train_lesions, validation_lesions;  // per image
  std::optional<BatchOrder> order;
  std::unique_ptr<AdamW> optimizer;
  LrSchedule schedule;
  int64_t step = 0;
  std::unique_ptr<train::MetricsLog> metrics;
  // The heads' reading of every validation image at the last validate(), their targets, and the
  // step it ran at (-1: none yet).
  std::vector<HeadPrediction> validation_predictions;
  std::vector<ImageTargets> validation_targets;
  int64_t validated_at = -1;

  std::vector<std::pair<std::string, at::Tensor>> parameters() const {
    std::vector<std::pair<std::string, at::Tensor>> all;
    for (const auto& [name, t] : encoder->named_parameters()) all.emplace_back("encoder." + name, t);
    for (const auto& [name, t] : heads->named_parameters()) all.emplace_back(name, t);
    return all;
  }
};

namespace {

// Images `first` … of `pixels` as f32 [B, 3, S, S] with their targets.
std::pair<at::Tensor, std::vector<ImageTargets>> gather(const at::Tensor& pixels,
                                                        const std::vector<train::TrainImage>& images,
                                                        const std::vector<int64_t>& indices) {
  std::vector<ImageTargets> targets;
  for (int64_t i : indices) targets.push_back(images[static_cast<size_t>(i)].targets);
  const at::Tensor index = at::tensor(indices, at::kLong);
  // Channels-last: oneDNN's convolutions run 1.2× (f32) to 1.4× (bf16) faster on it (docs/benchmarks.md).
  return {pixels.index_select(0, index).to(at::kFloat, false, false, at::MemoryFormat::ChannelsLast), std::move(targets)};
}

// Each finding's F1 over the images where it applies and is shown at least once, read at the
// predictions' thresholds: {"findings_macro_f1": mean, "findings_f1": {code: F1}}.
nlohmann::json findings_f1(const std::vector<HeadPrediction>& predictions, const std::vector<ImageTargets>& targets) {
  std::array<BinaryCounts, kFindingCount> counts{};
  for (size_t i = 0; i < targets.size(); ++i)
    for (int f = 0; f < kFindingCount; ++f) {
      if (targets[i].findings[f] < 0) continue;
      const bool yes = predictions[i].finding_present(static_cast<Finding>(f)), truth = targets[i].findings[f] == 1;
      BinaryCounts& c = counts[static_cast<size_t>(f)];
      c.true_positives += yes && truth, c.false_positives += yes && !truth, c.false_negatives += !yes && truth;
    }
  double f1_sum = 0;
  int f1_n = 0;
  nlohmann::json per_finding = nlohmann::json::object();
  for (int f = 0; f < kFindingCount; ++f)
    if (counts[static_cast<size_t>(f)].support() > 0) {
      const double f1 = counts[static_cast<size_t>(f)].f1();
      per_finding[finding_code(static_cast<Finding>(f))] = f1;
      f1_sum += f1, f1_n += 1;
    }
  return {{"findings_macro_f1", f1_n ? f1_sum / f1_n : 0.0}, {"findings_f1", per_finding}};
}

// An image's targets as a tile reader is scored on them: its `findings` only (max_over_tiles).
ImageTargets reader_targets(const ImageTargets& image, const std::vector<Finding>& findings) {
  ImageTargets out = image;
  out.findings.fill(-1);
  out.grades.fill(-1);
  out.gradable = -1;
  for (Finding f : findings) out.findings[static_cast<size_t>(f)] = image.findings[static_cast<size_t>(f)];
  return out;
}

// A batch of tiles as f32 [B, 3, S, S] channels-last, with each one's targets and lesion marks.
struct ReadBatch {
  at::Tensor pixels;
  std::vector<ImageTargets> targets;
  std::vector<train::TrainImage> lesion_images;  // targets only, for lesion_targets
  std::vector<train::LesionPoints> lesion_points;

  void add_tile(const at::Tensor& squares, int64_t image, const PreprocessOptions& pre, int k,
                const train::TrainImage& t, const train::LesionPoints& points, const std::vector<Finding>& findings,
                std::vector<at::Tensor>& tiles) {
    train::TileTargets tt = train::tile_targets(t.targets, points, tile_bounds(pre, k), findings);
    tiles.push_back(tile_of(squares, image, pre, k));
    targets.push_back(tt.targets);
    lesion_images.emplace_back().targets = tt.targets;
    lesion_points.push_back(std::move(tt.points));
  }
  LesionTargets lesions(int64_t grid_h, int64_t grid_w) const {
    std::vector<int64_t> all(targets.size());
    for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<int64_t>(i);
    return train::lesion_targets(lesion_images, lesion_points, all, grid_h, grid_w);
  }
};

// The training tiles of a micro-batch's entries (State::entries values): per entry its image's
// tile holding a mark (one at random among those; any tile when none holds one) or a tile at
// random — drawn from (seed, micro-batch, place), so a resumed run draws the same.
ReadBatch training_tiles(const at::Tensor& squares, const std::vector<train::TrainImage>& images,
                         const std::vector<train::LesionPoints>& points, const PreprocessOptions& pre,
                         const std::vector<Finding>& findings, const std::vector<int64_t>& entries, uint64_t seed,
                         int64_t micro_batch) {
  ReadBatch out;
  std::vector<at::Tensor> tiles;
  const Random draws = Random(seed ^ 0x711E5ull).fork(static_cast<uint64_t>(micro_batch));
  for (size_t b = 0; b < entries.size(); ++b) {
    const int64_t image = entries[b] / 2;
    const bool marked_tile = entries[b] % 2 == 0;
    const train::TrainImage& t = images[static_cast<size_t>(image)];
    const train::LesionPoints& p = points[static_cast<size_t>(image)];
    Random draw = draws.fork(b);
    const std::vector<int> holding = marked_tile ? train::tiles_with_marks(t.targets, p, pre, findings) : std::vector<int>{};
    const int k = holding.empty() ? static_cast<int>(draw.integer(0, tile_count(pre) - 1))
                                  : holding[static_cast<size_t>(draw.integer(0, static_cast<int64_t>(holding.size()) - 1))];
    out.add_tile(squares, image, pre, k, t, p, findings, tiles);
  }
  out.pixels = at::stack(tiles).to(at::kFloat, false, false, at::MemoryFormat::ChannelsLast);
  return out;
}

// The images of `modalities` among `images`, in their order.
std::vector<train::TrainImage> of_modalities(std::vector<train::TrainImage> images, const std::vector<Modality>& modalities) {
  images.erase(std::remove_if(images.begin(), images.end(),
                              [&](const train::TrainImage& t) {
                                return std::find(modalities.begin(), modalities.end(), t.modality) == modalities.end();
                              }),
               images.end());
  return images;
}

}  // namespace

VisionTrainer::VisionTrainer(TrainConfig config) : s_(std::make_unique<State>()) {
  State& s = *s_;
  s.config = std::move(config);
  const TrainConfig& c = s.config;
  const ImageTrainConfig& im = c.images;
  if (c.stage != TrainStage::Vision)
    fail(ErrorCode::InvalidArgument, "{}: VisionTrainer runs the vision stage, not this configuration's", c.source);
  if (c.min_lr > c.lr)
    fail(ErrorCode::InvalidArgument, "{}: optimizer.min_lr {} is above optimizer.lr {}", c.source, c.min_lr, c.lr);
  const int threads = c.threads > 0 ? c.threads : llm::available_cores();
  at::set_num_threads(threads);  // convolutions: LibTorch's own pool does the work here
  train::keep_large_blocks_on_the_heap();

  const bool tiled = im.region == PreprocessRegion::Tiles;
  const char* reader_kind = tiled ? "tile" : "disc";
  if (!c.output_reader_bundle.empty()) {
    const ModelBundle bundle = read_bundle_manifest(c.output_reader_bundle);  // before training, not after
    if (bundle.heads.empty())
      fail(ErrorCode::InvalidArgument, "{}: output.{}_reader.bundle '{}' has no auxiliary heads for a {} reader to stand beside",
           c.source, reader_kind, c.output_reader_bundle, reader_kind);
    const std::optional<BundleRegionReader>& other = tiled ? bundle.disc_reader : bundle.tile_reader;
    if (other)
      for (Finding f : c.reader_findings)
        if (std::find(other->findings.begin(), other->findings.end(), f) != other->findings.end())
          fail(ErrorCode::InvalidArgument, "{}: output.{}_reader.findings names {}, which the bundle '{}' has its {} reader read",
               c.source, reader_kind, finding_code(f), c.output_reader_bundle, tiled ? "disc" : "tile");
  }
  const Manifest manifest = read_manifest(im.manifest);
  s.train = of_modalities(train::images_of(manifest, train::studies_in(manifest, im.splits)), im.modalities);
  if (s.train.empty())
    fail(ErrorCode::InvalidArgument, "{}: data.manifest '{}' has no image of data.modalities in the splits data.splits names",
         c.source, im.manifest);
  PreprocessOptions pre = train::training_preprocess(im.image_size);
  pre.region = im.region;
  pre.disc_side = im.disc_side;
  pre.tile_grid = static_cast<int>(im.tile_grid);
  pre.tile_stride = static_cast<int>(im.tile_stride > 0 ? im.tile_stride : im.image_size);
  preprocessed_side(pre);  // checks the tiles
  s.preprocess = pre;
  if (tiled) {
    s.tiled = true;
    s.tiles = tile_count(pre);
    // A tile learns a finding from its marks: a finding shown in training images but never marked
    // cannot be placed in a tile.
    for (Finding f : c.reader_findings) {
      bool shown = false, marked = false;
      for (const train::TrainImage& t : s.train) {
        shown = shown || t.targets.findings[static_cast<size_t>(f)] == 1;
        if (t.lesions)
          for (const LesionMark& m : *t.lesions) marked = marked || m.finding == f;
      }
      if (shown && !marked)
        fail(ErrorCode::InvalidArgument, "{}: output.tile_reader.findings names {}, which data.manifest '{}' shows but "
             "never marks (lesions): a tile reader learns where a finding is from its marks", c.source, finding_code(f),
             im.manifest);
    }
  }
  s.threads = threads;
  if (!im.validation_manifest.empty()) {
    const Manifest v = read_manifest(im.validation_manifest);
    s.validation = of_modalities(train::images_of(v, train::studies_in(v, im.validation_splits)), im.modalities);
    if (!s.validation.empty())
      s.validation_pixels = train::preprocess_images(s.validation, pre, threads, at::kHalf, &s.validation_lesions);
  }

  s.encoder.emplace(im.encoder_from.empty() ? TrainableResNet::random(im.encoder_arch, c.seed, im.encoder_width)
                                            : TrainableResNet::load(im.encoder_from, im.encoder_arch));
  s.heads.emplace(im.heads_from.empty() ? AuxiliaryHeads::random(s.encoder->channels(), c.seed ^ 0x4EADull)
                                        : AuxiliaryHeads::load(im.heads_from));
  if (s.heads->channels() != s.encoder->channels())
    fail(ErrorCode::InvalidArgument, "{}: heads.from '{}' reads C = {} channels but the encoder gives C = {}", c.source,
         im.heads_from, s.heads->channels(), s.encoder->channels());
  for (const auto& [name, t] : s.parameters()) t.requires_grad_(true);
  for (size_t i = 0; i < s.train.size(); ++i) {
    const auto times = static_cast<size_t>(im.oversample[static_cast<size_t>(s.train[i].modality)]);
    if (!tiled) {
      s.entries.insert(s.entries.end(), times, static_cast<int64_t>(i));
      continue;
    }
    const ImageTargets t = reader_targets(s.train[i].targets, c.reader_findings);
    if (std::all_of(t.findings.begin(), t.findings.end(), [](int8_t v) { return v < 0; })) continue;  // ungradable
    for (size_t k = 0; k < times; ++k)
      for (int64_t kind : {0, 1}) s.entries.push_back(2 * static_cast<int64_t>(i) + kind);
  }
  if (s.entries.empty())
    fail(ErrorCode::InvalidArgument, "{}: no training image has a target for output.tile_reader.findings", c.source);
  s.order.emplace(static_cast<int64_t>(s.entries.size()), c.batch_size, c.seed);
  s.optimizer = std::make_unique<AdamW>(s.parameters(), c.adamw);
  const int64_t micro_batches = c.epochs * s.order->batches_per_epoch();
  s.schedule = {c.lr, c.min_lr, c.warmup_steps, c.steps > 0 ? c.steps : (micro_batches + c.grad_accum - 1) / c.grad_accum};
}

VisionTrainer::~VisionTrainer() = default;

int64_t VisionTrainer::step() const { return s_->step; }
int64_t VisionTrainer::total_steps() const { return s_->schedule.total_steps; }
int64_t VisionTrainer::train_images() const { return static_cast<int64_t>(s_->train.size()); }

ImageStepReport VisionTrainer::train_step() {
  State& s = *s_;
  const TrainConfig& c = s.config;
  if (!s.train_pixels.defined())  // the first step (not counted in its time)
    s.train_pixels = train::preprocess_images(s.train, s.preprocess, s.threads, at::kHalf, &s.train_lesions);
  const auto start = std::chrono::steady_clock::now();
  std::vector<at::Tensor> tensors;
  for (const auto& [name, t] : s.parameters()) {
    t.mutable_grad() = at::Tensor();
    tensors.push_back(t);
  }
  ImageStepReport r;
  s.encoder->set_training(true);
  for (int64_t j = 0; j < c.grad_accum; ++j) {
    const int64_t micro_batch = s.step * c.grad_accum + j;
    std::vector<int64_t> batch = s.order->batch(micro_batch);
    for (int64_t& i : batch) i = s.entries[static_cast<size_t>(i)];
    at::Tensor pixels;
    std::vector<ImageTargets> targets;
    std::optional<ReadBatch> tiles;
    if (s.tiled) {
      tiles = training_tiles(s.train_pixels, s.train, s.train_lesions, s.preprocess, c.reader_findings, batch,
                             c.seed, micro_batch);
      pixels = tiles->pixels, targets = tiles->targets;
    } else {
      std::tie(pixels, targets) = gather(s.train_pixels, s.train, batch);
    }
    VisionFeatures features;
    {
      const train::AutocastScope autocast(c.precision);
      features = s.encoder->forward(pixels);
    }
    at::Tensor loss = s.heads->loss(s.heads->forward(features.pooled.to(at::kFloat)), targets, c.images.head_weights);
    if (c.images.head_weights.lesions > 0)
      loss = loss + c.images.head_weights.lesions *
                        s.heads->lesion_loss(s.heads->lesion_logits(features.tokens.to(at::kFloat)),
                                             tiles ? tiles->lesions(features.grid_height, features.grid_width)
                                                   : train::lesion_targets(s.train, s.train_lesions, batch,
                                                                           features.grid_height, features.grid_width));
    loss = loss / static_cast<double>(c.grad_accum);
    loss.backward();
    r.loss += loss.item<double>();
    r.items += static_cast<int64_t>(batch.size());
  }
  s.encoder->set_training(false);
  std::tie(r.grad_norm, r.lr) = train::finish_step(*s.optimizer, tensors, s.schedule, s.step, c.grad_clip);
  ++s.step;
  r.step = s.step;
  r.total_steps = s.schedule.total_steps;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}

nlohmann::json VisionTrainer::validate() {
  State& s = *s_;
  if (s.validation.empty())
    fail(ErrorCode::InvalidArgument, "{}: no validation images (data.validation_manifest)", s.config.source);
  at::NoGradGuard no_grad;
  s.encoder->set_training(false);
  const int64_t n = static_cast<int64_t>(s.validation.size());
  double loss = 0, lesion_loss = 0;
  int64_t modality_right = 0, gradable_right = 0, gradable_n = 0;
  std::array<BinaryCounts, kFindingCount> cells{};  // lesion maps, over the supervised cells
  std::array<int64_t, kGradeScaleCount> grade_right{}, grade_n{};
  std::array<std::vector<std::vector<int64_t>>, kGradeScaleCount> confusion;  // [truth][predicted]
  for (int g = 0; g < kGradeScaleCount; ++g) {
    const auto levels = static_cast<size_t>(grade_scale_info(static_cast<GradeScale>(g)).levels);
    confusion[static_cast<size_t>(g)].assign(levels, std::vector<int64_t>(levels, 0));
  }
  s.validation_predictions.clear();
  s.validation_targets.clear();
  s.validated_at = -1;  // until the whole split is read
  // With tiles, a batch holds the tiles of batch_size / g² images, and each image is read as the
  // largest over its tiles (max_over_tiles) and scored on the reader's findings only.
  const int64_t per_batch = s.tiled ? std::max<int64_t>(1, s.config.batch_size / s.tiles) : s.config.batch_size;
  int64_t units = 0;  // images, or tiles
  for (int64_t begin = 0; begin < n; begin += per_batch) {
    std::vector<int64_t> batch;
    for (int64_t i = begin; i < std::min(n, begin + per_batch); ++i) batch.push_back(i);
    at::Tensor pixels;
    std::vector<ImageTargets> targets;
    std::optional<ReadBatch> tiles;
    if (s.tiled) {
      tiles.emplace();
      std::vector<at::Tensor> cut;
      for (int64_t i : batch)
        for (int k = 0; k < s.tiles; ++k)
          tiles->add_tile(s.validation_pixels, i, s.preprocess, k, s.validation[static_cast<size_t>(i)],
                          s.validation_lesions[static_cast<size_t>(i)], s.config.reader_findings, cut);
      tiles->pixels = at::stack(cut).to(at::kFloat, false, false, at::MemoryFormat::ChannelsLast);
      pixels = tiles->pixels, targets = tiles->targets;
    } else {
      std::tie(pixels, targets) = gather(s.validation_pixels, s.validation, batch);
    }
    const auto read = static_cast<double>(targets.size());
    units += static_cast<int64_t>(targets.size());
    const VisionFeatures features = s.encoder->forward(pixels);
    HeadLogits logits = s.heads->forward(features.pooled);
    loss += s.heads->loss(logits, targets, s.config.images.head_weights).item<double>() * read;
    if (s.config.images.head_weights.lesions > 0) {
      const LesionTargets lesions = tiles ? tiles->lesions(features.grid_height, features.grid_width)
                                          : train::lesion_targets(s.validation, s.validation_lesions, batch,
                                                                  features.grid_height, features.grid_width);
      const at::Tensor map = s.heads->lesion_logits(features.tokens);
      lesion_loss += s.heads->lesion_loss(map, lesions).item<double>() * read;
      logits.lesion_peaks = std::get<0>(map.max(1));  // the lesion maps' peaks: calibration may read findings by them
      const at::Tensor yes = (map > 0).to(at::kFloat) * lesions.supervised.unsqueeze(1);  // (B, N, F)
      const at::Tensor truth = lesions.cells * lesions.supervised.unsqueeze(1);
      const std::vector<int64_t> over_cells = {0, 1};
      const at::Tensor counts = at::stack({(yes * truth).sum(over_cells), (yes * (1 - truth)).sum(over_cells),
                                           ((1 - yes) * truth).sum(over_cells)})
                                    .to(at::kLong)
                                    .contiguous();  // (3, F): true positives, false positives, false negatives
      const int64_t* count = counts.data_ptr<int64_t>();
      for (int f = 0; f < kFindingCount; ++f) {
        cells[f].true_positives += count[f];
        cells[f].false_positives += count[kFindingCount + f];
        cells[f].false_negatives += count[2 * kFindingCount + f];
      }
    }
    std::vector<HeadPrediction> predicted = s.heads->predict(logits);
    if (s.tiled) {  // each image from its tiles, on the reader's findings
      std::vector<HeadPrediction> images;
      targets.clear();
      for (size_t b = 0; b < batch.size(); ++b) {
        images.push_back(max_over_tiles(predicted.data() + b * static_cast<size_t>(s.tiles), static_cast<size_t>(s.tiles)));
        targets.push_back(reader_targets(s.validation[static_cast<size_t>(batch[b])].targets, s.config.reader_findings));
      }
      predicted = std::move(images);
    }
    for (size_t b = 0; b < batch.size(); ++b) {
      const ImageTargets& t = targets[b];
      const HeadPrediction& p = predicted[b];
      modality_right += static_cast<int>(p.modality) == t.modality;
      if (t.gradable >= 0) gradable_n += 1, gradable_right += (p.gradable_probability >= 0.5f) == (t.gradable == 1);
      for (int g = 0; g < kGradeScaleCount; ++g)
        if (t.grades[g] >= 0) {
          grade_n[g] += 1, grade_right[g] += p.grade[g] == t.grades[g];
          confusion[static_cast<size_t>(g)].at(static_cast<size_t>(t.grades[g])).at(static_cast<size_t>(p.grade[g])) += 1;
        }
    }
    s.validation_predictions.insert(s.validation_predictions.end(), predicted.begin(), predicted.end());
    s.validation_targets.insert(s.validation_targets.end(), targets.begin(), targets.end());
  }
  s.validated_at = s.step;
  nlohmann::json out = findings_f1(s.validation_predictions, s.validation_targets);
  out["loss"] = loss / static_cast<double>(units);
  out["modality_accuracy"] = static_cast<double>(modality_right) / static_cast<double>(n);
  if (gradable_n) out["gradable_accuracy"] = static_cast<double>(gradable_right) / static_cast<double>(gradable_n);
  if (s.config.images.head_weights.lesions > 0) {
    out["lesion_loss"] = lesion_loss / static_cast<double>(units);
    nlohmann::json cell_f1 = nlohmann::json::object();  // per finding, over the supervised cells
    for (int f = 0; f < kFindingCount; ++f)
      if (cells[f].support() > 0) cell_f1[finding_code(static_cast<Finding>(f))] = cells[f].f1();
    out["lesion_cell_f1"] = cell_f1;
  }
  for (int g = 0; g < kGradeScaleCount; ++g)
    if (grade_n[g]) {
      const std::string code = grade_scale_info(static_cast<GradeScale>(g)).code;
      out[code + "_accuracy"] = static_cast<double>(grade_right[g]) / static_cast<double>(grade_n[g]);
      out[code + "_confusion"] = confusion[static_cast<size_t>(g)];
    }
  return out;
}

nlohmann::json VisionTrainer::calibrate_thresholds() {
  State& s = *s_;
  if (s.validated_at != s.step) validate();
  const FindingReading reading = calibrated_finding_reading(s.validation_predictions, s.validation_targets,
                                                            s.config.images.calibration_min_positives);
  s.heads->set_finding_thresholds(reading.thresholds);
  s.heads->set_finding_sources(reading.sources);
  std::vector<HeadPrediction> read = s.validation_predictions;
  for (HeadPrediction& p : read) p.finding_threshold = reading.thresholds, p.finding_source = reading.sources;
  nlohmann::json out = findings_f1(read, s.validation_targets);
  nlohmann::json thresholds = nlohmann::json::object(), sources = nlohmann::json::object();
  // The best F1 of each finding's pooled head and lesion peak, where tried.
  nlohmann::json pooled_f1 = nlohmann::json::object(), peak_f1 = nlohmann::json::object();
  for (int f = 0; f < kFindingCount; ++f) {
    const char* code = finding_code(static_cast<Finding>(f));
    thresholds[code] = reading.thresholds[static_cast<size_t>(f)];
    sources[code] = reading.sources[static_cast<size_t>(f)] == FindingSource::LesionPeak ? "lesion_peak" : "pooled";
    if (reading.pooled_f1[static_cast<size_t>(f)] >= 0) pooled_f1[code] = reading.pooled_f1[static_cast<size_t>(f)];
    if (reading.lesion_peak_f1[static_cast<size_t>(f)] >= 0) peak_f1[code] = reading.lesion_peak_f1[static_cast<size_t>(f)];
  }
  out["finding_thresholds"] = thresholds;
  out["finding_sources"] = sources;
  out["pooled_f1"] = pooled_f1;
  out["lesion_peak_f1"] = peak_f1;
  // The grades as the calibrated heads read an image (heads_reading: an ordinal grade raised to
  // what its likely findings define), against the truth.
  std::array<int64_t, kGradeScaleCount> right{}, graded{};
  for (size_t i = 0; i < read.size(); ++i) {
    const EyeLabels labels = heads_reading(read[i], s.validation[i].modality);
    for (int g = 0; g < kGradeScaleCount; ++g) {
      const int8_t truth = s.validation_targets[i].grades[static_cast<size_t>(g)];
      if (truth < 0) continue;  // an image read ungradable states no grade: wrong
      const auto level = labels.grades.find(static_cast<GradeScale>(g));
      graded[g] += 1, right[g] += level != labels.grades.end() && level->second == truth;
    }
  }
  nlohmann::json read_accuracy = nlohmann::json::object();
  for (int g = 0; g < kGradeScaleCount; ++g)
    if (graded[g]) read_accuracy[grade_scale_info(static_cast<GradeScale>(g)).code] = static_cast<double>(right[g]) / graded[g];
  out["read_grades_accuracy"] = read_accuracy;
  return out;
}

void VisionTrainer::save_checkpoint() const {
  const State& s = *s_;
  if (s.config.checkpoint_dir.empty()) return;
  std::vector<std::pair<std::string, at::Tensor>> buffers;
  for (const auto& [name, t] : s.encoder->named_buffers()) buffers.emplace_back("encoder." + name, t);
  train::save_run_checkpoint(Trainer::checkpoint_path(s.config.checkpoint_dir), s.parameters(), buffers, *s.optimizer, s.step,
                             s.config.run_identity());
}

void VisionTrainer::resume() {
  State& s = *s_;
  if (s.config.checkpoint_dir.empty())
    fail(ErrorCode::InvalidArgument, "{}: resuming needs checkpoint.dir", s.config.source);
  const std::string path = Trainer::checkpoint_path(s.config.checkpoint_dir);
  std::vector<std::pair<std::string, at::Tensor>> buffers;
  for (const auto& [name, t] : s.encoder->named_buffers()) buffers.emplace_back("encoder." + name, t);
  s.step = train::load_run_checkpoint(path, s.parameters(), buffers, *s.optimizer, s.config.run_identity());
  if (!s.config.metrics_log.empty()) s.metrics = std::make_unique<train::MetricsLog>(s.config.metrics_log, s.step);
}

std::vector<std::string> VisionTrainer::write_outputs() const {
  const State& s = *s_;
  std::vector<std::string> written;
  if (!s.config.output_encoder.empty()) s.encoder->save(s.config.output_encoder), written.push_back(s.config.output_encoder);
  if (!s.config.output_heads.empty()) s.heads->save(s.config.output_heads), written.push_back(s.config.output_heads);
  if (!s.config.output_reader_bundle.empty()) {
    // Into the bundle as its disc or tile reader: the weights first (each file atomic), the
    // manifest last, so the bundle names the new reader only once both files are whole.
    ModelBundle bundle = read_bundle_manifest(s.config.output_reader_bundle);
    const std::string kind = s.tiled ? "tile" : "disc";
    BundleRegionReader reader;
    reader.encoder_arch = std::string(encoder_arch_name(s.config.images.encoder_arch));
    reader.encoder = kind + "-encoder.safetensors";
    reader.heads = kind + "-heads.safetensors";
    reader.preprocessing = s.preprocess;
    reader.findings = s.config.reader_findings;
    s.encoder->save(bundle.path_of(reader.encoder));
    s.heads->save(bundle.path_of(reader.heads));
    (s.tiled ? bundle.tile_reader : bundle.disc_reader) = reader;
    write_bundle_manifest(bundle);
    written.push_back(bundle.folder);
  }
  if (!s.config.loss_plot.empty() && !s.config.metrics_log.empty()) {
    train::draw_loss_curve(s.config.metrics_log, s.config.loss_plot);
    written.push_back(s.config.loss_plot);
  }
  return written;
}

void VisionTrainer::run(const std::function<bool(const ImageStepReport&)>& on_step, int64_t max_steps) {
  State& s = *s_;
  const TrainConfig& c = s.config;
  if (!c.metrics_log.empty() && !s.metrics) s.metrics = std::make_unique<train::MetricsLog>(c.metrics_log, -1);
  const int64_t stop = max_steps < 0 ? s.schedule.total_steps : std::min(s.schedule.total_steps, s.step + max_steps);
  while (s.step < stop) {
    ImageStepReport r = train_step();
    const bool last = s.step == s.schedule.total_steps;
    if (s.metrics)
      s.metrics->append({{"step", r.step}, {"loss", r.loss}, {"lr", r.lr}, {"grad_norm", r.grad_norm},
                         {"images", r.items}, {"images_per_s", r.items / std::max(r.seconds, 1e-9)}});
    if (!s.validation.empty() && (last || (c.validation_every > 0 && s.step % c.validation_every == 0))) {
      const nlohmann::json v = validate();
      r.validation_loss = v["loss"].get<double>();
      if (s.metrics) {
        nlohmann::json record = {{"step", r.step}, {"val_loss", *r.validation_loss}};
        for (const auto& [key, value] : v.items())
          if (key != "loss") record["val_" + key] = value;
        s.metrics->append(record);
      }
    }
    if (last || (c.checkpoint_every > 0 && s.step % c.checkpoint_every == 0)) save_checkpoint();
    const bool go_on = !on_step || on_step(r);
    if (!go_on && !last) {
      save_checkpoint();
      break;
    }
  }
  if (s.step != s.schedule.total_steps) return;
  if (c.images.calibrate_thresholds) {
    const nlohmann::json v = calibrate_thresholds();
    if (s.metrics)
      s.metrics->append({{"step", s.step},
                         {"val_calibrated_findings_macro_f1", v["findings_macro_f1"]},
                         {"val_calibrated_findings_f1", v["findings_f1"]},
                         {"finding_thresholds", v["finding_thresholds"]},
                         {"finding_sources", v["finding_sources"]},
                         {"val_pooled_findings_f1", v["pooled_f1"]},
                         {"val_lesion_peak_findings_f1", v["lesion_peak_f1"]},
                         {"val_read_grades_accuracy", v["read_grades_accuracy"]}});
  }
  write_outputs();
}

}  // namespace ophtha
