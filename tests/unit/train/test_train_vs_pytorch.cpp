// The Trainer against PyTorch (tests/tools/train_reference.py): the same initial tensors and the
// same micro-batches, trained with torch autograd, torch.optim.AdamW, clip_grad_norm_ and the same
// schedule, must give the same logits, step losses and trained tensors — for full fine-tuning and
// for LoRA, with gradient accumulation, warm-up and clipping all engaged.
#include "support/doctest_with_aten.hpp"

#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "ophtha/safetensors.hpp"
#include "ophtha/train.hpp"
#include "support/tensor_check.hpp"
#include "support/test_models.hpp"

using namespace ophtha;

namespace {

const char* kShape = "--dim 64 --layers 2 --heads 8 --kv-heads 2 --ffn 96 --ctx 64 --vocab 320 --seed 23 --std 0.1";

std::string write_reports(const std::string& dir) {
  const char* findings[] = {"cup-to-disc ratio 0.7", "drusen in the macula", "retinal haemorrhage", "normal fundus",
                            "macular edema", "optic disc pallor", "视网膜出血", "黄斑水肿"};
  std::ofstream out(dir + "/reports.jsonl");
  for (int i = 0; i < 10; ++i) {
    const std::string f = findings[i % 8];
    out << "{\"prompt\": \"Findings: " << f << ". Report:\", \"response\": \"The examination shows " << f
        << (i % 3 ? "; refer." : ".") << "\"}\n";
  }
  return dir + "/reports.jsonl";
}

std::vector<uint8_t> bytes_of(const at::Tensor& t) {
  const at::Tensor c = t.contiguous();
  const auto* p = static_cast<const uint8_t*>(c.data_ptr());
  return std::vector<uint8_t>(p, p + c.numel() * c.element_size());
}

std::string file_hash(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return std::to_string(std::hash<std::string>{}(s.str()));
}

// Tolerances (max |diff| / max |reference|): 1e-4 for logits and losses, 1e-3 for trained tensors,
// in f32 and in bf16 alike (the reference then runs under torch.autocast and computes in the same
// order, so the two round alike).
void check_against_pytorch(TrainMethod method, TrainPrecision precision = TrainPrecision::F32) {
  const bool bf16 = precision == TrainPrecision::Bf16;
  const std::string name = std::string(method == TrainMethod::Lora ? "lora" : "full") + (bf16 ? "-bf16" : "");
  const std::string dir = test::work_dir() + "/train-vs-pytorch-" + name;
  std::filesystem::create_directories(dir);
  TrainConfig c;
  c.init_from = test::test_model("train-ref", std::string("--format hf --type f32 ") + kShape);
  c.train_data = write_reports(dir);
  c.method = method;
  c.lora = {4, 8.0, 0.0, {LlamaLinear::Q, LlamaLinear::V, LlamaLinear::Down}};
  c.lr = method == TrainMethod::Lora ? 2e-2 : 3e-3;
  c.min_lr = 1e-4;
  c.warmup_steps = 2;
  c.steps = 4;
  c.batch_size = 3;
  c.grad_accum = 2;
  c.grad_clip = 0.5;
  c.adamw.weight_decay = 0.1;
  c.seed = 9;
  c.threads = 1;
  c.precision = precision;
  Trainer trainer(c);

  std::vector<SafetensorsTensorData> init, batches;
  for (const auto& [n, t] : trainer.model().named_parameters()) init.push_back({n, "F32", t.sizes().vec(), bytes_of(t)});
  const auto sequences = read_train_sequences(c.train_data, trainer.model().tokenizer(), 64);
  const BatchOrder order(static_cast<int64_t>(sequences.size()), c.batch_size, c.seed);
  std::vector<TrainBatch> micro;
  for (int64_t m = 0; m < c.steps * c.grad_accum; ++m) {
    std::vector<const TrainSequence*> chosen;
    for (int64_t i : order.batch(m)) chosen.push_back(&sequences[static_cast<size_t>(i)]);
    micro.push_back(make_train_batch(chosen, trainer.model().tokenizer().eos_id()));
    const std::string k = std::to_string(m);
    batches.push_back({"ids." + k, "I64", micro.back().ids.sizes().vec(), bytes_of(micro.back().ids)});
    batches.push_back({"targets." + k, "I64", micro.back().targets.sizes().vec(), bytes_of(micro.back().targets)});
    batches.push_back({"loss_mask." + k, "F32", micro.back().loss_mask.sizes().vec(), bytes_of(micro.back().loss_mask)});
  }
  write_safetensors(dir + "/init.safetensors", init);
  write_safetensors(dir + "/batches.safetensors", batches);
  const LlamaConfig& mc = trainer.model().config();
  const std::string args = fmt::format(
      "--init {0}/init.safetensors --batches {0}/batches.safetensors --trainable {1} --lora-scale 2 --steps 4 "
      "--accum 2 --lr {2} --min-lr 1e-4 --warmup 2 --total 4 --clip 0.5 --weight-decay 0.1 --model-config "
      "'{{\"dim\": {3}, \"layers\": {4}, \"heads\": {5}, \"kv_heads\": {6}, \"rms_eps\": {7}, \"rope_theta\": {8}}}' "
      "--autocast {11} --tag {9}-{10}",
      dir, method == TrainMethod::Lora ? "lora" : "full", c.lr, mc.dim, mc.n_layers, mc.n_heads, mc.n_kv_heads, mc.rms_eps, mc.rope_theta,
      file_hash(dir + "/init.safetensors"), file_hash(dir + "/batches.safetensors"), bf16 ? "bf16" : "off");
  const std::string ref = test::cached_script_output("tests/tools/train_reference.py", "train-ref-" + name, args, "",
                                                     "losses.npy");

  // Before training, both sides in f32 (the reference's first forward is outside autocast).
  test::check_close(trainer.model().forward(micro[0].ids).detach(), test::load_npy_tensor(ref + "/logits0.npy"),
                    "logits before training", 1e-4);
  std::vector<float> losses;
  trainer.run([&](const TrainStepReport& r) { losses.push_back(static_cast<float>(r.loss)); });
  REQUIRE(losses.size() == 4);
  const at::Tensor reference_losses = test::load_npy_tensor(ref + "/losses.npy");
  test::check_close(at::tensor(losses), reference_losses, "step losses", 1e-4);
  int compared = 0;
  for (const auto& [n, t] : trainer.model().trainable_parameters()) {
    test::check_close(t.detach(), test::load_npy_tensor(ref + "/final." + n + ".npy"), "trained " + n, 1e-3);
    ++compared;
  }
  if (bf16) {  // the same run in f32 misses PyTorch's autocast run by more than the tolerance
    c.precision = TrainPrecision::F32;
    Trainer f32(c);
    std::vector<float> f32_losses;
    f32.run([&](const TrainStepReport& r) { f32_losses.push_back(static_cast<float>(r.loss)); });
    const double off = ((at::tensor(f32_losses) - reference_losses).abs().max() / reference_losses.abs().max()).item<double>();
    INFO("f32 step losses off PyTorch's bf16 autocast run by ", off, " (relative)");
    CHECK(off > 1e-4);
  }
  CHECK(compared == (method == TrainMethod::Lora ? 2 * 2 * 3 : 1 + 2 * 9 + 2));
}

}  // namespace

TEST_CASE("full fine-tuning follows PyTorch step for step") { check_against_pytorch(TrainMethod::Full); }

TEST_CASE("LoRA fine-tuning follows PyTorch step for step") { check_against_pytorch(TrainMethod::Lora); }

TEST_CASE("bf16 mixed precision follows torch.autocast step for step, where f32 would not") {
  check_against_pytorch(TrainMethod::Full, TrainPrecision::Bf16);
}
