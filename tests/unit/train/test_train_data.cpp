// Training data, configuration and schedule: which tokens the loss learns, how batches are padded,
// the seeded order of a run, the configuration file's checks, the learning-rate schedule.
#include "support/doctest_with_aten.hpp"

#include <algorithm>
#include <filesystem>
#include <functional>
#include <fstream>
#include <set>

#include "ophtha/random.hpp"
#include "ophtha/train.hpp"
#include "support/expect_error.hpp"
#include "train/mixed_precision.hpp"

using namespace ophtha;

namespace {

const Tokenizer& llama2() {
  static const Tokenizer t = Tokenizer::from_sentencepiece_model(OPHTHA_LLAMA2_TOKENIZER);
  return t;
}

std::string write_file(const std::string& name, const std::string& text) {
  const std::string dir = std::string(OPHTHA_TEST_WORK_DIR) + "/train-data";
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/" + name) << text;
  return dir + "/" + name;
}

}  // namespace

TEST_CASE("a prompt/response pair learns exactly the report tokens and the end of sequence") {
  const Tokenizer& t = llama2();
  const TrainSequence s = supervised_sequence(t, "Findings: drusen.", "Early AMD; review in 6 months.", 512);
  const std::vector<int32_t> prompt = t.encode("Findings: drusen.", true);
  const std::vector<int32_t> report = t.encode("Early AMD; review in 6 months.", false);
  REQUIRE(s.tokens.size() == prompt.size() + report.size() + 1);
  CHECK(std::equal(prompt.begin(), prompt.end(), s.tokens.begin()));
  CHECK(std::equal(report.begin(), report.end(), s.tokens.begin() + static_cast<long>(prompt.size())));
  CHECK(s.tokens.back() == t.eos_id());
  for (size_t i = 0; i < s.tokens.size(); ++i) CHECK(s.learn[i] == (i >= prompt.size() ? 1 : 0));
  CHECK(s.learned() == static_cast<int64_t>(report.size() + 1));

  SUBCASE("truncation keeps the prompt and cuts the report") {
    const TrainSequence cut = supervised_sequence(t, "Findings: drusen.", "Early AMD; review in 6 months.",
                                                  static_cast<int64_t>(prompt.size()) + 2);
    CHECK(cut.tokens.size() == prompt.size() + 2);
    CHECK(cut.learned() == 2);
    CHECK(supervised_sequence(t, "Findings: drusen.", "x", static_cast<int64_t>(prompt.size())).learned() == 0);
  }
}

TEST_CASE("a text document is cut into windows that each learn all but their first token") {
  const Tokenizer& t = llama2();
  std::string text;
  for (int i = 0; i < 20; ++i) text += "The optic disc is pink with sharp margins. ";
  std::vector<int32_t> all = t.encode(text, true);
  all.push_back(t.eos_id());
  const auto windows = document_sequences(t, text, 32);
  REQUIRE(windows.size() >= 2);
  std::vector<int32_t> joined;
  for (const TrainSequence& w : windows) {
    CHECK(w.tokens.size() == (&w == &windows.back() ? w.tokens.size() : 32));
    CHECK(w.learn[0] == 0);
    CHECK(w.learned() == static_cast<int64_t>(w.tokens.size()) - 1);
    joined.insert(joined.end(), w.tokens.begin(), w.tokens.end());
  }
  CHECK(joined.size() + 1 >= all.size());  // only a lone last token (nothing to predict from it) may be dropped
  all.resize(joined.size());
  CHECK(joined == all);
}

TEST_CASE("a batch is right-padded, targets are the next tokens and padding is never learned") {
  TrainSequence a{{1, 10, 11, 12, 2}, {0, 0, 1, 1, 1}}, b{{1, 20, 2}, {0, 1, 1}};
  const TrainBatch batch = make_train_batch({&a, &b}, 2);
  CHECK(batch.ids.sizes().vec() == std::vector<int64_t>{2, 4});
  CHECK(at::equal(batch.ids, at::tensor({1, 10, 11, 12, 1, 20, 2, 2}, at::kLong).view({2, 4})));
  CHECK(at::equal(batch.targets, at::tensor({10, 11, 12, 2, 20, 2, 2, 2}, at::kLong).view({2, 4})));
  CHECK(at::equal(batch.loss_mask, at::tensor({0.f, 1.f, 1.f, 1.f, 1.f, 1.f, 0.f, 0.f}).view({2, 4})));
  CHECK(batch.learned == 5);
  CHECK(batch.tokens == 6);
}

