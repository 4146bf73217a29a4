// Sampled ground truth (ophtha/label_sampler.hpp): every label set obeys the grading rules
// (ICDR 4-2-1, AREDS, cup-to-disc staging, Kermany OCT classes, OCT AMD stage, Arita meiboscore, referral_for),
// the study has a sensible shape, every grade is common enough to train on, and a seed names
// one dataset.
#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "ophtha/label_sampler.hpp"
#include "ophtha/study_json.hpp"
#include "support/expect_error.hpp"

namespace {

using namespace ophtha;
using F = Finding;

std::vector<StudyLabels> sample(uint64_t seed, int count, const LabelSamplerOptions& options = {}) {
  std::vector<StudyLabels> out;
  for (int i = 0; i < count; ++i) {
    Random rng = Random(seed).fork(static_cast<uint64_t>(i));
    out.push_back(sample_study_labels(rng, options));
  }
  return out;
}

bool gradable(const EyeLabels& e, Modality m) {
  return std::count(e.imaged.begin(), e.imaged.end(), m) && !std::count(e.ungradable.begin(), e.ungradable.end(), m);
}

std::string listed(const std::vector<std::string>& problems) {
  std::string out;
  for (const auto& p : problems) out += "\n  " + p;
  return out;
}

}  // namespace

TEST_CASE("every sampled label set obeys the grading rules and the label JSON rules") {
  for (uint64_t seed : {1, 2, 3})
    for (const StudyLabels& study : sample(seed, 1500)) {
      for (const auto& [eye, labels] : study.eyes) {
        std::vector<std::string> problems;
        clinical_rule_problems(labels, eye_name(eye), problems);
        label_rule_problems(labels, eye_name(eye), problems);
        REQUIRE_MESSAGE(problems.empty(), to_json(labels).dump() << listed(problems));
      }
    }
}

TEST_CASE("ICDR grades follow the 4-2-1 definitions, written out independently of implied_level") {
  const std::vector<F> dr = {F::Microaneurysms, F::DotBlotHaemorrhages, F::FlameHaemorrhages, F::HardExudates, F::CottonWoolSpots,
                             F::VenousBeading, F::Irma, F::Neovascularisation, F::VitreousHaemorrhage};
  std::map<int, int> seen;
  for (const StudyLabels& study : sample(4, 2000))
    for (const auto& [eye, e] : study.eyes) {
      if (!e.grades.count(GradeScale::Icdr)) continue;
      const int icdr = e.grades.at(GradeScale::Icdr);
      ++seen[icdr];
      std::vector<F> lesions;
      for (F f : e.findings)
        if (std::count(dr.begin(), dr.end(), f)) lesions.push_back(f);
      const std::string what = to_json(e).dump();
      const bool proliferative = e.has(F::Neovascularisation) || e.has(F::VitreousHaemorrhage);
      const bool severe = e.has(F::VenousBeading) || e.has(F::Irma);
      switch (icdr) {
        case 0: CHECK_MESSAGE(lesions.empty(), what); break;
        case 1: CHECK_MESSAGE(lesions == std::vector<F>{F::Microaneurysms}, what); break;
        case 2: CHECK_MESSAGE((lesions.size() >= 1 && !severe && !proliferative && lesions != std::vector<F>{F::Microaneurysms}), what); break;
        case 3: CHECK_MESSAGE((severe && !proliferative), what); break;
        case 4: CHECK_MESSAGE(proliferative, what); break;
        default: FAIL("icdr level " << icdr << " outside 0..4");
      }
    }
  for (int level = 0; level < 5; ++level) CHECK_MESSAGE(seen[level] > 100, "ICDR level " << level << " seen " << seen[level] << " times");
}

TEST_CASE("the OCT AMD stage follows the OCT findings, written out independently of implied_level") {
  std::map<int, int> seen;
  for (const StudyLabels& study : sample(5, 2000))
    for (const auto& [eye, e] : study.eyes) {
      if (!gradable(e, Modality::Oct)) continue;
      REQUIRE_MESSAGE(e.grades.count(GradeScale::OctAmd), to_json(e).dump(), ": a gradable OCT without oct_amd");
      const int stage = e.grades.at(GradeScale::OctAmd), oct_class = e.grades.at(GradeScale::OctClass);
      ++seen[stage];
      const std::string what = to_json(e).dump();
      const bool cnv = e.has(F::ChoroidalNeovascularisation), drusen = e.has(F::OctDrusen);
      const bool ped = e.has(F::PigmentEpithelialDetachment);
      switch (stage) {
        case 0: CHECK_MESSAGE((!drusen && !cnv && (oct_class == 0 || oct_class == 2)), what); break;
        case 1: CHECK_MESSAGE((drusen && !ped && !cnv && oct_class == 1), what); break;
        case 2: CHECK_MESSAGE((drusen && ped && !cnv && oct_class == 1), what); break;
        case 3: CHECK_MESSAGE((cnv && oct_class == 3), what); break;
        default: FAIL("oct_amd stage " << stage << " outside 0..3");
      }
    }
  for (int stage = 0; stage < 4; ++stage) CHECK_MESSAGE(seen[stage] > 50, "oct_amd stage " << stage << " seen " << seen[stage] << " times");
}

