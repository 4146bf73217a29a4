// drop_repeated_mentions: the list items that only repeat a finding go, with their punctuation
// mended; nothing the report states changes; reports without repeats (every reference report the
// writer makes) come back byte for byte; and drafts with a list item copied in come back as they were
// before, without any repetition as read_report reads them.
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

TEST_CASE("a repeated item of a Chinese list goes with its separator") {
  CHECK(drop_repeated_mentions("右眼（OD）眼底照相：微动脉瘤、玻璃体积血、视盘新生血管（NVD）、玻璃体积血。", "zh") ==
        "右眼（OD）眼底照相：微动脉瘤、玻璃体积血、视盘新生血管（NVD）。");
  // The list's last item hands its conjunction to the one before.
  CHECK(drop_repeated_mentions("左眼眼底照相：硬性渗出、微动脉瘤、火焰状出血及黄斑区硬性渗出。视盘边界清。", "zh") ==
        "左眼眼底照相：硬性渗出、微动脉瘤及火焰状出血。视盘边界清。");
  // "累及" is a verb, not a conjunction: the phrase stays whole.
  CHECK(drop_repeated_mentions("左眼眼底照相：地图样萎缩、累及黄斑中心凹的地图样萎缩。", "zh") ==
        "左眼眼底照相：地图样萎缩。");
}

TEST_CASE("a denial never goes with a repeat, and a dropped item leaves every denial's scope as it was") {
  // The denial follows the repeat in the same list: the repeat goes, the denial stays (a draft of
  // the demo model's, fresh split, text-only route).
  CHECK(drop_repeated_mentions("右眼眼底照相：见小玻璃膜疣（<63μm）、棉絮斑、小玻璃膜疣（<63μm）、未见明显新生血管及地图样萎缩。",
                               "zh") == "右眼眼底照相：见小玻璃膜疣（<63μm）、棉絮斑、未见明显新生血管及地图样萎缩。");
  // "，" ends a denial's scope: the item after the dropped one takes its "，", so cotton-wool spots
  // stay stated rather than fall under "未见".
  CHECK(drop_repeated_mentions("右眼眼底照相：微动脉瘤。未见硬性渗出，微动脉瘤、棉絮斑。", "zh") ==
        "右眼眼底照相：微动脉瘤。未见硬性渗出，棉絮斑。");
  CHECK(drop_repeated_mentions("OD fundus photograph: microaneurysms, no hard exudates, microaneurysms.", "en") ==
        "OD fundus photograph: microaneurysms, no hard exudates, microaneurysms.");  // "no ..., microaneurysms": denied there
}

TEST_CASE("a repeated item of an English list goes, and a sentence left empty goes with its full stop") {
  CHECK(drop_repeated_mentions("Right eye (OD) fundus photograph: hard exudates, microaneurysms and hard exudates at the "
                               "macula. Cup-to-disc ratio 0.45.",
                               "en") == "Right eye (OD) fundus photograph: hard exudates and microaneurysms. "
                                        "Cup-to-disc ratio 0.45.");
  // A sentence whose first item repeats: the next item opens it, capitalised.
  CHECK(drop_repeated_mentions("Right eye (OD) fundus photograph: microaneurysms. Microaneurysms, hard exudates and "
                               "cotton-wool spots.",
                               "en") == "Right eye (OD) fundus photograph: microaneurysms. Hard exudates and "
                                        "cotton-wool spots.");
  CHECK(drop_repeated_mentions("Right eye (OD) fundus photograph: microaneurysms. Microaneurysms. Vertical C/D 0.45.",
                               "en") == "Right eye (OD) fundus photograph: microaneurysms. Vertical C/D 0.45.");
}

TEST_CASE("items that say something new stay: another finding, another eye, a denial, another line") {
  // The second item repeats microaneurysms but also names dot-blot haemorrhages.
  const std::string both = "右眼眼底照相：微动脉瘤、微动脉瘤伴点片状出血。";
  CHECK(drop_repeated_mentions(both, "zh") == both);
  // The same finding for the other eye is not a repeat.
  const std::string eyes = "右眼眼底照相：微动脉瘤。左眼眼底照相：微动脉瘤、硬性渗出。";
  CHECK(drop_repeated_mentions(eyes, "zh") == eyes);
  // A denial after a statement is the report's contradiction, not a repeat: it stays for the reader to see.
  const std::string denial = "Right eye (OD) fundus photograph: microaneurysms. No microaneurysms.";
  CHECK(drop_repeated_mentions(denial, "en") == denial);
  // Repetitions are counted within a line (read_report): the impression may name findings again.
  const std::string lines = "Right eye (OD) fundus photograph: drusen.\nImpression: right eye drusen.";
  CHECK(drop_repeated_mentions(lines, "en") == lines);
  CHECK_THROWS_AS(drop_repeated_mentions("x", "fr"), Error);
}

