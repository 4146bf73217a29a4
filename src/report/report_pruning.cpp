// Dropping a report's list items that only repeat a finding or state only findings the evidence
// reads absent (ophtha/report_pruning.hpp).
#include "ophtha/report_pruning.hpp"

#include <algorithm>
#include <cctype>
#include <functional>
#include <string>
#include <optional>
#include <utility>
#include <vector>

#include "ophtha/report_extractor.hpp"
#include "ophtha/study_json.hpp"
#include "tokenizer/utf8.hpp"

namespace ophtha {
namespace {

// What a separator does to the items around it.
enum class Cut {
  Start,        // the line's beginning: no separator
  Comma,        // "、" "，" ", ": between two items of a list
  Conjunction,  // "及" "和" "以及" " and " ", and ": before a list's last item
  Boundary,     // "：" "；" ":" ";": a new clause begins
  FullStop,     // "。" "." ". ": a new sentence begins
};

struct Piece {
  std::string separator;  // the text before the item that cut it from the previous one
  Cut cut = Cut::Start;
  std::string item;
};

bool is_digit_at(std::string_view s, size_t i) {
  return i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]));
}

// The separator starting at `at` in `line` (its length) and what it does; nullopt when none starts there.
std::optional<std::pair<size_t, Cut>> separator_at(std::string_view line, size_t at) {
  auto starts = [&](std::string_view s) { return line.compare(at, s.size(), s) == 0; };
  auto follows = [&](std::string_view s) { return at >= s.size() && line.compare(at - s.size(), s.size(), s) == 0; };
  const bool between_digits = at > 0 && is_digit_at(line, at - 1) && is_digit_at(line, at + 1);  // "0.45", "1,000"
  for (std::string_view conjunction : {", and ", " and ", "以及", "和"})
    if (starts(conjunction)) return std::pair{conjunction.size(), Cut::Conjunction};
  if (starts("及")) {
    // 累及 涉及 波及 危及 ("involving ...") are verbs, not conjunctions.
    for (std::string_view verb : {"累", "涉", "波", "危"})
      if (follows(verb)) return std::nullopt;
    return std::pair{std::string_view("及").size(), Cut::Conjunction};
  }
  for (std::string_view comma : {"、", ", ", ","})
    if (starts(comma) && !(comma == "," && between_digits)) return std::pair{comma.size(), Cut::Comma};
  for (std::string_view stop : {"。", ". ", "."})
    if (starts(stop) && !(stop == "." && between_digits)) return std::pair{stop.size(), Cut::FullStop};
  // "，" ends a clause — and a denial's scope — as the extractor reads it: a boundary, not a comma.
  for (std::string_view boundary : {"：", "；", "，", ": ", "; ", ":", ";"})
    if (starts(boundary)) return std::pair{boundary.size(), Cut::Boundary};
  return std::nullopt;
}

// `line` cut into items, each with the separator before it.
std::vector<Piece> pieces_of(std::string_view line) {
  std::vector<Piece> out(1);
  for (size_t at = 0; at < line.size();) {
    if (const auto sep = separator_at(line, at)) {
      out.push_back({std::string(line.substr(at, sep->first)), sep->second, ""});
      at += sep->first;
      continue;
    }
    const size_t n = std::min(detail::utf8_sequence_length(static_cast<unsigned char>(line[at])), line.size() - at);
    out.back().item.append(line.substr(at, n));
    at += n;
  }
  return out;
}

bool opens_segment(Cut cut) { return cut == Cut::Start || cut == Cut::Boundary || cut == Cut::FullStop; }

// What `item` alone, said of an eye, speaks of: a finding it states, or only something it names
// without stating it (a denied finding, a grade, a modality: the eye's labels are not empty).
struct Speaks {
  bool states = false, names = false;
};
Speaks speaks_of(const std::string& item, std::string_view lang) {
  const StudyLabels read = read_report("OD: " + item, lang).labels;
  const auto eye = read.eyes.find(Eye::OD);
  if (eye == read.eyes.end()) return {};
  return {!eye->second.findings.empty(), !eye->second.imaged.empty()};
}

