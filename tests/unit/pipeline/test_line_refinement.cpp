// Line refinement (line_refinement.hpp): lines split where the tokens break them, a line's subject
// read from its text, the choice among alternative lines worked out by hand on report lines the
// extractor reads (LLaMA 2's tokenizer), and the refinement itself on the bundled demo model and
// a random-weight bundle: every kept line is the chosen draft's or one the engine writes after the
// lines kept before it, and the layout never changes.
#include "support/doctest_with_aten.hpp"

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "ophtha/error.hpp"
#include "ophtha/generate.hpp"
#include "ophtha/image.hpp"
#include "ophtha/line_refinement.hpp"
#include "ophtha/report_consensus.hpp"
#include "ophtha/report_extractor.hpp"
#include "ophtha/report_pipeline.hpp"
#include "ophtha/report_tokenizer.hpp"
#include "ophtha/study_json.hpp"
#include "support/expect_error.hpp"
#include "support/test_models.hpp"

using namespace ophtha;

namespace {

const Tokenizer& llama2() {
  static const Tokenizer tokenizer = Tokenizer::from_sentencepiece_model(OPHTHA_LLAMA2_TOKENIZER);
  return tokenizer;
}

// The tokens of `text` as they follow other text (no dummy-prefix space).
std::vector<int32_t> tokens(const std::string& text) {
  std::vector<int32_t> ids = llama2().encode("\n" + text, false);
  ids.erase(ids.begin(), ids.begin() + 2);  // "▁" and "\n" (<0x0A>)
  REQUIRE(llama2().decode(ids) == text);
  return ids;
}

const std::string kTitle = "Ophthalmic imaging report\n";
const std::string kOdFundus = "Fundus photograph, right eye (OD): Image quality good. Microaneurysms.\n";
const std::string kOdFundusExudates =
    "Fundus photograph, right eye (OD): Image quality good. Microaneurysms and hard exudates.\n";
const std::string kOsFundusExudates =
    "Fundus photograph, left eye (OS): Image quality good. Microaneurysms and hard exudates.\n";
const std::string kDiagnosis = "Diagnosis: Right eye (OD): ICDR grade 2 (moderate NPDR).";

StudyLabels evidence_of(const std::string& text) { return extract_labels_from_text(text, "en"); }

// Refinement of a random engine's draft: `line_drafts` alternatives a step, sampled hot from
// `seed`, up to 24 tokens, weighed with the labels of `evidence` at 1.
LineRefinementOptions random_engine_refinement(const std::string& evidence, int line_drafts, uint64_t seed) {
  LineRefinementOptions options;
  options.evidence = evidence_of(evidence);
  options.evidence_weight = 1.0;
  options.line_drafts = line_drafts;
  options.drafting.max_tokens = 24;
  options.drafting.sampling.temperature = 1.5f;
  options.drafting.sampling.seed = seed;
  return options;
}

}  // namespace

TEST_CASE("report_lines: a line ends with the token holding its line break; together the lines are the tokens") {
  const std::vector<int32_t> report = tokens(kTitle + kOdFundus + kDiagnosis);
  const std::vector<std::vector<int32_t>> lines = report_lines(llama2(), report);
  REQUIRE(lines.size() == 3);
  CHECK(llama2().decode(lines[0]) == "Ophthalmic imaging report\n");
  CHECK(llama2().decode(lines[1]) == kOdFundus);
  CHECK(llama2().decode(lines[2]) == kDiagnosis);
  std::vector<int32_t> joined;
  for (const auto& line : lines) {
    CHECK(!line.empty());
    joined.insert(joined.end(), line.begin(), line.end());
  }
  CHECK(joined == report);
  CHECK(report_lines(llama2(), {}).empty());
  CHECK(report_lines(llama2(), tokens(kDiagnosis)).size() == 1);
  CHECK(report_lines(llama2(), tokens("a\n\nb\n")).size() == 3);  // an empty line is its own line
}

TEST_CASE("report_sentences: a sentence ends after a full stop that another sentence follows, or with its line") {
  const std::string findings = "Fundus photograph, OD: Image quality good. Microaneurysms. Vertical C/D 0.40.\n";
  const std::vector<int32_t> report = tokens(kTitle + findings + kDiagnosis);
  const std::vector<std::vector<int32_t>> sentences = report_sentences(llama2(), report);
  std::vector<std::string> texts;
  std::vector<int32_t> joined;
  for (const auto& sentence : sentences) {
    CHECK(!sentence.empty());
    texts.push_back(llama2().decode(sentence));
    joined.insert(joined.end(), sentence.begin(), sentence.end());
  }
  CHECK(joined == report);
  // Decoded alone, a sentence loses the space it starts with (SentencePiece's dummy prefix).
  CHECK(texts == std::vector<std::string>{"Ophthalmic imaging report\n", "Fundus photograph, OD: Image quality good.",
                                          "Microaneurysms.", "Vertical C/D 0.40.\n",
                                          "Diagnosis: Right eye (OD): ICDR grade 2 (moderate NPDR)."});
  // Chinese full stops; one before a line break ends the sentence with the line.
  const std::vector<int32_t> zh = tokens("图像质量良好。微动脉瘤。\n诊断：");
  const auto zh_sentences = report_sentences(llama2(), zh);
  REQUIRE(zh_sentences.size() == 3);
  CHECK(llama2().decode(zh_sentences[0]) == "图像质量良好。");
  CHECK(llama2().decode(zh_sentences[1]) == "微动脉瘤。\n");
  CHECK(report_sentences(llama2(), {}).empty());
  // Lines are made of whole sentences.
  size_t lines_ended = 0;
  for (const auto& sentence : sentences) lines_ended += llama2().decode(sentence).back() == '\n';
  CHECK(lines_ended + 1 == report_lines(llama2(), report).size());
}

TEST_CASE("sentence_ends_before: after a full stop and before the next sentence, not inside a number") {
  const int32_t space_word = tokens("a Small").back(), digit = tokens("4").front(), line_break = tokens("\n").front();
  CHECK(sentence_ends_before(llama2(), "Image quality good.", space_word));
  CHECK(!sentence_ends_before(llama2(), "ratio 0.", digit));
  CHECK(!sentence_ends_before(llama2(), "ratio 0.40.", line_break));  // the line break ends it
  CHECK(!sentence_ends_before(llama2(), "Image quality good", space_word));
  CHECK(!sentence_ends_before(llama2(), "", space_word));
  CHECK(sentence_ends_before(llama2(), "图像质量良好。", tokens("微").front()));
  CHECK(!sentence_ends_before(llama2(), "图像质量良好。", line_break));
  CHECK(std::string(refinement_step_name(RefinementStep::Sentence)) == "sentence");
  CHECK(std::string(refinement_step_name(RefinementStep::Line)) == "line");
}

