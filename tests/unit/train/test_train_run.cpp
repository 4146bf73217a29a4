// Whole training runs on tiny models: the same configuration gives a bit-identical run; a run
// stopped after k steps and resumed from its checkpoint ends bit-identical to one never stopped,
// also when the process was killed (SIGKILL) mid-run; gradient accumulation equals one larger
// batch; pre-training from scratch lowers the loss and exports a model the engine runs.
#include "support/doctest_with_aten.hpp"

#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "ophtha/llama.hpp"
#include "ophtha/safetensors.hpp"
#include "ophtha/train.hpp"
#include "support/expect_error.hpp"
#include "support/tensor_check.hpp"
#include "support/test_models.hpp"

extern char** environ;

using namespace ophtha;

namespace {

const char* kShape = "--dim 64 --layers 2 --heads 8 --kv-heads 2 --ffn 96 --ctx 64 --vocab 320 --seed 31 --std 0.1";

std::string fresh_dir(const std::string& name) {
  const std::string dir = test::work_dir() + "/train-run-" + name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

std::string reports_file() {
  const std::string path = test::work_dir() + "/train-run-reports.jsonl";
  std::ofstream out(path);
  const char* eyes[] = {"right eye", "left eye"};
  const char* findings[] = {"drusen", "a haemorrhage", "cupping of the optic disc", "no abnormality", "macular edema"};
  for (int i = 0; i < 14; ++i)
    out << "{\"prompt\": \"Fundus photograph of the " << eyes[i % 2] << ".\", \"response\": \"There is "
        << findings[i % 5] << " in the " << eyes[(i / 2) % 2] << ".\"}\n";
  return path;
}

TrainConfig lora_config(const std::string& dir) {
  TrainConfig c;
  c.init_from = test::test_model("train-run", std::string("--format gguf --type f32 ") + kShape);
  c.train_data = reports_file();
  c.method = TrainMethod::Lora;
  c.lora = {4, 8.0, 0.1, {LlamaLinear::Q, LlamaLinear::K, LlamaLinear::V, LlamaLinear::O, LlamaLinear::Up}};
  c.lr = 1e-2;
  c.warmup_steps = 2;
  c.steps = 8;
  c.batch_size = 3;
  c.grad_accum = 2;
  c.seed = 5;
  c.threads = 1;
  c.checkpoint_dir = dir + "/ckpt";
  c.metrics_log = dir + "/metrics.jsonl";
  return c;
}

// Every tensor of the model, bit for bit.
void check_identical(TrainableLlama& a, TrainableLlama& b, const std::string& what) {
  const auto pa = a.named_parameters(), pb = b.named_parameters();
  REQUIRE(pa.size() == pb.size());
  for (size_t i = 0; i < pa.size(); ++i) {
    INFO(what, ": ", pa[i].first);
    CHECK(pa[i].first == pb[i].first);
    CHECK(at::equal(pa[i].second, pb[i].second));
  }
}

std::vector<int64_t> logged_steps(const std::string& metrics) {
  std::ifstream in(metrics);
  std::vector<int64_t> steps;
  std::string line;
  while (std::getline(in, line))
    if (line.find("\"loss\"") != std::string::npos) steps.push_back(std::stoll(line.substr(line.find("\"step\":") + 7)));
  return steps;
}

}  // namespace

TEST_CASE("the same configuration and thread count give a bit-identical run") {
  TrainConfig c = lora_config(fresh_dir("same-a"));
  c.threads = 2;
  Trainer a(c);
  a.run();
  c = lora_config(fresh_dir("same-b"));
  c.threads = 2;
  Trainer b(c);
  b.run();
  check_identical(a.model(), b.model(), "two identical runs");
  // And the run changed the adapters (a run that learns nothing would pass the check above).
  CHECK(a.model().trainable_parameters()[1].second.abs().max().item<float>() > 0.f);
}

TEST_CASE("a run stopped after k steps and resumed ends bit-identical to an uninterrupted run") {
  TrainConfig c = lora_config(fresh_dir("resume-whole"));
  Trainer whole(c);
  whole.run();

  const std::string dir = fresh_dir("resume-parts");
  c = lora_config(dir);
  c.checkpoint_every = 3;
  {
    Trainer first(c);
    first.run({}, 5);  // checkpoints at step 3; steps 4 and 5 are lost with the process
    CHECK(first.step() == 5);
  }
  Trainer second(c);
  second.resume();
  CHECK(second.step() == 3);
  second.run();
  CHECK(second.step() == 8);
  check_identical(whole.model(), second.model(), "resumed vs uninterrupted");
  CHECK(logged_steps(dir + "/metrics.jsonl") == std::vector<int64_t>{1, 2, 3, 4, 5, 6, 7, 8});

  // A checkpoint of another run is refused, naming the difference.
  TrainConfig other = c;
  other.seed = 6;
  Trainer third(other);
  test::check_message(test::error_from([&] { third.resume(); }), ErrorCode::InvalidFormat, "written by another run");

  // A damaged checkpoint is refused with the file named, never half-loaded.
  const std::string checkpoint = Trainer::checkpoint_path(c.checkpoint_dir);
  std::filesystem::resize_file(checkpoint, std::filesystem::file_size(checkpoint) - 100);
  Trainer fourth(c);
  test::check_message(test::error_from([&] { fourth.resume(); }), ErrorCode::InvalidFormat, checkpoint);
  CHECK(fourth.step() == 0);
}

TEST_CASE("in bf16 mixed precision, too, a resumed run ends bit-identical to an uninterrupted one") {
  TrainConfig c = lora_config(fresh_dir("bf16-whole"));
  c.precision = TrainPrecision::Bf16;
  c.threads = 2;
  Trainer whole(c);
  whole.run();
  c = lora_config(fresh_dir("bf16-parts"));
  c.precision = TrainPrecision::Bf16;
  c.threads = 2;
  c.checkpoint_every = 3;
  {
    Trainer first(c);
    first.run({}, 4);
  }
  Trainer second(c);
  second.resume();
  CHECK(second.step() == 3);
  second.run();
  check_identical(whole.model(), second.model(), "bf16: resumed vs uninterrupted");
  // A checkpoint written in bf16 is another run's for an f32 configuration.
  c.precision = TrainPrecision::F32;
  Trainer f32(c);
  test::check_message(test::error_from([&] { f32.resume(); }), ErrorCode::InvalidFormat, "written by another run");
}

TEST_CASE("gradient accumulation over two batches of 2 equals one batch of 4") {
  TrainConfig c = lora_config(fresh_dir("accum-a"));
  c.lora.dropout = 0.0;
  c.steps = 2;
  c.batch_size = 4;
  c.grad_accum = 1;
  c.checkpoint_dir.clear();
  Trainer one(c);
  one.run();
  c.batch_size = 2;
  c.grad_accum = 2;
  Trainer two(c);
  two.run();
  const auto pa = one.model().trainable_parameters(), pb = two.model().trainable_parameters();
  REQUIRE(pa.size() == pb.size());
  for (size_t i = 0; i < pa.size(); ++i) test::check_close(pb[i].second.detach(), pa[i].second.detach(), pa[i].first, 1e-4);
}

TEST_CASE("pre-training from scratch lowers the loss and exports a model the engine runs") {
  const std::string dir = fresh_dir("scratch");
  // The first 320 pieces of the LLaMA 2 tokenizer (as a tokenizer.model): a small vocabulary keeps the run quick.
  const std::string tokenizer = test::test_model("train-run-hf", std::string("--format hf --type f32 ") + kShape) +
                                "/tokenizer.model";
  {
    std::ofstream corpus(dir + "/corpus.txt");
    for (int i = 0; i < 16; ++i)
      corpus << "The optic disc is pink with a cup-to-disc ratio of 0." << (i % 5 + 2) << " in the "
             << (i % 2 ? "right" : "left") << " eye.\n";
  }
  const std::string config = R"({
    "model": {"dim": 32, "layers": 2, "heads": 4, "kv_heads": 2, "ffn": 64, "context": 64, "tied": true,
              "tokenizer": ")" + tokenizer + R"(", "init_std": 0.05},
    "data": {"train": "corpus.txt", "validation": "corpus.txt"},
    "optimizer": {"lr": 3e-3, "warmup_steps": 3},
    "steps": 24, "batch_size": 8, "seed": 1, "threads": 2, "validation_every": 12,
    "output": {"gguf": "scratch.gguf", "metrics": "metrics.jsonl", "loss_plot": "loss.png"}
  })";
  std::ofstream(dir + "/run.json") << config;
  Trainer trainer(TrainConfig::from_json_file(dir + "/run.json"));
  CHECK(trainer.model().named_parameters()[0].second.std().item<double>() == doctest::Approx(0.05).epsilon(0.05));
  std::vector<double> losses, validation;
  trainer.run([&](const TrainStepReport& r) {
    losses.push_back(r.loss);
    if (r.validation_loss) validation.push_back(*r.validation_loss);
  });
  REQUIRE(losses.size() == 24);
  CHECK(losses.back() < losses.front() - 0.5);
  REQUIRE(validation.size() == 2);
  CHECK(validation[1] < validation[0]);

  const std::vector<int32_t> ids = trainer.model().tokenizer().encode("The optic disc is pink", true);
  LlamaSession session(LlamaModel::load(dir + "/scratch.gguf"), {1, 0});
  const at::Tensor want = trainer.model().forward(at::tensor(std::vector<int64_t>(ids.begin(), ids.end())).unsqueeze(0));
  test::check_close(session.forward_tokens(ids, true), want.squeeze(0).detach(), "engine on the pre-trained GGUF", 1e-4);
  struct stat st {};
  REQUIRE(::stat((dir + "/loss.png").c_str(), &st) == 0);
  CHECK(st.st_size > 1000);
}

