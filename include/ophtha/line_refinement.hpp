// Line refinement: the search over whole drafts, continued one line at a time.
//
// The consensus over whole drafts (report_consensus.hpp) fixes a report's layout — which eyes,
// which sections, in which order — but each draft states an eye's findings with its own errors, and
// the chance that one of N drafts gets every line right falls with the number of lines: choosing
// among whole drafts is choosing among products of per-line choices. Line refinement factorises
// that choice. After the chosen draft, every line of it is drafted again N times from the report
// so far (the prompt, then the lines already kept), sampled side by side as branches of one
// session; each alternative is completed with the chosen draft's remaining lines, and the line whose
// completed report agrees most with the other completions and with the evidence
// (consensus_choice) is kept. The language model writes every line, conditioned on the lines kept
// before it, so a later line (the diagnosis, the recommendation) follows the findings kept above
// it. A step-level search with a verifier, as in Lightman et al. 2023 ("Let's verify step by
// step") and the sentence-level minimum-Bayes-risk decoding of machine translation.
//
// An alternative is considered only when it is about what the chosen draft's line is about (the
// same eyes, imaged modalities and graded scales, extract_labels_from_text of the line alone:
// line_subject) and states in words every grade the draft's line states (not leaving one to the
// findings, which the extractor would read as the same labels: read_report's implied_grades) — or
// about that less the examinations the evidence does not hold (unexamined_modalities), so that a
// line describing both eyes' OCT when only one eye had one can become a line about that eye — and
// ends as the line does (with a line break, or the report's end for the last line; one the token
// budget cut short ends neither, unless the draft filled max_tokens and was cut short too); the
// chosen draft's own line is always the first candidate, so the layout never changes.
//
//   tokens   [ line 0 ⏎ ][ line 1 ⏎ ] … [ line L−1 ]      (the chosen draft, after the prompt)
//   step k:  prompt + kept lines 0..k−1 ─► N branches, each up to its first ⏎
//            candidates: line k (chosen draft) + the branches that fit; score each as
//            kept 0..k−1 + candidate + chosen draft's lines k+1..L−1; keep the best
//
// Steps by sentence (RefinementStep::Sentence, what `ophtha report` uses) go finer: a findings line
// of several sentences ("Image quality good. Microaneurysms. Vertical C/D 0.40.⏎") is redrafted
// sentence by sentence, so a sentence naming a finding that the draft's line lacks can be kept
// without redrafting the rest. A sentence alternative stops where its sentence ends
// (sentence_ends_before: at the next sentence's first token, which is dropped) or at a line break;
// it takes part when it ends as the draft's sentence does (the line goes on, the line breaks, or
// the report ends) and the line it completes — the line's kept sentences, the alternative, the rest
// of the draft's line — has the draft's line's subject. What the sentences say is chosen one at a
// time; their number in each line stays the draft's unless sentence_insertions lets a sentence
// that adds findings go in before the draft's, or a sentence of the draft that contradicts the
// report so far is left out (choose_sentence).
//
// Contradictions. A finding a report both states and denies for an eye counts as stated
// (extract_labels_from_text), so on labels alone a sentence denying what the line lists ties with
// one that does not, and the draft's own wins the tie. Each candidate therefore answers for the
// contradictions (read_report) of the report up to and including it — (P − 1) each, P the
// candidates taking part, as consensus_support counts them — not for those its completion gets
// from the draft's later sentences, which are drafted again in their own steps. An eye given a
// vertical C/D other than the one the report already gave it counts the same (a diagnosis
// repeating the findings' "C/D 0.75" as "0.60"), as does an eye recommended otherwise than its
// grades imply (a referral "within 3 months" after "severe NPDR", which is urgent; "Review in 6
// months" where the follow-up is 3): ReportReading::inconsistencies. Where the recommendation
// comes after the grades (as in every reference report), it is the recommendation that must
// follow them. A sentence such a conflict makes inconsistent is replaced when an alternative
// fits, never left out (below).
//
// Wording. Alternatives whose completed reports state the same findings and grades differ only in
// how they say it, and the draft's own wording is one sample of the language model's.
// WordingChoice::Central keeps, among the best supported that state what the best's completion
// states, the one whose words agree most with all the alternatives taking part — the highest
// summed ROUGE-L F-measure at β = 1 (text_metrics.hpp sentence_rouge_l, each other alternative as
// the reference; β = 1 weighs precision and recall alike, so a wording is not preferred for its
// length): a minimum-Bayes-risk choice of wording, as in MBR decoding for machine translation
// (Kumar and Byrne 2004). What is stated comes first: wording never outweighs a difference in
// support, nor chooses between different statements that tie.
//
// Guided alternatives. A sentence goes in only when some alternative states it, and the
// alternatives are samples of the model that wrote the draft: a finding the heads read but the
// model seldom names is in none of them. With guided_drafts, alternatives that begin with the name
// of such a finding (the evidence holds it, the report does not state it) are drafted as well and
// weighed as insertions only — lexically constrained decoding (Hokamp & Liu 2017, "Lexically
// constrained decoding for sequence generation using grid beam search"), checked by the same
// verifier as every other alternative.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "ophtha/export.h"
#include "ophtha/generate.hpp"
#include "ophtha/llama.hpp"
#include "ophtha/report_tokenizer.hpp"
#include "ophtha/study.hpp"
#include "ophtha/tokenizer.hpp"

