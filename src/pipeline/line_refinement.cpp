#include "ophtha/line_refinement.hpp"

#include <algorithm>
#include <cmath>

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

std::string line_subject(const Tokenizer& tokenizer, const std::vector<int32_t>& line, std::string_view lang) {
  const StudyLabels labels = extract_labels_from_text(tokenizer.decode(line), lang);
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

size_t choose_line(const Tokenizer& tokenizer, const std::vector<int32_t>& before,
                   const std::vector<std::vector<int32_t>>& candidates, const std::vector<int32_t>& after,
                   const StudyLabels& evidence, double evidence_weight, std::string_view lang) {
  if (candidates.empty()) fail(ErrorCode::InvalidArgument, "choose_line: no candidate lines");
  if (candidates.front().empty()) fail(ErrorCode::InvalidArgument, "choose_line: the chosen draft's line (candidate 0) is empty");
  const std::string subject = line_subject(tokenizer, candidates.front(), lang);
  const bool line_break = ends_line(tokenizer, candidates.front());
  std::vector<size_t> taking_part = {0};
  for (size_t i = 1; i < candidates.size(); ++i)
    if (!candidates[i].empty() && ends_line(tokenizer, candidates[i]) == line_break &&
        line_subject(tokenizer, candidates[i], lang) == subject)
      taking_part.push_back(i);
  if (taking_part.size() == 1) return 0;
  std::vector<StudyLabels> reports;
  reports.reserve(taking_part.size());
  for (size_t i : taking_part)
    reports.push_back(extract_labels_from_text(tokenizer.decode(joined(before, candidates[i], after)), lang));
  return taking_part[consensus_choice(reports, evidence, evidence_weight)];
}

RefinedReport refine_report_lines(LlamaSession& session, const at::Tensor& prompt_logits,
                                  const std::vector<int32_t>& report, const LineRefinementOptions& options) {
  if (options.line_drafts < 1 || options.line_drafts > LlamaSession::kMaxBranches)
    fail(ErrorCode::InvalidArgument, "line drafts is {}, expected 1 ... {}", options.line_drafts, LlamaSession::kMaxBranches);
  if (!(options.drafting.sampling.temperature > 0 && std::isfinite(options.drafting.sampling.temperature)))
    fail(ErrorCode::InvalidArgument, "line drafts are sampled at temperature {}, expected > 0",
         options.drafting.sampling.temperature);
  const Tokenizer& tokenizer = session.model().tokenizer();
  const std::vector<std::vector<int32_t>> lines = report_lines(tokenizer, report);
  RefinedReport refined;
  refined.lines = lines.size();
  at::Tensor logits = prompt_logits;
  for (size_t k = 0; k < lines.size(); ++k) {
    std::vector<int32_t> after;
    for (size_t j = k + 1; j < lines.size(); ++j) after.insert(after.end(), lines[j].begin(), lines[j].end());
    const int64_t budget = std::max<int64_t>(1, options.drafting.max_tokens - static_cast<int64_t>(refined.tokens.size()));
    std::vector<GenerateOptions> drafts(static_cast<size_t>(options.line_drafts), options.drafting);
    for (size_t i = 0; i < drafts.size(); ++i) {
      drafts[i].max_tokens = static_cast<int32_t>(budget);
      drafts[i].stop_strings = {"\n"};
      drafts[i].on_token = nullptr;
      drafts[i].sampling.seed = options.drafting.sampling.seed + 7919u * static_cast<uint64_t>(k + 1) + i;
    }
    std::vector<std::vector<int32_t>> candidates = {lines[k]};
    for (GenerateResult& r : generate_drafts_after_prompt(session, logits, drafts)) candidates.push_back(std::move(r.tokens));
    const size_t best = choose_line(tokenizer, refined.tokens, candidates, after, options.evidence, options.evidence_weight,
                                    options.lang);
    refined.replaced_lines += best != 0;
    logits = session.forward_tokens(candidates[best]);
    refined.tokens.insert(refined.tokens.end(), candidates[best].begin(), candidates[best].end());
  }
  return refined;
}

}  // namespace ophtha
