#include "ophtha/line_refinement.hpp"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <string>
#include <string_view>

#include "ophtha/error.hpp"
#include "ophtha/report_consensus.hpp"
#include "ophtha/report_extractor.hpp"

namespace ophtha {

namespace {

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

// line_subject's key of labels read from a line.
std::string subject_key(const StudyLabels& labels) {
  std::string subject;
  for (const auto& [eye, said] : labels.eyes) {
    if (!subject.empty()) subject += '|';
    subject += eye_name(eye);
    subject += ':';
    for (Modality m : said.imaged) subject += modality_name(m), subject += ',';
    for (const auto& [scale, level] : said.grades) subject += grade_scale_info(scale).code, subject += ',';
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
  return subject_key(extract_labels_from_text(tokenizer.decode(line), lang));
}

std::string line_subject(const Tokenizer& tokenizer, const std::vector<int32_t>& line, std::string_view lang,
                         const StudyLabels& examined) {
  const StudyLabels said = extract_labels_from_text(tokenizer.decode(line), lang);
  return subject_key(examined.eyes.empty() ? said : examined_part(said, examined));
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
  static constexpr std::string_view kFullStop = "\xE3\x80\x82";  // 。 (U+3002)
  const std::string text = tokenizer.token_bytes(next);
  if (before.size() >= kFullStop.size() && before.substr(before.size() - kFullStop.size()) == kFullStop)
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

// choose_line for a piece of a line: `before` holds the current line's kept pieces from
// `line_start` on, `after` the rest of the chosen draft's line up to `line_end`; a candidate takes
// part when it ends as candidates[0] does and its completed line has the subject of candidates[0]'s
// (or that subject less the examinations the evidence does not hold).
size_t choose_piece(const Tokenizer& tokenizer, const std::vector<int32_t>& before, size_t line_start,
                    const std::vector<std::vector<int32_t>>& candidates, const std::vector<Ending>& endings,
                    const std::vector<int32_t>& after, size_t line_end, const StudyLabels& evidence,
                    double evidence_weight, std::string_view lang) {
  if (candidates.empty()) fail(ErrorCode::InvalidArgument, "choose_line: no candidate lines");
  if (candidates.front().empty()) fail(ErrorCode::InvalidArgument, "choose_line: the chosen draft's line (candidate 0) is empty");
  const std::vector<int32_t> line_before = slice(before, line_start, before.size());
  const std::vector<int32_t> line_after = slice(after, 0, line_end);
  const StudyLabels said = extract_labels_from_text(tokenizer.decode(joined(line_before, candidates.front(), line_after)), lang);
  const std::string subject = subject_key(said);
  // The same line without what it says of examinations nobody made, when that leaves it a subject.
  std::string examined_subject = evidence.eyes.empty() ? std::string() : subject_key(examined_part(said, evidence));
  if (examined_subject == subject) examined_subject.clear();
  std::vector<size_t> taking_part = {0};
  for (size_t i = 1; i < candidates.size(); ++i) {
    if (candidates[i].empty() || endings[i] != endings[0]) continue;
    const std::string other = line_subject(tokenizer, joined(line_before, candidates[i], line_after), lang);
    if (other == subject || (!examined_subject.empty() && other == examined_subject)) taking_part.push_back(i);
  }
  if (taking_part.size() == 1) return 0;
  std::vector<StudyLabels> reports;
  reports.reserve(taking_part.size());
  for (size_t i : taking_part)
    reports.push_back(extract_labels_from_text(tokenizer.decode(joined(before, candidates[i], after)), lang));
  return taking_part[consensus_choice(reports, evidence, evidence_weight)];
}

}  // namespace

size_t choose_line(const Tokenizer& tokenizer, const std::vector<int32_t>& before,
                   const std::vector<std::vector<int32_t>>& candidates, const std::vector<int32_t>& after,
                   const StudyLabels& evidence, double evidence_weight, std::string_view lang) {
  std::vector<Ending> endings;
  for (const auto& c : candidates) endings.push_back(ends_line(tokenizer, c) ? Ending::LineBreak : Ending::Other);
  return choose_piece(tokenizer, before, before.size(), candidates, endings, after, 0, evidence, evidence_weight, lang);
}

RefinedReport refine_report_lines(LlamaSession& session, const at::Tensor& prompt_logits,
                                  const std::vector<int32_t>& report, const LineRefinementOptions& options) {
  if (options.line_drafts < 1 || options.line_drafts > LlamaSession::kMaxBranches)
    fail(ErrorCode::InvalidArgument, "line drafts is {}, expected 1 ... {}", options.line_drafts, LlamaSession::kMaxBranches);
  if (!(options.drafting.sampling.temperature > 0 && std::isfinite(options.drafting.sampling.temperature)))
    fail(ErrorCode::InvalidArgument, "line drafts are sampled at temperature {}, expected > 0",
         options.drafting.sampling.temperature);
  const Tokenizer& tokenizer = session.model().tokenizer();
  const bool by_sentence = options.step == RefinementStep::Sentence;
  const std::vector<std::vector<int32_t>> pieces = by_sentence ? report_sentences(tokenizer, report) : report_lines(tokenizer, report);
  RefinedReport refined;
  refined.lines = by_sentence ? report_lines(tokenizer, report).size() : pieces.size();
  refined.steps = pieces.size();
  bool line_replaced = false;  // whether an alternative was kept in the current line
  at::Tensor logits = prompt_logits;
  size_t line_start = 0;  // where the current line begins in refined.tokens
  const size_t n = static_cast<size_t>(options.line_drafts);
  for (size_t k = 0; k < pieces.size(); ++k) {
    std::vector<int32_t> after;
    size_t line_end = 0;  // how much of `after` is the rest of the current line
    bool line_open = !ends_line(tokenizer, pieces[k]);
    for (size_t j = k + 1; j < pieces.size(); ++j) {
      after.insert(after.end(), pieces[j].begin(), pieces[j].end());
      if (line_open) line_end = after.size(), line_open = !ends_line(tokenizer, pieces[j]);
    }
    const int64_t budget = std::max<int64_t>(1, options.drafting.max_tokens - static_cast<int64_t>(refined.tokens.size()));
    std::vector<GenerateOptions> drafts(n, options.drafting);
    // Sentence steps: a draft stops at the token after its sentence's end (which is then dropped),
    // or at a line break.
    std::vector<std::string> bytes(n);
    std::vector<char> cut(n, 0);
    for (size_t i = 0; i < n; ++i) {
      drafts[i].max_tokens = static_cast<int32_t>(budget);
      drafts[i].on_token = nullptr;
      drafts[i].sampling.seed = options.drafting.sampling.seed + 7919u * static_cast<uint64_t>(k + 1) + i;
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
    for (size_t i = 0; i < n; ++i) {
      std::vector<int32_t>& tokens = results[i].tokens;
      if (cut[i]) tokens.pop_back();
      endings.push_back(ends_line(tokenizer, tokens) ? Ending::LineBreak : cut[i] ? Ending::Sentence : Ending::Other);
      candidates.push_back(std::move(tokens));
    }
    const size_t best = choose_piece(tokenizer, refined.tokens, line_start, candidates, endings, after, line_end,
                                     options.evidence, options.evidence_weight, options.lang);
    refined.replaced_steps += best != 0;
    line_replaced = line_replaced || best != 0;
    logits = session.forward_tokens(candidates[best]);
    refined.tokens.insert(refined.tokens.end(), candidates[best].begin(), candidates[best].end());
    if (ends_line(tokenizer, candidates[best]) || k + 1 == pieces.size()) {
      refined.replaced_lines += line_replaced;
      line_replaced = false;
      line_start = refined.tokens.size();
    }
  }
  return refined;
}

}  // namespace ophtha
