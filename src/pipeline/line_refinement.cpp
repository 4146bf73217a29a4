#include "ophtha/line_refinement.hpp"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <utility>

#include "ophtha/error.hpp"
#include "ophtha/report_consensus.hpp"
#include "ophtha/report_extractor.hpp"
#include "ophtha/report_writer.hpp"
#include "ophtha/report_tokenizer.hpp"
#include "ophtha/study_json.hpp"
#include "ophtha/text_metrics.hpp"

namespace ophtha {

namespace {

constexpr std::string_view kFullStop = "\xE3\x80\x82";  // 。 (U+3002)

bool ends_with_ideographic_full_stop(std::string_view text) {
  return text.size() >= kFullStop.size() && text.substr(text.size() - kFullStop.size()) == kFullStop;
}

bool holds_line_break(const Tokenizer& tokenizer, int32_t id) {
  return tokenizer.token_bytes(id).find('\n') != std::string::npos;
}

bool ends_line(const Tokenizer& tokenizer, const std::vector<int32_t>& line) {
  return !line.empty() && holds_line_break(tokenizer, line.back());
}

std::vector<int32_t> joined(const std::vector<int32_t>& a, const std::vector<int32_t>& b, const std::vector<int32_t>& c) {
  std::vector<int32_t> out;
  out.reserve(a.size() + b.size() + c.size());
  out.insert(out.end(), a.begin(), a.end());
  out.insert(out.end(), b.begin(), b.end());
  out.insert(out.end(), c.begin(), c.end());
  return out;
}

}  // namespace

std::vector<std::vector<int32_t>> report_lines(const Tokenizer& tokenizer, const std::vector<int32_t>& tokens) {
  std::vector<std::vector<int32_t>> lines;
  bool open = false;
  for (int32_t id : tokens) {
    if (!open) lines.emplace_back(), open = true;
    lines.back().push_back(id);
    if (holds_line_break(tokenizer, id)) open = false;
  }
  return lines;
}

namespace {

// A line as line refinement compares it: its labels, and per eye the grades it states in words
// (the labels' grades less those its findings only imply: ReportReading::implied_grades).
struct LineReading {
  StudyLabels labels;
  std::map<Eye, std::set<GradeScale>> stated;
  std::vector<Eye> recommended;  // the eyes its recommendations are about (ReportReading::recommended_eyes)
};

LineReading read_line(const std::string& line, std::string_view lang) {
  ReportReading reading = read_report(line, lang);
  LineReading out;
  for (const auto& [eye, said] : reading.labels.eyes)
    for (const auto& [scale, level] : said.grades) out.stated[eye].insert(scale);
  for (const auto& [eye, scale] : reading.implied_grades) out.stated[eye].erase(scale);
  out.labels = std::move(reading.labels);
  out.recommended = std::move(reading.recommended_eyes);
  return out;
}

// Whether `other` states in words every grade `draft` states — of the (eye, modality) pairs the
// evidence holds an examination of, when it states an eye. The report's labels are the same
// whether a diagnosis grades "ICDR severe NPDR" or leaves the grade to the findings above it, but
// a sentence that leaves it out would take it from the report's text.
bool keeps_stated_grades(const LineReading& draft, const LineReading& other, const StudyLabels& evidence) {
  for (const auto& [eye, scales] : draft.stated) {
    std::vector<Modality> not_made;  // examinations nobody made: their grades may go
    if (!evidence.eyes.empty()) {
      const auto examined = evidence.eyes.find(eye);
      not_made = unexamined_modalities(draft.labels.eyes.at(eye), examined == evidence.eyes.end() ? nullptr : &examined->second);
    }
    const auto kept = other.stated.find(eye);
    for (GradeScale scale : scales)
      if (std::find(not_made.begin(), not_made.end(), grade_scale_info(scale).modality) == not_made.end() &&
          (kept == other.stated.end() || !kept->second.count(scale)))
        return false;
  }
  return true;
}

// line_subject's key of labels read from a line, and of the eyes its recommendations are about
// (an eye a recommendation names and nothing else: "OD:").
std::string subject_key(const StudyLabels& labels, const std::vector<Eye>& recommended) {
  std::string subject;
  for (Eye eye : {Eye::OD, Eye::OS}) {
    const auto said = labels.eyes.find(eye);
    if (said == labels.eyes.end() && std::find(recommended.begin(), recommended.end(), eye) == recommended.end()) continue;
    if (!subject.empty()) subject += '|';
    subject += eye_name(eye);
    subject += ':';
    if (said == labels.eyes.end()) continue;
    for (Modality m : said->second.imaged) subject += modality_name(m), subject += ',';
    for (const auto& [scale, level] : said->second.grades) subject += grade_scale_info(scale).code, subject += ',';
  }
  return subject;
}

// The labels less what they say of the examinations `evidence` does not hold (unexamined_modalities):
// those modalities and their scales go, and an eye left with neither goes too.
StudyLabels examined_part(StudyLabels labels, const StudyLabels& evidence) {
  for (auto it = labels.eyes.begin(); it != labels.eyes.end();) {
    const auto examined = evidence.eyes.find(it->first);
    EyeLabels& said = it->second;
    for (Modality m : unexamined_modalities(said, examined == evidence.eyes.end() ? nullptr : &examined->second)) {
      said.imaged.erase(std::remove(said.imaged.begin(), said.imaged.end(), m), said.imaged.end());
      said.findings.erase(std::remove_if(said.findings.begin(), said.findings.end(),
                                         [m](Finding f) { return finding_modality(f) == m; }),
                          said.findings.end());
      for (auto g = said.grades.begin(); g != said.grades.end();)
        g = grade_scale_info(g->first).modality == m ? said.grades.erase(g) : std::next(g);
    }
    it = said.imaged.empty() && said.grades.empty() ? labels.eyes.erase(it) : std::next(it);
  }
  return labels;
}

}  // namespace

std::string line_subject(const Tokenizer& tokenizer, const std::vector<int32_t>& line, std::string_view lang) {
  const LineReading said = read_line(tokenizer.decode(line), lang);
  return subject_key(said.labels, said.recommended);
}

std::string line_subject(const Tokenizer& tokenizer, const std::vector<int32_t>& line, std::string_view lang,
                         const StudyLabels& examined) {
  const LineReading said = read_line(tokenizer.decode(line), lang);
  return subject_key(examined.eyes.empty() ? said.labels : examined_part(said.labels, examined), said.recommended);
}

std::vector<std::vector<int32_t>> report_sentences(const Tokenizer& tokenizer, const std::vector<int32_t>& tokens) {
  std::vector<std::vector<int32_t>> sentences;
  std::string bytes;  // the open sentence's
  bool open = false;
  for (int32_t id : tokens) {
    if (open && sentence_ends_before(tokenizer, bytes, id)) open = false;
    if (!open) sentences.emplace_back(), bytes.clear(), open = true;
    sentences.back().push_back(id);
    bytes += tokenizer.token_bytes(id);
    if (holds_line_break(tokenizer, id)) open = false;
  }
  return sentences;
}

bool sentence_ends_before(const Tokenizer& tokenizer, std::string_view before, int32_t next) {
  const std::string text = tokenizer.token_bytes(next);
  if (ends_with_ideographic_full_stop(before))
    return text.find('\n') == std::string::npos;
  return !before.empty() && before.back() == '.' && !text.empty() && text.front() == ' ';
}

const char* refinement_step_name(RefinementStep step) {
  switch (step) {
    case RefinementStep::Line: return "line";
    case RefinementStep::Sentence: return "sentence";
  }
  return "line";
}

namespace {

// How a piece of a report (a line, or a sentence) ends.
enum class Ending { LineBreak, Sentence, Other };

std::vector<int32_t> slice(const std::vector<int32_t>& v, size_t begin, size_t end) {
  return {v.begin() + static_cast<std::ptrdiff_t>(begin), v.begin() + static_cast<std::ptrdiff_t>(end)};
}

// What choose_piece decided, and what an inserted sentence is measured against.
struct PieceChoice {
  size_t best = 0;                     // index into the candidates; kDropped: the draft's piece left out
  double support = 0;                  // its consensus_support among those taking part
  std::vector<size_t> taking_part;     // indices into the candidates, candidates[0] first
  std::vector<StudyLabels> completed;  // the labels of their completed reports, in that order (when 2 or more)
  std::vector<size_t> contradictions;  // and the contradictions each answers for (contradictions_through)
  LineReading line;                    // the current line completed with candidates[0]
  std::string subject;                 // its labels' subject_key
};

// The inconsistencies (read_report: contradictions, C/D and recommendation conflicts) a candidate piece answers
// for: those of the report up to and including it, `before` + `piece`. The draft's later pieces
// are drafted again in later steps, so a
// piece stating a finding a later sentence of the draft denies is not held to that denial — the
// denial is, when its own step comes. Read only when the completed report `completed` has any.
size_t contradictions_through(const Tokenizer& tokenizer, const ReportReading& completed, const std::vector<int32_t>& before,
                              const std::vector<int32_t>& piece, std::string_view lang) {
  if (completed.inconsistencies() == 0) return 0;
  return read_report(tokenizer.decode(joined(before, piece, {})), lang).inconsistencies();
}

// PieceChoice::best when the draft's piece is left out.
constexpr size_t kDropped = static_cast<size_t>(-1);

// What a report says against what it said before: contradictions and C/D conflicts. Not
// recommendation conflicts: a recommendation at odds with the grades is to be replaced, not left
// out (an eye without one would read as routine).
size_t denials(const ReportReading& reading) { return reading.contradictions.size() + reading.cup_disc_conflicts.size(); }

// Whether the draft's sentence `piece` (ending a sentence in a line already begun) may be left out:
// it adds denials to the report so far (it denies a finding `before` states, states one it
// denies, or gives an eye another vertical C/D).
bool contradicts_report(const Tokenizer& tokenizer, const std::vector<int32_t>& before, const std::vector<int32_t>& piece,
                        std::string_view lang) {
  const size_t through = denials(read_report(tokenizer.decode(joined(before, piece, {})), lang));
  // The report so far is read only when there is something to compare (rarely).
  return through > 0 && through > denials(read_report(tokenizer.decode(before), lang));
}

// choose_line for a piece of a line: `before` holds the current line's kept pieces from
// `line_start` on, `after` the rest of the chosen draft's line up to `line_end`; a candidate takes
// part when it ends as candidates[0] does and its completed line has the subject of candidates[0]'s
// (or that subject less the examinations the evidence does not hold).
PieceChoice choose_piece(const Tokenizer& tokenizer, const std::vector<int32_t>& before, size_t line_start,
                         const std::vector<std::vector<int32_t>>& candidates, const std::vector<Ending>& endings,
                         const std::vector<int32_t>& after, size_t line_end, const StudyLabels& evidence,
                         double evidence_weight, std::string_view lang, WordingChoice wording, bool may_drop = false) {
  if (candidates.empty()) fail(ErrorCode::InvalidArgument, "choose_line: no candidate lines");
  if (candidates.front().empty()) fail(ErrorCode::InvalidArgument, "choose_line: the chosen draft's line (candidate 0) is empty");
  PieceChoice choice;
  const std::vector<int32_t> line_before = slice(before, line_start, before.size());
  const std::vector<int32_t> line_after = slice(after, 0, line_end);
  choice.line = read_line(tokenizer.decode(joined(line_before, candidates.front(), line_after)), lang);
  choice.subject = subject_key(choice.line.labels, choice.line.recommended);
  // The same line without what it says of examinations nobody made, when that leaves it a subject.
  std::string examined_subject =
      evidence.eyes.empty() ? std::string() : subject_key(examined_part(choice.line.labels, evidence), choice.line.recommended);
  if (examined_subject == choice.subject) examined_subject.clear();
  // Whether the line completed with `piece` has the draft's line's subject and states every grade it states.
  const auto about_the_same = [&](const std::vector<int32_t>& piece) {
    const LineReading other = read_line(tokenizer.decode(joined(line_before, piece, line_after)), lang);
    const std::string subject = subject_key(other.labels, other.recommended);
    return (subject == choice.subject || (!examined_subject.empty() && subject == examined_subject)) &&
           keeps_stated_grades(choice.line, other, evidence);
  };
  choice.taking_part = {0};
  for (size_t i = 1; i < candidates.size(); ++i)
    if (!candidates[i].empty() && endings[i] == endings[0] && about_the_same(candidates[i])) choice.taking_part.push_back(i);
  // The line without the draft's sentence, when that sentence contradicts the report so far and
  // the line keeps its subject without it.
  const std::vector<int32_t> none;
  const bool dropping = may_drop && endings[0] == Ending::Sentence && line_start < before.size() &&
                        contradicts_report(tokenizer, before, candidates.front(), lang) && about_the_same(none);
  if (dropping) choice.taking_part.push_back(kDropped);
  if (choice.taking_part.size() == 1) return choice;  // nothing to weigh, and no insertion weighed against it
  for (size_t i : choice.taking_part) {
    const std::vector<int32_t>& piece = i == kDropped ? none : candidates[i];
    ReportReading completed = read_report(tokenizer.decode(joined(before, piece, after)), lang);
    choice.contradictions.push_back(contradictions_through(tokenizer, completed, before, piece, lang));
    choice.completed.push_back(std::move(completed.labels));
  }
  const std::vector<double> support = consensus_support(choice.completed, evidence, evidence_weight, choice.contradictions);
  size_t best = most_supported(support);
  if (wording == WordingChoice::Central && choice.taking_part[best] != kDropped) {
    std::vector<ReportTokens> words;  // the dropped piece's none: never the central one
    for (size_t i : choice.taking_part) words.push_back(i == kDropped ? ReportTokens() : tokenize_report(tokenizer.decode(candidates[i])));
    best = most_central_wording(words, choice.completed, support, best);
  }
  choice.best = choice.taking_part[best];
  choice.support = support[best];
  return choice;
}

// Whether `more` states every finding `line` states, eye by eye, and at least one finding more.
bool adds_findings(const StudyLabels& line, const StudyLabels& more) {
  bool added = false;
  for (const auto& [eye, said] : more.eyes) {
    const auto was = line.eyes.find(eye);
    const std::vector<Finding> none;
    const std::vector<Finding>& before = was == line.eyes.end() ? none : was->second.findings;
    for (Finding f : before)
      if (std::find(said.findings.begin(), said.findings.end(), f) == said.findings.end()) return false;
    for (Finding f : said.findings)
      if (std::find(before.begin(), before.end(), f) == before.end()) added = true;
  }
  for (const auto& [eye, said] : line.eyes)
    if (!said.findings.empty() && !more.eyes.count(eye)) return false;
  return added;
}

// A sentence inserted before the chosen draft's (candidates[0]) instead of replacing it: among the
// candidates that end a sentence with the line going on, those whose line — kept pieces, the
// candidate, candidates[0], the rest of the draft's line — has the draft line's subject and
// states all its findings and more (adds_findings). Each is scored as before + candidate +
// candidates[0] + after against the completions `choice` weighed (leaving out the candidate's own
// completion as a replacement), on the scale of consensus_support: (P − 1) × (its mean
// label_agreement with them + evidence_weight × its evidence_agreement − its contradictions
// through the candidate), P the completions weighed. Returns the index of the best insertion scoring above choice.support, 0 for none.
size_t choose_insertion(const Tokenizer& tokenizer, const std::vector<int32_t>& before, size_t line_start,
                        const std::vector<std::vector<int32_t>>& candidates, const std::vector<Ending>& endings,
                        const std::vector<int32_t>& after, size_t line_end, const PieceChoice& choice,
                        const StudyLabels& evidence, double evidence_weight, std::string_view lang) {
  const size_t weighed = choice.taking_part.size();
  if (weighed < 2) return 0;
  const std::vector<int32_t> line_before = slice(before, line_start, before.size());
  const std::vector<int32_t> line_after = joined(candidates.front(), slice(after, 0, line_end), {});
  const std::vector<int32_t> rest = joined(candidates.front(), after, {});
  size_t best = 0;
  double best_support = choice.support;
  for (size_t i = 1; i < candidates.size(); ++i) {
    if (candidates[i].empty() || endings[i] != Ending::Sentence) continue;
    const LineReading line = read_line(tokenizer.decode(joined(line_before, candidates[i], line_after)), lang);
    if (subject_key(line.labels, line.recommended) != choice.subject || !adds_findings(choice.line.labels, line.labels))
      continue;
    const ReportReading completed = read_report(tokenizer.decode(joined(before, candidates[i], rest)), lang);
    double agreement = 0;
    size_t others = 0;
    for (size_t j = 0; j < weighed; ++j) {
      if (choice.taking_part[j] == i) continue;
      agreement += label_agreement(completed.labels, choice.completed[j]);
      ++others;
    }
    const double scale = static_cast<double>(weighed - 1);
    double support = scale * agreement / static_cast<double>(others);
    if (evidence_weight > 0.0 && !evidence.eyes.empty())
      support += evidence_weight * scale * evidence_agreement(completed.labels, evidence);
    support -= scale * static_cast<double>(contradictions_through(tokenizer, completed, before, candidates[i], lang));
    if (outscores(support, best_support)) best = i, best_support = support;
  }
  return best;
}

}  // namespace

size_t most_central_wording(const std::vector<ReportTokens>& words, const std::vector<StudyLabels>& stated,
                            const std::vector<double>& support, size_t best, double beta) {
  if (stated.size() != words.size() || support.size() != words.size())
    fail(ErrorCode::InvalidArgument, "most_central_wording: {} wordings, {} label sets and {} supports, expected one of each per candidate",
         words.size(), stated.size(), support.size());
  if (best >= words.size())
    fail(ErrorCode::InvalidArgument, "most_central_wording: best is {}, expected an index below {}", best, words.size());
  std::vector<size_t> tied;  // on support first; their labels are compared only when there are two
  for (size_t t = 0; t < words.size(); ++t)
    if (!words[t].empty() && !outscores(support[best], support[t])) tied.push_back(t);
  if (tied.size() < 2) return best;
  const nlohmann::json same = to_json(stated[best]);
  tied.erase(std::remove_if(tied.begin(), tied.end(), [&](size_t t) { return t != best && to_json(stated[t]) != same; }),
             tied.end());
  if (tied.size() < 2) return best;
  const std::vector<std::vector<double>> rouge = pairwise_rouge_l(words, beta);
  size_t central = tied.front();
  double central_sum = -1;
  for (size_t t : tied) {
    double sum = 0;
    for (double r : rouge[t]) sum += r;
    if (outscores(sum, central_sum)) central = t, central_sum = sum;
  }
  return central;
}

namespace {

// The title of a report, "" when its first line is none (central_title), and the rest.
std::pair<std::string, std::string> split_title(const std::string& report, std::string_view lang) {
  const size_t end = report.find('\n');
  if (end == std::string::npos || end + 1 >= report.size()) return {"", report};
  std::string first = report.substr(0, end + 1);
  if (!extract_labels_from_text(first, lang).eyes.empty()) return {"", report};
  return {std::move(first), report.substr(end + 1)};
}

}  // namespace

std::string central_title(const std::string& report, const std::vector<std::string>& drafts, std::string_view lang) {
  const nlohmann::json stated = to_json(extract_labels_from_text(report, lang));
  if (stated.empty()) return report;  // about no eye: nothing to title
  auto [own, body] = split_title(report, lang);
  std::vector<std::string> titles = {own};  // the report's own first: it wins ties
  if (!own.empty()) titles.push_back("");
  for (const std::string& draft : drafts) {
    std::string title = split_title(draft, lang).first;
    if (!title.empty() && std::find(titles.begin(), titles.end(), title) == titles.end()) titles.push_back(std::move(title));
  }
  if (titles.size() == 1) return report;
  // One LCS of each titled report against each draft (each the one reference of its own list).
  std::vector<std::vector<ReportTokens>> references;
  for (const std::string& draft : drafts) references.push_back({tokenize_report(draft)});
  size_t central = 0;
  double central_sum = -1;
  for (size_t t = 0; t < titles.size(); ++t) {
    const std::string titled = titles[t] + body;
    if (t > 0 && to_json(extract_labels_from_text(titled, lang)) != stated) continue;  // not wording alone
    const ReportTokens words = tokenize_report(titled);
    double sum = 0;
    for (const std::vector<ReportTokens>& reference : references) sum += sentence_rouge_l(words, reference, kWordingBeta);
    if (outscores(sum, central_sum)) central = t, central_sum = sum;
  }
  return central == 0 ? report : titles[central] + body;
}

SentenceChoice choose_sentence(const Tokenizer& tokenizer, const std::vector<int32_t>& before, size_t line_start,
                               const std::vector<std::vector<int32_t>>& candidates, const std::vector<int32_t>& after,
                               size_t line_end, const StudyLabels& evidence, double evidence_weight, std::string_view lang,
                               bool may_insert, WordingChoice wording) {
  if (line_start > before.size())
    fail(ErrorCode::InvalidArgument, "choose_sentence: line_start is {}, beyond the {} tokens before", line_start, before.size());
  if (line_end > after.size())
    fail(ErrorCode::InvalidArgument, "choose_sentence: line_end is {}, beyond the {} tokens after", line_end, after.size());
  std::vector<Ending> endings;
  for (const auto& c : candidates) {
    const std::string text = tokenizer.decode(c);
    const bool full_stop = ends_with_ideographic_full_stop(text) || (!text.empty() && text.back() == '.');
    endings.push_back(ends_line(tokenizer, c) ? Ending::LineBreak : full_stop ? Ending::Sentence : Ending::Other);
  }
  const PieceChoice choice =
      choose_piece(tokenizer, before, line_start, candidates, endings, after, line_end, evidence, evidence_weight, lang, wording, true);
  const size_t inserted = may_insert && line_start < before.size()
                              ? choose_insertion(tokenizer, before, line_start, candidates, endings, after, line_end, choice,
                                                 evidence, evidence_weight, lang)
                              : 0;
  if (inserted != 0) return {inserted, true, false};
  if (choice.best == kDropped) return {0, false, true};
  return {choice.best, false, false};
}

size_t choose_line(const Tokenizer& tokenizer, const std::vector<int32_t>& before,
                   const std::vector<std::vector<int32_t>>& candidates, const std::vector<int32_t>& after,
                   const StudyLabels& evidence, double evidence_weight, std::string_view lang, WordingChoice wording) {
  std::vector<Ending> endings;
  for (const auto& c : candidates) endings.push_back(ends_line(tokenizer, c) ? Ending::LineBreak : Ending::Other);
  return choose_piece(tokenizer, before, before.size(), candidates, endings, after, 0, evidence, evidence_weight, lang, wording).best;
}

namespace {

// The tokens that continue a report with `text` where the report so far ends with `anchor`: the tail
// of encode(anchor + text) whose bytes are `text`, so that the tokens are the ones the tokenizer
// (and the model, which was trained on its output) uses mid-text — no dummy-prefix space before a
// Chinese phrase, "▁Cotton" after ". " in English. Empty when the tokenizer merges across the
// anchor and no such tail exists.
std::vector<int32_t> continuation_tokens(const Tokenizer& tokenizer, std::string_view anchor, std::string_view text) {
  const std::vector<int32_t> ids = tokenizer.encode(std::string(anchor) + std::string(text), false);
  std::string tail;
  for (size_t j = ids.size(); j-- > 0;) {
    tail.insert(0, tokenizer.token_bytes(ids[j]));
    if (tail == text) return slice(ids, j, ids.size());
    if (tail.size() >= text.size()) break;
  }
  return {};
}

// The findings `evidence` holds for the eyes and modalities `line` speaks of (imaged and gradable
// in the evidence) that `stated` (the labels of the report as it would be completed) does not
// state for that eye — what a guided alternative may add to the line. In Finding order, no repeats.
std::vector<Finding> unstated_evidence(const StudyLabels& line, const StudyLabels& stated, const StudyLabels& evidence) {
  std::vector<Finding> missing;
  for (const auto& [eye, said] : line.eyes) {
    const auto held = evidence.eyes.find(eye);
    if (held == evidence.eyes.end()) continue;
    const auto completed = stated.eyes.find(eye);
    for (Finding f : held->second.findings) {
      const Modality m = finding_modality(f);
      const auto in = [m](const std::vector<Modality>& v) { return std::find(v.begin(), v.end(), m) != v.end(); };
      if (!in(said.imaged) || !in(held->second.imaged) || in(held->second.ungradable)) continue;
      if (completed != stated.eyes.end() && completed->second.has(f)) continue;
      if (std::find(missing.begin(), missing.end(), f) == missing.end()) missing.push_back(f);
    }
  }
  std::sort(missing.begin(), missing.end());
  return missing;
}

// A guided alternative's forced start: the phrase naming `finding` as a new sentence's first
// words, in the tokens that continue the report after a sentence's end.
std::vector<int32_t> guided_start(const Tokenizer& tokenizer, Finding finding, std::string_view lang) {
  std::string phrase = finding_phrase(finding, lang);
  if (lang == "zh") return continuation_tokens(tokenizer, kFullStop, phrase);
  if (!phrase.empty() && phrase.front() >= 'a' && phrase.front() <= 'z') phrase.front() = static_cast<char>(phrase.front() - 'a' + 'A');
  return continuation_tokens(tokenizer, ".", " " + phrase);
}

// `text` without the whitespace around it.
std::string_view trimmed(std::string_view text) {
  const auto space = [](char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; };
  while (!text.empty() && space(text.front())) text.remove_prefix(1);
  while (!text.empty() && space(text.back())) text.remove_suffix(1);
  return text;
}

// Whether `piece` repeats `previous` word for word (whitespace around either aside).
bool repeats_sentence(const Tokenizer& tokenizer, const std::vector<int32_t>& previous, const std::vector<int32_t>& piece) {
  if (previous.empty() || piece.empty()) return false;
  const std::string a = tokenizer.decode(previous), b = tokenizer.decode(piece);
  return !trimmed(a).empty() && trimmed(a) == trimmed(b);
}

// The tokens that end `piece` holding only whitespace, when they hold its line break; else none.
std::vector<int32_t> line_break_of(const Tokenizer& tokenizer, const std::vector<int32_t>& piece) {
  size_t begin = piece.size();
  bool line_break = false;
  while (begin > 0) {
    if (!trimmed(tokenizer.token_bytes(piece[begin - 1])).empty()) break;
    line_break = line_break || holds_line_break(tokenizer, piece[begin - 1]);
    --begin;
  }
  return line_break ? slice(piece, begin, piece.size()) : std::vector<int32_t>();
}

}  // namespace

RefinedReport refine_report_lines(LlamaSession& session, const at::Tensor& prompt_logits,
                                  const std::vector<int32_t>& report, const LineRefinementOptions& options) {
  if (options.line_drafts < 1 || options.line_drafts > LlamaSession::kMaxBranches)
    fail(ErrorCode::InvalidArgument, "line drafts is {}, expected 1 ... {}", options.line_drafts, LlamaSession::kMaxBranches);
  if (options.sentence_insertions < 0)
    fail(ErrorCode::InvalidArgument, "sentence insertions is {}, expected >= 0", options.sentence_insertions);
  if (options.guided_drafts < 0 || options.guided_drafts > LlamaSession::kMaxBranches)
    fail(ErrorCode::InvalidArgument, "guided drafts is {}, expected 0 ... {}", options.guided_drafts, LlamaSession::kMaxBranches);
  if (!(options.drafting.sampling.temperature > 0 && std::isfinite(options.drafting.sampling.temperature)))
    fail(ErrorCode::InvalidArgument, "line drafts are sampled at temperature {}, expected > 0",
         options.drafting.sampling.temperature);
  const Tokenizer& tokenizer = session.model().tokenizer();
  const bool by_sentence = options.step == RefinementStep::Sentence;
  // A draft that ran to the end of the context holds one token more than the session can run (the
  // last token sampled is never run): the refinement runs what fits.
  const size_t room = static_cast<size_t>(std::max<int64_t>(0, session.context_length() - session.position()));
  const std::vector<int32_t> fitting = report.size() > room ? slice(report, 0, room) : report;
  const bool draft_cut = static_cast<int64_t>(report.size()) >= options.drafting.max_tokens;  // by the token budget
  const std::vector<std::vector<int32_t>> pieces = by_sentence ? report_sentences(tokenizer, fitting) : report_lines(tokenizer, fitting);
  RefinedReport refined;
  refined.lines = by_sentence ? report_lines(tokenizer, fitting).size() : pieces.size();
  bool line_replaced = false;  // whether an alternative was kept in the current line
  size_t line_insertions = 0;  // sentences inserted in the current line
  at::Tensor logits = prompt_logits;
  size_t line_start = 0;  // where the current line begins in refined.tokens
  size_t previous_start = 0;  // where the piece kept last in the current line begins (none: the end)
  const auto end_line = [&] {
    refined.replaced_lines += line_replaced;
    line_replaced = false;
    line_insertions = 0;
    line_start = previous_start = refined.tokens.size();
  };
  const size_t n = static_cast<size_t>(options.line_drafts);
  for (size_t k = 0; k < pieces.size(); ++refined.steps) {
    std::vector<int32_t> after;
    size_t line_end = 0;  // how much of `after` is the rest of the current line
    bool line_open = !ends_line(tokenizer, pieces[k]);
    for (size_t j = k + 1; j < pieces.size(); ++j) {
      after.insert(after.end(), pieces[j].begin(), pieces[j].end());
      if (line_open) line_end = after.size(), line_open = !ends_line(tokenizer, pieces[j]);
    }
    const int64_t budget = std::max<int64_t>(1, options.drafting.max_tokens - static_cast<int64_t>(refined.tokens.size()));
    // Guided alternatives (sentence steps in a line already begun, where a sentence may still go
    // in, not in an impression or a recommendation, with the evidence weighed): for each finding
    // the evidence holds for this line's eye and modality that the report, completed with the
    // draft's sentences, does not state, guided_drafts alternatives that start with its name; the
    // language model writes the rest of the sentence. They are weighed only as insertions, never
    // as replacements, so they do not vote in the step's consensus.
    std::vector<std::vector<int32_t>> starts;
    const bool may_insert =
        by_sentence && refined.tokens.size() > line_start && line_insertions < static_cast<size_t>(options.sentence_insertions);
    const std::vector<int32_t> line_so_far = slice(refined.tokens, line_start, refined.tokens.size());
    if (may_insert && options.guided_drafts > 0 && options.evidence_weight > 0 && !options.evidence.eyes.empty() &&
        !opens_summary_section(tokenizer.decode(line_so_far))) {
      const StudyLabels line =
          extract_labels_from_text(tokenizer.decode(joined(line_so_far, pieces[k], slice(after, 0, line_end))), options.lang);
      const StudyLabels stated = extract_labels_from_text(tokenizer.decode(joined(refined.tokens, pieces[k], after)), options.lang);
      for (Finding f : unstated_evidence(line, stated, options.evidence)) {
        std::vector<int32_t> start = guided_start(tokenizer, f, options.lang);
        if (start.empty()) continue;
        for (int g = 0; g < options.guided_drafts && n + starts.size() < static_cast<size_t>(LlamaSession::kMaxBranches); ++g)
          starts.push_back(start);
      }
    }
    const size_t total = n + starts.size();
    std::vector<GenerateOptions> drafts(total, options.drafting);
    // Sentence steps: a draft stops at the token after its sentence's end (which is then dropped),
    // or at a line break.
    std::vector<std::string> bytes(total);
    std::vector<char> cut(total, 0);
    for (size_t i = 0; i < total; ++i) {
      if (i >= n) drafts[i].prefix = starts[i - n];
      drafts[i].max_tokens = static_cast<int32_t>(budget);
      drafts[i].on_token = nullptr;
      drafts[i].sampling.seed = options.drafting.sampling.seed + 7919u * static_cast<uint64_t>(refined.steps + 1) + i;
      if (!by_sentence) {
        drafts[i].stop_strings = {"\n"};
        continue;
      }
      drafts[i].stop_strings.clear();
      drafts[i].on_token = [&tokenizer, &bytes, &cut, i](std::string_view, int32_t id) {
        if (id < 0) return true;
        if (!bytes[i].empty() && sentence_ends_before(tokenizer, bytes[i], id)) return cut[i] = 1, false;
        bytes[i] += tokenizer.token_bytes(id);
        return !holds_line_break(tokenizer, id);
      };
    }
    std::vector<std::vector<int32_t>> candidates = {pieces[k]};
    std::vector<Ending> endings = {ends_line(tokenizer, pieces[k]) ? Ending::LineBreak
                                   : k + 1 < pieces.size() && by_sentence ? Ending::Sentence
                                                                          : Ending::Other};
    std::vector<GenerateResult> results = generate_drafts_after_prompt(session, logits, drafts);
    for (size_t i = 0; i < total; ++i) {
      std::vector<int32_t>& tokens = results[i].tokens;
      if (cut[i]) tokens.pop_back();
      // Cut short by the token budget, neither its sentence nor its line ended ("Review" for
      // "Review in 6 months."), it takes no part (an empty candidate never does) — unless the
      // draft, filling max_tokens, was cut short too.
      if (results[i].reason == StopReason::TokenLimit && !cut[i] && !ends_line(tokenizer, tokens) && !draft_cut) tokens.clear();
      endings.push_back(ends_line(tokenizer, tokens) ? Ending::LineBreak : cut[i] ? Ending::Sentence : Ending::Other);
      candidates.push_back(std::move(tokens));
    }
    // What is kept must leave room for the rest of the draft: an alternative longer than the
    // draft's piece by more than the context has left takes no part (an empty candidate never does).
    const size_t left = static_cast<size_t>(std::max<int64_t>(0, session.context_length() - session.position()));
    for (size_t i = 1; i < candidates.size(); ++i)
      if (candidates[i].size() + after.size() > left) candidates[i].clear();
    // The replacements: the draft's piece and the unguided alternatives (all of them when none is guided).
    std::vector<std::vector<int32_t>> replacements;
    std::vector<Ending> replacement_endings;
    if (!starts.empty()) {
      replacements.assign(candidates.begin(), candidates.begin() + static_cast<std::ptrdiff_t>(n + 1));
      replacement_endings.assign(endings.begin(), endings.begin() + static_cast<std::ptrdiff_t>(n + 1));
    }
    const PieceChoice choice = choose_piece(tokenizer, refined.tokens, line_start, starts.empty() ? candidates : replacements,
                                            starts.empty() ? endings : replacement_endings, after, line_end, options.evidence,
                                            options.evidence_weight, options.lang, options.wording, by_sentence);
    // A sentence inserted before the draft's, in a line already begun: the draft's sentence is
    // then redrafted in the next step.
    size_t inserted = may_insert ? choose_insertion(tokenizer, refined.tokens, line_start, candidates, endings, after, line_end,
                                                    choice, options.evidence, options.evidence_weight, options.lang)
                                 : 0;
    if (inserted != 0 && candidates[inserted].size() + pieces[k].size() + after.size() > left) inserted = 0;  // no room
    // A sentence repeating the line's previous one word for word says nothing the line does not
    // (the labels of the report are the same without it): it is left out, all but its line break.
    const bool repeat = inserted == 0 && choice.best != kDropped && by_sentence &&
                        repeats_sentence(tokenizer, slice(refined.tokens, previous_start, refined.tokens.size()),
                                         candidates[choice.best]);
    if (inserted == 0 && (choice.best == kDropped || repeat)) {  // the draft's sentence left out; the line goes on
      ++refined.dropped_sentences;
      line_replaced = true;
      ++k;
      const std::vector<int32_t> line_break = repeat ? line_break_of(tokenizer, candidates[choice.best]) : std::vector<int32_t>();
      if (!line_break.empty()) {
        logits = session.forward_tokens(line_break);
        refined.tokens.insert(refined.tokens.end(), line_break.begin(), line_break.end());
      }
      if (!line_break.empty() || k == pieces.size()) end_line();
      continue;
    }
    const size_t best = inserted != 0 ? inserted : choice.best;
    refined.replaced_steps += inserted == 0 && best != 0;
    refined.inserted_sentences += inserted != 0;
    refined.guided_sentences += inserted > n;
    line_insertions += inserted != 0;
    line_replaced = line_replaced || best != 0;
    logits = session.forward_tokens(candidates[best]);
    previous_start = refined.tokens.size();
    refined.tokens.insert(refined.tokens.end(), candidates[best].begin(), candidates[best].end());
    if (inserted != 0) continue;
    ++k;
    if (ends_line(tokenizer, candidates[best]) || k == pieces.size()) end_line();
  }
  return refined;
}

}  // namespace ophtha