TEST_CASE("line_subject: the eyes a line is about, with the modalities it describes and the scales it grades") {
  const std::string od = line_subject(llama2(), tokens(kOdFundus), "en");
  CHECK(od == line_subject(llama2(), tokens(kOdFundusExudates), "en"));  // other findings, same subject
  CHECK(od != line_subject(llama2(), tokens(kOsFundusExudates), "en"));
  CHECK(od.find("OD") != std::string::npos);
  CHECK(line_subject(llama2(), tokens(kTitle), "en").empty());
  CHECK(line_subject(llama2(), tokens(kDiagnosis), "en").find("icdr") != std::string::npos);
  CHECK(od != line_subject(llama2(), tokens("OCT, right eye (OD): Normal foveal profile.\n"), "en"));
  // The scales the extractor implies from what the line names count: a fundus photograph is graded on ICDR and AREDS.
  CHECK(line_subject(llama2(), tokens("Diagnosis: Right eye (OD): AREDS category 1."), "en") == "OD:cfp,icdr,areds,");
  CHECK(line_subject(llama2(), tokens(kOdFundus), "en") == "OD:cfp,icdr,areds,");
  // A recommendation line is about the eyes its recommendations name, each by its own eye words
  // or its line's before it; one naming no eye is about none in particular.
  const std::string both = line_subject(
      llama2(), tokens("Recommendation: Right eye (OD): rescreen in 12 months (routine). Left eye (OS): refer "
                       "immediately to an ophthalmologist. Next review in 1 month."),
      "en");
  CHECK(both == "OD:|OS:");
  CHECK(line_subject(llama2(), tokens("Recommendation: Right eye (OD): rescreen in 12 months (routine). Follow-up in 6 "
                                      "months. Next review in 1 month."),
                     "en") == "OD:");
  CHECK(line_subject(llama2(), tokens("建议：右眼：建议立即转诊眼底病专科；3个月后随访。左眼：常规随访，1年后复查。"), "zh") == "OD:|OS:");
  CHECK(line_subject(llama2(), tokens("Plan: urgent referral to a retina specialist. Review in 1 month."), "en").empty());
}

TEST_CASE("choose_sentence: a diagnosis leaving out a grade the draft's states takes no part, however common its wording") {
  const std::string findings = "Fundus photograph, right eye (OD): Image quality good. Venous beading and IRMA.\n";
  const auto sentences_of = [](const std::string& line) { return report_sentences(llama2(), tokens(line)); };
  const auto draft = sentences_of("Diagnosis: Right eye (OD): ICDR severe NPDR; AREDS category 1. Left eye (OS): AREDS category 1.");
  const auto ungraded = sentences_of("Diagnosis: Right eye (OD): AREDS category 1. Left eye (OS): AREDS category 1.");
  REQUIRE(draft.size() == 2);
  REQUIRE(ungraded.size() == 2);
  const std::vector<int32_t> before = tokens(kTitle + findings);
  // The report's labels are the same either way (ICDR 3 implied by the findings), and the ungraded
  // sentence, twice, would be the most central wording.
  CHECK(to_json(extract_labels_from_text(kTitle + findings + "Diagnosis: Right eye (OD): ICDR severe NPDR; AREDS category 1.", "en")) ==
        to_json(extract_labels_from_text(kTitle + findings + "Diagnosis: Right eye (OD): AREDS category 1.", "en")));
  const std::vector<std::vector<int32_t>> candidates = {draft[0], ungraded[0], ungraded[0]};
  const SentenceChoice choice = choose_sentence(llama2(), before, before.size(), candidates, draft[1], draft[1].size(), {}, 0.0, "en", false);
  CHECK(choice.index == 0);
  CHECK_FALSE(choice.dropped);
  // The other way round an alternative may state more in words: the graded sentence, twice, is
  // kept in place of the draft's that leaves ICDR to the findings.
  const std::vector<std::vector<int32_t>> grading = {ungraded[0], draft[0], draft[0]};
  CHECK(choose_sentence(llama2(), before, before.size(), grading, ungraded[1], ungraded[1].size(), {}, 0.0, "en", false).index == 1);
  // A grade of an examination the evidence holds none of may go (here the evidence holds only an OCT of OD).
  StudyLabels oct_only;
  oct_only.eyes[Eye::OD].imaged = {Modality::Oct};
  CHECK(choose_sentence(llama2(), before, before.size(), candidates, draft[1], draft[1].size(), oct_only, 1.0, "en", false).index != 0);
}

TEST_CASE("choose_line keeps the alternative whose completed report agrees most, among those about the same thing") {
  const std::vector<int32_t> before = tokens(kTitle), after = tokens(kDiagnosis);
  const std::vector<int32_t> own = tokens(kOdFundus), exudates = tokens(kOdFundusExudates);
  const std::vector<int32_t> other_eye = tokens(kOsFundusExudates);
  std::vector<int32_t> unfinished = exudates;
  unfinished.pop_back();  // the line break
  // The heads saw microaneurysms and hard exudates in the right eye's fundus photograph.
  const StudyLabels evidence = evidence_of(kOdFundusExudates);
  REQUIRE(evidence.eyes.at(Eye::OD).findings.size() == 2);

  // Two candidates agree with each other as much either way; the evidence decides.
  CHECK(choose_line(llama2(), before, {own, exudates}, after, evidence, 1.0, "en") == 1);
  CHECK(choose_line(llama2(), before, {own, exudates}, after, {}, 0.0, "en") == 0);  // a tie: the chosen draft's
  // Without the evidence, the line most alternatives state wins.
  CHECK(choose_line(llama2(), before, {own, exudates, exudates, own, exudates}, after, {}, 0.0, "en") == 1);
  // An alternative about another eye, or one not ending its line, never takes part.
  const StudyLabels left = evidence_of(kOsFundusExudates);
  CHECK(choose_line(llama2(), before, {own, other_eye}, after, left, 10.0, "en") == 0);
  CHECK(choose_line(llama2(), before, {own, unfinished}, after, evidence, 10.0, "en") == 0);
  CHECK(choose_line(llama2(), before, {own, {}, exudates}, after, evidence, 1.0, "en") == 2);

  test::check_message(test::error_from([&] { choose_line(llama2(), before, {}, after, {}, 0.0, "en"); }),
                      ErrorCode::InvalidArgument, "choose_line: no candidate lines");
  test::check_message(test::error_from([&] { choose_line(llama2(), before, {{}, own}, after, {}, 0.0, "en"); }),
                      ErrorCode::InvalidArgument, "candidate 0");
}

TEST_CASE("choose_line: a line describing an examination nobody made may give way to the same line without it") {
  const std::vector<int32_t> before = tokens(kTitle), after = tokens(kDiagnosis);
  const std::vector<int32_t> both_eyes = tokens("Fundus photograph, both eyes (OU): Image quality good. Microaneurysms.\n");
  const std::vector<int32_t> right = tokens(kOdFundus), left = tokens(kOsFundusExudates);
  REQUIRE(line_subject(llama2(), both_eyes, "en") != line_subject(llama2(), right, "en"));
  // Only the right eye was photographed: the line about both eyes less the left eye's photograph
  // is the right eye's line, which takes part, and the evidence prefers it (the left eye's costs 1).
  const StudyLabels right_examined = evidence_of(kOdFundus);
  REQUIRE(right_examined.eyes.size() == 1);
  CHECK(line_subject(llama2(), both_eyes, "en", right_examined) == line_subject(llama2(), right, "en"));
  CHECK(line_subject(llama2(), both_eyes, "en", StudyLabels{}) == line_subject(llama2(), both_eyes, "en"));
  CHECK(choose_line(llama2(), before, {both_eyes, right}, after, right_examined, 1.0, "en") == 1);
  // A line about the other eye is not the draft's line less anything; without evidence nothing is
  // known to be unexamined, and the subject must match.
  CHECK(choose_line(llama2(), before, {both_eyes, left}, after, right_examined, 1.0, "en") == 0);
  CHECK(choose_line(llama2(), before, {both_eyes, right}, after, {}, 0.0, "en") == 0);
  // Both eyes photographed: the line about both is what the evidence holds, and no line about one
  // eye takes its place.
  const StudyLabels both_examined = evidence_of("Fundus photograph, both eyes (OU): Microaneurysms.\n");
  REQUIRE(both_examined.eyes.size() == 2);
  CHECK(choose_line(llama2(), before, {both_eyes, right}, after, both_examined, 10.0, "en") == 0);
}

