// Dropping the list items that only repeat a finding (ophtha/report_repeats.hpp).
#include "ophtha/report_repeats.hpp"

#include <algorithm>
#include <cctype>
#include <string>
#include <optional>
#include <vector>

#include "ophtha/report_extractor.hpp"
#include "ophtha/study_json.hpp"

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

size_t utf8_length(unsigned char lead) { return lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4; }

// `line` cut into items, each with the separator before it.
std::vector<Piece> pieces_of(std::string_view line) {
  std::vector<Piece> out(1);
  for (size_t at = 0; at < line.size();) {
    if (const auto sep = separator_at(line, at)) {
      out.push_back({std::string(line.substr(at, sep->first)), sep->second, ""});
      at += sep->first;
      continue;
    }
    const size_t n = std::min(utf8_length(static_cast<unsigned char>(line[at])), line.size() - at);
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

// The line with its repeating items dropped, read after `before` (the report's earlier lines).
std::string pruned_line(const std::string& before, std::string_view line, std::string_view lang) {
  const std::vector<Piece> pieces = items_of(pieces_of(line), lang);
  std::vector<Piece> kept;
  std::optional<Piece> opening;  // the separator of a dropped first item, for the next kept one
  ReportReading reading = read_report(before, lang);
  nlohmann::json labels = to_json(reading.labels);
  for (size_t i = 0; i < pieces.size(); ++i) {
    Piece piece = pieces[i];
    if (opening && !opens_segment(piece.cut)) {
      piece.separator = opening->separator, piece.cut = opening->cut;  // the segment's first item now
      if (piece.cut == Cut::FullStop && !piece.item.empty() && std::islower(static_cast<unsigned char>(piece.item[0])))
        piece.item[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(piece.item[0])));
    } else if (opening && !(i + 1 == pieces.size() && piece.item.empty() && piece.cut == Cut::FullStop)) {
      piece.separator = opening->separator, piece.cut = opening->cut;  // the emptied segment's place
    }
    std::vector<Piece> trial = kept;
    trial.push_back(piece);
    const ReportReading read = read_report(before + joined(trial), lang);
    nlohmann::json read_labels = to_json(read.labels);
    if (read.repetitions.size() > reading.repetitions.size() && read_labels == labels) {
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
    reading = read;
    labels = std::move(read_labels);
  }
  if (opening) kept.push_back(*opening);  // a line ending in a dropped sentence keeps the full stop
  // A guard: the line as pruned states, denies and contradicts what it did, or it stays as it was.
  const std::string pruned = joined(kept);
  const ReportReading was = read_report(before + std::string(line), lang), is = read_report(before + pruned, lang);
  if (to_json(is.labels) != to_json(was.labels) || !(is.contradictions == was.contradictions)) return std::string(line);
  return pruned;
}

}  // namespace

std::string drop_repeated_mentions(std::string_view report, std::string_view lang) {
  read_report("", lang);  // validates the language
  std::string out;
  for (size_t start = 0; start <= report.size();) {
    const size_t end = std::min(report.find('\n', start), report.size());
    out += pruned_line(out, report.substr(start, end - start), lang);
    if (end == report.size()) break;
    out += '\n';
    start = end + 1;
  }
  return out;
}

}  // namespace ophtha
