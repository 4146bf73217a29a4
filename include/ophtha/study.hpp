// The clinical vocabulary that synthetic studies, reference reports, the report extractor,
// evaluation and training share: findings, grading scales, referral urgency, the ground-truth
// labels of one eye and of a study, and the study itself (images + labels + reference reports).
//
//   Study ─┬─ images: path, modality, eye, instrument findings text, lesion marks (optional)
//          ├─ labels: per eye (OD, OS) ─ findings {Finding}, grades {GradeScale → level},
//          │                             vertical cup-to-disc ratio, imaged / ungradable modalities,
//          │                             referral urgency
//          ├─ reference reports: language ("zh", "en") → text
//          └─ split: train / val / test
//
// Every enum has a stable snake_case code: that is what the manifest (docs/formats.md), the
// structured report JSON and the evaluation output write. The grading rules (which level a set of
// lesions implies, which referral a grade implies) follow ../shared/research/paper_and_peers.md §4
// and are written out in docs/reports.md ("Labels"); the manifest format in docs/formats.md.
//
// Thread safety: plain values and pure functions. Errors: the parsers throw
// Error(InvalidArgument) naming the text and the accepted codes.
#pragma once
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ophtha/export.h"
#include "ophtha/modality.hpp"

namespace ophtha {

// A finding seen in one eye. The modality that shows it is finding_modality().
enum class Finding {
  // CFP — diabetic retinopathy (ICDR)
  Microaneurysms,
  DotBlotHaemorrhages,
  FlameHaemorrhages,
  HardExudates,
  CottonWoolSpots,
  VenousBeading,
  Irma,                 // intraretinal microvascular abnormalities
  Neovascularisation,   // NVD / NVE
  VitreousHaemorrhage,  // vitreous or preretinal haemorrhage
  // CFP — age-related macular degeneration (AREDS / Beckman)
  SmallDrusen,   // < 63 µm
  MediumDrusen,  // 63–125 µm
  LargeDrusen,   // ≥ 125 µm
  PigmentaryChange,
  GeographicAtrophy,
  // CFP — optic disc (glaucoma)
  EnlargedCup,  // vertical cup-to-disc ratio ≥ 0.55
  RimThinning,
  DiscHaemorrhage,
  // OCT B-scan
  OctDrusen,                   // RPE elevations
  PigmentEpithelialDetachment,
  SubretinalFluid,
  IntraretinalFluid,           // intraretinal cysts, retinal thickening (DME)
  ChoroidalNeovascularisation,
  // OSA / meibography
  GlandDropout,
  TortuousGlands,
  ShortenedGlands,
  GhostGlands,
};
inline constexpr int kFindingCount = 26;

OPHTHA_API const char* finding_code(Finding finding);  // "microaneurysms", "dot_blot_haemorrhages", ...
OPHTHA_API Finding parse_finding(std::string_view code);
OPHTHA_API Modality finding_modality(Finding finding);

// A named clinical grading scale. Grades are stored as a level index 0 .. levels−1.
enum class GradeScale {
  Icdr,             // CFP: 0 no apparent DR, 1 mild NPDR, 2 moderate NPDR, 3 severe NPDR, 4 PDR
  Areds,            // CFP: 0..3 = AREDS category 1 (no AMD), 2 (early), 3 (intermediate), 4 (advanced)
  CupDisc,          // CFP: 0 normal (vCDR < 0.55), 1 early (< 0.70), 2 moderate (< 0.85), 3 severe
  OctClass,         // OCT, nominal (Kermany): 0 normal, 1 drusen, 2 DME, 3 CNV
  MeiboscoreUpper,  // OSA: Arita meiboscore of the upper lid, 0..3 (loss 0, < 1/3, 1/3–2/3, > 2/3)
  MeiboscoreLower,  // OSA: the lower lid, 0..3
  OctAmd,           // OCT, ordinal AMD stage implied by the OCT findings (docs/reports.md, "Labels"):
                    // 0 no AMD, 1 early/intermediate (drusen), 2 intermediate with PED, 3 neovascular (CNV)
};
inline constexpr int kGradeScaleCount = 7;

struct GradeScaleInfo {
  const char* code;        // "icdr", "areds", "cup_disc", "oct_class", "meiboscore_upper", "meiboscore_lower", "oct_amd"
  Modality modality;       // the modality that is graded on this scale
  int levels;              // number of levels
  bool ordinal;            // false for OctClass (kappa is then unweighted)
  const char* level_names[5];  // English names of the levels, for tables and plots
};
OPHTHA_API const GradeScaleInfo& grade_scale_info(GradeScale scale);
OPHTHA_API GradeScale parse_grade_scale(std::string_view code);

// The CupDisc level of a vertical cup-to-disc ratio in [0, 1].
OPHTHA_API int cup_disc_level(double vertical_cdr);

// How soon the eye should be seen (ADA / RetinaVLM referral tables, docs/formats.md).
enum class Referral {
  Routine,  // rescreen in 12 months
  Soon,     // refer within 3 months (moderate NPDR, late dry AMD, glaucomatous cupping, MGD ≥ 3, ungradable)
  Urgent,   // refer immediately (severe NPDR, PDR, DME on OCT, CNV, severe cupping)
};
inline constexpr int kReferralCount = 3;
OPHTHA_API const char* referral_code(Referral referral);  // "routine", "soon", "urgent"
OPHTHA_API Referral parse_referral(std::string_view code);

// Ground truth for one eye.
struct OPHTHA_API EyeLabels {
  std::vector<Finding> findings;            // sorted by enum value, no repeats
  std::map<GradeScale, int> grades;         // only for scales whose modality was imaged and gradable
  std::optional<double> vertical_cdr;       // CFP, two decimals
  std::vector<Modality> imaged;             // modalities with at least one image of this eye, sorted
  std::vector<Modality> ungradable;         // the subset of `imaged` whose images cannot be graded
  Referral referral = Referral::Routine;    // = referral_for(*this) for synthetic studies

