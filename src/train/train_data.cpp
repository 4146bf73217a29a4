#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <numeric>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include "ophtha/error.hpp"
#include "ophtha/random.hpp"
#include "ophtha/train_data.hpp"

namespace ophtha {
namespace {

void require_max_tokens(int64_t max_tokens) {
  if (max_tokens < 2) fail(ErrorCode::InvalidArgument, "max_tokens is {}, expected ≥ 2", max_tokens);
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

int64_t TrainSequence::learned() const { return std::accumulate(learn.begin(), learn.end(), int64_t{0}); }

TrainSequence supervised_sequence(const Tokenizer& tokenizer, const std::string& prompt, const std::string& response,
                                  int64_t max_tokens) {
  require_max_tokens(max_tokens);
  TrainSequence s;
  s.tokens = tokenizer.encode(prompt, true);
  s.learn.assign(s.tokens.size(), 0);
  std::vector<int32_t> report = tokenizer.encode(response, false);
  report.push_back(tokenizer.eos_id());
  s.tokens.insert(s.tokens.end(), report.begin(), report.end());
  s.learn.resize(s.tokens.size(), 1);
  if (static_cast<int64_t>(s.tokens.size()) > max_tokens) {
    s.tokens.resize(static_cast<size_t>(max_tokens));
    s.learn.resize(static_cast<size_t>(max_tokens));
  }
  s.learn[0] = 0;
  return s;
}

std::vector<TrainSequence> document_sequences(const Tokenizer& tokenizer, const std::string& text,
                                              int64_t max_tokens) {
  require_max_tokens(max_tokens);
  std::vector<int32_t> tokens = tokenizer.encode(text, true);
  tokens.push_back(tokenizer.eos_id());
  std::vector<TrainSequence> out;
  for (size_t begin = 0; begin + 1 < tokens.size(); begin += static_cast<size_t>(max_tokens)) {
    const size_t end = std::min(tokens.size(), begin + static_cast<size_t>(max_tokens));
    if (end - begin < 2) break;
    TrainSequence s;
    s.tokens.assign(tokens.begin() + static_cast<std::ptrdiff_t>(begin), tokens.begin() + static_cast<std::ptrdiff_t>(end));
    s.learn.assign(s.tokens.size(), 1);
    s.learn[0] = 0;
    out.push_back(std::move(s));
  }
  return out;
}

std::vector<TrainSequence> read_train_sequences(const std::string& path, const Tokenizer& tokenizer, int64_t max_tokens,
                                                int64_t* dropped) {
  require_max_tokens(max_tokens);
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(ErrorCode::Io, "cannot open '{}': {}", path, std::strerror(errno));
  const bool jsonl = ends_with(path, ".jsonl");
  std::vector<TrainSequence> out;
  int64_t n_dropped = 0;
  std::string line;
  for (int64_t number = 1; std::getline(in, line); ++number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    if (!jsonl) {
      for (TrainSequence& s : document_sequences(tokenizer, line, max_tokens)) out.push_back(std::move(s));
      continue;
    }
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception& e) {
      fail(ErrorCode::InvalidFormat, "{}:{}: not valid JSON ({})", path, number, e.what());
    }
    auto text_of = [&](const char* key) -> const std::string* {
      const auto it = j.is_object() ? j.find(key) : j.end();
      if (it == j.end()) return nullptr;
      if (!it->is_string())
        fail(ErrorCode::InvalidFormat, "{}:{}: \"{}\" is {}, expected a string", path, number, key, it->dump());
      return it->get_ptr<const std::string*>();
    };
    const std::string* prompt = text_of("prompt");
    const std::string* response = text_of("response");
    const std::string* text = text_of("text");
    if (prompt && response) {
      TrainSequence s = supervised_sequence(tokenizer, *prompt, *response, max_tokens);
      if (s.learned() == 0)
        ++n_dropped;
      else
        out.push_back(std::move(s));
    } else if (text) {
      for (TrainSequence& s : document_sequences(tokenizer, *text, max_tokens)) out.push_back(std::move(s));
    } else {
      fail(ErrorCode::InvalidFormat, "{}:{}: expected an object with string \"prompt\" and \"response\", or \"text\"",
           path, number);
    }
  }
  if (in.bad()) fail(ErrorCode::Io, "{}: read failed: {}", path, std::strerror(errno));
  if (out.empty())
    fail(ErrorCode::InvalidFormat, "{}: no training sequence ({} responses did not fit in max_tokens = {})", path,
         n_dropped, max_tokens);
  if (dropped) *dropped = n_dropped;
  return out;
}

TrainBatch make_train_batch(const std::vector<const TrainSequence*>& sequences, int32_t pad_id) {
  if (sequences.empty()) fail(ErrorCode::InvalidArgument, "a batch needs at least one sequence");
  size_t longest = 0;
  for (const TrainSequence* s : sequences) {
    if (s->tokens.size() < 2 || s->learn.size() != s->tokens.size())
      fail(ErrorCode::InvalidArgument, "a training sequence has {} tokens and {} learn flags, expected ≥ 2 of each",
           s->tokens.size(), s->learn.size());
    longest = std::max(longest, s->tokens.size());
  }
  const auto B = static_cast<int64_t>(sequences.size()), T = static_cast<int64_t>(longest) - 1;
  TrainBatch b;
  b.ids = at::full({B, T}, pad_id, at::kLong);
  b.targets = at::full({B, T}, pad_id, at::kLong);
  b.loss_mask = at::zeros({B, T}, at::kFloat);
  auto ids = b.ids.accessor<int64_t, 2>();
  auto targets = b.targets.accessor<int64_t, 2>();
  auto mask = b.loss_mask.accessor<float, 2>();
  for (int64_t i = 0; i < B; ++i) {
    const TrainSequence& s = *sequences[static_cast<size_t>(i)];
    const auto n = static_cast<int64_t>(s.tokens.size()) - 1;
    for (int64_t t = 0; t < n; ++t) {
      ids[i][t] = s.tokens[static_cast<size_t>(t)];
      targets[i][t] = s.tokens[static_cast<size_t>(t + 1)];
      mask[i][t] = s.learn[static_cast<size_t>(t + 1)] ? 1.f : 0.f;
      b.learned += s.learn[static_cast<size_t>(t + 1)] ? 1 : 0;
    }
    b.tokens += n;
  }
  return b;
}

BatchOrder::BatchOrder(int64_t n_sequences, int64_t batch_size, uint64_t seed)
    : n_(n_sequences), batch_size_(batch_size), seed_(seed) {
  if (n_sequences < 1) fail(ErrorCode::InvalidArgument, "no training sequences to order");
  if (batch_size < 1) fail(ErrorCode::InvalidArgument, "batch_size is {}, expected ≥ 1", batch_size);
}

BatchOrder::BatchOrder(std::vector<int64_t> lengths, int64_t batch_size, uint64_t seed, int64_t group_batches)
    : BatchOrder(static_cast<int64_t>(lengths.size()), batch_size, seed) {
  if (group_batches < 0) fail(ErrorCode::InvalidArgument, "group_by_length is {}, expected ≥ 0 batches", group_batches);
  if (group_batches > 0) lengths_ = std::move(lengths), group_batches_ = group_batches;
}

std::vector<int64_t> BatchOrder::batch(int64_t m) const {
  const int64_t epoch = m / batches_per_epoch(), index = m % batches_per_epoch();
  std::vector<int64_t> order(static_cast<size_t>(n_));
  std::iota(order.begin(), order.end(), int64_t{0});
  Random rng = Random(seed_).fork(static_cast<uint64_t>(epoch));
  for (int64_t i = n_ - 1; i > 0; --i) std::swap(order[static_cast<size_t>(i)], order[static_cast<size_t>(rng.integer(0, i))]);
  int64_t begin = index * batch_size_;
  if (group_batches_ > 0) {
    const int64_t window = group_batches_ * batch_size_;
    for (int64_t w = 0; w < n_; w += window)
      std::stable_sort(order.begin() + w, order.begin() + std::min(n_, w + window),
                       [&](int64_t a, int64_t b) { return lengths_[static_cast<size_t>(a)] > lengths_[static_cast<size_t>(b)]; });
    // Batches are cut at multiples of batch_size; only the epoch's last batch can be short.
    std::vector<int64_t> batches(static_cast<size_t>(batches_per_epoch()));
    std::iota(batches.begin(), batches.end(), int64_t{0});
    for (int64_t i = static_cast<int64_t>(batches.size()) - 1; i > 0; --i)
      std::swap(batches[static_cast<size_t>(i)], batches[static_cast<size_t>(rng.integer(0, i))]);
    begin = batches[static_cast<size_t>(index)] * batch_size_;
  }
  const int64_t end = std::min(n_, begin + batch_size_);
  return std::vector<int64_t>(order.begin() + begin, order.begin() + end);
}

}  // namespace ophtha