namespace ophtha {

// Splits generated `tokens` into lines: a line ends with the first token whose text holds a line
// break ('\n'); the last line may end without one. Concatenated, the lines are `tokens`; no line
// is empty. [] gives [].
OPHTHA_API std::vector<std::vector<int32_t>> report_lines(const Tokenizer& tokenizer, const std::vector<int32_t>& tokens);

// Whether a sentence ends between the text `before` (the bytes of the tokens so far) and the next
// token `next`: after "。" unless `next` holds a line break (the break then ends the line, and the
// sentence with it), or after "." when `next` starts with a space ("quality. Small", not "0.40"
// nor "0.40.⏎").
OPHTHA_API bool sentence_ends_before(const Tokenizer& tokenizer, std::string_view before, int32_t next);

// Splits generated `tokens` into sentences: a sentence ends with a line break, as a line does
// (report_lines), or where sentence_ends_before says. Concatenated, the sentences are `tokens` and
// each line's sentences are that line; no sentence is empty. [] gives [].
OPHTHA_API std::vector<std::vector<int32_t>> report_sentences(const Tokenizer& tokenizer, const std::vector<int32_t>& tokens);

// What a line is about, as a comparable key: the eyes extract_labels_from_text reads in the
// line's text alone, and per eye the modalities it describes and the scales it grades (which the
// extractor also derives from the findings a line names), e.g. "OD:cfp,icdr,areds,|OS:oct,oct_class,";
// and the eyes its recommendations name (read_report's recommended_eyes), so that a
// recommendation line keeps each eye's ("Recommendation: Right eye (OD): … Left eye (OS): …" is
// "OD:|OS:"); "" for a line about no eye (a title, a blank line, "Plan: urgent referral.").
OPHTHA_API std::string line_subject(const Tokenizer& tokenizer, const std::vector<int32_t>& line, std::string_view lang);

// The same key for what the line says of the examinations `examined` holds: the (eye, modality)
// pairs it has no image of (unexamined_modalities) and their scales left out, and an eye left with
// neither (an eye a recommendation names stays). An `examined` stating no eye leaves the subject as it is.
OPHTHA_API std::string line_subject(const Tokenizer& tokenizer, const std::vector<int32_t>& line, std::string_view lang,
                                    const StudyLabels& examined);

// ROUGE-L's β for comparing wordings: 1, precision and recall alike, so that a longer wording is
// not preferred for its length (at the metric's 1.2 the test split's image-route reports grew by
// 6 % and BLEU-4 fell, zh / en 0.513 / 0.371 against 0.520 / 0.378, for ROUGE-L 0.591 / 0.546
// against 0.582 / 0.545; docs/reports.md, "Wording").
inline constexpr double kWordingBeta = 1.0;

// Where candidates tie on what they state, the wording most of them share: a minimum-Bayes-risk
// choice of wording (Kumar & Byrne 2004), every candidate standing in for a reference. Among the
// candidates that `best` does not outscore (support, as outscores sees it), that state what
// stated[best] states (the same labels) and have words, the one whose `words` agree most with all
// the candidates' — the highest summed ROUGE-L F-measure at `beta` (text_metrics.hpp
// pairwise_rouge_l) against each other candidate, those stating something else included; ties to
// the earliest. Returns `best` when fewer than two such candidates. Line refinement's choice among
// its alternatives ("Wording" above). (Among whole drafts tied with the best supported it moved
// ROUGE-L by +0.002 / −0.003, zh / en, on the test split, 2026-12-03: not used there.)
// Error(InvalidArgument) when words, stated and support differ in length or best is not an index.
OPHTHA_API size_t most_central_wording(const std::vector<ReportTokens>& words, const std::vector<StudyLabels>& stated,
                                       const std::vector<double>& support, size_t best, double beta = kWordingBeta);

// The title, chosen as wording is. A report's first line is its title when it is about no eye
// (extract_labels_from_text reads none in it) and more lines follow; it states nothing, so whether
// there is one, and which, is wording, and line refinement keeps the draft's (the layout never
// changes there). Returns `report` with the title — none, or one of the distinct titles of
// `drafts` (each a report, as written) — whose report agrees most with the drafts: the highest
// summed ROUGE-L (kWordingBeta) against each draft; ties keep the report's own. Only a title with
// which the report states what it states (extract_labels_from_text, the whole report) is
// considered, so a first line that means something in context ("Fundus photography:" above lines
// naming the eye) stays. A report about no eye is returned as it is, as is any report when no
// draft has a title.
OPHTHA_API std::string central_title(const std::string& report, const std::vector<std::string>& drafts, std::string_view lang);

// How a tie on support is broken among the candidates of a step (see "Wording" above): the
// earliest taking part (the chosen draft's own piece first), or the most central wording.
enum class WordingChoice { Draft, Central };

// Chooses line k of a report among `candidates` (candidates[0] the chosen draft's own line, then
// the alternatives). An alternative takes part only when it has the same line_subject as
// candidates[0], or candidates[0]'s subject less the (eye, modality) pairs `evidence` holds no
// examination of (when the evidence states an eye and that leaves a subject), states in words
// every grade candidates[0] states (of the examinations the evidence holds, when it states an
// eye), and ends as it does (with a line break, or without one for a last line; not cut short by
// the token budget); each taking part is scored as the report
// `before` + candidate + `after` by consensus_choice over them all, with `evidence` at
// `evidence_weight`, each less the contradictions (read_report) of `before` + candidate — the
// report up to and including it: the chosen draft's later lines are drafted again in their own
// steps, so a line is not held to what a later line of the draft denies; a tie is broken as
// `wording` says. Returns an index into `candidates` (0 when none other takes part).
// Error(InvalidArgument) for no candidates, an empty candidates[0], or a weight consensus_choice
// refuses.
OPHTHA_API size_t choose_line(const Tokenizer& tokenizer, const std::vector<int32_t>& before,
                              const std::vector<std::vector<int32_t>>& candidates, const std::vector<int32_t>& after,
                              const StudyLabels& evidence, double evidence_weight, std::string_view lang,
                              WordingChoice wording = WordingChoice::Central);

// What a sentence step keeps: candidates[index], in place of the draft's sentence (candidates[0])
// or, when `inserted`, before it; or, when `dropped`, nothing: the draft's sentence is left out.
struct SentenceChoice {
  size_t index = 0;
  bool inserted = false;
  bool dropped = false;
};

// One sentence step of refine_report_lines: chooses among `candidates` (candidates[0] the chosen
// draft's sentence, then the alternatives) for the place after `before` — the report so far, its
// current line beginning at before[line_start] — and before `after`, the draft's later sentences,
// whose first `line_end` tokens finish the current line. A candidate ends its line when its last
// token holds a line break, else ends a sentence when its text ends with "。" or ".", else ends
// otherwise (the report's end). As a replacement, a candidate takes part when it ends as
// candidates[0] does and its line has candidates[0]'s line's subject (or that less the
// examinations the evidence does not hold), scored as choose_line scores lines (ties broken as
// `wording` says; the line without the draft's sentence, below, wins no tie). In a line already
// begun, when candidates[0] ends a sentence and adds contradictions to the report so far (it
// denies a finding `before` states, states one `before` denies, or gives an eye another vertical
// C/D than `before` does: read_report; a recommendation conflict does not count here), the line without
// it also takes part, scored the same way, so that a stray "No cotton-wool spots." after a list
// naming them can go when no alternative sentence fits. With `may_insert`,
// in a line already begun (line_start < before.size()), a candidate that ends a sentence may
// instead go in before candidates[0] when its line — kept sentences, the candidate, candidates[0],
// the rest of the line — has that subject and states all its findings and more, eye by eye: it is
// scored as before + candidate + candidates[0] + after against the replacements' completed reports
// (leaving out its own), on consensus_support's scale — (P − 1) × (its mean label_agreement with
// them + evidence_weight × its evidence_agreement − the contradictions of before + candidate), P
// the replacements taking part (at least 2) — and kept when it scores above the best replacement.
// Error(InvalidArgument) for no candidates, an empty candidates[0], line_start beyond `before` or
// line_end beyond `after`, or a weight consensus_choice refuses.
OPHTHA_API SentenceChoice choose_sentence(const Tokenizer& tokenizer, const std::vector<int32_t>& before, size_t line_start,
                                          const std::vector<std::vector<int32_t>>& candidates,
                                          const std::vector<int32_t>& after, size_t line_end, const StudyLabels& evidence,
                                          double evidence_weight, std::string_view lang, bool may_insert,
                                          WordingChoice wording = WordingChoice::Central);

// What one refinement step redrafts: a line, or a sentence (report_sentences). On the demo model's
// validation reports, sentences gave findings F1 0.815 / 0.819 (zh / en) against 0.797 / 0.811 by
// line (docs/reports.md, "Line refinement").
enum class RefinementStep { Line, Sentence };

OPHTHA_API const char* refinement_step_name(RefinementStep step);  // "line", "sentence"

struct LineRefinementOptions {
  int line_drafts = 0;       // alternatives drafted per step, 1 ... LlamaSession::kMaxBranches
  RefinementStep step = RefinementStep::Sentence;
  // Each alternative's sampling (temperature > 0), top-p / top-k, should_abort; max_tokens caps the
  // whole refined report. Alternative i of step k (the k-th line or sentence drafted, counting
  // insertions) is sampled with seed sampling.seed + 7919 (k + 1) + i.
  GenerateOptions drafting;
  // Sentence steps only: the most sentences a line may gain. At each step after a line's first
  // sentence, an alternative that ends a sentence may also be inserted before the draft's sentence
  // (which is then redrafted in the next step) when the line it completes has the same subject and
  // states all the line's findings and more, and the report it completes scores above the best
  // replacement (see refine_report_lines). 0: the lines keep the draft's number of sentences.
  int sentence_insertions = 0;
  // Guided alternatives, with sentence steps, sentence_insertions and evidence at a weight > 0,
  // in lines that describe images (not opens_summary_section, report_extractor.hpp): at each step
  // where a sentence may be inserted, this many alternatives per finding the evidence holds for the
  // line's eye and modality (imaged and gradable) that the report, completed with the draft's
  // sentences, does not state — alternatives whose first tokens are the finding's name
  // (report_writer.hpp finding_phrase; GenerateOptions::prefix), the rest of the sentence sampled.
  // A finding no alternative states cannot be kept, and the drafts rarely name some of what the
  // heads read; a guided alternative is weighed only as an insertion, against the replacements
  // (it never votes among them), and goes in only when the report it completes scores above the
  // best replacement. Guided alternative j of step k is sampled with seed sampling.seed +
  // 7919 (k + 1) + line_drafts + j. 0: none. The step's alternatives, guided ones included, are
  // at most LlamaSession::kMaxBranches; guided ones beyond that are not drafted.
  int guided_drafts = 0;
  // How each step breaks a tie on support: the wording most alternatives share (Central), or the
  // draft's own piece (Draft, as before 2026-12-01).
  WordingChoice wording = WordingChoice::Central;
  StudyLabels evidence;      // as for consensus_choice
  double evidence_weight = 0;
  std::string lang = "en";   // the report's language, for extract_labels_from_text
};

struct RefinedReport {
  std::vector<int32_t> tokens;  // the refined report's tokens (its text: Tokenizer::decode)
  size_t lines = 0;             // lines in the chosen draft (and in the refined report)
  size_t replaced_lines = 0;    // lines where an alternative was kept or inserted, or a sentence dropped
  size_t steps = 0;               // lines or sentences drafted: the draft's, and one per insertion
  size_t replaced_steps = 0;      // of the draft's, where an alternative was kept
  size_t inserted_sentences = 0;  // sentences inserted (LineRefinementOptions::sentence_insertions)
  size_t guided_sentences = 0;    // of those, guided alternatives (LineRefinementOptions::guided_drafts)
  size_t dropped_sentences = 0;   // draft's sentences left out: contradicting the report (choose_sentence), or
                                  // repeating the line's sentence before them word for word
};

// Refines `report` (a draft's tokens, generated after the prompt that `session` holds, whose last
// token's logits are `prompt_logits`) line by line, or sentence by sentence, as described above. The session ends holding
// the prompt and the refined report. A draft that ran to the end of the context (its last token
// sampled but never run) is refined without the tokens that do not fit, and an alternative is
// weighed only when the draft's later pieces still fit after it. Error(InvalidArgument) when line_drafts is outside
// [1, LlamaSession::kMaxBranches], sentence_insertions is negative or the drafting temperature is
// not > 0; the errors of
// generate_drafts_after_prompt and forward_tokens (ContextOverflow, Aborted).
OPHTHA_API RefinedReport refine_report_lines(LlamaSession& session, const at::Tensor& prompt_logits,
                                             const std::vector<int32_t>& report, const LineRefinementOptions& options);

}  // namespace ophtha