  bool has(Finding finding) const;
};

// The referral the rules imply for an eye's grades and gradability (docs/formats.md, "Referral").
OPHTHA_API Referral referral_for(const EyeLabels& eye);

// The modalities `eye` speaks of — listed as imaged, or through a finding or a grade — that
// `examined` has no image of (nullptr: the eye was not examined at all); sorted, no repeats.
// A report's labels against the study's: the examinations the report invents.
OPHTHA_API std::vector<Modality> unexamined_modalities(const EyeLabels& eye, const EyeLabels* examined);

struct OPHTHA_API StudyLabels {
  std::map<Eye, EyeLabels> eyes;  // the eyes that were imaged
  Referral referral() const;      // the most urgent over the eyes (Routine when none)
};

// Where a finding shows in an image: one lesion's centre and radius in the image's own pixel
// coordinates (the image's top-left corner is (0, 0); pixel (i, j) covers [i, i + 1) × [j, j + 1)).
// An annotator's points, as in lesion-level datasets (e-ophtha's microaneurysm centres, IDRiD's
// masks reduced to components); the synthesizer writes one per lesion it draws in a CFP.
struct LesionMark {
  Finding finding = Finding::Microaneurysms;
  double x = 0, y = 0;  // centre, px; finite and ≥ 0
  double radius = 0;    // px; finite and > 0
};

struct StudyImage {
  std::string path;           // relative to the manifest's folder (or absolute)
  Modality modality = Modality::Cfp;
  Eye eye = Eye::OD;
  std::string findings_text;  // what the instrument printed; may be empty
  // Lesion-level annotation. nullopt: the image was not annotated. A list (possibly empty): every
  // finding of the eye's labels that has marks shows where they are and nowhere else; a finding the
  // labels hold without marks is present but not localised; a finding the labels lack shows nowhere.
  std::optional<std::vector<LesionMark>> lesions;
};

enum class Split { Train, Val, Test };
OPHTHA_API const char* split_code(Split split);  // "train", "val", "test"
OPHTHA_API Split parse_split(std::string_view code);

struct Study {
  std::string id;
  std::vector<StudyImage> images;
  StudyLabels labels;
  std::map<std::string, std::string> reports;  // language code ("zh", "en") → reference report
  Split split = Split::Train;
};

}  // namespace ophtha