TEST_CASE("choose_sentence: a sentence naming a finding the line lacks goes in before the draft's when the evidence holds it") {
  // The report so far: the title, then the right eye's line begun; the draft's next sentence names
  // microaneurysms, an alternative hard exudates; the line ends with the cup-to-disc ratio. (The
  // sentences as report_sentences cuts them from whole lines: a sentence after another starts
  // with its space.)
  const auto sentences_of = [](const std::string& line) { return report_sentences(llama2(), tokens(line)); };
  const auto draft = sentences_of("Fundus photograph, right eye (OD): Image quality good. Microaneurysms. Vertical C/D 0.40.\n");
  const auto other = sentences_of("Fundus photograph, right eye (OD): Image quality good. Hard exudates. Vertical C/D 0.40.\n");
  const auto ending = sentences_of("Fundus photograph, right eye (OD): Image quality good. Hard exudates.\n");
  const auto left = sentences_of("Fundus photograph, right eye (OD): Image quality good. Left eye: hard exudates. Vertical C/D 0.40.\n");
  REQUIRE(draft.size() == 3);
  REQUIRE(other.size() == 3);
  REQUIRE(ending.size() == 2);
  REQUIRE(left.size() == 3);
  const std::vector<int32_t> title = tokens(kTitle);
  std::vector<int32_t> before = title;
  before.insert(before.end(), draft[0].begin(), draft[0].end());
  const std::vector<int32_t>& own = draft[1];
  const std::vector<int32_t>& exudates = other[1];
  const std::vector<int32_t>& after = draft[2];
  const std::vector<std::vector<int32_t>> candidates = {own, exudates};
  const StudyLabels both = evidence_of("Fundus photograph, right eye (OD): Microaneurysms and hard exudates. Vertical C/D 0.40.\n");
  REQUIRE(both.eyes.at(Eye::OD).findings.size() == 2);

  // Worked by hand (label_agreement / evidence_agreement; scales ICDR, AREDS, cup-to-disc): as
  // replacements, microaneurysms alone score 2 + (2/3 + 2) = 4.67 and hard exudates alone (ICDR 2,
  // as the evidence) 2 + (2/3 + 3) = 5.67; inserted, the line states both: 2/3 + 2 against the
  // draft's completion, + 4 against the evidence = 6.67, above 5.67.
  SentenceChoice kept = choose_sentence(llama2(), before, title.size(), candidates, after, after.size(), both, 1.0, "en", true);
  CHECK(kept.index == 1);
  CHECK(kept.inserted);
  // Not allowed to insert, the replacement wins and the line loses its microaneurysms.
  kept = choose_sentence(llama2(), before, title.size(), candidates, after, after.size(), both, 1.0, "en", false);
  CHECK(kept.index == 1);
  CHECK_FALSE(kept.inserted);
  // Evidence of microaneurysms alone: the draft's sentence stays (6 against 4; inserted 5.33).
  const StudyLabels microaneurysms = evidence_of("Fundus photograph, right eye (OD): Microaneurysms. Vertical C/D 0.40.\n");
  kept = choose_sentence(llama2(), before, title.size(), candidates, after, after.size(), microaneurysms, 1.0, "en", true);
  CHECK(kept.index == 0);
  CHECK_FALSE(kept.inserted);
  // Nothing goes in before a line's first sentence (its header), nor where the alternative ends the
  // line instead of a sentence (it then does not take part as a replacement either).
  const auto opening = sentences_of("Fundus photograph, right eye (OD): Microaneurysms. Vertical C/D 0.40.\n");
  const auto exudates_opening = sentences_of("Fundus photograph, right eye (OD): Hard exudates. Vertical C/D 0.40.\n");
  kept = choose_sentence(llama2(), title, title.size(), {opening[0], exudates_opening[0]}, opening[1], opening[1].size(), both,
                         1.0, "en", true);
  CHECK_FALSE(kept.inserted);
  kept = choose_sentence(llama2(), before, title.size(), {own, ending[1]}, after, after.size(), both, 1.0, "en", true);
  CHECK(kept.index == 0);
  CHECK_FALSE(kept.inserted);
  // A sentence about the other eye changes what the line is about: never inserted.
  kept = choose_sentence(llama2(), before, title.size(), {own, own, left[1]}, after, after.size(),
                         both, 10.0, "en", true);
  CHECK_FALSE(kept.inserted);

  test::check_message(test::error_from([&] {
                        choose_sentence(llama2(), before, before.size() + 1, candidates, after, after.size(), both, 1.0, "en", true);
                      }),
                      ErrorCode::InvalidArgument, "line_start is");
  test::check_message(test::error_from([&] {
                        choose_sentence(llama2(), before, title.size(), candidates, after, after.size() + 1, both, 1.0, "en", true);
                      }),
                      ErrorCode::InvalidArgument, "line_end is");
}

