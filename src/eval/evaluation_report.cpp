// The outputs of `ophtha eval`: metrics.json, the Markdown summary and the plots
// (ophtha/evaluation.hpp).
#include <cmath>
#include <filesystem>

#include <fmt/format.h>

#include "ophtha/error.hpp"
#include "ophtha/evaluation.hpp"
#include "ophtha/mapped_file.hpp"
#include "ophtha/plot.hpp"

namespace ophtha {

namespace {

using nlohmann::json;

json number(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }
std::string cell(double v) { return std::isfinite(v) ? fmt::format("{:.4f}", v) : "n/a"; }

const char* smoothing_name(BleuSmoothing s) {
  switch (s) {
    case BleuSmoothing::Method0: return "method0";
    case BleuSmoothing::Method1: return "method1";
    case BleuSmoothing::Method2: return "method2";
    case BleuSmoothing::Method3: return "method3";
    case BleuSmoothing::Method4: return "method4";
    case BleuSmoothing::Method5: return "method5";
    case BleuSmoothing::Method7: return "method7";
  }
  return "?";
}

json language_json(const LanguageEvaluation& l) {
  return {{"studies", l.studies},
          {"predicted", l.predicted},
          {"missing", l.missing_ids.size()},
          {"missing_ids", l.missing_ids},
          {"text",
           {{"reports", l.text_scored},
            {"no_reference_ids", l.no_reference_ids},
            {"bleu", {number(l.bleu[0]), number(l.bleu[1]), number(l.bleu[2]), number(l.bleu[3])}},
            {"rouge_l", number(l.rouge_l)},
            {"cider_d", number(l.cider_d)},
            {"meteor_exact", number(l.meteor)}}},
          {"labels_from_structured", l.labels_from_structured},
          {"labels_from_text", l.labels_from_text},
          {"extraction_problems", l.extraction_problems},
          {"contradictions", l.contradictions},
          {"contradicting_ids", l.contradicting_ids},
          {"cup_disc_conflicts", l.cup_disc_conflicts},
          {"cup_disc_conflicting_ids", l.cup_disc_conflicting_ids},
          {"referral_conflicts", l.referral_conflicts},
          {"follow_up_conflicts", l.follow_up_conflicts},
          {"recommendation_conflicting_ids", l.recommendation_conflicting_ids},
          {"implied_grades", l.implied_grades},
          {"implied_grade_ids", l.implied_grade_ids},
          {"repetitions", l.repetitions},
          {"repeating_ids", l.repeating_ids},
          {"grade_repetitions", l.grade_repetitions},
          {"grade_repeating_ids", l.grade_repeating_ids},
          {"clinical", to_json(l.clinical)}};
}

void write_text_file(const std::string& path, const std::string& text) {
  AtomicFileWriter file(path);
  file.write(text.data(), text.size());
  file.commit();
}

std::vector<std::string> level_labels(const char* const* names, int levels) {
  std::vector<std::string> out;
  for (int i = 0; i < levels; ++i) out.push_back(names[i]);
  return out;
}

RgbImage confusion_image(const std::string& title, const LevelAgreement& a, const char* const* names) {
  ConfusionPlot plot;
  plot.title = title;
  plot.row_labels = level_labels(names, a.levels);
  plot.column_labels = plot.row_labels;
  plot.column_labels.push_back("not stated");
  plot.counts = a.confusion;
  return plot_confusion_matrix(plot);
}

}  // namespace

json to_json(const EvaluationResult& r) {
  json languages = json::object();
  for (const auto& [lang, l] : r.languages) languages[lang] = language_json(l);
  return {{"manifest", r.manifest_path},
          {"predictions", r.predictions_path},
          {"split", r.split},
          {"bleu_smoothing", smoothing_name(r.bleu.smoothing)},
          {"counts",
           {{"studies_in_split", r.studies_in_split},
            {"prediction_lines", r.prediction_lines},
            {"malformed_lines", r.malformed_lines},
            {"unknown_ids", r.unknown_ids},
            {"outside_split", r.outside_split},
            {"other_language", r.other_language},
            {"duplicates", r.duplicates}}},
          {"problems", r.problems},
          {"languages", languages}};
}

std::string summary_markdown(const EvaluationResult& r) {
  std::string md = fmt::format("# Evaluation\n\nManifest `{}`, predictions `{}`, split `{}`, BLEU smoothing `{}` "
                               "(nltk names).\n\n",
                               r.manifest_path, r.predictions_path, r.split, smoothing_name(r.bleu.smoothing));
  md += "| lines and studies | count |\n| --- | ---: |\n";
  md += fmt::format("| studies in the split | {} |\n| prediction lines | {} |\n| malformed lines | {} |\n"
                    "| unknown ids | {} |\n| studies of another split | {} |\n| lines in another language | {} |\n"
                    "| repeated (id, language) | {} |\n\n",
                    r.studies_in_split, r.prediction_lines, r.malformed_lines, r.unknown_ids, r.outside_split,
                    r.other_language, r.duplicates);
  md += "## Text metrics\n\n| lang | studies | predicted | missing | scored | BLEU-1 | BLEU-2 | BLEU-3 | BLEU-4 | "
        "ROUGE-L | CIDEr-D | METEOR (exact) |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | "
        "---: | ---: |\n";
  for (const auto& [lang, l] : r.languages)
    md += fmt::format("| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n", lang, l.studies, l.predicted,
                      l.missing_ids.size(), l.text_scored, cell(l.bleu[0]), cell(l.bleu[1]), cell(l.bleu[2]),
                      cell(l.bleu[3]), cell(l.rouge_l), cell(l.cider_d), cell(l.meteor));
  for (const auto& [lang, l] : r.languages) {
    const ClinicalMetrics& c = l.clinical;
    md += fmt::format("\n## Clinical metrics ({})\n\nLabels read from {} structured reports and {} texts; {} could not "
                      "be read; {} studies without a prediction. {} studies' reports describe an examination that "
                      "was not made ({} eye-modality pairs; not scored). {} studies' reports both state and deny "
                      "a finding for one eye ({} eye-finding pairs; counted as stated); {} give one eye two different "
                      "vertical C/D values ({} eyes; the last counted); {} recommend otherwise than their stated "
                      "grades imply ({} eyes' referral, {} eyes' follow-up; the stated referral counted); {} leave a "
                      "grade to the findings, stating it nowhere ({} eye-scale pairs; the implied level counted); "
                      "{} name a finding of an eye again after its first mention ({} mentions); {} grade an eye "
                      "again on a scale its line already graded ({} statements).\n\n",
                      lang, l.labels_from_structured, l.labels_from_text, l.extraction_problems.size(),
                      c.missing_predictions, c.studies_with_unexamined, c.unexamined, l.contradicting_ids.size(),
                      l.contradictions, l.cup_disc_conflicting_ids.size(), l.cup_disc_conflicts,
                      l.recommendation_conflicting_ids.size(), l.referral_conflicts, l.follow_up_conflicts,
                      l.implied_grade_ids.size(), l.implied_grades, l.repeating_ids.size(), l.repetitions,
                      l.grade_repeating_ids.size(), l.grade_repetitions);
    md += "| measure | value |\n| --- | ---: |\n";
    md += fmt::format("| findings macro F1 | {} |\n| findings micro F1 | {} |\n| referral accuracy (per eye) | {} |\n"
                      "| referral kappa (quadratic) | {} |\n\n",
                      cell(c.macro_f1), cell(c.micro_f1), cell(c.referral.accuracy()), cell(c.referral.kappa()));
    md += "| scale | eyes | stated | accuracy | kappa | weights |\n| --- | ---: | ---: | ---: | ---: | --- |\n";
    for (const auto& [scale, a] : c.grades)
      md += fmt::format("| {} | {} | {} | {} | {} | {} |\n", grade_scale_info(scale).code, a.eyes(), a.stated(),
                        cell(a.accuracy()), cell(a.kappa()), a.ordinal ? "quadratic" : "none");
    md += "\nFindings neither present nor predicted in any scored eye are left out.\n\n"
          "| finding | eyes | support | precision | recall | F1 |\n| --- | ---: | ---: | ---: | ---: | ---: |\n";
    for (const FindingScores& s : c.findings)
      if (s.counts.support() > 0 || s.counts.false_positives > 0)
        md += fmt::format("| {} | {} | {} | {} | {} | {} |\n", finding_code(s.finding), s.counts.eyes(),
                          s.counts.support(), cell(s.counts.precision()), cell(s.counts.recall()), cell(s.counts.f1()));
  }
  if (!r.problems.empty()) {
    constexpr size_t kListed = 20;
    md += fmt::format("\n## Problems ({}; every one is in metrics.json)\n\n", r.problems.size());
    for (size_t i = 0; i < r.problems.size() && i < kListed; ++i) md += "- " + r.problems[i] + "\n";
    if (r.problems.size() > kListed) md += fmt::format("- ... and {} more\n", r.problems.size() - kListed);
  }
  return md;
}

std::vector<std::string> write_evaluation(const std::string& dir, const EvaluationResult& r) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) fail(ErrorCode::Io, "{}: cannot create the output folder: {}", dir, ec.message());
  std::vector<std::string> written;
  auto text = [&](const std::string& name, const std::string& contents) {
    write_text_file(dir + "/" + name, contents);
    written.push_back(dir + "/" + name);
  };
  auto png = [&](const std::string& name, const RgbImage& image) {
    write_png(dir + "/" + name, image);
    written.push_back(dir + "/" + name);
  };
  text("metrics.json", to_json(r).dump(2) + "\n");
  text("summary.md", summary_markdown(r));
  static const char* const kReferralNames[] = {"routine", "soon", "urgent"};
  for (const auto& [lang, l] : r.languages) {
    const ClinicalMetrics& c = l.clinical;
    BarChart f1;
    f1.title = fmt::format("F1 per finding ({})", lang);
    for (const FindingScores& s : c.findings)
      if (s.counts.eyes() > 0) {
        f1.labels.push_back(finding_code(s.finding));
        f1.values.push_back(s.counts.support() > 0 || s.counts.false_positives > 0 ? s.counts.f1() : NAN);
      }
    if (!f1.labels.empty()) png(lang + "_findings_f1.png", plot_bar_chart(f1));
    for (const auto& [scale, a] : c.grades) {
      const GradeScaleInfo& info = grade_scale_info(scale);
      if (a.eyes() > 0)
        png(fmt::format("{}_confusion_{}.png", lang, info.code),
            confusion_image(fmt::format("{} ({})", info.code, lang), a, info.level_names));
    }
    if (c.referral.eyes() > 0)
      png(lang + "_confusion_referral.png", confusion_image(fmt::format("referral ({})", lang), c.referral, kReferralNames));
  }
  return written;
}

}  // namespace ophtha
