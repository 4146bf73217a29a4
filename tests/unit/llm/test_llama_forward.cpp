// The transformer against a plain ATen implementation of LLaMA2 written here from the paper's
// equations, and against itself: KV-cache decoding vs full recompute, batched prefill vs
// token-by-token, GGUF vs Hugging Face layouts of the same weights, several threads at once.
#include "support/doctest_with_aten.hpp"

#include <atomic>
#include <thread>

#include "ophtha/error.hpp"
#include "ophtha/generate.hpp"
#include "ophtha/llama.hpp"
#include "support/test_models.hpp"

using namespace ophtha;

namespace {

const char* kGqaArgs = "--type f32 --dim 64 --layers 2 --heads 8 --kv-heads 2 --ffn 192 --ctx 64 --seed 11 --std 0.1";

std::string gguf_model(const char* type = "f32") {
  return test::test_model(std::string("gqa-") + type, std::string("--format gguf ") + kGqaArgs + " --type " + type);
}

at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& w, double eps) {
  return x * at::rsqrt(x.pow(2).mean(-1, true) + eps) * w;
}

// x (T, heads, head_dim) rotated at positions [0, T).
at::Tensor rope(const at::Tensor& x, const LlamaConfig& c) {
  const int64_t T = x.size(0), half = c.head_dim / 2;
  auto opts = at::TensorOptions().dtype(at::kDouble);
  at::Tensor inv_freq = at::pow(at::full({half}, c.rope_theta, opts), -2.0 * at::arange(half, opts) / c.head_dim);
  at::Tensor angle = at::outer(at::arange(T, opts), inv_freq).to(at::kFloat).unsqueeze(1);  // (T, 1, half)
  at::Tensor a, b;
  if (c.rope_layout == RopeLayout::Interleaved) {
    at::Tensor pairs = x.reshape({T, x.size(1), half, 2});
    a = pairs.select(3, 0);
    b = pairs.select(3, 1);
    return at::stack({a * angle.cos() - b * angle.sin(), a * angle.sin() + b * angle.cos()}, 3).reshape(x.sizes());
  }
  a = x.narrow(2, 0, half);
  b = x.narrow(2, half, half);
  return at::cat({a * angle.cos() - b * angle.sin(), a * angle.sin() + b * angle.cos()}, 2);
}

// Logits (T, vocab) of a float-weight model for `ids`, no cache, every op from ATen.
at::Tensor reference_logits(const LlamaModel& m, const std::vector<int32_t>& ids) {
  const LlamaConfig& c = m.config();
  auto W = [](const WeightMatrix& w) { return w.tensor.to(at::kFloat); };
  const auto T = static_cast<int64_t>(ids.size());
  std::vector<int64_t> ids64(ids.begin(), ids.end());
  at::Tensor x = W(m.token_embedding()).index_select(0, at::tensor(ids64));
  const at::Tensor causal = at::full({T, T}, -INFINITY).triu(1);
  for (const LlamaLayerWeights& w : m.layers()) {
    at::Tensor h = rms_norm(x, w.attn_norm, c.rms_eps);
    at::Tensor q = rope(at::mm(h, W(w.wq).t()).view({T, c.n_heads, c.head_dim}), c);
    at::Tensor k = rope(at::mm(h, W(w.wk).t()).view({T, c.n_kv_heads, c.head_dim}), c);
    at::Tensor v = at::mm(h, W(w.wv).t()).view({T, c.n_kv_heads, c.head_dim});
    const int64_t group = c.n_heads / c.n_kv_heads;
    k = k.repeat_interleave(group, 1);
    v = v.repeat_interleave(group, 1);
    at::Tensor scores = at::einsum("thd,shd->hts", {q, k}) / std::sqrt(static_cast<double>(c.head_dim)) + causal;
    at::Tensor out = at::einsum("hts,shd->thd", {at::softmax(scores, -1), v}).reshape({T, c.n_heads * c.head_dim});
    x = x + at::mm(out, W(w.wo).t());
    h = rms_norm(x, w.ffn_norm, c.rms_eps);
    x = x + at::mm(at::silu(at::mm(h, W(w.w_gate).t())) * at::mm(h, W(w.w_up).t()), W(w.w_down).t());
  }
  return at::mm(rms_norm(x, m.output_norm(), c.rms_eps), W(m.output_head()).t());
}