TEST_CASE("choose_sentence: among alternatives stating the same, the wording most of them share is kept") {
  const auto sentences_of = [](const std::string& line) { return report_sentences(llama2(), tokens(line)); };
  const auto draft = sentences_of("Fundus photograph, right eye (OD): Image quality good. Scattered microaneurysms. Vertical C/D 0.40.\n");
  const auto usual =
      sentences_of("Fundus photograph, right eye (OD): Image quality good. Microaneurysms at the posterior pole. Vertical C/D 0.40.\n");
  const auto exudates =
      sentences_of("Fundus photograph, right eye (OD): Image quality good. Hard exudates at the posterior pole. Vertical C/D 0.40.\n");
  REQUIRE(draft.size() == 3);
  REQUIRE(usual.size() == 3);
  REQUIRE(exudates.size() == 3);
  const std::vector<int32_t> title = tokens(kTitle);
  std::vector<int32_t> before = title;
  before.insert(before.end(), draft[0].begin(), draft[0].end());
  const std::vector<int32_t>& after = draft[2];
  // The three microaneurysm sentences tie on support; the wording two of them share is kept
  // (summed ROUGE-L 1 + 0.44 each, against 2 × 0.44 for the draft's), or the draft's own when
  // ties keep it.
  const std::vector<std::vector<int32_t>> candidates = {draft[1], usual[1], usual[1]};
  CHECK(choose_sentence(llama2(), before, title.size(), candidates, after, after.size(), {}, 0.0, "en", false).index == 1);
  CHECK(choose_sentence(llama2(), before, title.size(), candidates, after, after.size(), {}, 0.0, "en", false,
                        WordingChoice::Draft).index == 0);
  CHECK(choose_line(llama2(), tokens(kTitle), {tokens(kOdFundus), tokens(kOdFundusExudates), tokens(kOdFundus)},
                    tokens(kDiagnosis), {}, 0.0, "en") == 0);  // the same words twice: the earliest of them
  // Two statements tie, two lines each: the wording chooses within the draft's statement only.
  // (The exudates line, twice, has the most central wording of the four: chosen across
  // statements it would win, summed ROUGE-L 1 + 0.91 + 0.82 = 2.73 against 2 × 0.91 + 0.90 = 2.72
  // for the draft's.)
  const std::vector<int32_t> scattered = tokens("Fundus photograph, right eye (OD): Good image quality. Scattered microaneurysms.\n");
  const std::vector<std::vector<int32_t>> two_statements = {tokens(kOdFundus), tokens(kOdFundusExudates), scattered,
                                                            tokens(kOdFundusExudates)};
  CHECK(choose_line(llama2(), tokens(kTitle), two_statements, tokens(kDiagnosis), {}, 0.0, "en") == 0);
  // What is stated comes first: the evidence of hard exudates outweighs any wording, though the
  // exudates sentence shares the fewest words with the others.
  const StudyLabels evidence = evidence_of("Fundus photograph, right eye (OD): Hard exudates. Vertical C/D 0.40.\n");
  const std::vector<std::vector<int32_t>> with_exudates = {draft[1], exudates[1], usual[1], usual[1]};
  for (WordingChoice wording : {WordingChoice::Draft, WordingChoice::Central})
    CHECK(choose_sentence(llama2(), before, title.size(), with_exudates, after, after.size(), evidence, 1.0, "en", false, wording)
              .index == 1);
  // Without the evidence the microaneurysm sentences outnumber it, and their shared wording is kept.
  CHECK(choose_sentence(llama2(), before, title.size(), with_exudates, after, after.size(), {}, 0.0, "en", false).index == 2);
}

TEST_CASE("most_central_wording: of the candidates tied on support stating the same, the one sharing most words with all") {
  // Token counts 5, 8, 9 and 11 (tokenize_report); ROUGE-L at beta 1 is 2 LCS / (|a| + |b|).
  const std::vector<std::string> texts = {
      "OD CFP: Microaneurysms.",
      "Eye examination report\nOD CFP: Microaneurysms.",
      "Eye examination report\nOD CFP: Scattered microaneurysms.",
      "Eye examination report\nOD CFP: Microaneurysms and hard exudates.",
      "Eye examination report\nOD CFP: Microaneurysms and hard exudates.",
      "Eye examination report\nOD CFP: Microaneurysms and hard exudates.",
  };
  std::vector<ReportTokens> words;
  std::vector<StudyLabels> stated;
  for (const std::string& text : texts) words.push_back(tokenize_report(text)), stated.push_back(evidence_of(text));
  REQUIRE(words[0].size() == 5);
  REQUIRE(words[3].size() == 11);
  const std::vector<double> tied(texts.size(), 1.0);
  // Summed against the five others: the exudates text 0.625 + 0.842 + 0.8 + 1 + 1 = 4.27 is the
  // most central but states more; of the microaneurysm texts the titled one, 0.769 + 0.941 +
  // 3 × 0.842 = 4.24, beats the scattered one (4.06) and the untitled draft (3.36).
  CHECK(most_central_wording(words, stated, tied, 0) == 1);
  CHECK(most_central_wording(words, stated, tied, 2) == 1);
  CHECK(most_central_wording(words, stated, tied, 4) == 3);  // the same words: the earliest
  // One outscored, or without words, takes no part.
  std::vector<double> lower = tied;
  lower[1] = 0.5;
  CHECK(most_central_wording(words, stated, lower, 0) == 2);
  std::vector<ReportTokens> none = words;
  none[1].clear();
  CHECK(most_central_wording(none, stated, tied, 0) == 2);
  lower[2] = 0.5;
  CHECK(most_central_wording(words, stated, lower, 0) == 0);  // alone in its tie
  test::check_message(test::error_from([&] { most_central_wording(words, stated, {1.0}, 0); }), ErrorCode::InvalidArgument,
                      "most_central_wording: 6 wordings, 6 label sets and 1 supports, expected one of each per candidate");
  test::check_message(test::error_from([&] { most_central_wording(words, stated, tied, 6); }), ErrorCode::InvalidArgument,
                      "most_central_wording: best is 6, expected an index below 6");
}

TEST_CASE("central_title: the title, or none, with which the report shares most words with the drafts") {
  const std::string body = "OD CFP: Microaneurysms and hard exudates.";
  const std::vector<std::string> drafts = {"Eye examination report\nOD CFP: Microaneurysms.",
                                           "Eye examination report\nOD CFP: Scattered microaneurysms.",
                                           "Ophthalmic imaging report\nOD CFP: Microaneurysms.", "OD CFP: Microaneurysms."};
  // Summed ROUGE-L (beta 1) against the four drafts: 2.90 with the title two of them share, 2.70
  // with the other, 2.61 with none.
  CHECK(central_title(body, drafts, "en") == "Eye examination report\n" + body);
  CHECK(central_title("Ophthalmic imaging report\n" + body, drafts, "en") == "Eye examination report\n" + body);
  // Most drafts untitled: 2.11 without against 2.06 with the one title they have.
  const std::vector<std::string> untitled = {"OD CFP: Microaneurysms.", "OD CFP: Scattered microaneurysms.",
                                             "Ophthalmic imaging report\nOD CFP: Microaneurysms."};
  CHECK(central_title("Ophthalmic imaging report\n" + body, untitled, "en") == body);
  CHECK(central_title(body, untitled, "en") == body);
  // Nothing to choose: a report about no eye, or no draft with a title.
  CHECK(central_title("Eye examination report", drafts, "en") == "Eye examination report");
  CHECK(central_title("Image quality good.\nNo abnormality.", drafts, "en") == "Image quality good.\nNo abnormality.");
  CHECK(central_title(body, {"OD CFP: Microaneurysms.", body}, "en") == body);
  CHECK(central_title(body, {}, "en") == body);
  // A first line that says something of the lines below is no title: without it they state less.
  const std::string headed = "Optical coherence tomography:\nRight eye: ungradable, repeat imaging.";
  REQUIRE(extract_labels_from_text("Optical coherence tomography:\n", "en").eyes.empty());
  REQUIRE(to_json(extract_labels_from_text(headed, "en")) !=
          to_json(extract_labels_from_text("Eye examination report\nRight eye: ungradable, repeat imaging.", "en")));
  CHECK(central_title(headed, drafts, "en") == headed);
  // Chinese titles alike.
  CHECK(central_title("右眼眼底彩照：微动脉瘤。", {"眼部影像报告\n右眼眼底彩照：微动脉瘤。", "眼部影像报告\n右眼眼底彩照：可见微动脉瘤。"}, "zh") ==
        "眼部影像报告\n右眼眼底彩照：微动脉瘤。");
}

