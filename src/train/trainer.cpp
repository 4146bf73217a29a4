// Trainer: the loop of include/ophtha/train.hpp — micro-batches, accumulation, clipping, AdamW,
// schedule, validation, checkpoints, metrics, exports.
#include <malloc.h>

#include <chrono>
#include <tuple>
#include <mutex>
#include <optional>

#include <ATen/ATen.h>

#include "llm/cpu_threads.hpp"
#include "train/mixed_precision.hpp"
#include "ophtha/error.hpp"
#include "ophtha/random.hpp"
#include "ophtha/train.hpp"
#include "train/train_checkpoint.hpp"
#include "train/train_metrics.hpp"
#include "train/train_runtime.hpp"

namespace ophtha {

struct Trainer::State {
  TrainConfig config;
  std::optional<TrainableLlama> model;
  std::vector<TrainSequence> train, validation;
  std::optional<BatchOrder> order;
  std::unique_ptr<AdamW> optimizer;
  LrSchedule schedule;
  int64_t step = 0;
  int32_t pad_id = 0;
  std::unique_ptr<train::MetricsLog> metrics;
  double elapsed = 0;  // seconds of training steps in this process
};

using train::build_model;
using train::claim_threads;
using train::dropout_seed;
using train::keep_large_blocks_on_the_heap;

Trainer::Trainer(TrainConfig config) : s_(std::make_unique<State>()) {
  State& s = *s_;
  s.config = std::move(config);
  const TrainConfig& c = s.config;
  if (c.stage != TrainStage::Language)
    fail(ErrorCode::InvalidArgument, "{}: Trainer runs the language stage; this configuration's stage is another "
         "(train_from_config_file runs every stage)", c.source);
  if (c.min_lr > c.lr)
    fail(ErrorCode::InvalidArgument, "{}: optimizer.min_lr {} is above optimizer.lr {}", c.source, c.min_lr, c.lr);
  claim_threads(c.threads, c.precision);
  keep_large_blocks_on_the_heap();
  s.model.emplace(build_model(c));
  if (c.method == TrainMethod::Lora)
    s.model->add_lora(c.lora, c.seed);
  else
    s.model->make_all_trainable();
  const int64_t max_tokens = c.max_tokens > 0 ? c.max_tokens : s.model->config().context_length;
  if (max_tokens > s.model->config().context_length)
    fail(ErrorCode::InvalidArgument, "{}: data.max_tokens is {}, more than the model's context length {}", c.source,
         max_tokens, s.model->config().context_length);
  s.train = read_train_sequences(c.train_data, s.model->tokenizer(), max_tokens);
  if (!c.validation_data.empty()) s.validation = read_train_sequences(c.validation_data, s.model->tokenizer(), max_tokens);
  std::vector<int64_t> lengths;
  for (const TrainSequence& t : s.train) lengths.push_back(static_cast<int64_t>(t.tokens.size()));
  s.order.emplace(std::move(lengths), c.batch_size, c.seed, c.group_by_length);
  s.pad_id = s.model->tokenizer().eos_id();
  s.optimizer = std::make_unique<AdamW>(s.model->trainable_parameters(), c.adamw);
  const int64_t micro_batches = c.epochs * s.order->batches_per_epoch();
  s.schedule = {c.lr, c.min_lr, c.warmup_steps, c.steps > 0 ? c.steps : (micro_batches + c.grad_accum - 1) / c.grad_accum};
}

Trainer::~Trainer() = default;

std::string Trainer::checkpoint_path(const std::string& dir) { return dir + "/checkpoint.safetensors"; }

int64_t Trainer::step() const { return s_->step; }
int64_t Trainer::total_steps() const { return s_->schedule.total_steps; }
const TrainConfig& Trainer::config() const { return s_->config; }
TrainableLlama& Trainer::model() { return *s_->model; }
int64_t Trainer::train_sequences() const { return static_cast<int64_t>(s_->train.size()); }

TrainStepReport Trainer::train_step() {
  State& s = *s_;
  const TrainConfig& c = s.config;
  const auto start = std::chrono::steady_clock::now();
  const auto params = s.model->trainable_parameters();
  std::vector<at::Tensor> tensors;
  for (const auto& [name, t] : params) {
    t.mutable_grad() = at::Tensor();
    tensors.push_back(t);
  }
  std::vector<TrainBatch> batches;
  std::vector<int64_t> micro;
  int64_t learned = 0;
  for (int64_t j = 0; j < c.grad_accum; ++j) {
    const int64_t m = s.step * c.grad_accum + j;
    std::vector<const TrainSequence*> sequences;
    for (int64_t i : s.order->batch(m)) sequences.push_back(&s.train[static_cast<size_t>(i)]);
    batches.push_back(make_train_batch(sequences, s.pad_id));
    micro.push_back(m);
    learned += batches.back().learned;
  }
  TrainStepReport r;
  s.model->set_training(true);
  for (size_t j = 0; j < batches.size(); ++j) {
    const TrainBatch& b = batches[j];
    s.model->seed_dropout(dropout_seed(c.seed, micro[j]));
    at::Tensor loss;
    {
      const train::AutocastScope autocast(c.precision);
      loss = s.model->masked_loss(s.model->embed(b.ids), b.targets, b.loss_mask, static_cast<double>(learned));
    }
    loss.backward();
    r.loss += loss.item<double>();
    r.tokens += b.tokens;
  }
  s.model->set_training(false);
  std::tie(r.grad_norm, r.lr) = train::finish_step(*s.optimizer, tensors, s.schedule, s.step, c.grad_clip);
  ++s.step;
  r.step = s.step;
  r.total_steps = s.schedule.total_steps;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  s.elapsed += r.seconds;
  return r;
}

double Trainer::validation_loss() {
  State& s = *s_;
  if (s.validation.empty())
    fail(ErrorCode::InvalidArgument, "{}: no validation data (data.validation)", s.config.source);
  at::NoGradGuard no_grad;
  s.model->set_training(false);
  double total = 0;
  int64_t learned = 0;
  for (size_t begin = 0; begin < s.validation.size(); begin += static_cast<size_t>(s.config.batch_size)) {
    std::vector<const TrainSequence*> sequences;
    for (size_t i = begin; i < std::min(s.validation.size(), begin + static_cast<size_t>(s.config.batch_size)); ++i)
      sequences.push_back(&s.validation[i]);
    const TrainBatch b = make_train_batch(sequences, s.pad_id);
    total += s.model->masked_loss(s.model->embed(b.ids), b.targets, b.loss_mask, 1.0).item<double>();
    learned += b.learned;
  }
  return total / static_cast<double>(learned);
}

void Trainer::save_checkpoint() const {
  const State& s = *s_;
  if (s.config.checkpoint_dir.empty()) return;
  train::save_run_checkpoint(checkpoint_path(s.config.checkpoint_dir), s.model->trainable_parameters(), {}, *s.optimizer, s.step,
                             s.config.run_identity());
}

void Trainer::resume() {
  State& s = *s_;
  if (s.config.checkpoint_dir.empty())
    fail(ErrorCode::InvalidArgument, "{}: resuming needs checkpoint.dir", s.config.source);
  const std::string path = checkpoint_path(s.config.checkpoint_dir);
  s.step = train::load_run_checkpoint(path, s.model->trainable_parameters(), {}, *s.optimizer, s.config.run_identity());
  if (!s.config.metrics_log.empty()) s.metrics = std::make_unique<train::MetricsLog>(s.config.metrics_log, s.step);
}

void Trainer::write_outputs() const {
  const State& s = *s_;
  if (!s.config.output_gguf.empty()) s.model->save_gguf(s.config.output_gguf, s.config.output_type);
  if (!s.config.output_hf.empty())
    s.model->save_hf(s.config.output_hf, s.config.output_type == TensorType::Q8_0 ? TensorType::F32 : s.config.output_type);
  if (!s.config.loss_plot.empty() && !s.config.metrics_log.empty())
    train::draw_loss_curve(s.config.metrics_log, s.config.loss_plot);
}

void Trainer::run(const std::function<void(const TrainStepReport&)>& on_step, int64_t max_steps) {
  State& s = *s_;
  const TrainConfig& c = s.config;
  if (!c.metrics_log.empty() && !s.metrics) s.metrics = std::make_unique<train::MetricsLog>(c.metrics_log, -1);
  const int64_t stop = max_steps < 0 ? s.schedule.total_steps : std::min(s.schedule.total_steps, s.step + max_steps);
  while (s.step < stop) {
    TrainStepReport r = train_step();
    const bool last = s.step == s.schedule.total_steps;
    if (s.metrics)
      s.metrics->append({{"step", r.step}, {"loss", r.loss}, {"lr", r.lr}, {"grad_norm", r.grad_norm},
                         {"tokens", r.tokens}, {"tokens_per_s", r.tokens / std::max(r.seconds, 1e-9)},
                         {"elapsed_s", s.elapsed}});
    if (!s.validation.empty() && (last || (c.validation_every > 0 && s.step % c.validation_every == 0))) {
      r.validation_loss = validation_loss();
      if (s.metrics) s.metrics->append({{"step", r.step}, {"val_loss", *r.validation_loss}});
    }
    if (last || (c.checkpoint_every > 0 && s.step % c.checkpoint_every == 0)) save_checkpoint();
    if (on_step) on_step(r);
  }
  if (s.step == s.schedule.total_steps) write_outputs();
}

}  // namespace ophtha