// Run only by the SIGKILL test below, in a child process: trains the configuration in
// $OPHTHA_TRAIN_CHILD_CONFIG with a pause after each step, so the parent can kill it mid-run.
TEST_CASE("training child process for the SIGKILL test" * doctest::skip()) {
  const char* config = std::getenv("OPHTHA_TRAIN_CHILD_CONFIG");
  REQUIRE(config != nullptr);
  Trainer trainer(TrainConfig::from_json_file(config));
  trainer.run([](const TrainStepReport&) { std::this_thread::sleep_for(std::chrono::milliseconds(15)); });
}

TEST_CASE("a training process killed with SIGKILL leaves a checkpoint that loads and resumes bit-identically") {
  const std::string dir = fresh_dir("kill");
  const TrainConfig base = lora_config(dir);
  const std::string config_text = fmt::format(R"({{
    "model": {{"from": "{}"}}, "data": {{"train": "{}"}}, "method": "lora",
    "lora": {{"rank": 4, "alpha": 8, "dropout": 0.1, "targets": ["q", "v"]}},
    "optimizer": {{"lr": 1e-2, "warmup_steps": 2}}, "steps": 40, "batch_size": 3, "grad_accum": 2, "seed": 5,
    "threads": 1, "checkpoint": {{"dir": "ckpt", "every": 1}}, "output": {{"metrics": "metrics.jsonl"}}
  }})", base.init_from, base.train_data);
  std::ofstream(dir + "/run.json") << config_text;

  const std::string self = std::filesystem::read_symlink("/proc/self/exe");
  const std::string env = "OPHTHA_TRAIN_CHILD_CONFIG=" + dir + "/run.json";
  std::vector<std::string> args = {self, "--test-case=training child process for the SIGKILL test", "--no-skip=true",
                                   "--no-intro=true", "--no-version=true"};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (char** e = environ; *e; ++e) envp.push_back(*e);
  envp.push_back(const_cast<char*>(env.c_str()));
  envp.push_back(nullptr);
  pid_t child = 0;
  REQUIRE(posix_spawn(&child, self.c_str(), nullptr, nullptr, argv.data(), envp.data()) == 0);

  // Wait for a checkpoint past step 5, then kill at once, whatever the child is doing.
  const std::string checkpoint = Trainer::checkpoint_path(dir + "/ckpt");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  int64_t seen = 0;
  while (seen < 5 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(7));
    try {
      const auto metadata = SafetensorsFile::open(checkpoint).metadata();
      seen = std::stoll(metadata.at("step"));
    } catch (const std::exception&) {
    }
  }
  REQUIRE(::kill(child, SIGKILL) == 0);
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  REQUIRE_MESSAGE(WIFSIGNALED(status), "the child finished before it was killed (status ", status, ")");
  CHECK(WTERMSIG(status) == SIGKILL);

  Trainer resumed(TrainConfig::from_json_file(dir + "/run.json"));
  resumed.resume();
  INFO("resumed at step ", resumed.step());
  CHECK(resumed.step() >= 5);
  CHECK(resumed.step() < 40);
  resumed.run();

  const std::string whole_dir = fresh_dir("kill-whole");
  std::ofstream(whole_dir + "/run.json") << config_text;
  Trainer whole(TrainConfig::from_json_file(whole_dir + "/run.json"));
  whole.run();
  check_identical(whole.model(), resumed.model(), "killed + resumed vs uninterrupted");
  const std::vector<int64_t> steps = logged_steps(dir + "/metrics.jsonl");
  CHECK(steps.size() == 40);
  CHECK(steps.back() == 40);
}

TEST_CASE("without 'steps' a run lasts its epochs: ⌈epochs · ⌈sequences / batch⌉ / grad_accum⌉ steps") {
  TrainConfig c = lora_config(fresh_dir("epochs"));
  c.steps = 0;
  c.epochs = 2;
  c.batch_size = 4;  // 14 sequences: 4 micro-batches per epoch
  c.grad_accum = 3;
  CHECK(Trainer(c).total_steps() == 3);
  c.grad_accum = 1;
  CHECK(Trainer(c).total_steps() == 8);
}