TEST_CASE("choose_sentence: a sentence denying a finding the report already states gives way to one that does not") {
  const auto sentences_of = [](const std::string& line) { return report_sentences(llama2(), tokens(line)); };
  const auto draft = sentences_of(
      "Fundus photograph, right eye (OD): Microaneurysms and hard exudates. No hard exudates or cotton-wool spots. "
      "Vertical C/D 0.40.\n");
  const auto other = sentences_of(
      "Fundus photograph, right eye (OD): Microaneurysms and hard exudates. No cotton-wool spots. Vertical C/D 0.40.\n");
  REQUIRE(draft.size() == 3);
  REQUIRE(other.size() == 3);
  const std::vector<int32_t> title = tokens(kTitle);
  std::vector<int32_t> before = title;
  before.insert(before.end(), draft[0].begin(), draft[0].end());
  const std::vector<std::vector<int32_t>> candidates = {draft[1], other[1]};
  const std::vector<int32_t>& after = draft[2];
  // Both completed reports read alike (a finding stated and denied counts as stated), so without
  // the contradiction's cost they tie and the draft's sentence would stay; with it the draft's
  // scores 1 lower (N − 1 = 1) — with or without evidence.
  const auto completed = [&](const std::vector<int32_t>& piece) {
    std::vector<int32_t> report = before;
    report.insert(report.end(), piece.begin(), piece.end());
    report.insert(report.end(), after.begin(), after.end());
    return to_json(extract_labels_from_text(llama2().decode(report), "en"));
  };
  REQUIRE(completed(draft[1]) == completed(other[1]));
  const StudyLabels evidence = evidence_of("Fundus photograph, right eye (OD): Microaneurysms and hard exudates.\n");
  for (double weight : {0.0, 1.0}) {
    const SentenceChoice kept =
        choose_sentence(llama2(), before, title.size(), candidates, after, after.size(), evidence, weight, "en", false);
    CHECK(kept.index == 1);
  }
  // No alternative that ends a sentence (one ends the line instead, and does not take part): the
  // line without the draft's sentence takes part, and the draft's contradicting sentence is dropped.
  const auto ending = sentences_of("Fundus photograph, right eye (OD): Microaneurysms and hard exudates. Vertical C/D 0.40.\n");
  REQUIRE(ending.size() == 2);
  SentenceChoice kept = choose_sentence(llama2(), before, title.size(), {draft[1], ending[1]}, after, after.size(), evidence,
                                        1.0, "en", false);
  CHECK(kept.dropped);
  CHECK_FALSE(kept.inserted);
  kept = choose_sentence(llama2(), before, title.size(), {draft[1]}, after, after.size(), evidence, 0.0, "en", true);
  CHECK(kept.dropped);
  // An alternative sentence that contradicts nothing ties with dropping and goes first.
  kept = choose_sentence(llama2(), before, title.size(), candidates, after, after.size(), evidence, 1.0, "en", false);
  CHECK(kept.index == 1);
  CHECK_FALSE(kept.dropped);
  // Where the report so far does not state hard exudates, denying them contradicts nothing: a tie,
  // and the draft's sentence stays (and is not dropped).
  const auto microaneurysms = sentences_of("Fundus photograph, right eye (OD): Microaneurysms. No cotton-wool spots.\n");
  std::vector<int32_t> before_ma = title;
  before_ma.insert(before_ma.end(), microaneurysms[0].begin(), microaneurysms[0].end());
  kept = choose_sentence(llama2(), before_ma, title.size(), candidates, after, after.size(), evidence, 0.0, "en", false,
                         WordingChoice::Draft);
  CHECK(kept.index == 0);
  CHECK_FALSE(kept.dropped);

  // A sentence is answerable for the report up to itself, not for the draft's later sentences
  // (they are drafted again in their own steps): the first sentence naming hard exudates, which
  // the draft's next sentence denies, still wins on the evidence (weight 0.5). Worked by hand (ICDR
  // 1 against 2, AREDS and C/D alike): microaneurysms alone 2/3 + 2 + 0.5 (2/3 + 2) = 4, both
  // findings 2/3 + 2 + 0.5 · 4 = 4.67 — which would lose (3.67) were the later denial held against it.
  const auto first_ma = sentences_of("Fundus photograph, right eye (OD): Microaneurysms. Vertical C/D 0.40.\n");
  const auto first_both = sentences_of("Fundus photograph, right eye (OD): Microaneurysms and hard exudates. Vertical C/D 0.40.\n");
  std::vector<int32_t> rest = draft[1];
  rest.insert(rest.end(), draft[2].begin(), draft[2].end());
  const StudyLabels with_cdr = evidence_of("Fundus photograph, right eye (OD): Microaneurysms and hard exudates. Vertical C/D 0.40.\n");
  CHECK(choose_sentence(llama2(), title, title.size(), {first_ma[0], first_both[0]}, rest, rest.size(), with_cdr, 0.5, "en",
                        false)
            .index == 1);
}

TEST_CASE("choose_sentence: a recommendation at odds with the grades kept gives way to one that follows them") {
  const auto sentences_of = [](const std::string& line) { return report_sentences(llama2(), tokens(line)); };
  const std::string findings = "Fundus photograph, right eye (OD): Image quality good. Microaneurysms.\n"
                               "Fundus photograph, left eye (OS): Image quality good. Microaneurysms.\n"
                               "Diagnosis: Right eye (OD): ICDR severe NPDR. Left eye (OS): ICDR mild NPDR.\n";
  // Severe NPDR is urgent, mild routine (referral_for). The draft refers the right eye within 3
  // months; the alternative urgently. Referral is no label the drafts agree on (label_agreement),
  // so both completed reports score alike but for the draft's conflict, which costs N − 1 = 1.
  const auto draft = sentences_of("Recommendation: Right eye (OD): refer to an ophthalmologist within 3 months. "
                                  "Left eye (OS): rescreen in 12 months (routine).");
  const auto urgent = sentences_of("Recommendation: Right eye (OD): urgent referral to a retina specialist. "
                                   "Left eye (OS): rescreen in 12 months (routine).");
  REQUIRE(draft.size() == 2);
  REQUIRE(urgent.size() == 2);
  const std::vector<int32_t> before = tokens(kTitle + findings);
  const StudyLabels evidence = evidence_of(findings);
  for (double weight : {0.0, 1.0})
    CHECK(choose_sentence(llama2(), before, before.size(), {draft[0], urgent[0]}, draft[1], draft[1].size(), evidence,
                          weight, "en", false, WordingChoice::Draft)
              .index == 1);
  // In a line already begun, a recommendation at odds with the grades is replaced, never left out
  // (the eye would have none): with no alternative that fits, the draft's sentence stays. Naming
  // no eye, "Refer immediately" refers both, and the left eye's mild NPDR is routine; the line
  // without it keeps its subject, so were it a denial it would be dropped.
  const auto line = sentences_of("Recommendation: Right eye (OD): urgent referral to a retina specialist. "
                                 "Left eye (OS): review in 12 months. Refer immediately to an ophthalmologist.");
  REQUIRE(line.size() == 3);
  std::vector<int32_t> begun = before;
  for (size_t i = 0; i < 2; ++i) begun.insert(begun.end(), line[i].begin(), line[i].end());
  const std::vector<Eye> conflicts = read_report(llama2().decode(begun) + llama2().decode(line[2]), "en").referral_conflicts;
  REQUIRE(conflicts.size() == 1);
  REQUIRE(conflicts.front() == Eye::OS);
  const SentenceChoice kept = choose_sentence(llama2(), begun, before.size(), {line[2]}, {}, 0, evidence, 1.0, "en", true);
  CHECK(kept.index == 0);
  CHECK_FALSE(kept.dropped);
}

