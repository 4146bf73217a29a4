// drop_unsupported_findings: the list items that state only findings the evidence reads absent go,
// with their punctuation mended; items stating anything else stay whole; a finding of an eye or
// modality the evidence did not read stays; reference reports checked against their own labels
// come back byte for byte, and against their labels less one finding lose that finding and
// nothing else.
#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "ophtha/error.hpp"
#include "ophtha/label_sampler.hpp"
#include "ophtha/report_extractor.hpp"
#include "ophtha/report_pruning.hpp"
#include "ophtha/report_writer.hpp"
#include "ophtha/study_json.hpp"

using namespace ophtha;

namespace {

// Evidence of one eye: `modality` read gradable, holding `findings`.
StudyLabels evidence_of(Eye eye, Modality modality, std::vector<Finding> findings) {
  StudyLabels evidence;
  EyeLabels& labels = evidence.eyes[eye];
  labels.imaged = {modality};
  labels.findings = std::move(findings);
  return evidence;
}

}  // namespace

TEST_CASE("an item stating only a finding the evidence reads absent goes, its conjunction handed on") {
  const StudyLabels evidence =
      evidence_of(Eye::OD, Modality::Cfp, {Finding::Microaneurysms, Finding::HardExudates});
  CHECK(drop_unsupported_findings("Right eye (OD) fundus photograph: microaneurysms, cotton-wool spots and hard exudates.",
                                  evidence, "en") == "Right eye (OD) fundus photograph: microaneurysms and hard exudates.");
  CHECK(drop_unsupported_findings("Right eye (OD) fundus photograph: microaneurysms, hard exudates and cotton-wool spots.",
                                  evidence, "en") == "Right eye (OD) fundus photograph: microaneurysms and hard exudates.");
  CHECK(drop_unsupported_findings("右眼（OD）眼底照相：微动脉瘤、棉絮斑及硬性渗出。", evidence, "zh") ==
        "右眼（OD）眼底照相：微动脉瘤及硬性渗出。");
  CHECK(drop_unsupported_findings("右眼（OD）眼底照相：微动脉瘤、硬性渗出及棉絮斑。", evidence, "zh") ==
        "右眼（OD）眼底照相：微动脉瘤及硬性渗出。");
}

TEST_CASE("a sentence stating only unsupported findings goes with its full stop; the lines around it stay") {
  const StudyLabels evidence = evidence_of(Eye::OD, Modality::Cfp, {Finding::Microaneurysms});
  CHECK(drop_unsupported_findings("Right eye (OD) fundus photograph: microaneurysms. Cotton-wool spots. Vertical C/D 0.45.\n"
                                  "Diagnosis: mild non-proliferative diabetic retinopathy.",
                                  evidence, "en") ==
        "Right eye (OD) fundus photograph: microaneurysms. Vertical C/D 0.45.\n"
        "Diagnosis: mild non-proliferative diabetic retinopathy.");
  // The sentence's first item goes: the next opens it, capitalised.
  const std::string diagnosis = "\nDiagnosis: mild non-proliferative diabetic retinopathy.";
  CHECK(drop_unsupported_findings("Right eye (OD) fundus photograph: good quality. Cotton-wool spots and microaneurysms." +
                                      diagnosis,
                                  evidence, "en") == "Right eye (OD) fundus photograph: good quality. Microaneurysms." + diagnosis);
}

TEST_CASE("a report whose grades only its findings imply stays as it was: dropping one would regrade the eye") {
  // Without a diagnosis, cotton-wool spots imply moderate NPDR (read_report): the report without
  // them would grade the eye mild.
  const std::string report = "Right eye (OD) fundus photograph: microaneurysms and cotton-wool spots.";
  CHECK(drop_unsupported_findings(report, evidence_of(Eye::OD, Modality::Cfp, {Finding::Microaneurysms}), "en") == report);
}

