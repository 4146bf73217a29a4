// The clinical vocabulary's rules on one eye's labels (ophtha/study.hpp): the referral an eye's
// grades imply, and the examinations a set of labels speaks of that were not made.
#include <doctest/doctest.h>

#include <vector>

#include "ophtha/study.hpp"

using namespace ophtha;

TEST_CASE("an eye's labels speak of a modality through imaged, a finding or a grade; those not examined are listed") {
  EyeLabels examined;  // a fundus photograph only
  examined.imaged = {Modality::Cfp};

  EyeLabels stated;
  stated.imaged = {Modality::Cfp};
  stated.findings = {Finding::Microaneurysms};
  stated.grades = {{GradeScale::Icdr, 1}};
  CHECK(unexamined_modalities(stated, &examined).empty());

  SUBCASE("a finding of another modality names it once, however many findings") {
    stated.findings = {Finding::Microaneurysms, Finding::OctDrusen, Finding::SubretinalFluid};
    CHECK(finding_modality(Finding::OctDrusen) == Modality::Oct);
    CHECK(unexamined_modalities(stated, &examined) == std::vector<Modality>{Modality::Oct});
  }
  SUBCASE("a grade alone names its scale's modality") {
    stated.grades[GradeScale::MeiboscoreLower] = 2;
    CHECK(unexamined_modalities(stated, &examined) == std::vector<Modality>{Modality::Osa});
  }
  SUBCASE("a modality listed as imaged with nothing else said is still spoken of") {
    stated.imaged = {Modality::Cfp, Modality::Oct};
    CHECK(unexamined_modalities(stated, &examined) == std::vector<Modality>{Modality::Oct});
  }
  SUBCASE("an eye not examined at all: every modality spoken of, sorted") {
    stated.grades[GradeScale::OctClass] = 1;
    CHECK(unexamined_modalities(stated, nullptr) == std::vector<Modality>{Modality::Cfp, Modality::Oct});
  }
  SUBCASE("an examination made but ungradable is still made") {
    examined.imaged = {Modality::Cfp, Modality::Oct};
    examined.ungradable = {Modality::Oct};
    stated.imaged = {Modality::Cfp, Modality::Oct};
    CHECK(unexamined_modalities(stated, &examined).empty());
  }
}

TEST_CASE("the referral rules: the most urgent of the grades, and an ungradable image asks for soon") {
  EyeLabels eye;
  eye.imaged = {Modality::Cfp, Modality::Oct};
  CHECK(referral_for(eye) == Referral::Routine);
  eye.grades = {{GradeScale::Icdr, 2}};
  CHECK(referral_for(eye) == Referral::Soon);
  eye.grades[GradeScale::OctClass] = 2;  // DME on OCT
  CHECK(referral_for(eye) == Referral::Urgent);
  eye.grades = {{GradeScale::MeiboscoreUpper, 1}, {GradeScale::MeiboscoreLower, 1}};
  CHECK(referral_for(eye) == Referral::Routine);
  eye.grades[GradeScale::MeiboscoreLower] = 2;  // meiboscore sum 3
  CHECK(referral_for(eye) == Referral::Soon);
  eye.grades = {};
  eye.ungradable = {Modality::Oct};
  CHECK(referral_for(eye) == Referral::Soon);
}
