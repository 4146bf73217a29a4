// Random studies that follow the rules of ophtha/study.hpp, for the study and evaluation tests:
// each eye imaged with a random non-empty set of modalities, some ungradable, grades and findings
// only for gradable modalities, cup_disc = cup_disc_level(vertical_cdr), referral = referral_for.
#pragma once
#include <cmath>
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "ophtha/random.hpp"
#include "ophtha/study.hpp"

namespace ophtha::test {

inline constexpr Modality kAllModalities[] = {Modality::Cfp, Modality::Oct, Modality::Osa};

// Labels of one eye imaged with `imaged` (sorted). Each grade is left out with probability
// `missing_grade` (real datasets do not grade every scale).
inline EyeLabels random_eye_labels(Random& rng, std::vector<Modality> imaged, double missing_grade = 0.1) {
  EyeLabels eye;
  eye.imaged = std::move(imaged);
  for (Modality m : eye.imaged)
    if (rng.chance(0.1)) eye.ungradable.push_back(m);
  auto gradable = [&eye](Modality m) {
    bool in_imaged = false, in_ungradable = false;
    for (Modality x : eye.imaged) in_imaged = in_imaged || x == m;
    for (Modality x : eye.ungradable) in_ungradable = in_ungradable || x == m;
    return in_imaged && !in_ungradable;
  };
  for (int f = 0; f < kFindingCount; ++f)
    if (gradable(finding_modality(static_cast<Finding>(f))) && rng.chance(0.25))
      eye.findings.push_back(static_cast<Finding>(f));
  for (int s = 0; s < kGradeScaleCount; ++s) {
    const auto scale = static_cast<GradeScale>(s);
    const GradeScaleInfo& info = grade_scale_info(scale);
    if (!gradable(info.modality) || rng.chance(missing_grade)) continue;
    if (scale == GradeScale::CupDisc) {
      eye.vertical_cdr = static_cast<double>(rng.integer(10, 95)) / 100.0;
      eye.grades[scale] = cup_disc_level(*eye.vertical_cdr);
    } else {
      eye.grades[scale] = static_cast<int>(rng.integer(0, info.levels - 1));
    }
  }
  eye.referral = referral_for(eye);
  return eye;
}

// A study with images named "<id>_<eye>_<modality>.png" under "images/".
inline Study random_study(Random& rng, const std::string& id) {
  Study study;
  study.id = id;
  const int eyes = static_cast<int>(rng.integer(1, 3));  // bit 0: OD, bit 1: OS
  for (Eye eye : {Eye::OD, Eye::OS}) {
    if (!(eyes & (eye == Eye::OD ? 1 : 2))) continue;
    std::vector<Modality> imaged;
    for (Modality m : kAllModalities)
      if (rng.chance(0.6)) imaged.push_back(m);
    if (imaged.empty()) imaged.push_back(kAllModalities[rng.integer(0, 2)]);
    for (Modality m : imaged) {
      StudyImage image;
      image.path = "images/" + id + "_" + eye_name(eye) + "_" + modality_name(m) + ".png";
      image.modality = m;
      image.eye = eye;
      if (rng.chance(0.5)) image.findings_text = std::string("instrument text for ") + modality_name(m) + " 视盘";
      study.images.push_back(image);
    }
    const EyeLabels& labels = study.labels.eyes[eye] = random_eye_labels(rng, imaged);
    // Lesion marks on half the images: of findings the eye holds and the image's modality shows.
    for (StudyImage& image : study.images) {
      if (image.eye != eye || !rng.chance(0.5)) continue;
      image.lesions.emplace();
      for (Finding f : labels.findings)
        if (finding_modality(f) == image.modality && rng.chance(0.7))
          for (int n = static_cast<int>(rng.integer(1, 3)); n > 0; --n)
            image.lesions->push_back({f, std::round(rng.uniform(0, 1000) * 100) / 100,
                                      std::round(rng.uniform(0, 800) * 100) / 100,
                                      std::round(rng.uniform(0.5, 30) * 100) / 100});
    }
  }
  if (rng.chance(0.9)) study.reports["en"] = "report of " + id + ": no apparent retinopathy.";
  if (rng.chance(0.9)) study.reports["zh"] = "报告 " + id + "：未见明显异常。";
  study.split = static_cast<Split>(rng.integer(0, 2));
  return study;
}

// Field-by-field equality with a message naming the first difference.
inline void check_same_labels(const EyeLabels& a, const EyeLabels& b, const std::string& where) {
  CHECK_MESSAGE(a.findings == b.findings, where, ": findings differ");
  CHECK_MESSAGE(a.grades == b.grades, where, ": grades differ");
  CHECK_MESSAGE(a.vertical_cdr == b.vertical_cdr, where, ": vertical_cdr differs");
  CHECK_MESSAGE(a.imaged == b.imaged, where, ": imaged differs");
  CHECK_MESSAGE(a.ungradable == b.ungradable, where, ": ungradable differs");
  CHECK_MESSAGE(a.referral == b.referral, where, ": referral differs");
}

inline void check_same_study(const Study& a, const Study& b) {
  const std::string where = "study " + a.id;
  CHECK_MESSAGE(a.id == b.id, where, ": id differs: ", b.id);
  REQUIRE_MESSAGE(a.images.size() == b.images.size(), where, ": image counts differ");
  for (size_t i = 0; i < a.images.size(); ++i) {
    CHECK_MESSAGE(a.images[i].path == b.images[i].path, where, ": image ", i, " path differs");
    CHECK_MESSAGE(a.images[i].modality == b.images[i].modality, where, ": image ", i, " modality differs");
    CHECK_MESSAGE(a.images[i].eye == b.images[i].eye, where, ": image ", i, " eye differs");
    CHECK_MESSAGE(a.images[i].findings_text == b.images[i].findings_text, where, ": image ", i, " text differs");
    REQUIRE_MESSAGE(a.images[i].lesions.has_value() == b.images[i].lesions.has_value(), where, ": image ", i,
                    " lesion annotation differs");
    if (!a.images[i].lesions) continue;
    REQUIRE_MESSAGE(a.images[i].lesions->size() == b.images[i].lesions->size(), where, ": image ", i,
                    " lesion counts differ");
    for (size_t k = 0; k < a.images[i].lesions->size(); ++k) {
      const LesionMark &m = (*a.images[i].lesions)[k], &n = (*b.images[i].lesions)[k];
      CHECK_MESSAGE((m.finding == n.finding && m.x == n.x && m.y == n.y && m.radius == n.radius), where, ": image ", i,
                    " lesion ", k, " differs");
    }
  }
  REQUIRE_MESSAGE(a.labels.eyes.size() == b.labels.eyes.size(), where, ": labelled eyes differ");
  for (const auto& [eye, labels] : a.labels.eyes) {
    REQUIRE_MESSAGE(b.labels.eyes.count(eye) == 1, where, ": ", eye_name(eye), " missing");
    check_same_labels(labels, b.labels.eyes.at(eye), where + " " + eye_name(eye));
  }
  CHECK_MESSAGE(a.reports == b.reports, where, ": reports differ");
  CHECK_MESSAGE(a.split == b.split, where, ": split differs");
}

}  // namespace ophtha::test
