// Corpus checks, tokenisation of a whole corpus, n-gram counting.
#include "eval/text_corpus.hpp"

#include "ophtha/error.hpp"

namespace ophtha {

TokenizedCorpus tokenize_corpus(const std::vector<std::string>& hypotheses,
                                const std::vector<std::vector<std::string>>& references) {
  if (hypotheses.size() != references.size()) {
    fail(ErrorCode::InvalidArgument, "corpus has {} hypotheses but {} reference sets",
         hypotheses.size(), references.size());
  }
  TokenizedCorpus corpus;
  corpus.hypotheses.reserve(hypotheses.size());
  corpus.references.resize(references.size());
  for (size_t i = 0; i < hypotheses.size(); ++i) {
    try {
      corpus.hypotheses.push_back(tokenize_report(hypotheses[i]));
    } catch (const Error& error) {
      fail(error.code(), "hypothesis {}: {}", i, error.what());
    }
    for (size_t j = 0; j < references[i].size(); ++j) {
      try {
        corpus.references[i].push_back(tokenize_report(references[i][j]));
      } catch (const Error& error) {
        fail(error.code(), "reference {} of hypothesis {}: {}", j, i, error.what());
      }
    }
  }
  return corpus;
}

namespace eval {

void check_corpus(const TokenizedCorpus& corpus, const char* metric) {
  if (corpus.hypotheses.size() != corpus.references.size()) {
    fail(ErrorCode::InvalidArgument, "{}: corpus has {} hypotheses but {} reference sets", metric,
         corpus.hypotheses.size(), corpus.references.size());
  }
  if (corpus.hypotheses.empty()) fail(ErrorCode::InvalidArgument, "{}: corpus is empty", metric);
  for (size_t i = 0; i < corpus.references.size(); ++i) {
    if (corpus.references[i].empty()) {
      fail(ErrorCode::InvalidArgument, "{}: hypothesis {} has no references", metric, i);
    }
  }
}

std::vector<int32_t> TokenIds::encode(const ReportTokens& tokens) {
  std::vector<int32_t> ids;
  ids.reserve(tokens.size());
  for (const std::string& token : tokens) {
    ids.push_back(ids_.emplace(token, static_cast<int32_t>(ids_.size())).first->second);
  }
  return ids;
}

NgramCounts count_ngrams(const std::vector<int32_t>& ids, int order) {
  NgramCounts counts;
  for (size_t start = 0; start + order <= ids.size(); ++start) {
    Ngram ngram;
    ngram.ids.fill(-1);
    for (int k = 0; k < order; ++k) ngram.ids[k] = ids[start + k];
    ++counts[ngram];
  }
  return counts;
}

}  // namespace eval
}  // namespace ophtha