TEST_CASE("the loss is the mean cross-entropy over the masked positions") {
  const at::Tensor logits = at::randn({2, 3, 5});
  const at::Tensor targets = at::tensor({1, 4, 0, 2, 2, 3}, at::kLong).view({2, 3});
  const at::Tensor mask = at::tensor({1.f, 0.f, 1.f, 0.f, 1.f, 1.f}).view({2, 3});
  const at::Tensor logp = at::log_softmax(logits, -1);
  const double want = -(logp[0][0][1] + logp[0][2][0] + logp[1][1][2] + logp[1][2][3]).item<double>() / 4;
  CHECK(next_token_loss(logits, targets, mask).item<double>() == doctest::Approx(want).epsilon(1e-6));
  CHECK(next_token_loss(logits, targets, mask, 8.0).item<double>() == doctest::Approx(want / 2).epsilon(1e-6));
  test::check_message(test::error_from([&] { next_token_loss(logits, targets, at::zeros({2, 3})); }),
                      ErrorCode::InvalidArgument, "selects no position");
}

TEST_CASE("each epoch visits every sequence once, in an order fixed by the seed") {
  const BatchOrder order(10, 4, 7);
  CHECK(order.batches_per_epoch() == 3);
  std::vector<int64_t> epoch0, epoch1;
  for (int64_t m = 0; m < 3; ++m) {
    const auto b0 = order.batch(m), b1 = order.batch(m + 3);
    epoch0.insert(epoch0.end(), b0.begin(), b0.end());
    epoch1.insert(epoch1.end(), b1.begin(), b1.end());
  }
  CHECK(order.batch(2).size() == 2);
  CHECK(std::set<int64_t>(epoch0.begin(), epoch0.end()).size() == 10);
  CHECK(std::set<int64_t>(epoch1.begin(), epoch1.end()).size() == 10);
  CHECK(epoch0 != epoch1);
  CHECK(BatchOrder(10, 4, 7).batch(4) == order.batch(4));
  CHECK(BatchOrder(10, 4, 8).batch(0) != order.batch(0));
  // The permutation does not depend on the batch size: two batches of 2 are one batch of 4.
  auto first4 = BatchOrder(10, 2, 7).batch(0);
  const auto next2 = BatchOrder(10, 2, 7).batch(1);
  first4.insert(first4.end(), next2.begin(), next2.end());
  CHECK(first4 == order.batch(0));
}

