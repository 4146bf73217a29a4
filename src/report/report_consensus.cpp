#include "ophtha/report_consensus.hpp"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <map>

#include "ophtha/error.hpp"
#include "ophtha/report_extractor.hpp"

namespace ophtha {
namespace {

std::vector<Finding> restricted(const std::vector<Finding>& findings, const std::vector<Modality>& read) {
  std::vector<Finding> out;
  for (Finding f : findings)
    if (std::find(read.begin(), read.end(), finding_modality(f)) != read.end()) out.push_back(f);
  return out;
}

double findings_f1(const std::vector<Finding>& a, const std::vector<Finding>& b) {
  if (a.empty() && b.empty()) return 1.0;
  std::vector<Finding> x = a, y = b, both;
  std::sort(x.begin(), x.end());
  std::sort(y.begin(), y.end());
  x.erase(std::unique(x.begin(), x.end()), x.end());
  y.erase(std::unique(y.begin(), y.end()), y.end());
  std::set_intersection(x.begin(), x.end(), y.begin(), y.end(), std::back_inserter(both));
  return 2.0 * static_cast<double>(both.size()) / static_cast<double>(x.size() + y.size());
}

// The scales of `a` on which `b` states the same level.
double grades_alike(const std::map<GradeScale, int>& a, const std::map<GradeScale, int>& b) {
  double alike = 0.0;
  for (const auto& [scale, level] : a) {
    const auto other = b.find(scale);
    if (other != b.end() && other->second == level) alike += 1.0;
  }
  return alike;
}

double eye_agreement(const EyeLabels& a, const EyeLabels& b) {
  return findings_f1(a.findings, b.findings) + grades_alike(a.grades, b.grades);
}

}  // namespace

double label_agreement(const StudyLabels& a, const StudyLabels& b) {
  // An eye only one of them states is agreed on in nothing: were it scored as an eye with no
  // findings (F1 1), a draft inventing a normal eye would gain 1 against every draft without it.
  double score = 0.0;
  for (const auto& [eye, labels] : a.eyes) {
    const auto other = b.eyes.find(eye);
    if (other != b.eyes.end()) score += eye_agreement(labels, other->second);
  }
  return score;
}

double evidence_agreement(const StudyLabels& draft, const StudyLabels& evidence) {
  double score = 0.0;
  for (const auto& [eye, said] : evidence.eyes) {
    const auto found = draft.eyes.find(eye);
    if (found == draft.eyes.end()) continue;  // a draft silent about an examined eye states nothing of it
    const EyeLabels& stated = found->second;
    std::vector<Modality> read;
    for (Modality m : said.imaged)
      if (std::find(said.ungradable.begin(), said.ungradable.end(), m) == said.ungradable.end()) read.push_back(m);
    score += findings_f1(restricted(stated.findings, read), restricted(said.findings, read)) +
             grades_alike(said.grades, stated.grades);
  }
  if (evidence.eyes.empty()) return score;
  // What the draft says about an examination the evidence has no image or text of was not made.
  for (const auto& [eye, stated] : draft.eyes) {
    const auto found = evidence.eyes.find(eye);
    score -= static_cast<double>(
        unexamined_modalities(stated, found == evidence.eyes.end() ? nullptr : &found->second).size());
  }
  return score;
}

void add_evidence(StudyLabels& evidence, Eye eye, const EyeLabels& reading) {
  EyeLabels& into = evidence.eyes[eye];
  auto unite = [](auto& to, const auto& from) {  // both sorted, no repeats (EyeLabels), and so stays `to`
    for (const auto& x : from)
      if (std::find(to.begin(), to.end(), x) == to.end()) to.push_back(x);
    std::sort(to.begin(), to.end());
  };
  unite(into.imaged, reading.imaged);
  unite(into.ungradable, reading.ungradable);
  unite(into.findings, reading.findings);
  for (const auto& [scale, level] : reading.grades) into.grades.emplace(scale, level);
}

std::vector<double> consensus_support(const std::vector<StudyLabels>& drafts, const StudyLabels& evidence,
                                      double evidence_weight, const std::vector<size_t>& contradictions) {
  if (drafts.empty()) fail(ErrorCode::InvalidArgument, "consensus_choice: no drafts to choose from");
  if (!(evidence_weight >= 0.0 && std::isfinite(evidence_weight)))
    fail(ErrorCode::InvalidArgument, "consensus_choice: evidence weight is {}, expected a finite number >= 0", evidence_weight);
  if (!contradictions.empty() && contradictions.size() != drafts.size())
    fail(ErrorCode::InvalidArgument, "consensus_choice: {} contradiction counts for {} drafts, expected none or one per draft",
         contradictions.size(), drafts.size());
  const size_t n = drafts.size();
  std::vector<double> support(n, 0.0);
  for (size_t i = 0; i < contradictions.size(); ++i)
    support[i] -= static_cast<double>(n - 1) * static_cast<double>(contradictions[i]);
  if (evidence_weight > 0.0 && !evidence.eyes.empty())
    for (size_t i = 0; i < n; ++i)
      support[i] += evidence_weight * static_cast<double>(n - 1) * evidence_agreement(drafts[i], evidence);
  for (size_t i = 0; i < n; ++i)
    for (size_t j = i + 1; j < n; ++j) {
      const double agreement = label_agreement(drafts[i], drafts[j]);
      support[i] += agreement;
      support[j] += agreement;
    }
  return support;
}

bool outscores(double a, double b) { return a > b + 1e-9 * std::max(1.0, std::abs(b)); }

size_t most_supported(const std::vector<double>& support) {
  size_t best = 0;
  for (size_t i = 1; i < support.size(); ++i)
    if (outscores(support[i], support[best])) best = i;
  return best;
}

size_t consensus_choice(const std::vector<StudyLabels>& drafts, const StudyLabels& evidence, double evidence_weight,
                        const std::vector<size_t>& contradictions) {
  return most_supported(consensus_support(drafts, evidence, evidence_weight, contradictions));
}

DraftChoice choose_draft(const std::vector<std::string>& drafts, std::string_view lang, const StudyLabels& evidence,
                         double evidence_weight) {
  DraftChoice choice;
  for (const std::string& text : drafts) {
    ReportReading reading = read_report(text, lang);
    choice.conflicts.push_back(reading.referral_conflicts.size() + reading.follow_up_conflicts.size());
    choice.labels.push_back(std::move(reading.labels));
  }
  choice.chosen = consensus_choice(choice.labels, evidence, evidence_weight, choice.conflicts);
  return choice;
}

}  // namespace ophtha