double relative_error(const at::Tensor& got, const at::Tensor& want) {
  return (got - want).abs().max().item<double>() / want.abs().max().item<double>();
}

std::vector<int32_t> some_ids(const LlamaModel& m, int n, int offset = 0) {
  std::vector<int32_t> ids = m.tokenizer().encode("The optic disc shows a cup-to-disc ratio of 0.7; 视网膜出血。", true);
  std::vector<int32_t> out;
  for (int i = 0; i < n; ++i) out.push_back(ids[static_cast<size_t>(i + offset) % ids.size()]);
  return out;
}

}  // namespace

TEST_CASE("batched prefill matches a plain ATen LLaMA2 implementation at every position (GQA 8 heads / 2 kv heads)") {
  auto model = LlamaModel::load(gguf_model());
  CHECK(model->config().n_heads == 8);
  CHECK(model->config().n_kv_heads == 2);
  LlamaSession session(model);
  const auto ids = some_ids(*model, 20);
  const at::Tensor got = session.forward_tokens(ids, true);
  const at::Tensor want = reference_logits(*model, ids);
  CHECK(got.sizes() == want.sizes());
  CHECK(relative_error(got, want) < 1e-4);
}

TEST_CASE("incremental decoding with the KV cache equals a full recompute, and prefill equals token-by-token") {
  auto model = LlamaModel::load(gguf_model());
  const auto ids = some_ids(*model, 24);
  LlamaSession batched(model), stepwise(model);
  const at::Tensor all = batched.forward_tokens(ids, true);
  for (size_t i = 0; i < ids.size(); ++i) {
    const at::Tensor step = stepwise.forward_tokens({ids[i]});
    INFO("position ", i);
    CHECK(relative_error(step, all[static_cast<int64_t>(i)]) < 1e-4);
  }
  CHECK(stepwise.position() == 24);
  // A prompt split in uneven chunks lands on the same logits too.
  LlamaSession chunked(model);
  chunked.forward_tokens({ids.begin(), ids.begin() + 5});
  chunked.forward_tokens({ids.begin() + 5, ids.begin() + 7});
  const at::Tensor tail = chunked.forward_tokens({ids.begin() + 7, ids.end()});
  CHECK(relative_error(tail, all[23]) < 1e-4);
}

TEST_CASE("F16 and BF16 weights compute the same model as F32 within half-precision error") {
  auto f32 = LlamaModel::load(gguf_model("f32"));
  const auto ids = some_ids(*f32, 12);
  const at::Tensor want = reference_logits(*f32, ids);
  for (const char* type : {"f16", "bf16"}) {
    auto model = LlamaModel::load(gguf_model(type));
    LlamaSession session(model);
    INFO(type);
    CHECK(relative_error(session.forward_tokens(ids, true), want) < (type[0] == 'b' ? 5e-2 : 1e-2));
    // decode path (matvec kernels) agrees with the prefill path (widened BLAS) on the same weights
    LlamaSession stepwise(model);
    at::Tensor last;
    for (int32_t id : ids) last = stepwise.forward_tokens({id});
    CHECK(relative_error(last, reference_logits(*model, ids)[11]) < 1e-4);
  }
}

TEST_CASE("a Hugging Face folder and a GGUF of the same weights give the same logits") {
  auto gguf = LlamaModel::load(gguf_model());
  auto hf = LlamaModel::load(test::test_model("gqa-hf", std::string("--format hf ") + kGqaArgs));
  auto sharded = LlamaModel::load(test::test_model("gqa-hf-sharded", std::string("--format hf-sharded ") + kGqaArgs));
  CHECK(hf->config().rope_layout == RopeLayout::HalfSplit);
  const auto ids = some_ids(*gguf, 16);
  LlamaSession a(gguf), b(hf), c(sharded);
  const at::Tensor want = a.forward_tokens(ids, true);
  CHECK(relative_error(b.forward_tokens(ids, true), want) < 1e-4);
  CHECK(relative_error(c.forward_tokens(ids, true), want) < 1e-4);
  CHECK(relative_error(reference_logits(*hf, ids), want) < 1e-4);
}

