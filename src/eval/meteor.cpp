// METEOR with exact matches only, as nltk.translate.meteor_score (nltk 3.8) scores them.
#include <algorithm>
#include <cmath>

#include "eval/text_corpus.hpp"
#include "ophtha/error.hpp"

namespace ophtha {
namespace {

// nltk's single_meteor_score with only its exact-match stage (_match_enums).
double meteor_of(const std::vector<int32_t>& hypothesis, const std::vector<int32_t>& reference,
                 const MeteorOptions& options) {
  // Hypothesis positions from last to first, each taking the last unmatched equal reference
  // position; so matched_ref[i] is found in order of decreasing i.
  std::vector<int64_t> matched_ref(hypothesis.size(), -1);
  std::vector<bool> reference_used(reference.size(), false);
  size_t matches = 0;
  for (size_t i = hypothesis.size(); i-- > 0;) {
    for (size_t j = reference.size(); j-- > 0;) {
      if (!reference_used[j] && reference[j] == hypothesis[i]) {
        reference_used[j] = true;
        matched_ref[i] = static_cast<int64_t>(j);
        ++matches;
        break;
      }
    }
  }
  if (matches == 0) return 0.0;  // nltk: ZeroDivisionError -> 0 (also for empty texts)

  // nltk's _count_chunks over the matches sorted by hypothesis position.
  size_t chunks = 1;
  int64_t previous_hyp = -1;
  int64_t previous_ref = -1;
  for (size_t i = 0; i < hypothesis.size(); ++i) {
    if (matched_ref[i] < 0) continue;
    const int64_t hyp = static_cast<int64_t>(i);
    if (previous_hyp >= 0 && !(hyp == previous_hyp + 1 && matched_ref[i] == previous_ref + 1)) ++chunks;
    previous_hyp = hyp;
    previous_ref = matched_ref[i];
  }
  const double m = static_cast<double>(matches);
  const double precision = m / static_cast<double>(hypothesis.size());
  const double recall = m / static_cast<double>(reference.size());
  const double fmean = (precision * recall) / (options.alpha * precision + (1.0 - options.alpha) * recall);
  const double fragmentation = static_cast<double>(chunks) / m;
  const double penalty = options.gamma * std::pow(fragmentation, options.beta);
  return (1.0 - penalty) * fmean;
}

void check_options(const MeteorOptions& options) {
  if (!(options.alpha >= 0.0 && options.alpha <= 1.0)) {
    fail(ErrorCode::InvalidArgument, "METEOR: alpha must be in [0, 1], got {}", options.alpha);
  }
  if (!(options.beta > 0.0)) fail(ErrorCode::InvalidArgument, "METEOR: beta must be > 0, got {}", options.beta);
  if (!(options.gamma >= 0.0 && options.gamma <= 1.0)) {
    fail(ErrorCode::InvalidArgument, "METEOR: gamma must be in [0, 1], got {}", options.gamma);
  }
}

}  // namespace

CorpusScore meteor_exact(const TokenizedCorpus& corpus, const MeteorOptions& options) {
  eval::check_corpus(corpus, "METEOR");
  check_options(options);
  eval::TokenIds ids;
  CorpusScore score;
  for (size_t i = 0; i < corpus.hypotheses.size(); ++i) {
    const std::vector<int32_t> hypothesis = ids.encode(corpus.hypotheses[i]);
    double best = 0.0;
    for (const ReportTokens& reference : corpus.references[i]) {
      best = std::max(best, meteor_of(hypothesis, ids.encode(reference), options));
    }
    score.per_report.push_back(best);
  }
  for (double s : score.per_report) score.corpus += s;
  score.corpus /= static_cast<double>(score.per_report.size());
  return score;
}

CorpusScore meteor_exact(const std::vector<std::string>& hypotheses,
                         const std::vector<std::vector<std::string>>& references,
                         const MeteorOptions& options) {
  return meteor_exact(tokenize_corpus(hypotheses, references), options);
}

double sentence_meteor_exact(const ReportTokens& hypothesis, const std::vector<ReportTokens>& references,
                             const MeteorOptions& options) {
  return meteor_exact(TokenizedCorpus{{hypothesis}, {references}}, options).corpus;
}

double sentence_meteor_exact(std::string_view hypothesis, const std::vector<std::string>& references,
                             const MeteorOptions& options) {
  return meteor_exact(tokenize_corpus({std::string(hypothesis)}, {references}), options).corpus;
}

}  // namespace ophtha
