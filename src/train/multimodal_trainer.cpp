// MultimodalTrainer (train_stages.hpp): the projector, and unless aligning the LLM, learn to write
// the reference report from a study's images (and, on the text-only route, its findings text).
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <tuple>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include "llm/cpu_threads.hpp"
#include "train/mixed_precision.hpp"
#include "ophtha/error.hpp"
#include "ophtha/evaluation.hpp"
#include "ophtha/feedback_store.hpp"
#include "ophtha/heads_findings.hpp"
#include "ophtha/multimodal_prompt.hpp"
#include "ophtha/random.hpp"
#include "ophtha/report_pipeline.hpp"
#include "ophtha/train_stages.hpp"
#include "train/train_checkpoint.hpp"
#include "train/train_images.hpp"
#include "train/train_metrics.hpp"
#include "train/train_runtime.hpp"

namespace ophtha {

namespace {

// One (study, language, route) example: tokens with −1 in image rows, the loss weight of each
// position as a target (0 = context), and the images whose embeddings fill the −1 rows, in order.
struct ImageSequence {
  std::vector<int32_t> tokens;
  std::vector<float> weight;
  std::vector<int64_t> images;  // indices into the trainer's image features
  bool corrected = false;
};

// The images' features pooled to p × p once (the encoder is frozen): [N, p·p, C] f32.
struct EncodedImages {
  at::Tensor tokens;
  at::Tensor pooled;                  // [N, C] the encoder's global average pool (the heads' input)
  at::Tensor lesion_peaks;            // [N, kFindingCount] the heads' lesion-map peaks, when the heads read them
  std::vector<HeadPrediction> heads;  // per image, with data.heads_findings
  std::vector<Modality> modalities;
  std::vector<Eye> eyes;
  int64_t grid = 0;  // p (0: the encoder's own tokens)
};

// `peaks_of`: heads that read findings by their lesion-map peaks (taken from the full grid, before
// pooling), or nullptr.
EncodedImages encode_images(const VisionEncoder& encoder, const std::vector<train::TrainImage>& images,
                            const PreprocessOptions& pre, int64_t pool_side, int threads,
                            const AuxiliaryHeads* peaks_of) {
  EncodedImages out;
  out.grid = pool_side;
  if (images.empty()) return out;
  // Preprocessed a chunk at a time: all of a large set's pixels in f32 would not fit in memory.
  constexpr size_t kChunk = 256;
  constexpr int64_t kBatch = 32;
  std::vector<at::Tensor> parts, pooled, peaks;
  at::NoGradGuard no_grad;
  for (size_t first = 0; first < images.size(); first += kChunk) {
    const auto from = images.begin() + static_cast<std::ptrdiff_t>(first);
    const std::vector<train::TrainImage> chunk(from, from + static_cast<std::ptrdiff_t>(std::min(kChunk, images.size() - first)));
    const at::Tensor pixels = train::preprocess_images(chunk, pre, threads, at::kFloat);
    for (int64_t begin = 0; begin < pixels.size(0); begin += kBatch) {
      const VisionFeatures f = encoder.encode(pixels.slice(0, begin, std::min(pixels.size(0), begin + kBatch)));
      pooled.push_back(f.pooled.contiguous());
      if (peaks_of) peaks.push_back(peaks_of->lesion_peaks(f.tokens).contiguous());
      at::Tensor t = f.tokens;  // [B, N, C]
      if (pool_side > 0 && f.grid_height > 0) {
        const at::Tensor grid = t.transpose(1, 2).reshape({t.size(0), t.size(2), f.grid_height, f.grid_width});
        t = at::adaptive_avg_pool2d(grid, {pool_side, pool_side}).flatten(2).transpose(1, 2);
      } else if (pool_side > 0) {
        t = at::adaptive_avg_pool1d(t.transpose(1, 2), pool_side * pool_side).transpose(1, 2);
      }
      parts.push_back(t.contiguous());
    }
  }
  out.tokens = at::cat(parts, 0);
  out.pooled = at::cat(pooled, 0);
  if (peaks_of) out.lesion_peaks = at::cat(peaks, 0);
  for (const train::TrainImage& image : images) out.modalities.push_back(image.modality), out.eyes.push_back(image.eye);
  return out;
}

// The heads' predictions for encoded images, a batch at a time.
std::vector<HeadPrediction> predict_heads(const AuxiliaryHeads& heads, const EncodedImages& images) {
  at::NoGradGuard no_grad;
  std::vector<HeadPrediction> out;
  const at::Tensor& pooled = images.pooled;
  for (int64_t begin = 0; begin < pooled.size(0); begin += 256) {
    const int64_t end = std::min(pooled.size(0), begin + 256);
    HeadLogits logits = heads.forward(pooled.slice(0, begin, end));
    if (images.lesion_peaks.defined()) logits.lesion_peaks = images.lesion_peaks.slice(0, begin, end);
    std::vector<HeadPrediction> part = heads.predict(logits);
    out.insert(out.end(), part.begin(), part.end());
  }
  return out;
}

// A bundle description of what this run trains (written at export, and what prompts follow).
ModelBundle bundle_for(const TrainConfig& c) {
  ModelBundle b;
  b.name = c.images.bundle_name;
  b.description = c.images.bundle_description;
  b.disclaimer = c.images.disclaimer;
  b.llm = "llm.gguf";
  b.encoder_arch = std::string(encoder_arch_name(c.images.encoder_arch));
  b.encoder = "encoder.safetensors";
  b.projector = "projector.safetensors";
  b.heads = c.images.heads_from.empty() ? "" : "heads.safetensors";
  for (Modality m : {Modality::Cfp, Modality::Oct, Modality::Osa})
    b.preprocessing[m] = train::training_preprocess(c.images.image_size);
  b.prompt = default_bundle_prompt();
  b.prompt.heads_findings = c.images.heads_findings;
  b.languages = c.images.languages;
  b.generation.candidates = c.images.report_candidates;
  b.generation.candidate_temperature = static_cast<float>(c.images.candidate_temperature);
  b.generation.evidence_weight = static_cast<float>(c.images.evidence_weight);
  b.generation.line_drafts = c.images.line_drafts;
  b.generation.sentence_insertions = c.images.sentence_insertions;
  b.generation.guided_drafts = c.images.guided_drafts;
  b.generation.drop_unsupported_findings = c.images.drop_unsupported_findings;
  return b;
}

void copy_file(const std::string& from, const std::string& to) {
  std::error_code e;
  std::filesystem::copy_file(from, to, std::filesystem::copy_options::overwrite_existing, e);
  if (e) fail(ErrorCode::Io, "cannot copy '{}' to '{}': {}", from, to, e.message());
}

}  // namespace

struct MultimodalTrainer::State {
  TrainConfig config;
  ModelBundle bundle;
  std::optional<TrainableLlama> model;
  std::shared_ptr<const VisionEncoder> encoder;
  std::optional<FeatureProjector> projector;
  EncodedImages train_images, validation_images;
  std::vector<ImageSequence> train, validation;
  Manifest validation_manifest;
  std::vector<const Study*> validation_studies;
  std::optional<BatchOrder> order;
  std::unique_ptr<AdamW> optimizer;
  LrSchedule schedule;
  int64_t step = 0, corrected = 0, dropped = 0;
  int32_t pad_id = 0;
  std::unique_ptr<train::MetricsLog> metrics;

