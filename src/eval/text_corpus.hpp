// Internals shared by the text metrics: corpus checks, token interning and n-gram counting.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "ophtha/text_metrics.hpp"

namespace ophtha::eval {

// Highest n-gram order any metric counts (BLEU smoothing method 5 looks at order 5).
inline constexpr int kMaxNgramOrder = 5;

// Throws Error(InvalidArgument) naming `metric` and the index when the corpus is empty, its two
// sides differ in size, or a hypothesis has no references.
void check_corpus(const TokenizedCorpus& corpus, const char* metric);

// Maps token strings to dense ids so that n-grams are small fixed-size keys.
class TokenIds {
 public:
  std::vector<int32_t> encode(const ReportTokens& tokens);

 private:
  std::unordered_map<std::string, int32_t> ids_;
};

// An n-gram of order 1..kMaxNgramOrder; unused slots are -1.
struct Ngram {
  std::array<int32_t, kMaxNgramOrder> ids;
  bool operator==(const Ngram& other) const { return ids == other.ids; }
};

struct NgramHash {
  size_t operator()(const Ngram& ngram) const {
    uint64_t h = 1469598103934665603ull;  // FNV-1a over the ids
    for (int32_t id : ngram.ids) h = (h ^ static_cast<uint32_t>(id)) * 1099511628211ull;
    return static_cast<size_t>(h);
  }
};

using NgramCounts = std::unordered_map<Ngram, int64_t, NgramHash>;

// Counts of every n-gram of exactly `order` tokens in `ids` (empty when the text is shorter).
NgramCounts count_ngrams(const std::vector<int32_t>& ids, int order);

}  // namespace ophtha::eval
