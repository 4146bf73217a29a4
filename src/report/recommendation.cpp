// Follow-up intervals (structured_report.hpp) and the wording of a recommendation (wording.hpp).
#include <algorithm>

#include <fmt/format.h>

#include "ophtha/structured_report.hpp"
#include "report/wording.hpp"

namespace ophtha {

int follow_up_months(const EyeLabels& eye) {
  static constexpr int icdr[] = {12, 12, 6, 3, 3};
  static constexpr int areds[] = {12, 12, 6, 3};
  static constexpr int cup_disc[] = {12, 6, 3, 1};
  static constexpr int oct_class[] = {12, 6, 1, 1};
  int months = eye.ungradable.empty() ? 12 : 1;
  auto at_most = [&eye, &months](GradeScale scale, const int* table) {
    const auto it = eye.grades.find(scale);
    if (it != eye.grades.end() && it->second >= 0 && it->second < grade_scale_info(scale).levels)
      months = std::min(months, table[it->second]);
  };
  at_most(GradeScale::Icdr, icdr);
  at_most(GradeScale::Areds, areds);
  at_most(GradeScale::CupDisc, cup_disc);
  at_most(GradeScale::OctClass, oct_class);
  const auto upper = eye.grades.find(GradeScale::MeiboscoreUpper), lower = eye.grades.find(GradeScale::MeiboscoreLower);
  const int meibo = (upper == eye.grades.end() ? 0 : upper->second) + (lower == eye.grades.end() ? 0 : lower->second);
  if (meibo >= 3) months = std::min(months, 3);
  return months;
}

namespace report_detail {

namespace {

const std::vector<std::string>& referral_forms(Referral referral, Lang lang) {
  static const std::vector<std::string> en[] = {
      {"no referral needed; routine rescreening in 12 months", "routine annual screening, no referral required",
       "rescreen in 12 months (routine)"},
      {"refer to an ophthalmologist within 3 months", "non-urgent referral to the eye clinic (within 3 months)",
       "ophthalmology referral within 3 months"},
      {"urgent referral to a retina specialist", "refer immediately to an ophthalmologist", "same-week ophthalmology referral"},
  };
  static const std::vector<std::string> zh[] = {
      {"暂无需转诊，12个月后常规复查", "无需转诊，每年常规筛查一次", "常规随访，1年后复查"},
      {"建议3个月内转诊眼科", "建议3个月内至眼科门诊就诊", "3个月内转诊眼科进一步检查"},
      {"建议立即转诊眼底病专科", "建议尽快（1周内）转诊眼科", "需紧急转诊眼科"},
  };
  return (lang == Lang::En ? en : zh)[static_cast<size_t>(referral)];
}

}  // namespace

std::string recommendation_text(const EyeLabels& eye, Lang lang, Random* rng) {
  std::string out = choose(referral_forms(eye.referral, lang), rng);
  for (Modality m : eye.ungradable) {
    const std::string name = modality_in_text(m, lang, rng);
    out += lang == Lang::En ? fmt::format("; repeat the {} imaging", name) : fmt::format("，并重新拍摄{}", name);
  }
  const int months = follow_up_months(eye);
  // A routine recommendation already names its interval; saying it twice reads oddly.
  if (eye.referral == Referral::Routine && months == 12 && (rng == nullptr || rng->chance(0.6)))
    return out + (lang == Lang::En ? "." : "。");
  if (lang == Lang::En) {
    static const std::vector<std::string> forms = {"Follow-up in {} {}.", "Review in {} {}.", "Next review in {} {}."};
    return fmt::format("{}. {}", out, fmt::format(fmt::runtime(choose(forms, rng)), months, months == 1 ? "month" : "months"));
  }
  static const std::vector<std::string> forms = {"{}个月后复查。", "每{}个月随访一次。", "{}个月后随访。"};
  static const std::vector<std::string> one_month = {"1个月后复查。", "1个月后随访。", "1个月后复诊。"};
  return fmt::format("{}；{}", out, fmt::format(fmt::runtime(choose(months == 1 ? one_month : forms, rng)), months));
}

}  // namespace report_detail

}  // namespace ophtha
