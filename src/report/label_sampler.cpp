// Sampling clinically consistent labels (label_sampler.hpp) and the rules they obey.
#include "ophtha/label_sampler.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "ophtha/error.hpp"

namespace ophtha {

namespace {

constexpr Modality kModalities[] = {Modality::Cfp, Modality::Oct, Modality::Osa};

void check_probability(double p, const char* name) {
  if (!(p >= 0.0 && p <= 1.0)) fail(ErrorCode::InvalidArgument, "LabelSamplerOptions.{} is {}, expected a probability in [0, 1]", name, p);
}

template <size_t N>
void check_weights(const std::array<double, N>& weights, const char* name) {
  double sum = 0;
  for (double w : weights) {
    if (!(w >= 0.0)) fail(ErrorCode::InvalidArgument, "LabelSamplerOptions.{} holds {}, expected non-negative weights", name, w);
    sum += w;
  }
  if (!(sum > 0.0)) fail(ErrorCode::InvalidArgument, "LabelSamplerOptions.{} sums to 0, expected a positive sum", name);
}

void check_options(const LabelSamplerOptions& o) {
  check_probability(o.both_eyes, "both_eyes");
  for (double p : o.modality_rates) check_probability(p, "modality_rates");
  check_probability(o.missing_image, "missing_image");
  check_probability(o.ungradable, "ungradable");
  check_probability(o.eye_agreement, "eye_agreement");
  check_weights(o.modality_rates, "modality_rates");
  check_weights(o.icdr_weights, "icdr_weights");
  check_weights(o.areds_weights, "areds_weights");
  check_weights(o.cup_disc_weights, "cup_disc_weights");
  check_weights(o.oct_class_weights, "oct_class_weights");
  check_weights(o.meiboscore_weights, "meiboscore_weights");
}

bool contains(const std::vector<Finding>& findings, Finding f) {
  return std::find(findings.begin(), findings.end(), f) != findings.end();
}

// The findings and grades of one modality of one eye.
struct Reading {
  std::vector<Finding> findings;
  std::map<GradeScale, int> grades;
  std::optional<double> vertical_cdr;
};

// Adds `f` with probability p.
void maybe(Random& rng, std::vector<Finding>& out, Finding f, double p) {
  if (rng.chance(p)) out.push_back(f);
}

// Adds the first of `options` when none of them was drawn, so that a grade's defining feature exists.
void ensure_one(std::vector<Finding>& out, std::initializer_list<Finding> options) {
  for (Finding f : options)
    if (contains(out, f)) return;
  out.push_back(*options.begin());
}

void diabetic_retinopathy(Random& rng, int icdr, std::vector<Finding>& out) {
  using F = Finding;
  if (icdr == 1) out.push_back(F::Microaneurysms);
  if (icdr == 2) {
    maybe(rng, out, F::Microaneurysms, 0.9);
    maybe(rng, out, F::DotBlotHaemorrhages, 0.75);
    maybe(rng, out, F::FlameHaemorrhages, 0.25);
    maybe(rng, out, F::HardExudates, 0.5);
    maybe(rng, out, F::CottonWoolSpots, 0.3);
    ensure_one(out, {F::DotBlotHaemorrhages, F::FlameHaemorrhages, F::HardExudates, F::CottonWoolSpots});
  }
  if (icdr >= 3) {
    maybe(rng, out, F::Microaneurysms, 0.9);
    maybe(rng, out, F::DotBlotHaemorrhages, 0.85);
    maybe(rng, out, F::FlameHaemorrhages, 0.3);
    maybe(rng, out, F::HardExudates, 0.5);
    maybe(rng, out, F::CottonWoolSpots, 0.4);
  }
  if (icdr == 3) {
    maybe(rng, out, F::VenousBeading, 0.5);
    maybe(rng, out, F::Irma, 0.6);
    ensure_one(out, {F::Irma, F::VenousBeading});
  }
  if (icdr == 4) {
    maybe(rng, out, F::VenousBeading, 0.3);
    maybe(rng, out, F::Irma, 0.4);
    maybe(rng, out, F::Neovascularisation, 0.85);
    maybe(rng, out, F::VitreousHaemorrhage, 0.4);
    ensure_one(out, {F::Neovascularisation, F::VitreousHaemorrhage});
  }
}

void macular_degeneration(Random& rng, int areds, std::vector<Finding>& out) {
  using F = Finding;
  switch (areds) {
    case 0: maybe(rng, out, F::SmallDrusen, 0.3); break;
    case 1:
      out.push_back(F::MediumDrusen);
      maybe(rng, out, F::SmallDrusen, 0.5);
      break;
    case 2:
      maybe(rng, out, F::LargeDrusen, 0.75);
      maybe(rng, out, F::PigmentaryChange, 0.5);
      ensure_one(out, {F::LargeDrusen, F::PigmentaryChange});
      maybe(rng, out, F::MediumDrusen, 0.4);
      maybe(rng, out, F::SmallDrusen, 0.3);
      break;
    default:
      out.push_back(F::GeographicAtrophy);
      maybe(rng, out, F::LargeDrusen, 0.6);
      maybe(rng, out, F::PigmentaryChange, 0.6);
      maybe(rng, out, F::MediumDrusen, 0.2);
  }
}

// A vertical C/D inside the band of `level`, two decimals, ≥ 0.02 from the band's edges.
double vertical_cdr_for(Random& rng, int level) {
  static constexpr double lo[] = {0.20, 0.57, 0.72, 0.87};
  static constexpr double hi[] = {0.53, 0.68, 0.83, 0.95};
  const auto cents = rng.integer(std::lround(lo[level] * 100), std::lround(hi[level] * 100));
  return static_cast<double>(cents) / 100.0;
}

void optic_disc(Random& rng, int level, std::vector<Finding>& out) {
  using F = Finding;
  if (level == 0) return;
  out.push_back(F::EnlargedCup);
  if (level >= 2) out.push_back(F::RimThinning);
  else maybe(rng, out, F::RimThinning, 0.5);
  maybe(rng, out, F::DiscHaemorrhage, 0.25);
}

void oct_findings(Random& rng, int oct_class, std::vector<Finding>& out) {
  using F = Finding;
  switch (oct_class) {
    case 0: break;
    case 1:
      out.push_back(F::OctDrusen);
      // 0.45: oct_amd stage 2 (drusen with PED) must stay common enough to train on (>= 8 % of OCTs).
      maybe(rng, out, F::PigmentEpithelialDetachment, 0.45);
      break;
    case 2:
      out.push_back(F::IntraretinalFluid);
      maybe(rng, out, F::SubretinalFluid, 0.25);
      break;
    default:
      out.push_back(F::ChoroidalNeovascularisation);
      maybe(rng, out, F::SubretinalFluid, 0.8);
      maybe(rng, out, F::PigmentEpithelialDetachment, 0.5);
      maybe(rng, out, F::IntraretinalFluid, 0.3);
      maybe(rng, out, F::OctDrusen, 0.4);
  }
}

void gland_findings(Random& rng, int upper, int lower, std::vector<Finding>& out) {
  using F = Finding;
  const int total = upper + lower;
  if (total >= 1) {
    out.push_back(F::GlandDropout);
    maybe(rng, out, F::ShortenedGlands, 0.6);
  }
  maybe(rng, out, F::TortuousGlands, 0.1 + 0.08 * total);
  if (total >= 2) maybe(rng, out, F::GhostGlands, 0.3);
}

Reading read_modality(Random& rng, Modality modality, const LabelSamplerOptions& o) {
  Reading r;
  switch (modality) {
    case Modality::Cfp: {
      const int icdr = static_cast<int>(rng.pick(o.icdr_weights));
      const int areds = static_cast<int>(rng.pick(o.areds_weights));
      const int cup = static_cast<int>(rng.pick(o.cup_disc_weights));
      diabetic_retinopathy(rng, icdr, r.findings);
      macular_degeneration(rng, areds, r.findings);
      optic_disc(rng, cup, r.findings);
      r.vertical_cdr = vertical_cdr_for(rng, cup);
      r.grades = {{GradeScale::Icdr, icdr}, {GradeScale::Areds, areds}, {GradeScale::CupDisc, cup}};
      break;
    }
    case Modality::Oct: {
      const int oct_class = static_cast<int>(rng.pick(o.oct_class_weights));
      oct_findings(rng, oct_class, r.findings);
      r.grades = {{GradeScale::OctClass, oct_class}, {GradeScale::OctAmd, implied_level(GradeScale::OctAmd, r.findings)}};
      break;
    }
    case Modality::Osa: {
      const int upper = static_cast<int>(rng.pick(o.meiboscore_weights));
      const int lower = rng.chance(0.6) ? upper : static_cast<int>(rng.pick(o.meiboscore_weights));
      gland_findings(rng, upper, lower, r.findings);
      r.grades = {{GradeScale::MeiboscoreUpper, upper}, {GradeScale::MeiboscoreLower, lower}};
      break;
    }
  }
  return r;
}

void add_reading(EyeLabels& eye, const Reading& r) {
  eye.findings.insert(eye.findings.end(), r.findings.begin(), r.findings.end());
  for (const auto& [scale, level] : r.grades) eye.grades[scale] = level;
  if (r.vertical_cdr) eye.vertical_cdr = r.vertical_cdr;
}

}  // namespace

StudyLabels sample_study_labels(Random& rng, const LabelSamplerOptions& options) {
  check_options(options);
  std::vector<Eye> eyes;
  if (rng.chance(options.both_eyes)) eyes = {Eye::OD, Eye::OS};
  else eyes = {rng.chance(0.5) ? Eye::OD : Eye::OS};

  std::vector<Modality> modalities;
  for (int m = 0; m < 3; ++m)
    if (rng.chance(options.modality_rates[m])) modalities.push_back(kModalities[m]);
  if (modalities.empty()) modalities.push_back(kModalities[rng.pick(options.modality_rates)]);

  // Which (eye, modality) images exist: the study's set, with an occasional image missing.
  std::map<Eye, std::vector<Modality>> imaged;
  for (Eye e : eyes) {
    for (Modality m : modalities)
      if (eyes.size() == 1 || !rng.chance(options.missing_image)) imaged[e].push_back(m);
    if (imaged[e].empty()) imaged[e].push_back(modalities[rng.integer(0, static_cast<int64_t>(modalities.size()) - 1)]);
  }

  StudyLabels labels;
  std::map<Modality, Reading> first_eye_readings;
  for (size_t i = 0; i < eyes.size(); ++i) {
    EyeLabels eye;
    for (Modality m : imaged[eyes[i]]) {
      eye.imaged.push_back(m);
      if (rng.chance(options.ungradable)) {
        eye.ungradable.push_back(m);
        continue;
      }
      auto first = first_eye_readings.find(m);
      const bool copy = i == 1 && first != first_eye_readings.end() && rng.chance(options.eye_agreement);
      const Reading reading = copy ? first->second : read_modality(rng, m, options);
      if (i == 0) first_eye_readings[m] = reading;
      add_reading(eye, reading);
    }
    std::sort(eye.findings.begin(), eye.findings.end());
    eye.referral = referral_for(eye);
    labels.eyes[eyes[i]] = std::move(eye);
  }
  return labels;
}

int implied_level(GradeScale scale, const std::vector<Finding>& findings) {
  using F = Finding;
  auto any = [&findings](std::initializer_list<Finding> options) {
    for (Finding f : options)
      if (contains(findings, f)) return true;
    return false;
  };
  switch (scale) {
    case GradeScale::Icdr:
      if (any({F::Neovascularisation, F::VitreousHaemorrhage})) return 4;
      if (any({F::VenousBeading, F::Irma})) return 3;
      if (any({F::DotBlotHaemorrhages, F::FlameHaemorrhages, F::HardExudates, F::CottonWoolSpots})) return 2;
      return any({F::Microaneurysms}) ? 1 : 0;
    case GradeScale::Areds:
      if (any({F::GeographicAtrophy})) return 3;
      if (any({F::LargeDrusen, F::PigmentaryChange})) return 2;
      return any({F::MediumDrusen}) ? 1 : 0;
    case GradeScale::OctClass:
      if (any({F::ChoroidalNeovascularisation})) return 3;
      if (any({F::IntraretinalFluid})) return 2;
      return any({F::OctDrusen}) ? 1 : 0;
    case GradeScale::OctAmd:
      if (any({F::ChoroidalNeovascularisation})) return 3;
      if (!any({F::OctDrusen})) return 0;
      return any({F::PigmentEpithelialDetachment}) ? 2 : 1;
    default: return -1;
  }
}

void clinical_rule_problems(const EyeLabels& eye, const std::string& eye_path, std::vector<std::string>& problems) {
  using F = Finding;
  auto problem = [&](const std::string& field, const std::string& text) {
    problems.push_back(fmt::format("{}.{}: {}", eye_path, field, text));
  };
  auto gradable = [&eye](Modality m) {
    return std::find(eye.imaged.begin(), eye.imaged.end(), m) != eye.imaged.end() &&
           std::find(eye.ungradable.begin(), eye.ungradable.end(), m) == eye.ungradable.end();
  };
  for (size_t i = 1; i < eye.findings.size(); ++i)
    if (!(eye.findings[i - 1] < eye.findings[i])) problem("findings", "not sorted without repeats, expected vocabulary order");

  for (int s = 0; s < kGradeScaleCount; ++s) {
    const auto scale = static_cast<GradeScale>(s);
    const GradeScaleInfo& info = grade_scale_info(scale);
    const auto it = eye.grades.find(scale);
    if (gradable(info.modality) && it == eye.grades.end())
      problem("grades", fmt::format("has no {} grade, expected one for the gradable {}", info.code, modality_name(info.modality)));
    if (it == eye.grades.end()) continue;
    const int implied = implied_level(scale, eye.findings);
    if (implied >= 0 && implied != it->second)
      problem(fmt::format("grades.{}", info.code),
              fmt::format("is {} but the findings imply {}, expected the implied level", it->second, implied));
  }

  const bool cfp = gradable(Modality::Cfp);
  if (cfp && !eye.vertical_cdr) problem("vertical_cdr", "is missing, expected a C/D for the gradable cfp");
  if (eye.vertical_cdr) {
    const double v = *eye.vertical_cdr;
    const int level = cup_disc_level(v);
    if (v < 0.2 || v > 0.95) problem("vertical_cdr", fmt::format("is {}, expected 0.20 .. 0.95", v));
    if (std::fabs(v * 100 - std::round(v * 100)) > 1e-9) problem("vertical_cdr", fmt::format("is {}, expected two decimals", v));
    for (double edge : {0.55, 0.70, 0.85})
      if (std::fabs(v - edge) < 0.02 - 1e-9) problem("vertical_cdr", fmt::format("is {}, expected at least 0.02 from {}", v, edge));
    const auto cup = eye.grades.find(GradeScale::CupDisc);
    if (cup != eye.grades.end() && cup->second != level)
      problem("grades.cup_disc", fmt::format("is {} for C/D {}, expected {}", cup->second, v, level));
    if (eye.has(F::EnlargedCup) != (level >= 1))
      problem("findings", fmt::format("enlarged_cup is {} for C/D {}, expected it exactly when C/D >= 0.55",
                                      eye.has(F::EnlargedCup) ? "present" : "absent", v));
    if (eye.has(F::RimThinning) && level == 0) problem("findings", fmt::format("has rim_thinning with C/D {}, expected C/D >= 0.55", v));
    if (!eye.has(F::RimThinning) && level >= 2) problem("findings", fmt::format("lacks rim_thinning with C/D {}, expected it from 0.70", v));
    if (eye.has(F::DiscHaemorrhage) && level == 0) problem("findings", fmt::format("has disc_haemorrhage with C/D {}, expected C/D >= 0.55", v));
  }

  if (eye.has(F::PigmentEpithelialDetachment) && !eye.has(F::OctDrusen) && !eye.has(F::ChoroidalNeovascularisation))
    problem("findings", "has pigment_epithelial_detachment without oct_drusen or choroidal_neovascularisation, expected one of them");
  if (eye.has(F::SubretinalFluid) && !eye.has(F::IntraretinalFluid) && !eye.has(F::ChoroidalNeovascularisation))
    problem("findings", "has subretinal_fluid without intraretinal_fluid or choroidal_neovascularisation, expected one of them");

  const auto upper = eye.grades.find(GradeScale::MeiboscoreUpper), lower = eye.grades.find(GradeScale::MeiboscoreLower);
  if (upper != eye.grades.end() && lower != eye.grades.end()) {
    const int total = upper->second + lower->second;
    if (eye.has(F::GlandDropout) != (total >= 1))
      problem("findings", fmt::format("gland_dropout is {} with meiboscore total {}, expected it exactly when the total >= 1",
                                      eye.has(F::GlandDropout) ? "present" : "absent", total));
    if (eye.has(F::ShortenedGlands) && !eye.has(F::GlandDropout)) problem("findings", "has shortened_glands without gland_dropout, expected dropout");
    if (eye.has(F::GhostGlands) && total < 2) problem("findings", fmt::format("has ghost_glands with meiboscore total {}, expected >= 2", total));
  }

  if (eye.referral != referral_for(eye))
    problem("referral", fmt::format("is {}, expected {} (referral_for)", referral_code(eye.referral), referral_code(referral_for(eye))));
}

}  // namespace ophtha