  std::vector<std::pair<std::string, at::Tensor>> parameters() const {
    std::vector<std::pair<std::string, at::Tensor>> all;
    for (const auto& [name, t] : projector->named_parameters()) all.emplace_back("projector." + name, t);
    for (const auto& [name, t] : model->trainable_parameters()) all.emplace_back("llm." + name, t);
    return all;
  }

  // The sequences of `studies` (images numbered from `first_image` in study order).
  std::vector<ImageSequence> sequences_of(const std::vector<const Study*>& studies, double text_only_fraction,
                                          const std::map<std::pair<std::string, std::string>, Correction>& corrections,
                                          int64_t max_tokens) {
    const Tokenizer& tokenizer = model->tokenizer();
    const int64_t per_image = config.images.pool_side > 0 ? config.images.pool_side * config.images.pool_side : 0;
    PromptTemplateOptions layout_options;
    layout_options.image_marker = bundle.prompt.image_marker;
    std::vector<ImageSequence> out;
    Random pick(config.seed ^ 0x7E47ull);
    int64_t image = 0;
    for (const Study* study : studies) {
      const int64_t first = image;
      image += static_cast<int64_t>(study->images.size());
      for (const std::string& lang : config.images.languages) {
        std::string report;
        bool corrected_here = false;
        if (auto c = corrections.find({study->id, lang}); c != corrections.end()) {
          report = c->second.report;
          corrected_here = true;
        } else if (auto r = study->reports.find(lang); r != study->reports.end()) {
          report = r->second;
        } else {
          continue;
        }
        const float weight = corrected_here ? static_cast<float>(config.images.correction_weight) : 1.0f;
        const bool text_only_too = text_only_fraction > 0 && pick.uniform() < text_only_fraction;
        for (int route = 0; route < (text_only_too ? 2 : 1); ++route) {
          ImageSequence s;
          s.corrected = corrected_here;
          std::vector<PromptImage> described;
          std::vector<int64_t> counts;
          std::string findings;
          if (route == 0) {
            for (size_t i = 0; i < study->images.size(); ++i) {
              described.push_back({study->images[i].modality, study->images[i].eye});
              counts.push_back(per_image > 0 ? per_image : train_images.tokens.size(1));
              s.images.push_back(first + static_cast<int64_t>(i));
            }
            if (config.images.heads_findings) {
              std::vector<HeadPrediction> predictions;
              std::vector<HeadsFindingsImage> read;
              for (size_t i = 0; i < study->images.size(); ++i) {
                predictions.push_back(train_images.heads.at(static_cast<size_t>(first) + i));
                read.push_back({study->images[i].modality, study->images[i].eye});
              }
              findings = with_heads_findings("", predictions, read, lang);
            }
          } else {
            findings = study_findings_text(*study);
            if (findings.empty()) continue;
          }
          const MultimodalPromptLayout layout = layout_multimodal_prompt(
              tokenizer, report_prompt_text(bundle, described, findings, lang), findings, counts, layout_options);
          s.tokens = layout.token_ids;
          s.weight.assign(s.tokens.size(), 0.0f);
          std::vector<int32_t> response = tokenizer.encode(report, false);
          response.push_back(tokenizer.eos_id());
          if (static_cast<int64_t>(s.tokens.size()) + 1 >= max_tokens) {
            ++dropped;
            continue;
          }
          const size_t room = static_cast<size_t>(max_tokens) - s.tokens.size();
          if (response.size() > room) response.resize(room);
          s.tokens.insert(s.tokens.end(), response.begin(), response.end());
          s.weight.insert(s.weight.end(), response.size(), weight);
          corrected += s.corrected;
          out.push_back(std::move(s));
        }
      }
    }
    return out;
  }

