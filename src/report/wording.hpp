// Helpers the report writer and the structured report share: choosing among written forms
// (at random, or the canonical first form when no Random is given), joining lists in each
// language, and the wording of a recommendation.
#pragma once
#include <string>
#include <vector>

#include "ophtha/random.hpp"
#include "ophtha/study.hpp"
#include "report/phrasebook.hpp"

namespace ophtha::report_detail {

// One of `forms`: uniformly drawn with `rng`, or forms[0] when rng is null.
const std::string& choose(const std::vector<std::string>& forms, Random* rng);

// "a, b and c" / "a、b及c"; `conjunction` replaces "and"/"及" (e.g. "or").
std::string join_list(const std::vector<std::string>& items, Lang lang, const char* conjunction = nullptr);

// Upper-cases the first letter of ASCII text ("microaneurysms ..." → "Microaneurysms ...").
std::string capitalised(std::string text);

// The written name of a modality for running text ("colour fundus photograph", "OCT").
std::string modality_in_text(Modality modality, Lang lang, Random* rng);

// The recommendation for one eye without the eye's name: referral urgency, repeat imaging for
// ungradable modalities, and the follow-up interval, e.g. "refer to an ophthalmologist within 3
// months. Review in 6 months." / "建议3个月内转诊眼科；6个月后复查。"
std::string recommendation_text(const EyeLabels& eye, Lang lang, Random* rng);

}  // namespace ophtha::report_detail
