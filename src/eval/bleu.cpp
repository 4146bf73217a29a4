// Corpus BLEU as nltk.translate.bleu_score.corpus_bleu (nltk 3.8) computes it, smoothing included.
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdlib>

#include "eval/text_corpus.hpp"
#include "ophtha/error.hpp"

namespace ophtha {
namespace {

// nltk's modified_precision as a fraction: clipped matches / max(1, hypothesis n-grams).
struct Precision {
  int64_t matches = 0;
  int64_t total = 0;
};

Precision modified_precision(const std::vector<int32_t>& hypothesis,
                             const std::vector<std::vector<int32_t>>& references, int order) {
  const eval::NgramCounts counts = eval::count_ngrams(hypothesis, order);
  eval::NgramCounts max_counts;
  for (const auto& reference : references) {
    const eval::NgramCounts reference_counts = eval::count_ngrams(reference, order);
    for (const auto& [ngram, count] : counts) {
      const auto found = reference_counts.find(ngram);
      if (found != reference_counts.end()) {
        max_counts[ngram] = std::max(max_counts[ngram], found->second);
      }
    }
  }
  Precision p;
  for (const auto& [ngram, count] : counts) {
    const auto found = max_counts.find(ngram);
    if (found != max_counts.end()) p.matches += std::min(count, found->second);
    p.total += count;
  }
  p.total = std::max<int64_t>(1, p.total);
  return p;
}

// nltk's closest_ref_length: the reference length nearest the hypothesis, the shorter on a tie.
int64_t closest_reference_length(const std::vector<std::vector<int32_t>>& references, int64_t hyp_len) {
  int64_t best = static_cast<int64_t>(references.front().size());
  for (const auto& reference : references) {
    const int64_t len = static_cast<int64_t>(reference.size());
    if (std::llabs(len - hyp_len) < std::llabs(best - hyp_len) ||
        (std::llabs(len - hyp_len) == std::llabs(best - hyp_len) && len < best)) {
      best = len;
    }
  }
  return best;
}

// Everything corpus_bleu needs, summed over the corpus.
struct BleuStatistics {
  std::array<Precision, 4> precision;  // orders 1..4
  int64_t hypothesis_length = 0;       // c
  int64_t reference_length = 0;        // r
  Precision last_order5;               // order-5 precision of the last pair (nltk's method 5)
};

BleuStatistics collect_statistics(const TokenizedCorpus& corpus) {
  eval::TokenIds ids;
  BleuStatistics stats;
  for (size_t i = 0; i < corpus.hypotheses.size(); ++i) {
    const std::vector<int32_t> hypothesis = ids.encode(corpus.hypotheses[i]);
    std::vector<std::vector<int32_t>> references;
    for (const ReportTokens& reference : corpus.references[i]) references.push_back(ids.encode(reference));
    for (int order = 1; order <= 4; ++order) {
      const Precision p = modified_precision(hypothesis, references, order);
      stats.precision[order - 1].matches += p.matches;
      stats.precision[order - 1].total += p.total;
    }
    const int64_t hyp_len = static_cast<int64_t>(hypothesis.size());
    stats.hypothesis_length += hyp_len;
    stats.reference_length += closest_reference_length(references, hyp_len);
    if (i + 1 == corpus.hypotheses.size()) {
      stats.last_order5 = modified_precision(hypothesis, references, eval::kMaxNgramOrder);
    }
  }
  return stats;
}

double ratio(const Precision& p) { return static_cast<double>(p.matches) / static_cast<double>(p.total); }

// SmoothingFunction.method4: the k-th order without a match gets 1 / (2^k · K / ln c) / total;
// left at 0 (and so skipped) when c <= 1.
void smooth_method4(std::vector<double>& p, const std::vector<Precision>& raw, int64_t hyp_len,
                    double k) {
  int64_t power = 2;
  for (size_t i = 0; i < p.size(); ++i) {
    if (raw[i].matches == 0 && hyp_len > 1) {
      const double numerator = 1.0 / (static_cast<double>(power) * k / std::log(static_cast<double>(hyp_len)));
      p[i] = numerator / static_cast<double>(raw[i].total);
      power *= 2;
    }
  }
}

// SmoothingFunction.method5: p'_i = (p'_{i-1} + p_i + p_{i+1}) / 3 with p'_{-1} = p_0 + 1 and the
// look-ahead past the last order taken from `order5`.
void smooth_method5(std::vector<double>& p, double order5) {
  std::vector<double> plus1 = p;
  plus1.push_back(order5);
  double previous = p[0] + 1.0;
  for (size_t i = 0; i < p.size(); ++i) {
    p[i] = (previous + p[i] + plus1[i + 1]) / 3.0;
    previous = p[i];
  }
}

// corpus_bleu with uniform weights over orders 1..n.
double bleu_of_order(const BleuStatistics& stats, int n, const BleuOptions& options) {
  if (stats.precision[0].matches == 0) return 0.0;
  const int64_t c = stats.hypothesis_length;
  const int64_t r = stats.reference_length;
  const double brevity_penalty =
      c > r ? 1.0 : std::exp(1.0 - static_cast<double>(r) / static_cast<double>(c));  // c > 0 here

  const std::vector<Precision> raw(stats.precision.begin(), stats.precision.begin() + n);
  std::vector<double> p(n);
  for (int i = 0; i < n; ++i) p[i] = ratio(raw[i]);
  switch (options.smoothing) {
    case BleuSmoothing::Method0:
      // nltk substitutes sys.float_info.min so that log() stays finite.
      for (int i = 0; i < n; ++i) {
        if (raw[i].matches == 0) p[i] = DBL_MIN;
      }
      break;
    case BleuSmoothing::Method1:
      for (int i = 0; i < n; ++i) {
        if (raw[i].matches == 0) p[i] = (0.0 + options.epsilon) / static_cast<double>(raw[i].total);
      }
      break;
    case BleuSmoothing::Method2:
      for (int i = 1; i < n; ++i) {
        p[i] = static_cast<double>(raw[i].matches + 1) / static_cast<double>(raw[i].total + 1);
      }
      break;
    case BleuSmoothing::Method3: {
      int64_t power = 2;
      for (int i = 0; i < n; ++i) {
        if (raw[i].matches == 0) {
          p[i] = 1.0 / static_cast<double>(power * raw[i].total);
          power *= 2;
        }
      }
      break;
    }
    case BleuSmoothing::Method4:
      smooth_method4(p, raw, c, options.k);
      break;
    case BleuSmoothing::Method5:
      smooth_method5(p, ratio(stats.last_order5));
      break;
    case BleuSmoothing::Method7:
      smooth_method4(p, raw, c, options.k);
      smooth_method5(p, ratio(stats.last_order5));
      break;
  }
  const double weight = 1.0 / n;
  double log_sum = 0.0;
  for (double p_i : p) {
    if (p_i > 0.0) log_sum += weight * std::log(p_i);  // nltk skips orders whose p is 0
  }
  return brevity_penalty * std::exp(log_sum);
}

void check_options(const BleuOptions& options) {
  if (!(options.epsilon > 0.0)) {
    fail(ErrorCode::InvalidArgument, "BLEU: smoothing epsilon must be > 0, got {}", options.epsilon);
  }
  if (!(options.k > 0.0)) fail(ErrorCode::InvalidArgument, "BLEU: smoothing K must be > 0, got {}", options.k);
}

}  // namespace

BleuScores corpus_bleu(const TokenizedCorpus& corpus, const BleuOptions& options) {
  eval::check_corpus(corpus, "BLEU");
  check_options(options);
  const BleuStatistics stats = collect_statistics(corpus);
  BleuScores scores{};
  for (int n = 1; n <= 4; ++n) scores[n - 1] = bleu_of_order(stats, n, options);
  return scores;
}

BleuScores corpus_bleu(const std::vector<std::string>& hypotheses,
                       const std::vector<std::vector<std::string>>& references,
                       const BleuOptions& options) {
  return corpus_bleu(tokenize_corpus(hypotheses, references), options);
}

BleuScores sentence_bleu(const ReportTokens& hypothesis, const std::vector<ReportTokens>& references,
                         const BleuOptions& options) {
  return corpus_bleu(TokenizedCorpus{{hypothesis}, {references}}, options);
}

BleuScores sentence_bleu(std::string_view hypothesis, const std::vector<std::string>& references,
                         const BleuOptions& options) {
  return corpus_bleu(tokenize_corpus({std::string(hypothesis)}, {references}), options);
}

}  // namespace ophtha
