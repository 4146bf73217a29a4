// CIDEr-D (Vedantam et al. 2015) as the CiderD scorer of pycocoevalcap (vrama91/cider).
#include <algorithm>
#include <cmath>
#include <unordered_set>

#include "eval/text_corpus.hpp"
#include "ophtha/error.hpp"

namespace ophtha {
namespace {

constexpr int kCiderOrders = 4;

// One sentence as tf-idf vectors per order, their norms, and its length.
struct TfIdfVector {
  std::array<std::unordered_map<eval::Ngram, double, eval::NgramHash>, kCiderOrders> weights;
  std::array<double, kCiderOrders> norms{};
  double length = 0.0;
};

TfIdfVector tf_idf(const std::vector<int32_t>& tokens, const eval::NgramCounts& document_frequency,
                   double log_documents) {
  TfIdfVector vec;
  for (int order = 1; order <= kCiderOrders; ++order) {
    double squared = 0.0;
    for (const auto& [ngram, tf] : eval::count_ngrams(tokens, order)) {
      const auto found = document_frequency.find(ngram);
      const double df = found == document_frequency.end() ? 0.0 : static_cast<double>(found->second);
      const double weight = static_cast<double>(tf) * (log_documents - std::log(std::max(1.0, df)));
      vec.weights[order - 1].emplace(ngram, weight);
      squared += weight * weight;
    }
    vec.norms[order - 1] = std::sqrt(squared);
  }
  // pycocoevalcap counts bigrams here (its `if n == 1`); that equals the word count minus one for
  // a non-empty text, so the difference of two lengths is the same, and an empty text scores 0
  // either way (all its vectors are empty). Words are used.
  vec.length = static_cast<double>(tokens.size());
  return vec;
}

// Clipped cosine similarity per order with the Gaussian length penalty.
std::array<double, kCiderOrders> similarity(const TfIdfVector& hyp, const TfIdfVector& ref, double sigma) {
  const double delta = hyp.length - ref.length;
  const double penalty = std::exp(-(delta * delta) / (2.0 * sigma * sigma));
  std::array<double, kCiderOrders> value{};
  for (int n = 0; n < kCiderOrders; ++n) {
    for (const auto& [ngram, weight] : hyp.weights[n]) {
      const auto found = ref.weights[n].find(ngram);
      if (found != ref.weights[n].end()) value[n] += std::min(weight, found->second) * found->second;
    }
    if (hyp.norms[n] != 0.0 && ref.norms[n] != 0.0) value[n] /= hyp.norms[n] * ref.norms[n];
    value[n] *= penalty;
  }
  return value;
}

}  // namespace

CorpusScore cider_d(const TokenizedCorpus& corpus, const CiderOptions& options) {
  eval::check_corpus(corpus, "CIDEr-D");
  if (!(options.sigma > 0.0)) {
    fail(ErrorCode::InvalidArgument, "CIDEr-D: sigma must be > 0, got {}", options.sigma);
  }
  eval::TokenIds ids;
  std::vector<std::vector<int32_t>> hypotheses;
  std::vector<std::vector<std::vector<int32_t>>> references(corpus.references.size());
  for (size_t i = 0; i < corpus.hypotheses.size(); ++i) {
    hypotheses.push_back(ids.encode(corpus.hypotheses[i]));
    for (const ReportTokens& reference : corpus.references[i]) references[i].push_back(ids.encode(reference));
  }

  // Document frequency: in how many reports' reference sets each n-gram occurs.
  eval::NgramCounts document_frequency;
  for (const auto& report_references : references) {
    std::unordered_set<eval::Ngram, eval::NgramHash> seen;
    for (const auto& reference : report_references) {
      for (int order = 1; order <= kCiderOrders; ++order) {
        for (const auto& entry : eval::count_ngrams(reference, order)) seen.insert(entry.first);
      }
    }
    for (const eval::Ngram& ngram : seen) ++document_frequency[ngram];
  }
  const double log_documents = std::log(static_cast<double>(corpus.hypotheses.size()));

  CorpusScore score;
  for (size_t i = 0; i < hypotheses.size(); ++i) {
    const TfIdfVector hyp = tf_idf(hypotheses[i], document_frequency, log_documents);
    std::array<double, kCiderOrders> sum{};
    for (const auto& reference : references[i]) {
      const auto value = similarity(hyp, tf_idf(reference, document_frequency, log_documents), options.sigma);
      for (int n = 0; n < kCiderOrders; ++n) sum[n] += value[n];
    }
    double mean = 0.0;
    for (double s : sum) mean += s;
    mean /= kCiderOrders;
    score.per_report.push_back(mean / static_cast<double>(references[i].size()) * 10.0);
  }
  for (double s : score.per_report) score.corpus += s;
  score.corpus /= static_cast<double>(score.per_report.size());
  return score;
}

CorpusScore cider_d(const std::vector<std::string>& hypotheses,
                    const std::vector<std::vector<std::string>>& references, const CiderOptions& options) {
  return cider_d(tokenize_corpus(hypotheses, references), options);
}

}  // namespace ophtha
