// The auxiliary heads' reading of an image as prompt text (heads_findings.hpp): the labels are
// the heads' thresholded findings and argmax grades of that modality only, the line is the
// instrument line of report_writer.hpp for them plus the grades, and an ungradable image reads so.
#include "support/doctest_with_aten.hpp"

#include <algorithm>
#include <string>
#include <vector>

#include "ophtha/error.hpp"
#include "ophtha/heads_findings.hpp"
#include "ophtha/random.hpp"
#include "ophtha/report_writer.hpp"
#include "support/expect_error.hpp"

using namespace ophtha;

namespace {

HeadPrediction prediction(float gradable) {
  HeadPrediction p;
  p.gradable_probability = gradable;
  p.finding_probability.fill(0.1f);
  p.finding_probability[static_cast<size_t>(Finding::Microaneurysms)] = 0.9f;
  p.finding_probability[static_cast<size_t>(Finding::DotBlotHaemorrhages)] = 0.5f;     // the threshold counts
  p.finding_probability[static_cast<size_t>(Finding::HardExudates)] = 0.49f;
  p.finding_probability[static_cast<size_t>(Finding::SubretinalFluid)] = 0.95f;       // an OCT finding
  p.finding_probability[static_cast<size_t>(Finding::GlandDropout)] = 0.8f;           // a meibography finding
  p.grade.fill(1);
  p.grade[static_cast<size_t>(GradeScale::Icdr)] = 2;
  p.grade[static_cast<size_t>(GradeScale::MeiboscoreLower)] = 3;
  return p;
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("the heads' reading keeps the findings of the image's modality at their thresholds and that modality's grades") {
  const EyeLabels cfp = heads_reading(prediction(0.9f), Modality::Cfp);
  CHECK((cfp.findings == std::vector<Finding>{Finding::Microaneurysms, Finding::DotBlotHaemorrhages}));
  CHECK((cfp.grades == std::map<GradeScale, int>{{GradeScale::Icdr, 2}, {GradeScale::Areds, 1}, {GradeScale::CupDisc, 1}}));
  CHECK((cfp.imaged == std::vector<Modality>{Modality::Cfp}));
  CHECK(cfp.ungradable.empty());
  CHECK_FALSE(cfp.vertical_cdr.has_value());
  const EyeLabels osa = heads_reading(prediction(0.9f), Modality::Osa);
  CHECK((osa.findings == std::vector<Finding>{Finding::GlandDropout}));
  CHECK((osa.grades == std::map<GradeScale, int>{{GradeScale::MeiboscoreUpper, 1}, {GradeScale::MeiboscoreLower, 3}}));
  const EyeLabels ungradable = heads_reading(prediction(0.3f), Modality::Oct);
  CHECK((ungradable.ungradable == std::vector<Modality>{Modality::Oct}));
  CHECK(ungradable.findings.empty());
  CHECK(ungradable.grades.empty());

  // Calibrated thresholds decide instead of 0.5: hard exudates at 0.49 are read with a threshold of
  // 0.45, dot-blot haemorrhages at 0.5 are not with one of 0.55.
  HeadPrediction calibrated = prediction(0.9f);
  calibrated.finding_threshold[static_cast<size_t>(Finding::HardExudates)] = 0.45f;
  calibrated.finding_threshold[static_cast<size_t>(Finding::DotBlotHaemorrhages)] = 0.55f;
  CHECK((heads_reading(calibrated, Modality::Cfp).findings ==
         std::vector<Finding>{Finding::Microaneurysms, Finding::HardExudates}));
}

TEST_CASE("the reading's grade on an ordinal scale is at least the level its likely findings define") {
  HeadPrediction p = prediction(0.9f);  // ICDR head: 2 (moderate); AREDS 1; microaneurysms, dot-blot haemorrhages read
  p.grade[static_cast<size_t>(GradeScale::Areds)] = 0;
  auto icdr = [&] { return heads_reading(p, Modality::Cfp).grades.at(GradeScale::Icdr); };
  CHECK(icdr() == 2);
  // New vessels read: PDR, whatever the ICDR head says.
  p.finding_probability[static_cast<size_t>(Finding::Neovascularisation)] = 0.7f;
  CHECK(icdr() == 4);
  // Read at a calibrated threshold below 0.5 but less likely present than not: listed, no PDR.
  p.finding_probability[static_cast<size_t>(Finding::Neovascularisation)] = 0.3f;
  p.finding_threshold[static_cast<size_t>(Finding::Neovascularisation)] = 0.2f;
  const EyeLabels listed = heads_reading(p, Modality::Cfp);
  CHECK(std::find(listed.findings.begin(), listed.findings.end(), Finding::Neovascularisation) != listed.findings.end());
  CHECK(listed.grades.at(GradeScale::Icdr) == 2);
  p.finding_probability[static_cast<size_t>(Finding::Neovascularisation)] = 0.1f;
  p.finding_probability[static_cast<size_t>(Finding::VitreousHaemorrhage)] = 0.7f;
  CHECK(icdr() == 4);
  p.finding_probability[static_cast<size_t>(Finding::VitreousHaemorrhage)] = 0.1f;
  // IRMA or venous beading (the 4-2-1 features) define severe NPDR, each alone.
  p.finding_probability[static_cast<size_t>(Finding::Irma)] = 0.7f;
  CHECK(icdr() == 3);
  p.finding_probability[static_cast<size_t>(Finding::Irma)] = 0.1f;
  p.finding_probability[static_cast<size_t>(Finding::VenousBeading)] = 0.7f;
  CHECK(icdr() == 3);
  // ... but not when read below the heads' threshold, however likely: beading calibrated at 0.8.
  p.finding_threshold[static_cast<size_t>(Finding::VenousBeading)] = 0.8f;
  CHECK(icdr() == 2);
  p.finding_threshold[static_cast<size_t>(Finding::VenousBeading)] = 0.5f;
  // A head's grade above what the findings define is kept (the floor only raises): PDR stays PDR.
  p.grade[static_cast<size_t>(GradeScale::Icdr)] = 4;
  CHECK(icdr() == 4);
  p.finding_probability[static_cast<size_t>(Finding::VenousBeading)] = 0.1f;
  // The dot-blot haemorrhages define moderate NPDR: an ICDR head saying "no DR" is raised to 2.
  p.grade[static_cast<size_t>(GradeScale::Icdr)] = 0;
  CHECK(icdr() == 2);
  // AREDS: large drusen define AREDS 3 (level 2) over the head's 0; geographic atrophy AREDS 4.
  p.finding_probability[static_cast<size_t>(Finding::LargeDrusen)] = 0.7f;
  CHECK(heads_reading(p, Modality::Cfp).grades.at(GradeScale::Areds) == 2);
  p.finding_probability[static_cast<size_t>(Finding::GeographicAtrophy)] = 0.7f;
  CHECK(heads_reading(p, Modality::Cfp).grades.at(GradeScale::Areds) == 3);
  // OCT class is nominal: choroidal neovascularisation read does not move the head's class, but
  // it defines neovascular AMD on the ordinal OCT AMD scale.
  p.finding_probability[static_cast<size_t>(Finding::ChoroidalNeovascularisation)] = 0.7f;
  const EyeLabels oct = heads_reading(p, Modality::Oct);
  CHECK(oct.grades.at(GradeScale::OctClass) == 1);
  CHECK(oct.grades.at(GradeScale::OctAmd) == 3);
}

TEST_CASE("the line is the instrument line of those labels, prefixed, with the grades after it") {
  for (const char* lang : {"zh", "en"}) {
    Random fixed(0);
    const EyeLabels labels = heads_reading(prediction(0.9f), Modality::Cfp);
    const std::string instrument = write_instrument_findings(labels, Eye::OS, Modality::Cfp, lang, fixed);
    const std::string line = heads_findings_line(prediction(0.9f), Modality::Cfp, Eye::OS, lang);
    const std::string en(lang);
    CHECK(line == (en == "en" ? "image reading: " + instrument + "; icdr 2; areds 1; cup_disc 1"
                              : "图像判读：" + instrument + "；icdr 2；areds 1；cup_disc 1"));
    CHECK(line == heads_findings_line(prediction(0.9f), Modality::Cfp, Eye::OS, lang));  // deterministic
  }
  const std::string osa = heads_findings_line(prediction(0.9f), Modality::Osa, Eye::OD, "en");
  CHECK(contains(osa, "meiboscore upper 1 / lower 3"));
  CHECK_FALSE(contains(osa, "meiboscore_upper"));  // stated once, in the instrument's words
  const std::string poor = heads_findings_line(prediction(0.2f), Modality::Cfp, Eye::OD, "en");
  CHECK(poor == "image reading: CFP OD: quality poor, ungradable");
}

TEST_CASE("with_heads_findings puts the instruments' text first, then a line per image; bad input is refused") {
  const std::vector<HeadPrediction> two = {prediction(0.9f), prediction(0.2f)};
  const std::vector<HeadsFindingsImage> images = {{Modality::Oct, Eye::OD}, {Modality::Cfp, Eye::OS}};
  const std::string text = with_heads_findings("IOP 18 mmHg OD", two, images, "en");
  CHECK(text == "IOP 18 mmHg OD\n" + heads_findings_line(two[0], Modality::Oct, Eye::OD, "en") + "\n" +
                    heads_findings_line(two[1], Modality::Cfp, Eye::OS, "en"));
  CHECK(with_heads_findings("", {two[0]}, {images[0]}, "zh") == heads_findings_line(two[0], Modality::Oct, Eye::OD, "zh"));
  CHECK(with_heads_findings("x", {}, {}, "en") == "x");
  CHECK(test::error_from([&] { with_heads_findings("", two, {images[0]}, "en"); }).code() == ErrorCode::InvalidArgument);
  CHECK(test::error_from([&] { heads_findings_line(two[0], Modality::Cfp, Eye::OD, "fr"); }).code() ==
        ErrorCode::InvalidArgument);
}

TEST_CASE("a photograph's reading from its tiles is each finding's largest score, the rest the first tile's") {
  std::vector<HeadPrediction> tiles(3);
  for (size_t t = 0; t < tiles.size(); ++t) {
    tiles[t].gradable_probability = 0.9f - 0.1f * static_cast<float>(t);
    tiles[t].has_lesion_peaks = true;
    for (size_t f = 0; f < kFindingCount; ++f) {
      tiles[t].finding_probability[f] = static_cast<float>((f * 7 + t * 3) % 10) / 10.0f;
      tiles[t].lesion_peak_probability[f] = static_cast<float>((f * 3 + t * 5) % 11) / 11.0f;
    }
  }
  tiles[0].finding_threshold[static_cast<size_t>(Finding::Irma)] = 0.3f;
  const HeadPrediction read = max_over_tiles(tiles.data(), tiles.size());
  for (size_t f = 0; f < kFindingCount; ++f) {
    CHECK(read.finding_probability[f] ==
          std::max({tiles[0].finding_probability[f], tiles[1].finding_probability[f], tiles[2].finding_probability[f]}));
    CHECK(read.lesion_peak_probability[f] == std::max({tiles[0].lesion_peak_probability[f],
                                                       tiles[1].lesion_peak_probability[f],
                                                       tiles[2].lesion_peak_probability[f]}));
  }
  CHECK(read.gradable_probability == tiles[0].gradable_probability);
  CHECK(read.finding_threshold[static_cast<size_t>(Finding::Irma)] == 0.3f);
  CHECK(max_over_tiles(tiles.data(), 1).finding_probability == tiles[0].finding_probability);
  CHECK_THROWS_AS(max_over_tiles(tiles.data(), 0), Error);
}
