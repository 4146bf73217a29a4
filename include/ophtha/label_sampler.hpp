// Clinically consistent ground truth for a synthetic study: which eyes and modalities were
// imaged, which images are ungradable, and for each gradable image the findings and grades that
// the grading rules (../shared/research/paper_and_peers.md §4, docs/reports.md "Labels") allow.
// The synthetic-image generator draws images from these labels and the report writer describes
// them, so a label set is the single truth behind a study's pixels and its reference reports.
//
// Thread safety: pure functions of their arguments; `rng` is advanced (one thread per Random).
#pragma once
#include <array>
#include <string>
#include <vector>

#include "ophtha/export.h"
#include "ophtha/random.hpp"
#include "ophtha/study.hpp"

namespace ophtha {

// Class balance and study shape. Weights are relative (any non-negative numbers with a positive
// sum); the defaults give every grade of every scale at least ~10 % of the graded eyes, so that a
// few thousand studies train every class.
struct LabelSamplerOptions {
  double both_eyes = 0.75;  // probability that a study images both eyes (else OD or OS, equally)
  // Probability that a study uses each modality (cfp, oct, osa); at least one is always used.
  std::array<double, 3> modality_rates = {0.8, 0.5, 0.35};
  // In a both-eyes study, probability that one (eye, modality) of the study's set is not taken
  // (each eye keeps at least one image).
  double missing_image = 0.08;
  double ungradable = 0.05;  // probability that an image cannot be graded (media opacity, blur)
  // Probability that the second eye's reading of a modality copies the first eye's (findings,
  // grades, vertical C/D): both eyes are often alike, and reports then say "both eyes / 双眼 (OU)".
  double eye_agreement = 0.55;
  std::array<double, 5> icdr_weights = {0.30, 0.18, 0.20, 0.16, 0.16};
  std::array<double, 4> areds_weights = {0.52, 0.16, 0.18, 0.14};
  std::array<double, 4> cup_disc_weights = {0.52, 0.18, 0.16, 0.14};
  std::array<double, 4> oct_class_weights = {0.34, 0.22, 0.22, 0.22};
  std::array<double, 4> meiboscore_weights = {0.34, 0.28, 0.22, 0.16};  // per lid, levels 0..3
};

// One study's labels: 1–2 eyes, 1–6 images (at most one per (eye, modality)). Every gradable CFP
// carries icdr, areds, cup_disc and vertical_cdr; every gradable OCT oct_class and oct_amd; every gradable
// OSA both meiboscores; findings obey clinical_rule_problems; referral = referral_for(eye).
// Errors: Error(InvalidArgument) naming the option when a probability is outside [0, 1] or a
// weight list is negative or sums to zero.
OPHTHA_API StudyLabels sample_study_labels(Random& rng, const LabelSamplerOptions& options = {});

// ---- the grading rules the sampler obeys (and the extractor falls back on) ----

// The level that the findings imply on `scale`, or -1 for scales that findings do not decide
// (cup_disc comes from the vertical C/D, meiboscores from the gland-loss fraction):
//   icdr      4 if neovascularisation or vitreous haemorrhage; 3 if venous beading or IRMA (the
//             4-2-1 features); 2 if dot-blot or flame haemorrhages, hard exudates or cotton-wool
//             spots; 1 if microaneurysms only; else 0
//   areds     3 if geographic atrophy; 2 if large drusen or pigmentary change; 1 if medium
//             drusen; else 0 (small drusen alone are normal ageing)
//   oct_class 3 (CNV) if choroidal neovascularisation; 2 (DME) if intraretinal fluid;
//             1 (drusen) if OCT drusen; else 0 (normal)
//   oct_amd   3 (neovascular AMD) if choroidal neovascularisation; 2 (intermediate AMD with PED)
//             if OCT drusen and a pigment epithelial detachment; 1 (early/intermediate AMD) if
//             OCT drusen; else 0 (no AMD: a normal or DME-only scan)
OPHTHA_API int implied_level(GradeScale scale, const std::vector<Finding>& findings);

// Appends "EYE_PATH.FIELD: what is wrong, expected ..." for every way `eye` breaks the rules of
// a sampled label set (beyond label_rule_problems of study_json.hpp, which it does not repeat):
//   - complete grading: every gradable modality carries all its scales (and CFP a vertical C/D);
//   - icdr, areds, oct_class, oct_amd equal implied_level(); cup_disc = cup_disc_level(vertical_cdr);
//   - vertical C/D in [0.20, 0.95], two decimals, at least 0.02 from 0.55, 0.70 and 0.85;
//     enlarged cup ⇔ C/D ≥ 0.55; rim thinning only when C/D ≥ 0.55 and always when ≥ 0.70;
//     disc haemorrhage only when C/D ≥ 0.55;
//   - OCT: a PED only with drusen or CNV; subretinal fluid only with intraretinal fluid or CNV;
//   - OSA: gland dropout ⇔ meiboscore upper + lower ≥ 1; shortened glands only with dropout;
//     ghost glands only when upper + lower ≥ 2;
//   - referral = referral_for(eye).
OPHTHA_API void clinical_rule_problems(const EyeLabels& eye, const std::string& eye_path,
                                       std::vector<std::string>& problems);

}  // namespace ophtha