TEST_CASE("studies have 1-6 images, one per eye and modality, and findings only where gradable") {
  int both = 0, studies = 0, images = 0, ungradable = 0;
  for (const StudyLabels& study : sample(5, 3000)) {
    ++studies;
    both += study.eyes.size() == 2;
    size_t count = 0;
    for (const auto& [eye, e] : study.eyes) {
      count += e.imaged.size();
      ungradable += static_cast<int>(e.ungradable.size());
      CHECK(std::is_sorted(e.imaged.begin(), e.imaged.end()));
      CHECK(std::adjacent_find(e.imaged.begin(), e.imaged.end()) == e.imaged.end());
      for (F f : e.findings) CHECK_MESSAGE(gradable(e, finding_modality(f)), to_json(e).dump());
      for (const auto& [scale, level] : e.grades) CHECK_MESSAGE(gradable(e, grade_scale_info(scale).modality), to_json(e).dump());
      CHECK(e.vertical_cdr.has_value() == gradable(e, Modality::Cfp));
    }
    CHECK((count >= 1 && count <= 6));
    CHECK(!study.eyes.empty());
    images += static_cast<int>(count);
  }
  const double both_rate = static_cast<double>(both) / studies, ungradable_rate = static_cast<double>(ungradable) / images;
  CHECK_MESSAGE((both_rate > 0.70 && both_rate < 0.80), "both-eyes rate " << both_rate << ", expected about 0.75");
  CHECK_MESSAGE((ungradable_rate > 0.035 && ungradable_rate < 0.065), "ungradable rate " << ungradable_rate << ", expected about 0.05");
}

TEST_CASE("every level of every scale is common enough to train on, and the eyes often agree") {
  std::map<GradeScale, std::map<int, int>> counts;
  std::map<GradeScale, int> graded;
  int pairs = 0, agreeing = 0;
  for (const StudyLabels& study : sample(6, 4000)) {
    for (const auto& [eye, e] : study.eyes)
      for (const auto& [scale, level] : e.grades) ++counts[scale][level], ++graded[scale];
    if (study.eyes.size() == 2) {
      const EyeLabels &od = study.eyes.at(Eye::OD), &os = study.eyes.at(Eye::OS);
      if (gradable(od, Modality::Cfp) && gradable(os, Modality::Cfp)) {
        ++pairs;
        agreeing += od.grades == os.grades && od.vertical_cdr == os.vertical_cdr && od.findings == os.findings;
      }
    }
  }
  for (int s = 0; s < kGradeScaleCount; ++s) {
    const auto scale = static_cast<GradeScale>(s);
    for (int level = 0; level < grade_scale_info(scale).levels; ++level) {
      const double share = static_cast<double>(counts[scale][level]) / graded[scale];
      CHECK_MESSAGE(share >= 0.08, grade_scale_info(scale).code << " level " << level << " is " << share << " of graded eyes, expected >= 0.08");
    }
  }
  const double agreement = static_cast<double>(agreeing) / pairs;
  CHECK_MESSAGE(agreement > 0.25, "eyes with identical CFP readings: " << agreement << ", expected more than 0.25");
}

TEST_CASE("the class balance follows the options") {
  LabelSamplerOptions only_pdr;
  only_pdr.icdr_weights = {0, 0, 0, 0, 1};
  only_pdr.modality_rates = {1, 0, 0};
  only_pdr.ungradable = 0;
  for (const StudyLabels& study : sample(7, 200, only_pdr))
    for (const auto& [eye, e] : study.eyes) CHECK(e.grades.at(GradeScale::Icdr) == 4);
}

TEST_CASE("a seed names one label set, and forks give different ones") {
  const auto a = sample(8, 50), b = sample(8, 50), c = sample(9, 50);
  int different = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    CHECK(to_json(a[i]) == to_json(b[i]));
    different += to_json(a[i]) != to_json(c[i]);
  }
  CHECK(different > 40);
  // Random's streams are the same on every platform, so this label set is too.
  Random rng(2024);
  CHECK(to_json(sample_study_labels(rng)).dump() ==
        R"({"OD":{"findings":["microaneurysms","dot_blot_haemorrhages","flame_haemorrhages","neovascularisation","vitreous_haemorrhage",)"
        R"("medium_drusen","large_drusen","pigmentary_change","geographic_atrophy","oct_drusen","gland_dropout","shortened_glands"],)"
        R"("grades":{"areds":3,"cup_disc":0,"icdr":4,"meiboscore_lower":1,"meiboscore_upper":1,"oct_amd":1,"oct_class":1},)"
        R"("imaged":["cfp","oct","osa"],"referral":"urgent","ungradable":[],"vertical_cdr":0.37},)"
        R"("OS":{"findings":["large_drusen","pigmentary_change","geographic_atrophy","enlarged_cup","rim_thinning","oct_drusen"],)"
        R"("grades":{"areds":3,"cup_disc":3,"icdr":0,"oct_amd":1,"oct_class":1},"imaged":["cfp","oct"],"referral":"urgent","ungradable":[],)"
        R"("vertical_cdr":0.89}})");
}

TEST_CASE("options outside their ranges are refused, naming the option") {
  LabelSamplerOptions bad;
  bad.ungradable = 1.5;
  Random rng(1);
  CHECK(std::string(test::error_from([&] { sample_study_labels(rng, bad); }).what()).find("ungradable") != std::string::npos);
  LabelSamplerOptions zero;
  zero.oct_class_weights = {0, 0, 0, 0};
  const Error e = test::error_from([&] { sample_study_labels(rng, zero); });
  CHECK(e.code() == ErrorCode::InvalidArgument);
  CHECK(std::string(e.what()).find("oct_class_weights") != std::string::npos);
}