// Items are pieces that state a finding, or name one without stating it (a denial: "未见明显
// 新生血管"), on their own. A piece that names nothing is part of a neighbour's name: of the next when
// a conjunction follows it ("点状及斑状出血", "dot and blot haemorrhages") or it opens its segment,
// else of the one before ("microaneurysms, temporal to the fovea"). So a denial is never part of
// an item that repeats a finding, and goes with none.
std::vector<Piece> items_of(const std::vector<Piece>& pieces, std::string_view lang) {
  std::vector<Piece> out;
  std::optional<Piece> held;  // a piece waiting to open the next one
  for (size_t i = 0; i < pieces.size(); ++i) {
    Piece piece = pieces[i];
    if (held) {
      piece.item = held->item + piece.separator + piece.item;
      piece.separator = held->separator, piece.cut = held->cut;
      held.reset();
    }
    const bool joins = piece.cut == Cut::Comma || piece.cut == Cut::Conjunction;
    const bool next_joins = i + 1 < pieces.size() && !opens_segment(pieces[i + 1].cut);
    const Speaks speaks = speaks_of(piece.item, lang);
    if (speaks.states || speaks.names || (!joins && !next_joins)) {
      out.push_back(std::move(piece));
    } else if (next_joins && (pieces[i + 1].cut == Cut::Conjunction || !joins || out.empty())) {
      held = std::move(piece);
    } else if (joins && !out.empty()) {
      out.back().item += piece.separator + piece.item;
    } else {
      out.push_back(std::move(piece));
    }
  }
  if (held) out.push_back(std::move(*held));
  return out;
}

std::string joined(const std::vector<Piece>& pieces) {
  std::string out;
  for (const Piece& p : pieces) out += p.separator + p.item;
  return out;
}

// Whether an item goes, from the report's reading without it and with it (everything kept before
// it, then the item).
using Goes = std::function<bool(const ReportReading& without, const ReportReading& with)>;
// Whether the line as pruned may stand for the line as it was, from the report's readings with each.
using Stands = std::function<bool(const ReportReading& was, const ReportReading& is)>;

// The line with the items that `goes` drops left out, read after `before` (the report's earlier lines).
std::string pruned_line(const std::string& before, std::string_view line, std::string_view lang, const Goes& goes,
                        const Stands& stands) {
  const std::vector<Piece> pieces = items_of(pieces_of(line), lang);
  std::vector<Piece> kept;
  std::optional<Piece> opening;  // the separator of a dropped first item, for the next kept one
  ReportReading reading = read_report(before, lang);
  for (size_t i = 0; i < pieces.size(); ++i) {
    Piece piece = pieces[i];
    if (opening && !opens_segment(piece.cut)) {
      piece.separator = opening->separator, piece.cut = opening->cut;  // the segment's first item now
      if (piece.cut == Cut::FullStop && !piece.item.empty() && std::islower(static_cast<unsigned char>(piece.item[0])))
        piece.item[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(piece.item[0])));
    } else if (opening && !(i + 1 == pieces.size() && piece.item.empty() && piece.cut == Cut::FullStop) &&
               !(opening->cut == Cut::Boundary && piece.cut == Cut::FullStop)) {
      // The emptied segment's place; a clause emptied before a sentence's end leaves the full stop
      // ("X; <dropped>. Y" is "X. Y").
      piece.separator = opening->separator, piece.cut = opening->cut;
    }
    std::vector<Piece> trial = kept;
    trial.push_back(piece);
    ReportReading read = read_report(before + joined(trial), lang);
    if (goes(reading, read)) {
      if (opens_segment(piece.cut)) {
        opening = piece;  // its separator stays for whatever comes next
        opening->item.clear();
      } else {
        opening.reset();
        const bool last = i + 1 == pieces.size() || opens_segment(pieces[i + 1].cut);
        if (last && piece.cut == Cut::Conjunction && !kept.empty() && kept.back().cut == Cut::Comma)
          kept.back().separator = piece.separator, kept.back().cut = Cut::Conjunction;  // "A、B及C" - C = "A及B"
      }
      continue;
    }
    opening.reset();
    kept.push_back(std::move(piece));
    reading = std::move(read);
  }
  if (opening) kept.push_back(*opening);  // a line ending in a dropped sentence keeps the full stop
  const std::string pruned = joined(kept);
  if (pruned == line) return pruned;
  // A guard: the line as pruned must read as the dropping promised, or it stays as it was.
  return stands(read_report(before + std::string(line), lang), read_report(before + pruned, lang)) ? pruned
                                                                                                  : std::string(line);
}

