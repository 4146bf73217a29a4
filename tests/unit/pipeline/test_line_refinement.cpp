// Line refinement (line_refinement.hpp): lines split where the tokens break them, a line's subject
// read from its text, the choice among alternative lines worked out by hand on report lines the
// extractor reads (LLaMA 2's tokenizer), and the refinement itself on the bundled demo model and
// a random-weight bundle: every kept line is the chosen draft's or one the engine writes after the
// lines kept before it, and the layout never changes.
#include "support/doctest_with_aten.hpp"

#include <string>
#include <vector>

#include "ophtha/error.hpp"
#include "ophtha/generate.hpp"
#include "ophtha/image.hpp"
#include "ophtha/line_refinement.hpp"
#include "ophtha/report_consensus.hpp"
#include "ophtha/report_extractor.hpp"
#include "ophtha/report_pipeline.hpp"
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

TEST_CASE("line_subject: the eyes a line is about, with the modalities it describes and the scales it grades") {
  const std::string od = line_subject(llama2(), tokens(kOdFundus), "en");
  CHECK(od == line_subject(llama2(), tokens(kOdFundusExudates), "en"));  // other findings, same subject
  CHECK(od != line_subject(llama2(), tokens(kOsFundusExudates), "en"));
  CHECK(od.find("OD") != std::string::npos);
  CHECK(line_subject(llama2(), tokens(kTitle), "en").empty());
  CHECK(line_subject(llama2(), tokens(kDiagnosis), "en").find("icdr") != std::string::npos);
  CHECK(od != line_subject(llama2(), tokens("OCT, right eye (OD): Normal foveal profile.\n"), "en"));
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

TEST_CASE("refine_report_lines: every kept line is the draft's own or what the engine writes after the lines kept") {
  const std::string bundle = test::cached_script_output("tests/tools/make_random_bundle.py", "random-bundle", "--seed 3",
                                                        "", "ophtha-bundle.json");
  const auto model = ReportModel::load(bundle);
  LlamaSession session(model->llm(), LlamaSessionOptions{1, 0});
  const Tokenizer& tokenizer = model->llm()->tokenizer();
  const std::vector<int32_t> prompt = tokenizer.encode("Report:", true);
  const at::Tensor prompt_logits = session.forward_tokens(prompt);
  // A report of three lines (any tokens will do: the refinement takes them as given).
  const std::vector<int32_t> report = tokenizer.encode("one\ntwo\nthree", false);
  REQUIRE(report_lines(tokenizer, report).size() == 3);

  LineRefinementOptions options;
  options.line_drafts = 5;
  options.drafting.max_tokens = 24;
  options.drafting.sampling.temperature = 1.5f;
  options.drafting.sampling.seed = 11;
  const RefinedReport refined = refine_report_lines(session, prompt_logits, report, options);
  CHECK(refined.lines == 3);
  CHECK(session.position() == static_cast<int64_t>(prompt.size() + refined.tokens.size()));
  const std::vector<std::vector<int32_t>> kept = report_lines(tokenizer, refined.tokens);
  REQUIRE(kept.size() == 3);

  // Replay: the alternatives of line k are the drafts after prompt + kept lines 0..k-1, with seeds
  // seed + 7919 (k + 1) + i; the kept line is the draft's own or one of them.
  const std::vector<std::vector<int32_t>> own = report_lines(tokenizer, report);
  size_t replaced = 0;
  std::vector<int32_t> so_far = prompt;
  for (size_t k = 0; k < 3; ++k) {
    session.rewind(0);
    const at::Tensor logits = session.forward_tokens(so_far);
    std::vector<GenerateOptions> drafts(5, options.drafting);
    for (size_t i = 0; i < 5; ++i) {
      drafts[i].stop_strings = {"\n"};
      drafts[i].max_tokens = static_cast<int32_t>(24 - (so_far.size() - prompt.size()));
      drafts[i].sampling.seed = 11 + 7919 * (k + 1) + i;
    }
    bool found = kept[k] == own[k];
    for (const GenerateResult& r : generate_drafts_after_prompt(session, logits, drafts)) found = found || r.tokens == kept[k];
    CHECK(found);
    replaced += kept[k] != own[k];
    so_far.insert(so_far.end(), kept[k].begin(), kept[k].end());
  }
  CHECK(refined.replaced_lines == replaced);

  options.line_drafts = 0;
  test::check_message(test::error_from([&] { refine_report_lines(session, prompt_logits, report, options); }),
                      ErrorCode::InvalidArgument, "line drafts is 0, expected 1 ... 256");
  options.line_drafts = 2;
  options.drafting.sampling.temperature = 0.0f;
  test::check_message(test::error_from([&] { refine_report_lines(session, prompt_logits, report, options); }),
                      ErrorCode::InvalidArgument, "line drafts are sampled at temperature 0, expected > 0");
}

TEST_CASE("on the demo model the refined report keeps the chosen draft's layout, line for line") {
  const auto model = ReportModel::load(std::string(OPHTHA_SOURCE_DIR) + "/models/demo");
  ReportSession session(model, 1);
  const std::string images = std::string(OPHTHA_SOURCE_DIR) + "/examples/images/syn-000033_";
  const std::vector<Image> study = {Image::decode_file(images + "OD_cfp.jpg", Modality::Cfp, Eye::OD),
                                    Image::decode_file(images + "OS_cfp.jpg", Modality::Cfp, Eye::OS),
                                    Image::decode_file(images + "OD_oct.png", Modality::Oct, Eye::OD)};
  ReportOptions options;
  options.candidates = 8;
  options.line_drafts = 8;
  int refined_lines = 0;
  for (const std::string lang : {"en", "zh"}) {
    options.lang = lang;
    const Report report = session.generate(study, options);
    REQUIRE(report.drafts.size() == 8);
    const Tokenizer& tokenizer = model->llm()->tokenizer();
    const auto chosen = report_lines(tokenizer, tokenizer.encode(report.drafts[report.chosen], true));
    const auto refined = report_lines(tokenizer, tokenizer.encode(report.text, true));
    REQUIRE(chosen.size() == refined.size());
    for (size_t k = 0; k < chosen.size(); ++k)
      CHECK(line_subject(tokenizer, chosen[k], lang) == line_subject(tokenizer, refined[k], lang));
    CHECK(report.refined_lines <= static_cast<int>(chosen.size()));
    if (report.refined_lines == 0) CHECK(report.text == report.drafts[report.chosen]);
    MESSAGE(lang << ": " << report.refined_lines << " of " << chosen.size() << " lines refined");
    refined_lines += report.refined_lines;
    CHECK(report.structured["text"] == report.text);
  }
  CHECK(refined_lines > 0);  // the alternatives do win lines (2 of 6 and 1 of 5 when written)
  options.line_drafts = kMaxReportCandidates + 1;
  test::check_message(test::error_from([&] { session.generate(study, options); }), ErrorCode::InvalidArgument,
                      "line_drafts is 129, expected at most 128");
  options.candidates = 1;
  options.line_drafts = 2;
  options.candidate_temperature = 0.0f;
  test::check_message(test::error_from([&] { session.generate(study, options); }), ErrorCode::InvalidArgument,
                      "candidate_temperature is 0, expected > 0 when 2 line drafts are sampled");
}