// A random-weight bundle's engine after the prompt "Report:", and the refinement's alternatives
// replayed: the drafts after prompt + the pieces kept so far, sampled as refine_report_lines
// samples those of piece k (seeds seed + 7919 (k + 1) + i), each drafted to its line's end.
struct RandomEngine {
  std::shared_ptr<const ReportModel> model =
      ReportModel::load(test::cached_script_output("tests/tools/make_random_bundle.py", "random-bundle", "--seed 3", "",
                                                   "ophtha-bundle.json"));
  LlamaSession session{model->llm(), LlamaSessionOptions{1, 0}};
  const Tokenizer& tokenizer = model->llm()->tokenizer();
  std::vector<int32_t> prompt = tokenizer.encode("Report:", true);
  at::Tensor prompt_logits = session.forward_tokens(prompt);

  std::vector<GenerateResult> replay(const std::vector<int32_t>& kept_before, size_t k, const LineRefinementOptions& options) {
    session.rewind(0);
    std::vector<int32_t> so_far = prompt;
    so_far.insert(so_far.end(), kept_before.begin(), kept_before.end());
    const at::Tensor logits = session.forward_tokens(so_far);
    std::vector<GenerateOptions> drafts(static_cast<size_t>(options.line_drafts), options.drafting);
    for (size_t i = 0; i < drafts.size(); ++i) {
      drafts[i].stop_strings = {"\n"};
      drafts[i].max_tokens = static_cast<int32_t>(options.drafting.max_tokens - static_cast<int32_t>(kept_before.size()));
      drafts[i].sampling.seed = options.drafting.sampling.seed + 7919 * (k + 1) + i;
    }
    return generate_drafts_after_prompt(session, logits, drafts);
  }
};

TEST_CASE("choose_line: a line giving an eye another vertical C/D than the report so far gives way to one that repeats it") {
  const std::string findings = "Fundus photograph, right eye (OD): Image quality good. Vertical C/D 0.75, rim thinning.\n";
  const std::vector<int32_t> draft = tokens("Diagnosis: Right eye (OD): ICDR grade 0; vertical C/D 0.60 (early glaucomatous cupping).");
  const std::vector<int32_t> repeats = tokens("Diagnosis: Right eye (OD): ICDR grade 0; vertical C/D 0.75 (moderate glaucomatous cupping).");
  const std::vector<int32_t> before = tokens(kTitle + findings);
  // The two completed reports grade C/D from their own last value and agree with each other alike;
  // only the conflict with the findings line's 0.75 tells them apart (the draft's costs N − 1 = 1).
  for (double weight : {0.0, 1.0})
    CHECK(choose_line(llama2(), before, {draft, repeats}, {}, evidence_of(findings), weight, "en", WordingChoice::Draft) == 1);
  // Where the report so far states no C/D for the eye, neither line conflicts: a tie, the draft's stays.
  const std::string no_cdr = "Fundus photograph, right eye (OD): Image quality good. Rim thinning.\n";
  CHECK(choose_line(llama2(), tokens(kTitle + no_cdr), {draft, repeats}, {}, evidence_of(no_cdr), 0.0, "en",
                    WordingChoice::Draft) == 0);
}

TEST_CASE("refine_report_lines: every kept line is the draft's own or what the engine writes after the lines kept") {
  RandomEngine engine;
  const Tokenizer& tokenizer = engine.tokenizer;
  // A report of three lines whose last states microaneurysms in an eye the evidence reads free of
  // them: the random engine's alternatives to it (no labels, no line break) agree with the
  // evidence better, so one of them replaces it. The draft fills max_tokens, so alternatives the
  // budget cuts short take part (the random engine never ends a text).
  const std::vector<int32_t> report = tokenizer.encode("one\nFundus photograph, right eye (OD):\nMicroaneurysms.", false);
  REQUIRE(report_lines(tokenizer, report).size() == 3);

  LineRefinementOptions options = random_engine_refinement("Fundus photograph, right eye (OD): Image quality good.", 5, 11);
  options.step = RefinementStep::Line;
  options.drafting.max_tokens = static_cast<int32_t>(report.size());
  const RefinedReport refined = refine_report_lines(engine.session, engine.prompt_logits, report, options);
  CHECK(refined.lines == 3);
  CHECK(engine.session.position() == static_cast<int64_t>(engine.prompt.size() + refined.tokens.size()));
  const std::vector<std::vector<int32_t>> kept = report_lines(tokenizer, refined.tokens);
  REQUIRE(kept.size() == 3);

  // Replay: the kept line k is the draft's own or one of the alternatives drafted after the lines
  // kept before it.
  const std::vector<std::vector<int32_t>> own = report_lines(tokenizer, report);
  size_t replaced = 0;
  std::vector<int32_t> kept_before;
  for (size_t k = 0; k < 3; ++k) {
    bool found = kept[k] == own[k];
    for (const GenerateResult& r : engine.replay(kept_before, k, options)) found = found || r.tokens == kept[k];
    CHECK(found);
    replaced += kept[k] != own[k];
    kept_before.insert(kept_before.end(), kept[k].begin(), kept[k].end());
  }
  CHECK(replaced == 1);
  CHECK(refined.replaced_lines == replaced);
  CHECK(refined.steps == 3);
  CHECK(refined.replaced_steps == replaced);

  // A draft that ended before max_tokens: the alternatives to its last line, cut short by the
  // budget mid-text, take no part, so it stays, whatever the evidence says ("Review" never ends
  // a report that said "Review in 6 months.").
  LineRefinementOptions roomy = options;
  roomy.drafting.max_tokens = static_cast<int32_t>(report.size()) + 8;
  const RefinedReport ended = refine_report_lines(engine.session, engine.prompt_logits, report, roomy);
  REQUIRE(report_lines(tokenizer, ended.tokens).size() == 3);
  CHECK(report_lines(tokenizer, ended.tokens)[2] == own[2]);

  options.line_drafts = 0;
  test::check_message(test::error_from([&] { refine_report_lines(engine.session, engine.prompt_logits, report, options); }),
                      ErrorCode::InvalidArgument, "line drafts is 0, expected 1 ... 256");
  options.line_drafts = 2;
  options.sentence_insertions = -1;
  test::check_message(test::error_from([&] { refine_report_lines(engine.session, engine.prompt_logits, report, options); }),
                      ErrorCode::InvalidArgument, "sentence insertions is -1, expected >= 0");
  options.sentence_insertions = 0;
  options.drafting.sampling.temperature = 0.0f;
  test::check_message(test::error_from([&] { refine_report_lines(engine.session, engine.prompt_logits, report, options); }),
                      ErrorCode::InvalidArgument, "line drafts are sampled at temperature 0, expected > 0");
}

