// Scoring a predictions file against a manifest: matching lines to studies, text metrics and
// clinical metrics per language (ophtha/evaluation.hpp).
#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

#include <fmt/format.h>

#include "eval/prediction_labels.hpp"
#include "ophtha/error.hpp"
#include "ophtha/evaluation.hpp"
#include "ophtha/report_extractor.hpp"

namespace ophtha {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

bool in_split(const Study& study, const std::string& split) { return split == "all" || split_code(study.split) == split; }

void score_language(LanguageEvaluation& out, const std::vector<const Study*>& studies,
                    const std::map<std::pair<std::string, std::string>, const Prediction*>& chosen,
                    const std::string& predictions_path, const BleuOptions& bleu) {
  std::vector<std::string> hypotheses;
  std::vector<std::vector<std::string>> references;
  std::vector<StudyLabels> reference_labels;
  std::vector<std::optional<StudyLabels>> predicted_labels;
  out.studies = studies.size();
  for (const Study* study : studies) {
    auto it = chosen.find({study->id, out.lang});
    const Prediction* prediction = it == chosen.end() ? nullptr : it->second;
    if (prediction)
      ++out.predicted;
    else
      out.missing_ids.push_back(study->id);
    if (auto ref = study->reports.find(out.lang); ref != study->reports.end()) {
      hypotheses.push_back(prediction ? prediction->report : std::string());
      references.push_back({ref->second});
    } else {
      out.no_reference_ids.push_back(study->id);
    }
    reference_labels.push_back(study->labels);
    if (!prediction) {
      predicted_labels.emplace_back(std::nullopt);
      continue;
    }
    const ReportReading reading = read_report(prediction->report, prediction->lang);
    if (!reading.contradictions.empty()) {
      out.contradictions += reading.contradictions.size();
      out.contradicting_ids.push_back(study->id);
    }
    if (!reading.cup_disc_conflicts.empty()) {
      out.cup_disc_conflicts += reading.cup_disc_conflicts.size();
      out.cup_disc_conflicting_ids.push_back(study->id);
    }
    if (!reading.referral_conflicts.empty() || !reading.follow_up_conflicts.empty()) {
      out.referral_conflicts += reading.referral_conflicts.size();
      out.follow_up_conflicts += reading.follow_up_conflicts.size();
      out.recommendation_conflicting_ids.push_back(study->id);
    }
    if (!reading.implied_grades.empty()) {
      out.implied_grades += reading.implied_grades.size();
      out.implied_grade_ids.push_back(study->id);
    }
    if (!reading.repetitions.empty()) {
      out.repetitions += reading.repetitions.size();
      out.repeating_ids.push_back(study->id);
    }
    if (!reading.grade_repetitions.empty()) {
      out.grade_repetitions += reading.grade_repetitions.size();
      out.grade_repeating_ids.push_back(study->id);
    }
    bool from_structured = false;
    std::string problem;
    std::optional<StudyLabels> labels = eval_detail::prediction_labels(*prediction, from_structured, problem);
    if (labels) {
      (from_structured ? out.labels_from_structured : out.labels_from_text) += 1;
      predicted_labels.push_back(std::move(labels));
    } else {
      out.extraction_problems.push_back(fmt::format("{}:{}: {}", predictions_path, prediction->line, problem));
      predicted_labels.emplace_back(StudyLabels{});  // a report that states nothing we can read
    }
  }
  out.text_scored = hypotheses.size();
  if (hypotheses.empty()) {
    out.bleu = {kNaN, kNaN, kNaN, kNaN};
    out.rouge_l = out.cider_d = out.meteor = kNaN;
  } else {
    const TokenizedCorpus corpus = tokenize_corpus(hypotheses, references);
    out.bleu = corpus_bleu(corpus, bleu);
    out.rouge_l = rouge_l(corpus).corpus;
    out.cider_d = cider_d(corpus).corpus;
    out.meteor = meteor_exact(corpus).corpus;
  }
  out.clinical = clinical_metrics(reference_labels, predicted_labels);
}

}  // namespace

EvaluationResult evaluate(const Manifest& manifest, const PredictionFile& predictions, const EvaluationOptions& options) {
  if (options.split != "all" && options.split != "train" && options.split != "val" && options.split != "test")
    fail(ErrorCode::InvalidArgument, "unknown split '{}', expected train, val, test or all", options.split);
  if (!options.lang.empty() && options.lang != "zh" && options.lang != "en")
    fail(ErrorCode::InvalidArgument, "unknown language '{}', expected zh or en", options.lang);
  EvaluationResult result;
  result.manifest_path = manifest.path;
  result.predictions_path = predictions.path;
  result.split = options.split;
  result.bleu = options.bleu;
  result.prediction_lines = predictions.lines;
  result.malformed_lines = predictions.malformed.size();

  std::vector<const Study*> studies;
  for (const Study& study : manifest.studies)
    if (in_split(study, options.split)) studies.push_back(&study);
  result.studies_in_split = studies.size();

  // Each (id, lang) is scored once, from its first well-formed line.
  std::map<std::pair<std::string, std::string>, const Prediction*> chosen;
  std::vector<std::string>& problems = result.problems;  // malformed lines first, then in file order
  problems = predictions.malformed;
  for (const Prediction& p : predictions.predictions) {
    const std::string at = fmt::format("{}:{}: ", predictions.path, p.line);
    const Study* study = manifest.find(p.id);
    if (!study) {
      ++result.unknown_ids;
      problems.push_back(at + fmt::format("id: '{}' is not a study of {}, expected an id of the manifest",
                                                      p.id, manifest.path));
    } else if (!in_split(*study, options.split)) {
      ++result.outside_split;
      problems.push_back(at + fmt::format("id: '{}' is a {} study, expected one of the '{}' split (not scored)",
                                                      p.id, split_code(study->split), options.split));
    } else if (!options.lang.empty() && p.lang != options.lang) {
      ++result.other_language;
      problems.push_back(at + fmt::format("lang: is '{}', this run scores only '{}' (not scored)", p.lang,
                                                      options.lang));
    } else if (auto [it, fresh] = chosen.emplace(std::make_pair(p.id, p.lang), &p); !fresh) {
      ++result.duplicates;
      problems.push_back(at + fmt::format("id: '{}' ({}) was already predicted on line {}, expected one "
                                                      "prediction per study and language (this line is ignored)",
                                                      p.id, p.lang, it->second->line));
    }
  }

  std::set<std::string> langs;
  if (!options.lang.empty()) {
    langs.insert(options.lang);
  } else {
    for (const auto& [key, p] : chosen) langs.insert(key.second);
    if (langs.empty())
      for (const Study* s : studies)
        for (const auto& [lang, text] : s->reports) langs.insert(lang);
  }
  for (const std::string& lang : langs) {
    LanguageEvaluation& language = result.languages[lang];
    language.lang = lang;
    score_language(language, studies, chosen, predictions.path, options.bleu);
  }
  return result;
}

}  // namespace ophtha