TEST_CASE("a grade an eye's diagnosis states again in another item goes, its separator with it") {
  // Drafts of the demo model's (test split, image route).
  CHECK(drop_repeated_mentions("Impression: Right eye (OD): AREDS category 4; proliferative diabetic retinopathy (ICDR PDR); "
                               "vertical C/D 0.22 (physiological cupping); AREDS category 4.",
                               "en") == "Impression: Right eye (OD): AREDS category 4; proliferative diabetic retinopathy "
                                        "(ICDR PDR); vertical C/D 0.22 (physiological cupping).");
  CHECK(drop_repeated_mentions("Conclusion: Right eye (OD): Arita meiboscore upper lid 1, lower lid 1; OCT class normal "
                               "(Kermany); ICDR severe NPDR; Arita meiboscore upper lid 1, lower lid 1. Left eye (OS): "
                               "ICDR grade 1 (mild NPDR); Arita meiboscore upper lid 1, lower lid 1.",
                               "en") == "Conclusion: Right eye (OD): Arita meiboscore upper lid 1, lower lid 1; OCT class "
                                        "normal (Kermany); ICDR severe NPDR. Left eye (OS): ICDR grade 1 (mild NPDR); Arita "
                                        "meiboscore upper lid 1, lower lid 1.");
  CHECK(drop_repeated_mentions("印象：左眼（OS）：早期青光眼性视杯改变，垂直杯盘比0.63；AREDS 4级；垂直杯盘比0.63（早期青光眼性视杯改变）。",
                               "zh") == "印象：左眼（OS）：早期青光眼性视杯改变，垂直杯盘比0.63；AREDS 4级。");
  // A grade stated again at another level stays: the labels would change (ordinal grades keep the
  // most severe), and the report's inconsistency is for the reader to see.
  const std::string other_level = "Impression: Right eye (OD): AREDS category 2; ICDR grade 1; AREDS category 3.";
  CHECK(drop_repeated_mentions(other_level, "en") == other_level);
}

TEST_CASE("reference reports come back byte for byte; drafts with repeats spliced in lose every repetition and "
          "state what they stated") {
  int spliced = 0;
  for (int i = 0; i < 300; ++i) {
    Random labels_rng = Random(7).fork(static_cast<uint64_t>(i));
    const StudyLabels truth = sample_study_labels(labels_rng);
    for (const char* lang : {"en", "zh"}) {
      Random text_rng = labels_rng.fork(lang[0]);
      const std::string report = write_report(truth, lang, text_rng);
      CHECK_MESSAGE(drop_repeated_mentions(report, lang) == report, report);
      // Splice a copy of a list item in after the separator that ends it ("A、B。" → "A、A、B。"); the
      // item starts after the last separator, line break or colon before it.
      const std::string separator = std::string(lang) == "zh" ? "、" : ", ";
      const size_t first = report.find(separator);
      if (first == std::string::npos) continue;
      size_t begin = 0;
      for (const char* before : {"：", "，", "。", "；", ": ", ", ", ". ", "; ", "\n"}) {
        const size_t at = report.rfind(before, first - 1);
        if (at != std::string::npos) begin = std::max(begin, at + std::string(before).size());
      }
      const std::string item = report.substr(begin, first - begin);
      std::string draft = report;
      draft.insert(first + separator.size(), item + separator);
      const ReportReading before = read_report(draft, lang);
      if (before.repetitions.empty()) continue;  // the item named no finding
      ++spliced;
      const std::string pruned = drop_repeated_mentions(draft, lang);
      const ReportReading after = read_report(pruned, lang);
      CHECK_MESSAGE(after.repetitions.empty(), draft << "\n→\n" << pruned);
      CHECK_MESSAGE(to_json(after.labels) == to_json(before.labels), draft << "\n→\n" << pruned);
      CHECK_MESSAGE(pruned == report, draft << "\n→\n" << pruned);  // the copy goes, nothing else
    }
  }
  MESSAGE(spliced << " drafts with a repeat spliced in");
  CHECK(spliced > 100);
}