TEST_CASE("refine_report_lines by sentence: every kept sentence is the draft's own or the start of what the engine writes") {
  RandomEngine engine;
  const Tokenizer& tokenizer = engine.tokenizer;
  // The last sentence states microaneurysms in an eye the evidence reads free of them (as in the
  // test above, the draft filling max_tokens), so an alternative replaces it; the line keeps its
  // subject from the sentence before.
  const std::vector<int32_t> report =
      tokenizer.encode("one. two.\nFundus photograph, right eye (OD): Image quality good. Microaneurysms.", false);
  const std::vector<std::vector<int32_t>> own = report_sentences(tokenizer, report);
  REQUIRE(own.size() == 4);

  LineRefinementOptions options = random_engine_refinement("Fundus photograph, right eye (OD): Image quality good.", 6, 5);
  options.drafting.max_tokens = static_cast<int32_t>(report.size());
  REQUIRE(options.step == RefinementStep::Sentence);  // by sentence, the default
  const RefinedReport refined = refine_report_lines(engine.session, engine.prompt_logits, report, options);
  CHECK(refined.lines == 2);
  CHECK(refined.steps == 4);
  CHECK(engine.session.position() == static_cast<int64_t>(engine.prompt.size() + refined.tokens.size()));
  const std::vector<std::vector<int32_t>> kept = report_sentences(tokenizer, refined.tokens);
  REQUIRE(kept.size() == 4);
  CHECK(report_lines(tokenizer, refined.tokens).size() == 2);

  // Replay: the refinement cuts each alternative where its first sentence ends; drafted to the
  // line's end instead, a kept alternative is the start of one of them, followed there by a
  // sentence's start.
  size_t replaced = 0;
  std::vector<int32_t> kept_before;
  for (size_t k = 0; k < 4; ++k) {
    bool found = kept[k] == own[k];
    for (const GenerateResult& r : engine.replay(kept_before, k, options)) {
      if (r.tokens.size() < kept[k].size() || !std::equal(kept[k].begin(), kept[k].end(), r.tokens.begin())) continue;
      found = found || r.tokens.size() == kept[k].size() ||
              sentence_ends_before(tokenizer, tokenizer.decode(kept[k]), r.tokens[kept[k].size()]);
    }
    CHECK(found);
    replaced += kept[k] != own[k];
    kept_before.insert(kept_before.end(), kept[k].begin(), kept[k].end());
  }
  CHECK(replaced == 1);
  CHECK(refined.replaced_steps == replaced);
  CHECK(refined.replaced_lines == 1);
}

TEST_CASE("refine_report_lines by sentence: a sentence repeating the one before it word for word is left out") {
  RandomEngine engine;
  const Tokenizer& tokenizer = engine.tokenizer;
  // The draft states what the evidence holds, each finding twice in a row; the random engine's
  // alternatives state nothing, so without the rule every sentence of the draft would stay. The
  // repeat inside the line goes; the one ending it leaves its line break.
  const std::string line = "Fundus photograph, right eye (OD): Image quality good. Microaneurysms. Hard exudates.\n";
  const std::vector<int32_t> report = tokenizer.encode(
      "Fundus photograph, right eye (OD): Image quality good. Microaneurysms. Microaneurysms. Hard exudates. Hard "
      "exudates.\nFundus photograph, left eye (OS): Image quality good.",
      false);
  REQUIRE(report_sentences(tokenizer, report).size() == 6);

  const LineRefinementOptions options =
      random_engine_refinement(line + "Fundus photograph, left eye (OS): Image quality good.", 6, 5);
  const RefinedReport refined = refine_report_lines(engine.session, engine.prompt_logits, report, options);
  CHECK(tokenizer.decode(refined.tokens) == line + "Fundus photograph, left eye (OS): Image quality good.");
  CHECK(refined.dropped_sentences == 2);
  CHECK(refined.replaced_steps == 0);
  CHECK(refined.replaced_lines == 1);
  CHECK(refined.lines == 2);
  CHECK(engine.session.position() == static_cast<int64_t>(engine.prompt.size() + refined.tokens.size()));
}

TEST_CASE("refine_report_lines stays within the context: a draft that filled it, and alternatives longer than its pieces") {
  RandomEngine engine;
  // A context 12 tokens longer than the prompt: a draft decoded to its end holds 13 tokens (the
  // last sampled is never run), and any alternative longer than the piece it replaces would leave
  // the draft's later pieces no room.
  LlamaSession session(engine.model->llm(), LlamaSessionOptions{1, static_cast<int64_t>(engine.prompt.size()) + 12});
  const at::Tensor prompt_logits = session.forward_tokens(engine.prompt);
  GenerateOptions to_the_end;
  to_the_end.max_tokens = 64;
  to_the_end.ignore_eos = true;
  to_the_end.sampling.temperature = 1.0f;
  to_the_end.sampling.seed = 2;
  const GenerateResult draft = generate_after_prompt(session, prompt_logits, to_the_end);
  REQUIRE(draft.reason == StopReason::TokenLimit);
  REQUIRE(draft.tokens.size() == 13);
  for (const RefinementStep step : {RefinementStep::Line, RefinementStep::Sentence}) {
    for (uint64_t seed = 1; seed <= 4; ++seed) {
      session.rewind(static_cast<int64_t>(engine.prompt.size()));
      LineRefinementOptions options;
      options.step = step;
      options.line_drafts = 6;
      options.sentence_insertions = 2;
      options.drafting.max_tokens = 64;
      options.drafting.sampling.temperature = 2.0f;
      options.drafting.sampling.seed = seed;
      INFO(refinement_step_name(step), " seed ", seed);
      const RefinedReport refined = refine_report_lines(session, prompt_logits, draft.tokens, options);
      CHECK(refined.tokens.size() <= 12);
      CHECK(session.position() == static_cast<int64_t>(engine.prompt.size() + refined.tokens.size()));
    }
  }
}