TEST_CASE("grouped by length, an epoch still visits every sequence once and its batches pad far less") {
  // 200 sequences of lengths 10..400 in a seeded random order.
  Random rng(3);
  std::vector<int64_t> lengths;
  for (int i = 0; i < 200; ++i) lengths.push_back(rng.integer(10, 400));
  const BatchOrder plain(lengths.size(), 8, 5), grouped(lengths, 8, 5, 10);
  CHECK(grouped.batches_per_epoch() == 25);
  // Padding = Σ over batches of (longest − each length): what make_train_batch computes for nothing.
  auto padding = [&](const BatchOrder& order, int64_t epoch, std::vector<int64_t>* seen) {
    int64_t pad = 0;
    for (int64_t m = epoch * 25; m < (epoch + 1) * 25; ++m) {
      const std::vector<int64_t> b = order.batch(m);
      int64_t longest = 0;
      for (int64_t i : b) longest = std::max(longest, lengths[static_cast<size_t>(i)]);
      for (int64_t i : b) pad += longest - lengths[static_cast<size_t>(i)], seen->push_back(i);
    }
    return pad;
  };
  std::vector<int64_t> plain_seen, grouped0, grouped1;
  const int64_t plain_pad = padding(plain, 0, &plain_seen);
  const int64_t grouped_pad = padding(grouped, 0, &grouped0);
  padding(grouped, 1, &grouped1);
  CHECK(std::set<int64_t>(grouped0.begin(), grouped0.end()).size() == 200);
  CHECK(std::set<int64_t>(grouped1.begin(), grouped1.end()).size() == 200);
  CHECK(grouped0 != grouped1);
  // Windows of 80 sorted: the padding falls to a small fraction of the ungrouped order's.
  CHECK(grouped_pad * 5 < plain_pad);
  // Batches are visited in a second shuffle: without it, micro-batches 0..9 would be the first
  // window's batches, longest first, so their longest sequences would never rise.
  std::vector<int64_t> longest_of_first_ten;
  for (int64_t m = 0; m < 10; ++m) {
    int64_t longest = 0;
    for (int64_t i : grouped.batch(m)) longest = std::max(longest, lengths[static_cast<size_t>(i)]);
    longest_of_first_ten.push_back(longest);
  }
  CHECK_FALSE(std::is_sorted(longest_of_first_ten.begin(), longest_of_first_ten.end(), std::greater<int64_t>()));
  // The same lengths and seed give the same run; group 0 is the ungrouped order.
  CHECK(BatchOrder(lengths, 8, 5, 10).batch(7) == grouped.batch(7));
  CHECK(BatchOrder(lengths, 8, 5, 0).batch(7) == plain.batch(7));
  test::check_message(test::error_from([&] { BatchOrder(lengths, 8, 5, -1); }), ErrorCode::InvalidArgument,
                      "group_by_length is -1");
}

TEST_CASE("data files: JSONL pairs or text, with errors naming the file and line") {
  const Tokenizer& t = llama2();
  const std::string pairs = write_file("pairs.jsonl", "{\"prompt\": \"a\", \"response\": \"b\"}\n\n{\"text\": \"c d\"}\n");
  CHECK(read_train_sequences(pairs, t, 64).size() == 2);
  CHECK(read_train_sequences(write_file("corpus.txt", "one report\n\nanother report\n"), t, 64).size() == 2);
  test::check_message(test::error_from([&] { read_train_sequences(write_file("bad.jsonl", "{\"prompt\": 3}\n"), t, 64); }),
                      ErrorCode::InvalidFormat, "bad.jsonl:1: \"prompt\" is 3, expected a string");
  test::check_message(test::error_from([&] { read_train_sequences(write_file("bad2.jsonl", "{}\n[1\n"), t, 64); }),
                      ErrorCode::InvalidFormat, "bad2.jsonl:1: expected an object with string \"prompt\"");
  test::check_message(test::error_from([&] { read_train_sequences(write_file("empty.txt", "\n"), t, 64); }),
                      ErrorCode::InvalidFormat, "no training sequence");
  test::check_message(test::error_from([&] { read_train_sequences("/nonexistent.jsonl", t, 64); }), ErrorCode::Io,
                      "/nonexistent.jsonl");
}

