// ROUGE-L (Lin 2004, §3.1) as pycocoevalcap's Rouge: P and R maximised over references separately.
#include <algorithm>

#include "eval/text_corpus.hpp"
#include "ophtha/error.hpp"

namespace ophtha {
namespace {

// Length of the longest common subsequence; O(|a|·|b|) time, O(|b|) memory.
size_t lcs_length(const std::vector<int32_t>& a, const std::vector<int32_t>& b) {
  std::vector<size_t> row(b.size() + 1, 0);
  for (int32_t token : a) {
    size_t diagonal = 0;  // row[j - 1] of the previous row
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = token == b[j - 1] ? diagonal + 1 : std::max(row[j], row[j - 1]);
      diagonal = above;
    }
  }
  return row[b.size()];
}

// F from the best precision and recall; 0 when either is 0.
double f_measure(double precision, double recall, double beta) {
  if (precision == 0.0 || recall == 0.0) return 0.0;
  const double beta2 = beta * beta;
  return ((1.0 + beta2) * precision * recall) / (recall + beta2 * precision);
}

double rouge_l_of(const std::vector<int32_t>& hypothesis,
                  const std::vector<std::vector<int32_t>>& references, double beta) {
  if (hypothesis.empty()) return 0.0;
  double precision = 0.0;
  double recall = 0.0;
  for (const auto& reference : references) {
    const double lcs = static_cast<double>(lcs_length(reference, hypothesis));
    precision = std::max(precision, lcs / static_cast<double>(hypothesis.size()));
    if (!reference.empty()) recall = std::max(recall, lcs / static_cast<double>(reference.size()));
  }
  return f_measure(precision, recall, beta);
}

void check_beta(double beta) {
  if (!(beta > 0.0)) fail(ErrorCode::InvalidArgument, "ROUGE-L: beta must be > 0, got {}", beta);
}

}  // namespace

std::vector<std::vector<double>> pairwise_rouge_l(const std::vector<ReportTokens>& texts, double beta) {
  check_beta(beta);
  eval::TokenIds ids;
  std::vector<std::vector<int32_t>> encoded;
  encoded.reserve(texts.size());
  for (const ReportTokens& text : texts) encoded.push_back(ids.encode(text));
  std::vector<std::vector<double>> scores(texts.size(), std::vector<double>(texts.size(), 0.0));
  for (size_t i = 0; i < encoded.size(); ++i)
    for (size_t j = i + 1; j < encoded.size(); ++j) {
      const std::vector<int32_t>& a = encoded[i];
      const std::vector<int32_t>& b = encoded[j];
      if (a.empty() || b.empty()) continue;
      // As rouge_l_of with one reference: the LCS of (reference, hypothesis) is the pair's either way.
      const double lcs = static_cast<double>(lcs_length(b, a));
      const double a_share = lcs / static_cast<double>(a.size()), b_share = lcs / static_cast<double>(b.size());
      scores[i][j] = f_measure(a_share, b_share, beta);  // a the hypothesis: precision a_share, recall b_share
      scores[j][i] = f_measure(b_share, a_share, beta);
    }
  return scores;
}

CorpusScore rouge_l(const TokenizedCorpus& corpus, double beta) {
  eval::check_corpus(corpus, "ROUGE-L");
  check_beta(beta);
  eval::TokenIds ids;
  CorpusScore score;
  for (size_t i = 0; i < corpus.hypotheses.size(); ++i) {
    std::vector<std::vector<int32_t>> references;
    for (const ReportTokens& reference : corpus.references[i]) references.push_back(ids.encode(reference));
    score.per_report.push_back(rouge_l_of(ids.encode(corpus.hypotheses[i]), references, beta));
  }
  for (double s : score.per_report) score.corpus += s;
  score.corpus /= static_cast<double>(score.per_report.size());
  return score;
}

CorpusScore rouge_l(const std::vector<std::string>& hypotheses,
                    const std::vector<std::vector<std::string>>& references, double beta) {
  return rouge_l(tokenize_corpus(hypotheses, references), beta);
}

double sentence_rouge_l(const ReportTokens& hypothesis, const std::vector<ReportTokens>& references,
                        double beta) {
  return rouge_l(TokenizedCorpus{{hypothesis}, {references}}, beta).corpus;
}

double sentence_rouge_l(std::string_view hypothesis, const std::vector<std::string>& references,
                        double beta) {
  return rouge_l(tokenize_corpus({std::string(hypothesis)}, {references}), beta).corpus;
}

}  // namespace ophtha