TEST_CASE("on the demo model the refined report keeps the chosen draft's layout, line for line") {
  const auto model = ReportModel::load(std::string(OPHTHA_SOURCE_DIR) + "/models/demo");
  ReportSession session(model, 1);
  const std::string images = std::string(OPHTHA_SOURCE_DIR) + "/examples/images/syn-000033_";
  const std::vector<Image> study = {Image::decode_file(images + "OD_cfp.jpg", Modality::Cfp, Eye::OD),
                                    Image::decode_file(images + "OS_cfp.jpg", Modality::Cfp, Eye::OS),
                                    Image::decode_file(images + "OD_oct.png", Modality::Oct, Eye::OD)};
  // What was examined, as the evidence holds it: both fundus photographs and the right eye's OCT.
  StudyLabels examined;
  examined.eyes[Eye::OD].imaged = {Modality::Cfp, Modality::Oct};
  examined.eyes[Eye::OS].imaged = {Modality::Cfp};
  ReportOptions options;
  options.candidates = 8;
  options.line_drafts = 8;
  options.drop_repeats = false;  // the refinement's own text (dropping repeats may empty a sentence)
  int refined_lines = 0, inserted_sentences = 0;
  for (const std::string lang : {"en", "zh"}) {
    options.lang = lang;
    const Report report = session.generate(study, options);
    REQUIRE(report.drafts.size() == 8);
    const Tokenizer& tokenizer = model->llm()->tokenizer();
    // Line by line below the title, which central_title chooses after the refinement (a drafts' title, or none).
    const auto body_lines = [&](const std::string& text) {
      auto lines = report_lines(tokenizer, tokenizer.encode(text, true));
      if (lines.size() > 1 && line_subject(tokenizer, lines.front(), lang).empty()) {
        const std::string title = tokenizer.decode(lines.front());
        CHECK(std::any_of(report.drafts.begin(), report.drafts.end(), [&](const std::string& d) { return d.rfind(title, 0) == 0; }));
        lines.erase(lines.begin());
      }
      return lines;
    };
    const auto chosen = body_lines(report.drafts[report.chosen]);
    const auto refined = body_lines(report.text);
    REQUIRE(chosen.size() == refined.size());
    int64_t gained = 0;  // sentences: inserted less dropped
    for (size_t k = 0; k < chosen.size(); ++k) {
      // The same subject, or — where the chosen line speaks of an examination nobody made (the
      // English diagnosis line grades a left-eye OCT) — that subject less it.
      const std::string kept = line_subject(tokenizer, refined[k], lang);
      CHECK((kept == line_subject(tokenizer, chosen[k], lang) || kept == line_subject(tokenizer, chosen[k], lang, examined)));
      // The draft's sentences, less those dropped, and those inserted: at most the bundle's
      // generation.sentence_insertions a line.
      const size_t drafted = report_sentences(tokenizer, chosen[k]).size(), kept_sentences = report_sentences(tokenizer, refined[k]).size();
      CHECK(kept_sentences + static_cast<size_t>(report.dropped_sentences) >= drafted);
      CHECK(kept_sentences <= drafted + static_cast<size_t>(model->bundle().generation.sentence_insertions));
      gained += static_cast<int64_t>(kept_sentences) - static_cast<int64_t>(drafted);
    }
    CHECK(gained == report.inserted_sentences - report.dropped_sentences);
    // No sentence of the refined report contradicts the report before it (a guard: these reports'
    // drafts have none to drop; dropping is pinned by the choose_sentence case above).
    CHECK(read_report(report.text, lang).contradictions.empty());
    CHECK(report.refined_lines <= static_cast<int>(chosen.size()));
    if (report.refined_lines == 0) CHECK(report.text == central_title(report.drafts[report.chosen], report.drafts, lang));
    MESSAGE(lang << ": " << report.refined_lines << " of " << chosen.size() << " lines refined, " << report.inserted_sentences
                 << " sentences inserted, " << report.dropped_sentences << " dropped");
    refined_lines += report.refined_lines;
    inserted_sentences += report.inserted_sentences;
    CHECK(report.structured["text"] == report.text);
  }
  CHECK(refined_lines > 0);  // the alternatives do win lines (2 of 6 and 2 of 5 when written)
  CHECK(inserted_sentences > 0);  // and sentences go in (the bundle's generation.sentence_insertions is 4; 1 and 2 when written)
  options.line_drafts = kMaxReportCandidates + 1;
  test::check_message(test::error_from([&] { session.generate(study, options); }), ErrorCode::InvalidArgument,
                      "line_drafts is 129, expected at most 128");
  options.candidates = 1;
  options.line_drafts = 2;
  options.candidate_temperature = 0.0f;
  test::check_message(test::error_from([&] { session.generate(study, options); }), ErrorCode::InvalidArgument,
                      "candidate_temperature is 0, expected > 0 when 2 line drafts are sampled");
}

TEST_CASE("refine_report_lines: guided alternatives write the findings the evidence holds that no draft states") {
  // The demo model told nothing (no image, "none given"), a draft naming microaneurysms only, and
  // evidence — as the heads would read the photograph — holding hard exudates and cotton-wool spots
  // as well. Unguided alternatives cannot know of them; a guided one starts with a finding's name
  // and the model writes the rest of its sentence.
  const auto model = ReportModel::load(std::string(OPHTHA_SOURCE_DIR) + "/models/demo");
  const Tokenizer& tokenizer = model->llm()->tokenizer();
  const std::string draft_text =
      "OD Colour fundus photography (CFP): Image quality good. Microaneurysms. Vertical C/D 0.40.\n"
      "Diagnosis: Right eye (OD): mild non-proliferative diabetic retinopathy (ICDR grade 1); vertical C/D 0.40.\n"
      "Recommendation: Right eye (OD): routine rescreening in 12 months.";
  const std::vector<int32_t> draft = tokenizer.encode(draft_text, false);
  StudyLabels evidence;
  evidence.eyes[Eye::OD].imaged = {Modality::Cfp};
  evidence.eyes[Eye::OD].findings = {Finding::Microaneurysms, Finding::HardExudates, Finding::CottonWoolSpots};

  LineRefinementOptions options;
  options.line_drafts = 4;
  options.sentence_insertions = 2;
  options.evidence = evidence;
  options.evidence_weight = 1.0;
  options.drafting.max_tokens = 160;
  options.drafting.sampling.temperature = 1.0f;
  options.drafting.sampling.seed = 3;
  const auto refine = [&](int guided) {
    LlamaSession session(model->llm());
    const at::Tensor logits = session.forward_tokens(tokenizer.encode(
        "Ophthalmic examination.\nInstrument findings:\nnone given\nWrite the diagnostic report in English.\nReport:\n", true));
    options.guided_drafts = guided;
    return refine_report_lines(session, logits, draft, options);
  };
  const RefinedReport unguided = refine(0);
  const RefinedReport guided = refine(2);
  CHECK(unguided.guided_sentences == 0);
  const std::string text = tokenizer.decode(guided.tokens);
  MESSAGE("guided: " << text);
  MESSAGE("unguided: " << tokenizer.decode(unguided.tokens));
  REQUIRE(guided.guided_sentences > 0);
  CHECK(guided.guided_sentences <= guided.inserted_sentences);
  // Each guided sentence went into the findings line, starting with an unstated finding's name; the
  // impression and the recommendation gained none.
  const std::vector<std::vector<int32_t>> lines = report_lines(tokenizer, guided.tokens);
  REQUIRE(lines.size() == 3);
  size_t named = 0;
  for (const auto& sentence : report_sentences(tokenizer, lines[0])) {
    const std::string s = tokenizer.decode(sentence);
    named += s.rfind("Hard exudates", 0) == 0 || s.rfind("Cotton-wool spots", 0) == 0;
  }
  CHECK(named >= guided.guided_sentences);
  CHECK(report_sentences(tokenizer, lines[1]).size() == report_sentences(tokenizer, report_lines(tokenizer, draft)[1]).size());
  CHECK(report_sentences(tokenizer, lines[2]).size() == report_sentences(tokenizer, report_lines(tokenizer, draft)[2]).size());
  // The report states more of what the evidence holds than the unguided refinement's.
  const auto held = [&](const std::vector<int32_t>& tokens) {
    const EyeLabels said = extract_labels_from_text(tokenizer.decode(tokens), "en").eyes[Eye::OD];
    return std::count_if(evidence.eyes[Eye::OD].findings.begin(), evidence.eyes[Eye::OD].findings.end(),
                         [&](Finding f) { return said.has(f); });
  };
  CHECK(held(guided.tokens) > held(unguided.tokens));
  options.guided_drafts = -1;
  LlamaSession session(model->llm());
  const at::Tensor logits = session.forward_tokens(tokenizer.encode("Report:\n", true));
  test::check_message(test::error_from([&] { refine_report_lines(session, logits, draft, options); }),
                      ErrorCode::InvalidArgument, "guided drafts is -1, expected 0 ... 256");
}
