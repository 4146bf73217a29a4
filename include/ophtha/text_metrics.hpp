// Text metrics of `ophtha eval`: generated reports scored against clinicians' reports with the
// measures the report-generation literature uses — BLEU-1..4, ROUGE-L, CIDEr-D and METEOR (exact
// matches). Each follows a named reference implementation, reproduced with its quirks so that our
// numbers can be put next to published ones; docs/evaluation.md gives the definitions and the
// agreement the tests measure.
//
// Every function takes either tokens (ReportTokens, compared byte for byte) or raw report text,
// which is first split by tokenize_report (ophtha/report_tokenizer.hpp). All are pure functions:
// any thread may call them concurrently. Errors are ophtha::Error(InvalidArgument) whose message
// names the offending index (e.g. "hypothesis 3 has no references").
#pragma once
#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "ophtha/export.h"
#include "ophtha/report_tokenizer.hpp"

namespace ophtha {

// N generated reports (hypotheses), each with one or more reference reports.
struct TokenizedCorpus {
  std::vector<ReportTokens> hypotheses;               // (N)
  std::vector<std::vector<ReportTokens>> references;  // (N, references of report i, at least 1)
};

// Tokenises every report. Throws when the sizes differ ("3 hypotheses but 2 reference sets") or a
// text is not UTF-8 (the message names "hypothesis i" or "reference j of hypothesis i").
OPHTHA_API TokenizedCorpus tokenize_corpus(const std::vector<std::string>& hypotheses,
                                           const std::vector<std::vector<std::string>>& references);

// ---- BLEU (Papineni et al. 2002), exactly as nltk.translate.bleu_score.corpus_bleu (nltk 3.8) ----
// Modified n-gram precisions are summed over the corpus (clipped matches / hypothesis n-grams,
// each sentence's denominator at least 1); brevity penalty exp(1 - r/c) with r the sum of each
// hypothesis' closest reference length (ties -> the shorter) and c the total hypothesis length
// (1 when c > r, 0 when c = 0); BLEU-n = BP · exp(Σ_{k≤n} (1/n) log p_k) over the p_k > 0.
// BLEU is 0 when no unigram matches anywhere. BLEU-n is corpus_bleu with weights (1/n, …, 1/n)
// computed on its own, so smoothing sees orders 1..n only.

// Smoothing methods of Chen & Cherry (2014) under nltk's SmoothingFunction names.
enum class BleuSmoothing {
  Method0,  // none; an order with no match gets nltk's sys.float_info.min, so the score is ~0
  Method1,  // an order with no match gets (0 + epsilon) / total
  Method2,  // orders n >= 2: (matches + 1) / (total + 1)  (Lin & Och 2004)
  Method3,  // NIST geometric: the k-th order with no match gets 1 / (2^k · total)
  Method4,  // like 3, scaled by ln(c)/K: 1 / (2^k · K / ln c) / total (c = total hypothesis length)
  Method5,  // each p_n averaged with its neighbours: (p'_{n-1} + p_n + p_{n+1}) / 3
  Method7,  // method 4, then method 5
};

struct BleuOptions {
  BleuSmoothing smoothing = BleuSmoothing::Method0;
  double epsilon = 0.1;  // method 1 (nltk's default)
  double k = 5.0;        // method 4's K (nltk's default)
};

// BLEU-1, BLEU-2, BLEU-3, BLEU-4 in that order.
using BleuScores = std::array<double, 4>;

// Corpus BLEU-1..4. nltk quirk kept: for methods 5 and 7 the look-ahead p_{n+1} of the highest
// order n is the order-5 modified precision of the corpus' *last* hypothesis alone (for every n),
// because nltk hands its loop's last sentence to the smoothing function.
OPHTHA_API BleuScores corpus_bleu(const TokenizedCorpus& corpus, const BleuOptions& options = {});
OPHTHA_API BleuScores corpus_bleu(const std::vector<std::string>& hypotheses,
                                  const std::vector<std::vector<std::string>>& references,
                                  const BleuOptions& options = {});

// nltk.translate.bleu_score.sentence_bleu: corpus BLEU of a one-sentence corpus.
OPHTHA_API BleuScores sentence_bleu(const ReportTokens& hypothesis,
                                    const std::vector<ReportTokens>& references,
                                    const BleuOptions& options = {});
OPHTHA_API BleuScores sentence_bleu(std::string_view hypothesis,
                                    const std::vector<std::string>& references,
                                    const BleuOptions& options = {});

// A corpus-level score and the per-report scores it averages.
struct CorpusScore {
  double corpus = 0.0;              // mean of per_report
  std::vector<double> per_report;   // (N)
};

// ---- ROUGE-L (Lin 2004, §3.1), as pycocoevalcap's Rouge (the COCO caption evaluation) ----
// For each reference r: P_r = LCS(h, r) / |h|, R_r = LCS(h, r) / |r|. Then P = max_r P_r and
// R = max_r R_r separately, F = (1 + β²) P R / (R + β² P), 0 when P or R is 0. The corpus score is
// the mean of per-report F. An empty hypothesis scores 0; an empty reference has R_r = 0.
// beta must be > 0; 1.2 is pycocoevalcap's value.
OPHTHA_API double sentence_rouge_l(const ReportTokens& hypothesis,
                                   const std::vector<ReportTokens>& references, double beta = 1.2);
OPHTHA_API double sentence_rouge_l(std::string_view hypothesis,
                                   const std::vector<std::string>& references, double beta = 1.2);
// ROUGE-L of every ordered pair of `texts`, each other text the one reference: an (N × N) matrix,
// row i column j = sentence_rouge_l(texts[i], {texts[j]}, beta) (to the last bit), the diagonal 0.
// One LCS per unordered pair and no copies: for comparing many candidates with each other.
OPHTHA_API std::vector<std::vector<double>> pairwise_rouge_l(const std::vector<ReportTokens>& texts, double beta = 1.2);
OPHTHA_API CorpusScore rouge_l(const TokenizedCorpus& corpus, double beta = 1.2);
OPHTHA_API CorpusScore rouge_l(const std::vector<std::string>& hypotheses,
                               const std::vector<std::vector<std::string>>& references,
                               double beta = 1.2);

// ---- CIDEr-D (Vedantam et al. 2015), as pycocoevalcap / vrama91's CiderD scorer ----
// n-grams n = 1..4; document frequency df(g) = number of reports whose reference set contains g;
// weight of g in a sentence = tf(g) · (ln N - ln max(1, df(g))). Per order n and reference r:
// Σ_g min(w_h(g), w_r(g)) · w_r(g) / (|w_h| |w_r|) (0 when a norm is 0), times the Gaussian
// length penalty exp(-(|h| - |r|)² / (2σ²)). Report score = 10 · mean over n of the mean over
// references; corpus score = mean over reports. A one-report corpus scores 0 (every idf is ln 1).
struct CiderOptions {
  double sigma = 6.0;  // length-penalty width, in tokens; must be > 0
};
OPHTHA_API CorpusScore cider_d(const TokenizedCorpus& corpus, const CiderOptions& options = {});
OPHTHA_API CorpusScore cider_d(const std::vector<std::string>& hypotheses,
                               const std::vector<std::vector<std::string>>& references,
                               const CiderOptions& options = {});

// ---- METEOR, exact-match stage only, as nltk.translate.meteor_score (nltk 3.8) ----
// Alignment as nltk's exact stage: hypothesis tokens from last to first, each matched to the last
// still-unmatched identical reference token. m matches, P = m/|h|, R = m/|r|,
// Fmean = P R / (α P + (1 - α) R), chunks = runs of matches adjacent in both texts,
// penalty = γ (chunks / m)^β, score = (1 - penalty) Fmean, 0 when m = 0; the best reference wins.
// No stemming or WordNet synonyms (those stages are language- and data-dependent; Chinese has
// neither), so scores are <= nltk's full METEOR. Corpus score = mean of per-report scores.
struct MeteorOptions {
  double alpha = 0.9;  // Lavie & Agarwal 2007; in [0, 1]
  double beta = 3.0;
  double gamma = 0.5;  // in [0, 1]
};
OPHTHA_API double sentence_meteor_exact(const ReportTokens& hypothesis,
                                        const std::vector<ReportTokens>& references,
                                        const MeteorOptions& options = {});
OPHTHA_API double sentence_meteor_exact(std::string_view hypothesis,
                                        const std::vector<std::string>& references,
                                        const MeteorOptions& options = {});
OPHTHA_API CorpusScore meteor_exact(const TokenizedCorpus& corpus, const MeteorOptions& options = {});
OPHTHA_API CorpusScore meteor_exact(const std::vector<std::string>& hypotheses,
                                    const std::vector<std::vector<std::string>>& references,
                                    const MeteorOptions& options = {});

}  // namespace ophtha
