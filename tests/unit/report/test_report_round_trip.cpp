// Writer → extractor: every report written from sampled labels, in either language, is read back
// to exactly those labels (findings, every grade, vertical C/D, imaged and ungradable modalities,
// referral), and none of them contradicts or repeats itself as read_report reads it — the reference
// reports name each finding of an eye once. This is what makes the reference reports a faithful
// carrier of their labels.
#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "ophtha/label_sampler.hpp"
#include "ophtha/report_extractor.hpp"
#include "ophtha/report_writer.hpp"
#include "ophtha/study_json.hpp"

namespace {

using namespace ophtha;

// Writes `count` studies per seed and language, extracts them, and fails with the first few
// reports that do not read back (report text, expected and extracted labels).
void check_round_trip(std::initializer_list<uint64_t> seeds, int count, const LabelSamplerOptions& options = {}) {
  int reports = 0, mismatches = 0;
  for (uint64_t seed : seeds)
    for (int i = 0; i < count; ++i) {
      Random labels_rng = Random(seed).fork(static_cast<uint64_t>(i));
      const StudyLabels truth = sample_study_labels(labels_rng, options);
      for (const char* lang : {"en", "zh"}) {
        Random text_rng = labels_rng.fork(lang[0]);
        const std::string report = write_report(truth, lang, text_rng);
        const ReportReading reading = read_report(report, lang);
        const StudyLabels& read = reading.labels;
        ++reports;
        if (to_json(read) == to_json(truth) && reading.inconsistencies() == 0 && reading.repetitions.empty() &&
            reading.grade_repetitions.empty() && reading.implied_grades.empty())  // every grade in words, once
          continue;
        if (++mismatches <= 3)
          FAIL_CHECK("seed " << seed << " study " << i << " (" << std::string(lang) << ") did not read back\n" << report
                             << "\nexpected  " << to_json(truth).dump() << "\nextracted " << to_json(read).dump()
                             << "\ncontradictions " << reading.contradictions.size() << ", C/D conflicts "
                             << reading.cup_disc_conflicts.size() << ", referral + follow-up conflicts "
                             << reading.referral_conflicts.size() << " + " << reading.follow_up_conflicts.size()
                             << ", grade repetitions "
                             << reading.grade_repetitions.size() << ", repetitions "
                             << reading.repetitions.size() << ", implied grades " << reading.implied_grades.size());
      }
    }
  MESSAGE(reports << " reports, " << mismatches << " read back differently");
  CHECK(mismatches == 0);
}

}  // namespace

TEST_CASE("reports written from sampled labels read back to exactly those labels, in both languages") {
  check_round_trip({1, 2, 3, 4}, 500);
}

TEST_CASE("reports of ungradable-heavy and single-modality studies read back exactly") {
  LabelSamplerOptions ungradable;
  ungradable.ungradable = 0.4;
  check_round_trip({11}, 300, ungradable);
  LabelSamplerOptions one_eye_oct;
  one_eye_oct.both_eyes = 0.0;
  one_eye_oct.modality_rates = {0.0, 1.0, 0.0};
  check_round_trip({12}, 200, one_eye_oct);
}

TEST_CASE("instrument lines read back to the findings of their image") {
  int lines = 0;
  for (int i = 0; i < 300; ++i) {
    Random rng = Random(5).fork(static_cast<uint64_t>(i));
    const StudyLabels truth = sample_study_labels(rng);
    for (const auto& [eye, labels] : truth.eyes)
      for (Modality m : labels.imaged)
        for (const char* lang : {"en", "zh"}) {
          const std::string line = write_instrument_findings(labels, eye, m, lang, rng);
          const StudyLabels read = extract_labels_from_text(line, lang);
          REQUIRE_MESSAGE(read.eyes.count(eye) == 1, line);
          const EyeLabels& e = read.eyes.at(eye);
          std::vector<Finding> expected;
          for (Finding f : labels.findings)
            if (finding_modality(f) == m) expected.push_back(f);
          CHECK_MESSAGE(e.findings == expected, line);
          const bool ungradable = std::count(labels.ungradable.begin(), labels.ungradable.end(), m) == 1;
          CHECK_MESSAGE(e.ungradable == (ungradable ? std::vector<Modality>{m} : std::vector<Modality>{}), line);
          if (m == Modality::Cfp && labels.vertical_cdr) CHECK_MESSAGE(e.vertical_cdr == labels.vertical_cdr, line);
          ++lines;
        }
  }
  MESSAGE(lines << " instrument lines");
}

TEST_CASE("in every written report the last two lines, and only they, open a summary section") {
  int reports = 0;
  for (int i = 0; i < 300; ++i) {
    Random labels_rng = Random(21).fork(static_cast<uint64_t>(i));
    const StudyLabels truth = sample_study_labels(labels_rng, {});
    for (const char* lang : {"en", "zh"}) {
      Random text_rng = labels_rng.fork(lang[0]);
      const std::string report = write_report(truth, lang, text_rng);
      std::vector<std::string> lines;
      for (size_t start = 0; start <= report.size();) {
        const size_t end = std::min(report.find('\n', start), report.size());
        lines.push_back(report.substr(start, end - start));
        start = end + 1;
      }
      REQUIRE(lines.size() >= 3);
      for (size_t k = 0; k < lines.size(); ++k) {
        INFO(report);
        CHECK(opens_summary_section(lines[k]) == (k + 2 >= lines.size()));
      }
      ++reports;
    }
  }
  MESSAGE(reports << " reports");
}