  // The loss of a batch (sum of weight · CE over learned positions, divided by `normaliser`).
  at::Tensor batch_loss(const std::vector<const ImageSequence*>& batch, const EncodedImages& images, double normaliser,
                        int64_t* tokens) {
    int64_t longest = 0;
    for (const ImageSequence* s : batch) longest = std::max<int64_t>(longest, static_cast<int64_t>(s->tokens.size()));
    const int64_t B = static_cast<int64_t>(batch.size()), T = longest - 1;
    at::Tensor ids = at::full({B, T}, pad_id, at::kLong), targets = at::full({B, T}, pad_id, at::kLong);
    at::Tensor mask = at::zeros({B, T}, at::kFloat);
    auto id = ids.accessor<int64_t, 2>();
    auto target = targets.accessor<int64_t, 2>();
    auto m = mask.accessor<float, 2>();
    std::vector<int64_t> rows, image_index;
    for (int64_t b = 0; b < B; ++b) {
      const ImageSequence& s = *batch[static_cast<size_t>(b)];
      const int64_t n = static_cast<int64_t>(s.tokens.size());
      *tokens += n - 1;
      for (int64_t t = 0; t + 1 < n; ++t) {
        if (s.tokens[t] >= 0) id[b][t] = s.tokens[t];
        else rows.push_back(b * T + t);
        if (s.tokens[t + 1] >= 0) target[b][t] = s.tokens[t + 1];
        m[b][t] = s.weight[static_cast<size_t>(t + 1)];
      }
      image_index.insert(image_index.end(), s.images.begin(), s.images.end());
    }
    at::Tensor embeddings = model->embed(ids);
    if (!image_index.empty()) {
      const at::Tensor index = at::tensor(image_index, at::kLong);
      VisionFeatures f;
      f.tokens = images.tokens.index_select(0, index);
      f.pooled = f.tokens.mean(1);
      if (images.grid > 0) f.grid_height = f.grid_width = images.grid;
      std::vector<Modality> modalities;
      std::vector<Eye> eyes;
      for (int64_t i : image_index)
        modalities.push_back(images.modalities[static_cast<size_t>(i)]), eyes.push_back(images.eyes[static_cast<size_t>(i)]);
      const at::Tensor projected = projector->project(f, modalities, eyes);  // [n, N', d]
      const int64_t d = embeddings.size(2);
      embeddings = embeddings.reshape({B * T, d})
                       .index_copy(0, at::tensor(rows, at::kLong), projected.reshape({-1, d}))
                       .reshape({B, T, d});
    }
    return model->masked_loss(embeddings, targets, mask, normaliser);
  }
};

MultimodalTrainer::MultimodalTrainer(TrainConfig config) : s_(std::make_unique<State>()) {
  State& s = *s_;
  s.config = std::move(config);
  const TrainConfig& c = s.config;
  const ImageTrainConfig& im = c.images;
  if (c.stage != TrainStage::Multimodal)
    fail(ErrorCode::InvalidArgument, "{}: MultimodalTrainer runs the multimodal stage, not this configuration's", c.source);
  if (c.min_lr > c.lr)
    fail(ErrorCode::InvalidArgument, "{}: optimizer.min_lr {} is above optimizer.lr {}", c.source, c.min_lr, c.lr);
  const int threads = c.threads > 0 ? c.threads : llm::available_cores();
  train::keep_large_blocks_on_the_heap();
  s.bundle = bundle_for(c);

  s.model.emplace(train::build_model(c));
  if (c.method == TrainMethod::Lora)
    s.model->add_lora(c.lora, c.seed);
  else if (c.method == TrainMethod::Full)
    s.model->make_all_trainable();
  s.encoder = load_vision_encoder(im.encoder_from, im.encoder_arch);
  const int64_t dim = s.model->config().dim;
  if (im.projector_from.empty()) {
    ProjectorConfig pc;
    pc.kind = im.projector_kind;
    pc.vision_channels = s.encoder->channels();
    pc.embedding_dim = dim;
    pc.pool_side = im.pool_side;
    s.projector.emplace(FeatureProjector::random(pc, c.seed ^ 0x9A0Full));
  } else {
    s.projector.emplace(FeatureProjector::load(im.projector_from));
  }
  check_projector_fits(*s.projector, s.encoder->channels(), dim);
  std::optional<AuxiliaryHeads> heads;
  if (!im.heads_from.empty()) {
    heads.emplace(AuxiliaryHeads::load(im.heads_from));
    if (heads->channels() != s.encoder->channels())
      fail(ErrorCode::InvalidArgument, "{}: heads.from '{}' reads C = {} channels but the encoder gives C = {}", c.source,
           im.heads_from, heads->channels(), s.encoder->channels());
  }
  if (im.heads_findings && !heads)
    fail(ErrorCode::InvalidArgument, "{}: data.heads_findings needs the auxiliary heads that read the images: set heads.from",
         c.source);
  for (const auto& [name, t] : s.projector->named_parameters()) t.requires_grad_(true);

  std::map<std::pair<std::string, std::string>, Correction> corrections;
  if (!im.corrections.empty()) corrections = read_corrections(im.corrections).latest();

  const int64_t max_tokens = c.max_tokens > 0 ? c.max_tokens : s.model->config().context_length;
  if (max_tokens > s.model->config().context_length)
    fail(ErrorCode::InvalidArgument, "{}: data.max_tokens is {}, more than the model's context length {}", c.source,
         max_tokens, s.model->config().context_length);
  const PreprocessOptions pre = train::training_preprocess(im.image_size);
  at::set_num_threads(threads);  // the encoder's convolutions
  const Manifest manifest = read_manifest(im.manifest);
  const std::vector<const Study*> studies = train::studies_in(manifest, im.splits);
  const AuxiliaryHeads* peaks_of = im.heads_findings && heads->reads_lesion_peaks() ? &*heads : nullptr;
  s.train_images = encode_images(*s.encoder, train::images_of(manifest, studies), pre, im.pool_side, threads, peaks_of);
  if (!im.validation_manifest.empty()) {
    s.validation_manifest = read_manifest(im.validation_manifest);
    s.validation_studies = train::studies_in(s.validation_manifest, im.validation_splits);
    s.validation_images = encode_images(*s.encoder, train::images_of(s.validation_manifest, s.validation_studies), pre,
                                        im.pool_side, threads, peaks_of);
  }
  if (im.heads_findings) {
    if (s.train_images.pooled.defined()) s.train_images.heads = predict_heads(*heads, s.train_images);
    if (s.validation_images.pooled.defined()) s.validation_images.heads = predict_heads(*heads, s.validation_images);
  }
  train::claim_threads(c.threads, c.precision);  // from here on the language model (train_runtime.hpp)

  s.train = s.sequences_of(studies, im.text_only_fraction, corrections, max_tokens);
  if (s.train.empty())
    fail(ErrorCode::InvalidArgument, "{}: data.manifest '{}' gives no training sequence (no study of the splits with a "
         "reference report in {} that fits data.max_tokens {})", c.source, im.manifest, fmt::join(im.languages, " or "),
         max_tokens);
  {
    const int64_t corrected_train = s.corrected;
    std::swap(s.train_images, s.validation_images);  // lay out validation sequences against their own images
    s.validation = s.sequences_of(s.validation_studies, im.text_only_fraction, {}, max_tokens);
    std::swap(s.train_images, s.validation_images);
    s.corrected = corrected_train;
  }
  s.pad_id = s.model->tokenizer().eos_id();
  std::vector<int64_t> lengths;
  for (const ImageSequence& t : s.train) lengths.push_back(static_cast<int64_t>(t.tokens.size()));
  s.order.emplace(std::move(lengths), c.batch_size, c.seed, c.group_by_length);
  s.optimizer = std::make_unique<AdamW>(s.parameters(), c.adamw);
  const int64_t micro_batches = c.epochs * s.order->batches_per_epoch();
  s.schedule = {c.lr, c.min_lr, c.warmup_steps, c.steps > 0 ? c.steps : (micro_batches + c.grad_accum - 1) / c.grad_accum};
}

MultimodalTrainer::~MultimodalTrainer() = default;

int64_t MultimodalTrainer::step() const { return s_->step; }
int64_t MultimodalTrainer::total_steps() const { return s_->schedule.total_steps; }
int64_t MultimodalTrainer::train_sequences() const { return static_cast<int64_t>(s_->train.size()); }
int64_t MultimodalTrainer::corrected_sequences() const { return s_->corrected; }
TrainableLlama& MultimodalTrainer::model() { return *s_->model; }

ImageStepReport MultimodalTrainer::train_step() {
  State& s = *s_;
  const TrainConfig& c = s.config;
  const auto start = std::chrono::steady_clock::now();
  std::vector<at::Tensor> tensors;
  for (const auto& [name, t] : s.parameters()) {
    t.mutable_grad() = at::Tensor();
    tensors.push_back(t);
  }
  std::vector<std::vector<const ImageSequence*>> batches;
  double learned = 0;
  for (int64_t j = 0; j < c.grad_accum; ++j) {
    std::vector<const ImageSequence*> batch;
    for (int64_t i : s.order->batch(s.step * c.grad_accum + j)) {
      batch.push_back(&s.train[static_cast<size_t>(i)]);
      for (size_t t = 1; t < batch.back()->weight.size(); ++t) learned += batch.back()->weight[t];
    }
    batches.push_back(std::move(batch));
  }
  ImageStepReport r;
  s.model->set_training(true);
  for (size_t j = 0; j < batches.size(); ++j) {
    s.model->seed_dropout(train::dropout_seed(c.seed, s.step * c.grad_accum + static_cast<int64_t>(j)));
    at::Tensor loss;
    {
      const train::AutocastScope autocast(c.precision);
      loss = s.batch_loss(batches[j], s.train_images, std::max(learned, 1e-9), &r.items);
    }
    loss.backward();
    r.loss += loss.item<double>();
  }
  s.model->set_training(false);
  std::tie(r.grad_norm, r.lr) = train::finish_step(*s.optimizer, tensors, s.schedule, s.step, c.grad_clip);
  ++s.step;
  r.step = s.step;
  r.total_steps = s.schedule.total_steps;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}

double MultimodalTrainer::validation_loss() {
  State& s = *s_;
  if (s.validation.empty())
    fail(ErrorCode::InvalidArgument, "{}: no validation sequences (data.validation_manifest)", s.config.source);
  at::NoGradGuard no_grad;
  s.model->set_training(false);
  double total = 0, learned = 0;
  int64_t tokens = 0;
  for (size_t begin = 0; begin < s.validation.size(); begin += static_cast<size_t>(s.config.batch_size)) {
    std::vector<const ImageSequence*> batch;
    for (size_t i = begin; i < std::min(s.validation.size(), begin + static_cast<size_t>(s.config.batch_size)); ++i) {
      batch.push_back(&s.validation[i]);
      for (size_t t = 1; t < s.validation[i].weight.size(); ++t) learned += s.validation[i].weight[t];
    }
    total += s.batch_loss(batch, s.validation_images, 1.0, &tokens).item<double>();
  }
  return total / std::max(learned, 1e-9);
}

void MultimodalTrainer::write_bundle(const std::string& folder) const {
  const State& s = *s_;
  const std::string staging = folder + ".partial";
  std::error_code e;
  std::filesystem::remove_all(staging, e);
  train::make_directories(staging);
  ModelBundle b = s.bundle;
  b.folder = staging;
  s.model->save_gguf(b.path_of(b.llm), s.config.output_type);
  copy_file(s.config.images.encoder_from, b.path_of(b.encoder));
  s.projector->save(b.path_of(b.projector));
  if (!b.heads.empty()) copy_file(s.config.images.heads_from, b.path_of(b.heads));
  write_bundle_manifest(b);
  // Replace the folder whole: the old one moves aside, the new one takes its name, the old one goes.
  const std::string old = folder + ".old";
  std::filesystem::remove_all(old, e);
  const bool had_old = std::filesystem::exists(folder);
  if (had_old && std::rename(folder.c_str(), old.c_str()) != 0)
    fail(ErrorCode::Io, "cannot move the old bundle '{}' aside: {}", folder, std::strerror(errno));
  if (std::rename(staging.c_str(), folder.c_str()) != 0)
    fail(ErrorCode::Io, "cannot move the new bundle into '{}': {}", folder, std::strerror(errno));
  if (had_old) std::filesystem::remove_all(old, e);
}

void MultimodalTrainer::save_checkpoint() const {
  const State& s = *s_;
  if (s.config.checkpoint_dir.empty()) return;
  train::save_run_checkpoint(Trainer::checkpoint_path(s.config.checkpoint_dir), s.parameters(), {}, *s.optimizer, s.step,
                             s.config.run_identity());
}

void MultimodalTrainer::resume() {
  State& s = *s_;
  if (s.config.checkpoint_dir.empty())
    fail(ErrorCode::InvalidArgument, "{}: resuming needs checkpoint.dir", s.config.source);
  const std::string path = Trainer::checkpoint_path(s.config.checkpoint_dir);
  s.step = train::load_run_checkpoint(path, s.parameters(), {}, *s.optimizer, s.config.run_identity());
  if (!s.config.metrics_log.empty()) s.metrics = std::make_unique<train::MetricsLog>(s.config.metrics_log, s.step);
}

std::vector<std::string> MultimodalTrainer::write_outputs() const {
  const State& s = *s_;
  std::vector<std::string> written;
  if (!s.config.output_bundle.empty()) write_bundle(s.config.output_bundle), written.push_back(s.config.output_bundle);
  if (!s.config.loss_plot.empty() && !s.config.metrics_log.empty()) {
    train::draw_loss_curve(s.config.metrics_log, s.config.loss_plot);
    written.push_back(s.config.loss_plot);
  }
  return written;
}

namespace {

// The figures of a validation report run worth a line of the metrics log.
nlohmann::json report_scores(const EvaluationResult& result) {
  nlohmann::json out;
  for (const auto& [lang, e] : result.languages) {
    out[lang + "_rouge_l"] = e.rouge_l;
    out[lang + "_findings_macro_f1"] = e.clinical.macro_f1;
    for (const auto& [scale, agreement] : e.clinical.grades)
      if (agreement.eyes() > 0) out[lang + "_" + grade_scale_info(scale).code + "_accuracy"] = agreement.accuracy();
  }
  return out;
}

}  // namespace

void MultimodalTrainer::run(const std::function<bool(const ImageStepReport&)>& on_step, int64_t max_steps) {
  State& s = *s_;
  const TrainConfig& c = s.config;
  if (!c.metrics_log.empty() && !s.metrics) s.metrics = std::make_unique<train::MetricsLog>(c.metrics_log, -1);
  const int64_t stop = max_steps < 0 ? s.schedule.total_steps : std::min(s.schedule.total_steps, s.step + max_steps);
  while (s.step < stop) {
    ImageStepReport r = train_step();
    const bool last = s.step == s.schedule.total_steps;
    if (s.metrics)
      s.metrics->append({{"step", r.step}, {"loss", r.loss}, {"lr", r.lr}, {"grad_norm", r.grad_norm},
                         {"tokens", r.items}, {"tokens_per_s", r.items / std::max(r.seconds, 1e-9)}});
    if (!s.validation.empty() && (last || (c.validation_every > 0 && s.step % c.validation_every == 0))) {
      r.validation_loss = validation_loss();
      nlohmann::json record = {{"step", r.step}, {"val_loss", *r.validation_loss}};
      if (c.images.validation_reports > 0 && !s.validation_studies.empty()) {
        const std::string folder = (c.checkpoint_dir.empty() ? c.output_bundle : c.checkpoint_dir) + "/validation-bundle";
        write_bundle(folder);
        std::vector<const Study*> studies(
            s.validation_studies.begin(),
            s.validation_studies.begin() +
                std::min<int64_t>(c.images.validation_reports, static_cast<int64_t>(s.validation_studies.size())));
        StudyReportOptions o;
        o.languages = c.images.languages;
        o.report.temperature = 0;
        o.threads = c.threads > 0 ? c.threads : 1;
        const std::vector<StudyReport> reports = report_studies(ReportModel::load(folder), s.validation_manifest, studies, o);
        train::claim_threads(c.threads, c.precision);
        Manifest subset = s.validation_manifest;
        subset.studies.clear();
        subset.index.clear();
        for (const Study* st : studies) subset.index[st->id] = subset.studies.size(), subset.studies.push_back(*st);
        PredictionFile predictions;
        predictions.path = "<validation>";
        for (const StudyReport& sr : reports)
          predictions.predictions.push_back({sr.id, sr.lang, sr.text, sr.structured, ++predictions.lines});
        EvaluationOptions eo;
        eo.split = "all";
        const nlohmann::json scores = report_scores(evaluate(subset, predictions, eo));
        for (const auto& [key, value] : scores.items()) record["val_" + key] = value;
      }
      if (s.metrics) s.metrics->append(record);
    }
    if (last || (c.checkpoint_every > 0 && s.step % c.checkpoint_every == 0)) save_checkpoint();
    const bool go_on = !on_step || on_step(r);
    if (!go_on && !last) {
      save_checkpoint();
      break;
    }
  }
  if (s.step == s.schedule.total_steps) write_outputs();
}

}  // namespace ophtha