std::string pruned_report(std::string_view report, std::string_view lang, const Goes& goes, const Stands& stands) {
  read_report("", lang);  // validates the language
  std::string out;
  for (size_t start = 0; start <= report.size();) {
    const size_t end = std::min(report.find('\n', start), report.size());
    out += pruned_line(out, report.substr(start, end - start), lang, goes, stands);
    if (end == report.size()) break;
    out += '\n';
    start = end + 1;
  }
  return out;
}

bool contradicts_no_more(const ReportReading& was, const ReportReading& is) {
  const auto order = [](const EyeFinding& a, const EyeFinding& b) {  // ReportReading's: by eye, then finding
    return std::pair(a.eye, a.finding) < std::pair(b.eye, b.finding);
  };
  return std::includes(was.contradictions.begin(), was.contradictions.end(), is.contradictions.begin(),
                       is.contradictions.end(), order);
}

// `labels` without grades and referrals. Read from a report's first lines, an eye's grades are
// those its findings imply until the diagnosis states them (cotton-wool spots imply moderate
// NPDR): dropping a finding would change them there, but not in the report as a whole.
StudyLabels without_grades(StudyLabels labels) {
  for (auto& [eye, read] : labels.eyes) read.grades.clear(), read.referral = Referral::Routine;
  return labels;
}

// Whether `more` states everything `fewer` does and otherwise only findings `evidence` reads
// absent (at least one when `some`), grades and referrals aside.
bool adds_only_unsupported(const StudyLabels& fewer, const StudyLabels& more, const StudyLabels& evidence, bool some) {
  StudyLabels same = more;  // `more` with `fewer`'s findings: equal to `fewer` when nothing else differs
  bool added = false;
  for (auto& [eye, labels] : same.eyes) {
    const auto was = fewer.eyes.find(eye);
    if (was == fewer.eyes.end()) return false;  // a new eye
    for (Finding f : was->second.findings)
      if (!labels.has(f)) return false;
    for (Finding f : labels.findings) {
      if (was->second.has(f)) continue;
      if (!evidence_reads_absent(evidence, eye, f)) return false;
      added = true;
    }
    labels.findings = was->second.findings;
  }
  return (added || !some) && to_json(without_grades(same)) == to_json(without_grades(fewer));
}

}  // namespace

std::string drop_repeated_mentions(std::string_view report, std::string_view lang) {
  // An item goes when it adds a repetition and changes nothing the report states; the line as
  // pruned must state, deny and contradict what it did.
  const auto repeats = [](const ReportReading& r) { return r.repetitions.size() + r.grade_repetitions.size(); };
  const Goes goes = [&repeats](const ReportReading& without, const ReportReading& with) {
    return repeats(with) > repeats(without) && to_json(with.labels) == to_json(without.labels);
  };
  const Stands stands = [](const ReportReading& was, const ReportReading& is) {
    return to_json(is.labels) == to_json(was.labels) && is.contradictions == was.contradictions;
  };
  return pruned_report(report, lang, goes, stands);
}

bool evidence_reads_absent(const StudyLabels& evidence, Eye eye, Finding finding) {
  const auto found = evidence.eyes.find(eye);
  if (found == evidence.eyes.end()) return false;
  const EyeLabels& read = found->second;
  const Modality modality = finding_modality(finding);
  const auto holds = [](const std::vector<Modality>& list, Modality m) {
    return std::find(list.begin(), list.end(), m) != list.end();
  };
  return holds(read.imaged, modality) && !holds(read.ungradable, modality) && !read.has(finding);
}

std::string drop_unsupported_findings(std::string_view report, const StudyLabels& evidence, std::string_view lang) {
  const Goes goes = [&](const ReportReading& without, const ReportReading& with) {
    return adds_only_unsupported(without.labels, with.labels, evidence, true);
  };
  const Stands stands = [&](const ReportReading& was, const ReportReading& is) {
    return adds_only_unsupported(is.labels, was.labels, evidence, false) && contradicts_no_more(was, is);
  };
  std::string pruned = pruned_report(report, lang, goes, stands);
  if (pruned == report) return pruned;
  // The report as a whole grades and refers as it did (its diagnosis and recommendation lines
  // state them), or it stays as it was.
  const StudyLabels is = read_report(pruned, lang).labels;
  StudyLabels was = read_report(report, lang).labels;
  for (auto& [eye, labels] : was.eyes)
    if (const auto now = is.eyes.find(eye); now != is.eyes.end()) labels.findings = now->second.findings;
  return to_json(was) == to_json(is) ? pruned : std::string(report);
}

}  // namespace ophtha