TEST_CASE("findings the evidence holds, or of what it did not read, stay; so do denials and mixed items") {
  const std::string report = "Right eye (OD) fundus photograph: microaneurysms and cotton-wool spots.";
  // The evidence holds cotton-wool spots.
  CHECK(drop_unsupported_findings(report, evidence_of(Eye::OD, Modality::Cfp, {Finding::Microaneurysms, Finding::CottonWoolSpots}),
                                  "en") == report);
  // The evidence read the right eye's OCT only, or only the left eye, or nothing.
  CHECK(drop_unsupported_findings(report, evidence_of(Eye::OD, Modality::Oct, {}), "en") == report);
  CHECK(drop_unsupported_findings(report, evidence_of(Eye::OS, Modality::Cfp, {}), "en") == report);
  CHECK(drop_unsupported_findings(report, StudyLabels{}, "en") == report);
  // The photograph was ungradable: the evidence read nothing in it.
  StudyLabels ungradable = evidence_of(Eye::OD, Modality::Cfp, {});
  ungradable.eyes[Eye::OD].ungradable = {Modality::Cfp};
  CHECK(drop_unsupported_findings(report, ungradable, "en") == report);
  // A denial states nothing to drop.
  const std::string denial = "Right eye (OD) fundus photograph: microaneurysms, no cotton-wool spots.";
  CHECK(drop_unsupported_findings(denial, evidence_of(Eye::OD, Modality::Cfp, {Finding::Microaneurysms}), "en") == denial);
  // One item naming a supported finding and an unsupported one stays whole.
  const std::string mixed = "右眼眼底照相：微动脉瘤伴点片状出血。";
  CHECK(drop_unsupported_findings(mixed, evidence_of(Eye::OD, Modality::Cfp, {Finding::Microaneurysms}), "zh") == mixed);
  // Both eyes in one item: supported in the right eye, so it stays (for the left eye too).
  StudyLabels oct = evidence_of(Eye::OD, Modality::Oct, {Finding::SubretinalFluid});
  oct.eyes[Eye::OS] = oct.eyes[Eye::OD];
  oct.eyes[Eye::OS].findings.clear();
  const std::string both = "Both eyes (OU) OCT: subretinal fluid.";
  CHECK(drop_unsupported_findings(both, oct, "en") == both);
  CHECK_THROWS_AS(drop_unsupported_findings(report, StudyLabels{}, "fr"), Error);
}

TEST_CASE("evidence_reads_absent: a gradable image or text of the finding's modality without the finding") {
  StudyLabels evidence = evidence_of(Eye::OD, Modality::Cfp, {Finding::Microaneurysms});
  CHECK(evidence_reads_absent(evidence, Eye::OD, Finding::CottonWoolSpots));
  CHECK_FALSE(evidence_reads_absent(evidence, Eye::OD, Finding::Microaneurysms));
  CHECK_FALSE(evidence_reads_absent(evidence, Eye::OD, Finding::SubretinalFluid));  // OCT: not read
  CHECK_FALSE(evidence_reads_absent(evidence, Eye::OS, Finding::CottonWoolSpots));  // the other eye
  evidence.eyes[Eye::OD].ungradable = {Modality::Cfp};
  CHECK_FALSE(evidence_reads_absent(evidence, Eye::OD, Finding::CottonWoolSpots));
}

TEST_CASE("reference reports against their own labels come back byte for byte; against their labels less one "
          "finding they lose that finding and nothing else") {
  int lost = 0, kept = 0;
  for (int i = 0; i < 200; ++i) {
    Random labels_rng = Random(11).fork(static_cast<uint64_t>(i));
    const StudyLabels truth = sample_study_labels(labels_rng);
    for (const char* lang : {"en", "zh"}) {
      Random text_rng = labels_rng.fork(lang[0]);
      const std::string report = write_report(truth, lang, text_rng);
      CHECK_MESSAGE(drop_unsupported_findings(report, truth, lang) == report, report);
      // The evidence misses the first finding of the first eye that has one.
      for (const auto& [eye, labels] : truth.eyes) {
        if (labels.findings.empty()) continue;
        const Finding gone = labels.findings.front();
        StudyLabels evidence = truth;
        auto& findings = evidence.eyes[eye].findings;
        findings.erase(findings.begin());
        const std::string pruned = drop_unsupported_findings(report, evidence, lang);
        StudyLabels expected = read_report(report, lang).labels;
        const bool went = pruned != report;
        if (went) {
          auto& stated = expected.eyes[eye].findings;
          stated.erase(std::remove(stated.begin(), stated.end(), gone), stated.end());
        }
        CHECK_MESSAGE(to_json(read_report(pruned, lang).labels) == to_json(expected), report << "\n→\n" << pruned);
        CHECK_MESSAGE(read_report(pruned, lang).contradictions.empty(), pruned);
        (went ? lost : kept) += 1;
        break;
      }
    }
  }
  MESSAGE(lost << " reports lost the finding the evidence missed, " << kept << " kept it (stated with another)");
  CHECK(lost > 150);
}