TEST_CASE("input embeddings give the same logits as the token ids they embed") {
  auto model = LlamaModel::load(gguf_model());
  const auto ids = some_ids(*model, 9);
  at::Tensor embeddings = at::empty({9, model->config().dim});
  model->embed_tokens(ids.data(), 9, embeddings.data_ptr<float>());
  LlamaSession a(model), b(model);
  CHECK(relative_error(b.forward_embeddings(embeddings), a.forward_tokens(ids)) < 1e-6);
  CHECK_THROWS_AS(b.forward_embeddings(at::zeros({3, 5})), Error);
}

TEST_CASE("running past the context length is a ContextOverflow error that leaves the cache usable") {
  auto model = LlamaModel::load(gguf_model());
  LlamaSessionOptions options;
  options.context_length = 16;
  LlamaSession session(model, options);
  session.forward_tokens(some_ids(*model, 10));
  try {
    session.forward_tokens(some_ids(*model, 7));
    FAIL("expected ContextOverflow");
  } catch (const Error& e) {
    CHECK(e.code() == ErrorCode::ContextOverflow);
    CHECK(std::string(e.what()).find("context length 16") != std::string::npos);
  }
  CHECK(session.position() == 10);
  CHECK_NOTHROW(session.forward_tokens(some_ids(*model, 6)));
  CHECK(session.position() == 16);
  CHECK_THROWS_AS(session.forward_tokens({1}), Error);
  options.context_length = model->config().context_length + 1;
  CHECK_THROWS_AS(LlamaSession(model, options), Error);
}

TEST_CASE("token ids outside the vocabulary are refused with the offending index") {
  auto model = LlamaModel::load(gguf_model());
  LlamaSession session(model);
  try {
    session.forward_tokens({1, 2, static_cast<int32_t>(model->config().vocab_size)});
    FAIL("expected an error");
  } catch (const Error& e) {
    CHECK(e.code() == ErrorCode::InvalidArgument);
    CHECK(std::string(e.what()).find("index 2") != std::string::npos);
  }
  CHECK(session.position() == 0);
}

TEST_CASE("an abort check stops the pass with Aborted and appends nothing to the cache") {
  auto model = LlamaModel::load(gguf_model());
  LlamaSession session(model);
  int polls = 0;
  session.set_abort_check([&] { return ++polls == 2; });
  CHECK_THROWS_AS(session.forward_tokens(some_ids(*model, 5)), Error);
  CHECK(session.position() == 0);
  session.set_abort_check(nullptr);
  CHECK_NOTHROW(session.forward_tokens(some_ids(*model, 5)));
}

TEST_CASE("sessions on several threads share one model and give the same tokens as one thread") {
  auto model = LlamaModel::load(gguf_model("q8_0"));
  GenerateOptions options;
  options.max_tokens = 24;
  options.ignore_eos = true;
  options.sampling.temperature = 0.9f;
  options.sampling.seed = 5;
  const auto prompt = some_ids(*model, 6);
  LlamaSessionOptions one_thread;
  one_thread.n_threads = 1;
  LlamaSession reference_session(model, one_thread);
  const std::vector<int32_t> want = generate(reference_session, prompt, options).tokens;
  std::vector<std::vector<int32_t>> got(4);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < got.size(); ++i)
    threads.emplace_back([&, i] {
      LlamaSession session(model, one_thread);
      got[i] = generate(session, prompt, options).tokens;
    });
  for (auto& t : threads) t.join();
  for (const auto& tokens : got) CHECK(tokens == want);
}
