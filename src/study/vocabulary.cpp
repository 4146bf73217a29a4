// Codes of the clinical vocabulary, the cup-to-disc staging and the referral rules.
#include <algorithm>
#include <array>

#include "ophtha/error.hpp"
#include "ophtha/study.hpp"

namespace ophtha {

namespace {

struct FindingEntry {
  Finding finding;
  const char* code;
  Modality modality;
};

constexpr std::array<FindingEntry, kFindingCount> kFindings = {{
    {Finding::Microaneurysms, "microaneurysms", Modality::Cfp},
    {Finding::DotBlotHaemorrhages, "dot_blot_haemorrhages", Modality::Cfp},
    {Finding::FlameHaemorrhages, "flame_haemorrhages", Modality::Cfp},
    {Finding::HardExudates, "hard_exudates", Modality::Cfp},
    {Finding::CottonWoolSpots, "cotton_wool_spots", Modality::Cfp},
    {Finding::VenousBeading, "venous_beading", Modality::Cfp},
    {Finding::Irma, "irma", Modality::Cfp},
    {Finding::Neovascularisation, "neovascularisation", Modality::Cfp},
    {Finding::VitreousHaemorrhage, "vitreous_haemorrhage", Modality::Cfp},
    {Finding::SmallDrusen, "small_drusen", Modality::Cfp},
    {Finding::MediumDrusen, "medium_drusen", Modality::Cfp},
    {Finding::LargeDrusen, "large_drusen", Modality::Cfp},
    {Finding::PigmentaryChange, "pigmentary_change", Modality::Cfp},
    {Finding::GeographicAtrophy, "geographic_atrophy", Modality::Cfp},
    {Finding::EnlargedCup, "enlarged_cup", Modality::Cfp},
    {Finding::RimThinning, "rim_thinning", Modality::Cfp},
    {Finding::DiscHaemorrhage, "disc_haemorrhage", Modality::Cfp},
    {Finding::OctDrusen, "oct_drusen", Modality::Oct},
    {Finding::PigmentEpithelialDetachment, "pigment_epithelial_detachment", Modality::Oct},
    {Finding::SubretinalFluid, "subretinal_fluid", Modality::Oct},
    {Finding::IntraretinalFluid, "intraretinal_fluid", Modality::Oct},
    {Finding::ChoroidalNeovascularisation, "choroidal_neovascularisation", Modality::Oct},
    {Finding::GlandDropout, "gland_dropout", Modality::Osa},
    {Finding::TortuousGlands, "tortuous_glands", Modality::Osa},
    {Finding::ShortenedGlands, "shortened_glands", Modality::Osa},
    {Finding::GhostGlands, "ghost_glands", Modality::Osa},
}};

constexpr std::array<GradeScaleInfo, kGradeScaleCount> kScales = {{
    {"icdr", Modality::Cfp, 5, true,
     {"no apparent DR", "mild NPDR", "moderate NPDR", "severe NPDR", "PDR"}},
    {"areds", Modality::Cfp, 4, true,
     {"AREDS 1 (no AMD)", "AREDS 2 (early)", "AREDS 3 (intermediate)", "AREDS 4 (advanced)", nullptr}},
    {"cup_disc", Modality::Cfp, 4, true, {"normal", "early", "moderate", "severe", nullptr}},
    {"oct_class", Modality::Oct, 4, false, {"normal", "drusen", "DME", "CNV", nullptr}},
    {"meiboscore_upper", Modality::Osa, 4, true, {"0", "1", "2", "3", nullptr}},
    {"meiboscore_lower", Modality::Osa, 4, true, {"0", "1", "2", "3", nullptr}},
    {"oct_amd", Modality::Oct, 4, true,
     {"no AMD", "early/intermediate AMD", "intermediate AMD with PED", "neovascular AMD", nullptr}},
}};

constexpr std::array<const char*, kReferralCount> kReferrals = {"routine", "soon", "urgent"};
constexpr std::array<const char*, 3> kSplits = {"train", "val", "test"};

// Each table is indexed by its enum (kFindings[i].finding == Finding(i), checked below).
template <typename Enum, typename Table, typename CodeOf>
Enum parse_code(std::string_view code, const Table& table, CodeOf code_of, const char* what) {
  std::string expected;
  for (size_t i = 0; i < table.size(); ++i) {
    if (code == code_of(table[i])) return static_cast<Enum>(i);
    expected += (i ? ", " : "") + std::string(code_of(table[i]));
  }
  fail(ErrorCode::InvalidArgument, "unknown {} '{}', expected one of: {}", what, code, expected);
}

constexpr bool findings_in_enum_order() {
  for (size_t i = 0; i < kFindings.size(); ++i)
    if (kFindings[i].finding != static_cast<Finding>(i)) return false;
  return true;
}
static_assert(findings_in_enum_order(), "kFindings must list the findings in the order of enum Finding");

const char* plain_code(const char* code) { return code; }

}  // namespace

const char* finding_code(Finding finding) { return kFindings.at(static_cast<size_t>(finding)).code; }
Modality finding_modality(Finding finding) { return kFindings.at(static_cast<size_t>(finding)).modality; }

Finding parse_finding(std::string_view code) {
  return parse_code<Finding>(code, kFindings, [](const FindingEntry& e) { return e.code; }, "finding");
}

const GradeScaleInfo& grade_scale_info(GradeScale scale) { return kScales.at(static_cast<size_t>(scale)); }

GradeScale parse_grade_scale(std::string_view code) {
  return parse_code<GradeScale>(code, kScales, [](const GradeScaleInfo& info) { return info.code; }, "grading scale");
}

int cup_disc_level(double vertical_cdr) {
  if (vertical_cdr < 0.55) return 0;
  if (vertical_cdr < 0.70) return 1;
  if (vertical_cdr < 0.85) return 2;
  return 3;
}

const char* referral_code(Referral referral) { return kReferrals.at(static_cast<size_t>(referral)); }

Referral parse_referral(std::string_view code) {
  return parse_code<Referral>(code, kReferrals, plain_code, "referral urgency");
}

const char* split_code(Split split) { return kSplits.at(static_cast<size_t>(split)); }

Split parse_split(std::string_view code) {
  return parse_code<Split>(code, kSplits, plain_code, "split");
}

bool EyeLabels::has(Finding finding) const {
  return std::find(findings.begin(), findings.end(), finding) != findings.end();
}

std::vector<Modality> unexamined_modalities(const EyeLabels& eye, const EyeLabels* examined) {
  std::vector<Modality> spoken = eye.imaged;
  for (Finding f : eye.findings) spoken.push_back(finding_modality(f));
  for (const auto& [scale, level] : eye.grades) spoken.push_back(grade_scale_info(scale).modality);
  std::sort(spoken.begin(), spoken.end());
  spoken.erase(std::unique(spoken.begin(), spoken.end()), spoken.end());
  std::vector<Modality> unexamined;
  for (Modality m : spoken)
    if (!examined || std::find(examined->imaged.begin(), examined->imaged.end(), m) == examined->imaged.end())
      unexamined.push_back(m);
  return unexamined;
}

Referral referral_for(const EyeLabels& eye) {
  Referral out = eye.ungradable.empty() ? Referral::Routine : Referral::Soon;
  auto raise = [&out](Referral r) { out = std::max(out, r); };
  auto grade = [&eye](GradeScale scale) {
    auto it = eye.grades.find(scale);
    return it == eye.grades.end() ? -1 : it->second;
  };
  const int icdr = grade(GradeScale::Icdr);
  if (icdr >= 3) raise(Referral::Urgent);
  else if (icdr == 2) raise(Referral::Soon);
  if (grade(GradeScale::Areds) == 3) raise(Referral::Soon);
  const int cup = grade(GradeScale::CupDisc);
  if (cup == 3) raise(Referral::Urgent);
  else if (cup >= 1) raise(Referral::Soon);
  const int oct = grade(GradeScale::OctClass);
  if (oct == 2 || oct == 3) raise(Referral::Urgent);
  const int upper = grade(GradeScale::MeiboscoreUpper), lower = grade(GradeScale::MeiboscoreLower);
  if (std::max(upper, 0) + std::max(lower, 0) >= 3) raise(Referral::Soon);
  return out;
}

Referral StudyLabels::referral() const {
  Referral out = Referral::Routine;
  for (const auto& [eye, labels] : eyes) out = std::max(out, labels.referral);
  return out;
}

}  // namespace ophtha
