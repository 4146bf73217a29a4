// The auxiliary heads' reading of an image as a line of findings text — heads_findings.hpp.
#include "ophtha/heads_findings.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "ophtha/error.hpp"
#include "ophtha/label_sampler.hpp"
#include "ophtha/random.hpp"
#include "ophtha/report_writer.hpp"

namespace ophtha {

EyeLabels heads_reading(const HeadPrediction& prediction, Modality modality) {
  EyeLabels labels;
  labels.imaged = {modality};
  if (prediction.gradable_probability < 0.5f) {
    labels.ungradable = {modality};
    return labels;
  }
  // The findings read (at the heads' thresholds, which favour F1), and those more likely present
  // than not: only these overrule a grade head.
  std::vector<Finding> likely;
  for (int f = 0; f < kFindingCount; ++f) {
    const auto finding = static_cast<Finding>(f);
    if (finding_modality(finding) != modality || !prediction.finding_present(finding)) continue;
    labels.findings.push_back(finding);
    if (prediction.finding_score(finding) >= 0.5f) likely.push_back(finding);
  }
  for (int s = 0; s < kGradeScaleCount; ++s) {
    const auto scale = static_cast<GradeScale>(s);
    const GradeScaleInfo& info = grade_scale_info(scale);
    if (info.modality != modality) continue;
    int level = prediction.grade[static_cast<size_t>(s)];
    if (info.ordinal) level = std::max(level, implied_level(scale, likely));
    labels.grades[scale] = level;
  }
  return labels;
}

std::string heads_findings_line(const HeadPrediction& prediction, Modality modality, Eye eye, std::string_view lang) {
  if (lang != "zh" && lang != "en")
    fail(ErrorCode::InvalidArgument, "heads_findings_line: language '{}', expected zh or en", lang);
  const bool en = lang == "en";
  const EyeLabels labels = heads_reading(prediction, modality);
  Random fixed(0);  // the quality wording is the line's one random choice: a fixed seed, the same every time
  std::string line = std::string(en ? "image reading: " : "图像判读：") + write_instrument_findings(labels, eye, modality, lang, fixed);
  // The meibography line states the meiboscores already; the other scales follow it.
  for (const auto& [scale, level] : labels.grades)
    if (scale != GradeScale::MeiboscoreUpper && scale != GradeScale::MeiboscoreLower)
      line += fmt::format("{}{} {}", en ? "; " : "；", grade_scale_info(scale).code, level);
  return line;
}

std::string with_heads_findings(const std::string& instruments, const std::vector<HeadPrediction>& predictions,
                                const std::vector<HeadsFindingsImage>& images, std::string_view lang) {
  if (predictions.size() != images.size())
    fail(ErrorCode::InvalidArgument, "with_heads_findings: {} predictions for {} images, expected one each",
         predictions.size(), images.size());
  std::string text = instruments;
  for (size_t i = 0; i < images.size(); ++i) {
    if (!text.empty()) text += '\n';
    text += heads_findings_line(predictions[i], images[i].modality, images[i].eye, lang);
  }
  return text;
}

HeadPrediction max_over_tiles(const HeadPrediction* tiles, size_t count) {
  if (count == 0 || tiles == nullptr) fail(ErrorCode::InvalidArgument, "max_over_tiles: no tiles");
  HeadPrediction out = tiles[0];
  for (size_t t = 1; t < count; ++t)
    for (size_t f = 0; f < kFindingCount; ++f) {
      out.finding_probability[f] = std::max(out.finding_probability[f], tiles[t].finding_probability[f]);
      out.lesion_peak_probability[f] = std::max(out.lesion_peak_probability[f], tiles[t].lesion_peak_probability[f]);
    }
  return out;
}

}  // namespace ophtha