TEST_CASE("the configuration file: keys, defaults, relative paths and errors") {
  const std::string good = R"({
    "model": {"dim": 64, "layers": 2, "heads": 4, "ffn": 128, "context": 128, "tokenizer": "tok.model", "tied": true},
    "data": {"train": "reports.jsonl", "max_tokens": 96},
    "method": "lora", "lora": {"rank": 4, "alpha": 8, "dropout": 0.05, "targets": ["q_proj", "v"]},
    "optimizer": {"lr": 1e-3, "warmup_steps": 5, "weight_decay": 0.0},
    "steps": 50, "batch_size": 4, "grad_accum": 2, "seed": 3, "threads": 2,
    "checkpoint": {"dir": "ckpt", "every": 10},
    "output": {"gguf": "out.gguf", "type": "f16", "metrics": "m.jsonl", "loss_plot": "loss.png"}
  })";
  const TrainConfig c = TrainConfig::from_json(good, "run.json", "/runs/a");
  CHECK(c.scratch.dim == 64);
  CHECK(c.scratch.n_kv_heads == 4);
  CHECK(c.scratch.tied_output);
  CHECK(c.tokenizer == "/runs/a/tok.model");
  CHECK(c.train_data == "/runs/a/reports.jsonl");
  CHECK(c.method == TrainMethod::Lora);
  CHECK((c.lora.targets == std::vector<LlamaLinear>{LlamaLinear::Q, LlamaLinear::V}));
  CHECK(c.lr == 1e-3);
  CHECK(c.adamw.weight_decay == 0.0);
  CHECK(c.adamw.beta2 == 0.999);
  CHECK(c.checkpoint_dir == "/runs/a/ckpt");
  CHECK(c.output_type == TensorType::F16);
  CHECK(c.precision == TrainPrecision::F32);  // the default
  const std::string base = R"({"model": {"from": "m.gguf"}, "data": {"train": "t.jsonl"}, )";
  CHECK(TrainConfig::from_json(base + R"("precision": "bf16"})", "run.json", ".").precision == TrainPrecision::Bf16);
  CHECK(TrainConfig::from_json(base + R"("precision": "auto"})", "run.json", ".").precision ==
        (train::cpu_has_native_bf16() ? TrainPrecision::Bf16 : TrainPrecision::F32));

  auto refused = [](const std::string& text, const std::string& part) {
    test::check_message(test::error_from([&] { TrainConfig::from_json(text, "run.json", "."); }),
                        ErrorCode::InvalidFormat, part);
  };
  const std::string data = R"("data": {"train": "t.jsonl"})";
  refused(R"({"model": {"from": "m.gguf"}, )" + data + R"(, "batchsize": 4})", "run.json: unknown key 'batchsize'");
  refused(R"({"model": {"from": "m.gguf"}, )" + data + R"(, "optimizer": {"lr": "big"}})",
          "'optimizer.lr' is \"big\", expected a number");
  refused(R"({"model": {"from": "m.gguf"}, )" + data + R"(, "method": "qlora"})", "'method' is \"qlora\"");
  refused(R"({"model": {"dim": 64}, )" + data + "}", "missing key 'model.layers'");
  refused(R"({"model": {"from": "m.gguf"}})", "missing key 'data'");
  refused(R"({"model": {"from": "m.gguf"}, )" + data + R"(, "lora": {"targets": ["qkv"]}})", "lora.targets: 'qkv'");
  refused(R"({"model": {"from": "m.gguf"}, )" + data + R"(, "precision": "fp16"})",
          "'precision' is \"fp16\", expected one of \"f32\", \"bf16\", \"auto\"");
  refused("{", "not valid JSON");
}

TEST_CASE("learning rate: linear warm-up to the peak, then cosine down to the minimum") {
  const LrSchedule s{1.0, 0.1, 4, 14};
  CHECK(s.at(0) == doctest::Approx(0.25));
  CHECK(s.at(3) == doctest::Approx(1.0));
  CHECK(s.at(4) == doctest::Approx(1.0));
  CHECK(s.at(9) == doctest::Approx(0.55));
  CHECK(s.at(14) == doctest::Approx(0.1));
  CHECK(s.at(100) == doctest::Approx(0.1));
}

TEST_CASE("gradient clipping scales by the global norm, as torch.nn.utils.clip_grad_norm_") {
  at::Tensor a = at::zeros({2}), b = at::zeros({1});
  a.mutable_grad() = at::tensor({3.f, 0.f});
  b.mutable_grad() = at::tensor({4.f});
  CHECK(clip_grad_norm({a, b}, 10.0) == doctest::Approx(5.0));
  CHECK(a.grad()[0].item<float>() == 3.f);
  CHECK(clip_grad_norm({a, b}, 1.0) == doctest::Approx(5.0));
  CHECK(a.grad()[0].item<float>() == doctest::Approx(0.6).epsilon(1e-6));
  CHECK(b.grad()[0].item<float>() == doctest::Approx(0.8).epsilon(1e-6));
}
