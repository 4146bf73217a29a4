// Labels from report text (report_extractor.hpp): a longest-match scan over the phrasebook's
// patterns and a few anchored values, then per-eye assembly.
#include "ophtha/report_extractor.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>
#include <map>
#include <set>

#include "ophtha/error.hpp"
#include "ophtha/label_sampler.hpp"
#include "ophtha/structured_report.hpp"
#include "report/phrasebook.hpp"
#include "tokenizer/utf8.hpp"

namespace ophtha {

namespace {

using namespace report_detail;

enum class Kind {
  Finding,          // a = Finding
  AmbiguousDrusen,  // "drusen" without a size: OCT drusen inside an OCT section
  Level,            // a = GradeScale, b = level
  Modality,         // a = Modality
  EyeWord,          // a = EyeGroup
  NegationPrefix,
  NegationPostfix,
  ScopeBreak,
  Ungradable,
  SectionHeader,    // "Impression", "建议": forgets the modality context
  Inert,            // consumed so that a shorter pattern inside it does not match
  AnchorIcdr,
  AnchorAreds,
  AnchorOctClass,
  AnchorOctAmd,
  AnchorMeiboscore,
  AnchorCupDisc,
};

struct Entry {
  std::string pattern;  // normalised
  Kind kind;
  int a = 0, b = 0;
};

// The headings of a report's summary sections (impression, recommendation), normalised.
constexpr std::array<const char*, 15> kSectionHeaders = {
    "impression", "diagnosis", "assessment", "conclusion", "recommendation", "recommendations", "plan", "advice",
    "诊断", "印象", "结论", "建议", "处理意见", "随访建议", "诊断意见"};

bool is_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

class Lexicon {
 public:
  Lexicon() {
    for (int f = 0; f < kFindingCount; ++f)
      for (Lang lang : {Lang::En, Lang::Zh})
        for (const auto& p : finding_phrases(static_cast<Finding>(f))[lang].recognised) add(p, Kind::Finding, f);
    for (const char* p : {"drusen", "玻璃膜疣"}) add(p, Kind::AmbiguousDrusen);
    for (GradeScale scale : {GradeScale::Icdr, GradeScale::Areds, GradeScale::CupDisc})
      for (int level = 0; level < grade_scale_info(scale).levels; ++level)
        for (Lang lang : {Lang::En, Lang::Zh})
          for (const auto& p : level_phrases(scale, level)[lang].recognised) add(p, Kind::Level, static_cast<int>(scale), level);
    for (int m = 0; m < 3; ++m)
      for (Lang lang : {Lang::En, Lang::Zh})
        for (const auto& p : modality_phrases(static_cast<Modality>(m))[lang].recognised) add(p, Kind::Modality, m);
    for (int g = 0; g < 3; ++g)
      for (Lang lang : {Lang::En, Lang::Zh})
        for (const auto& p : eye_phrases(static_cast<EyeGroup>(g))[lang].recognised) add(p, Kind::EyeWord, g);
    for (const char* p : {"no", "not", "without", "absence of", "negative for", "free of", "nor", "neither", "rather than",
                          "未见", "未见明显", "无", "无明显", "没有", "未发现", "未探及", "未见到", "不伴", "未显示"})
      add(p, Kind::NegationPrefix);
    for (const char* p : {"absent", "not seen", "not observed", "not detected", "not present", "not identified", "not visible",
                          "阴性", "（-）", "(-)"})
      add(p, Kind::NegationPostfix);
    for (const char* p : {"but", "however", "although", "whereas", "except", "但", "可见", "然而", "仅见"}) add(p, Kind::ScopeBreak);
    for (const char* p : {"ungradable", "not gradable", "non-gradable", "cannot be graded", "could not be graded", "unreadable",
                          "insufficient image quality", "inadequate for grading", "too poor to grade",
                          "无法分级", "无法评估", "无法判读", "不可分级", "不能分级", "无法读片"})
      add(p, Kind::Ungradable);
    for (const char* p : kSectionHeaders) add(p, Kind::SectionHeader);
    for (const char* p : {"无需", "无须", "不需", "无可分级", "无明显异常", "gland dysfunction", "睑板腺功能障碍"}) add(p, Kind::Inert);
    add("icdr", Kind::AnchorIcdr);
    add("areds", Kind::AnchorAreds);
    for (const char* p : {"kermany", "oct class", "oct category", "oct分型", "oct分类"}) add(p, Kind::AnchorOctClass);
    for (const char* p : {"oct amd stage", "amd stage on oct", "oct amd staging", "oct amd分期", "oct年龄相关性黄斑变性分期"})
      add(p, Kind::AnchorOctAmd);
    for (const char* p : {"meiboscore", "meibo-score", "meibo score", "睑板腺缺失评分", "睑板腺评分"}) add(p, Kind::AnchorMeiboscore);
    for (const char* p : {"c/d", "cup-to-disc ratio", "cup to disc ratio", "cup/disc ratio", "cup-disc ratio", "cdr", "杯盘比",
                          "杯/盘比", "c/d比"})
      add(p, Kind::AnchorCupDisc);
    for (int k = 0; k < 4; ++k)
      for (Lang lang : {Lang::En, Lang::Zh})
        for (const auto& p : oct_class_phrases(k)[lang].recognised) oct_class_words_.push_back({normalise_for_matching(p), k});
    for (int k = 0; k < 4; ++k)
      for (Lang lang : {Lang::En, Lang::Zh})
        for (const auto& p : oct_amd_phrases(k)[lang].recognised) oct_amd_words_.push_back({normalise_for_matching(p), k});
    for (auto* words : {&oct_class_words_, &oct_amd_words_})
      std::stable_sort(words->begin(), words->end(), [](const auto& x, const auto& y) { return x.first.size() > y.first.size(); });
    for (auto& bucket : by_first_byte_)
      std::stable_sort(bucket.begin(), bucket.end(),
                       [this](size_t x, size_t y) { return entries_[x].pattern.size() > entries_[y].pattern.size(); });
  }

  // The longest entry matching at `pos` and the length it consumes (0 when none).
  std::pair<const Entry*, size_t> match(const std::string& text, size_t pos) const {
    const auto& bucket = by_first_byte_[static_cast<unsigned char>(text[pos])];
    const Entry* best = nullptr;
    size_t best_length = 0;
    const bool boundary_before = pos == 0 || !is_alnum(text[pos - 1]);
    for (size_t index : bucket) {
      const Entry& e = entries_[index];
      if (e.pattern.size() + 2 <= best_length) break;  // sorted by length: nothing longer follows
      if (text.compare(pos, e.pattern.size(), e.pattern) != 0) continue;
      if (is_alnum(e.pattern.front()) && !boundary_before) continue;
      size_t length = e.pattern.size();
      if (is_alnum(e.pattern.back())) {
        const size_t end = pos + length;
        auto free_after = [&text](size_t at) { return at >= text.size() || !is_alnum(text[at]); };
        if (!free_after(end)) {
          if (text[end] == 's' && free_after(end + 1)) length += 1;  // plural
          else if (text.compare(end, 2, "es") == 0 && free_after(end + 2)) length += 2;
          else continue;
        }
      }
      if (length > best_length) best = &e, best_length = length;
    }
    return {best, best_length};
  }

  // Class words after a Kermany anchor, stage words after an OCT AMD anchor; longest first.
  const std::vector<std::pair<std::string, int>>& oct_class_words() const { return oct_class_words_; }
  const std::vector<std::pair<std::string, int>>& oct_amd_words() const { return oct_amd_words_; }

 private:
  void add(const std::string& pattern, Kind kind, int a = 0, int b = 0) {
    Entry e{normalise_for_matching(pattern), kind, a, b};
    by_first_byte_[static_cast<unsigned char>(e.pattern[0])].push_back(entries_.size());
    entries_.push_back(std::move(e));
  }

  std::vector<Entry> entries_;
  std::array<std::vector<size_t>, 256> by_first_byte_;
  std::vector<std::pair<std::string, int>> oct_class_words_, oct_amd_words_;
};

const Lexicon& lexicon() {
  static const Lexicon instance;
  return instance;
}

// Skips any run of the `gap` words (spaces, punctuation, "grade", "分级", ...) from `pos`.
size_t skip_gap(const std::string& text, size_t pos, std::initializer_list<const char*> gap) {
  for (bool moved = true; moved && pos < text.size();) {
    moved = false;
    for (const char* word : gap) {
      const size_t n = std::char_traits<char>::length(word);
      if (text.compare(pos, n, word) == 0) {
        pos += n;
        moved = true;
        break;
      }
    }
  }
  return pos;
}

// A single digit in [lo, hi] at `pos` that is not part of a longer number; -1 otherwise.
int digit_at(const std::string& text, size_t pos, int lo, int hi) {
  if (pos >= text.size() || !is_digit(text[pos])) return -1;
  if (pos + 1 < text.size() && (is_digit(text[pos + 1]) || (text[pos + 1] == '.' && pos + 2 < text.size() && is_digit(text[pos + 2]))))
    return -1;
  const int d = text[pos] - '0';
  return d >= lo && d <= hi ? d : -1;
}

bool sentence_end_at(const std::string& text, size_t pos) {
  const char c = text[pos];
  if (c == ';' || c == '!' || c == '?' || c == '\n') return true;
  if (c == '.') return !(pos > 0 && is_digit(text[pos - 1]) && pos + 1 < text.size() && is_digit(text[pos + 1]));
  for (const char* mark : {"。", "；", "！", "？"})
    if (text.compare(pos, std::char_traits<char>::length(mark), mark) == 0) return true;
  return false;
}

// Ends a negation's scope without ending the sentence.
bool clause_end_at(const std::string& text, size_t pos) {
  return text[pos] == ':' || text.compare(pos, 3, "：") == 0 || text.compare(pos, 3, "，") == 0;
}

using Eyes = std::set<Eye>;

struct Statement {  // a finding or grade stated for some eyes
  Kind kind;        // Finding or Level
  int a, b;
  Eyes eyes;
  bool negated;
  int clause;
  size_t begin, end;  // where its words are in the normalised text
};

struct Extraction {
  std::vector<Statement> statements;
  std::map<Eye, std::set<Modality>> imaged, ungradable;
  std::map<Eye, double> vertical_cdr;             // the last value stated for each eye
  std::map<Eye, std::set<double>> stated_cdr;     // every value stated for each eye
  std::vector<std::pair<std::optional<Eyes>, Referral>> referrals;  // nullopt: every eye
  std::vector<std::pair<std::optional<Eyes>, int>> follow_ups;      // months; nullopt: every eye
  Eyes recommended;  // the eyes a referral or follow-up is about by name (its sentence's or line's)
  std::vector<std::pair<Eyes, std::pair<size_t, size_t>>> cdr_mentions;  // the eyes, where the words are
};

// The urgency a sentence that mentions referral states, or nullopt when it does not mention it.
std::optional<Referral> referral_in(const std::string& sentence) {
  std::optional<Referral> out;
  size_t start = 0;
  while (start <= sentence.size()) {
    size_t end = std::min(sentence.find(',', start), sentence.find("，", start));
    if (end == std::string::npos) end = sentence.size();
    const std::string clause = sentence.substr(start, end - start);
    start = end + (end < sentence.size() && sentence[end] == ',' ? 1 : 3);
    auto in = [&clause](std::initializer_list<const char*> cues) {
      return std::any_of(cues.begin(), cues.end(), [&clause](const char* c) { return clause.find(c) != std::string::npos; });
    };
    if (!in({"refer", "转诊", "就诊"})) continue;
    Referral r = Referral::Soon;
    if (in({"no referral", "not required", "not needed", "not necessary", "no need", "unnecessary", "无需", "无须", "不需", "暂不", "不必"}))
      r = Referral::Routine;
    else if (in({"non-urgent", "nonurgent", "not urgent", "非紧急"})) r = Referral::Soon;
    else if (in({"urgent", "immediate", "same-week", "same week", "same day", "same-day", "as soon as possible", "promptly",
                 "emergency", "within 1 week", "within one week", "within a week", "立即", "紧急", "急诊", "尽快", "1周内", "一周内", "即刻", "马上"}))
      r = Referral::Urgent;
    else {
      // "within N months" / "N个月内": N < 12 is soon, a year or more routine.
      int months = -1;
      for (const char* cue : {"within ", "个月内"}) {
        const size_t at = clause.find(cue);
        if (at == std::string::npos) continue;
        if (cue[0] == 'w') months = std::atoi(clause.c_str() + at + 7);
        else {
          size_t d = at;
          while (d > 0 && is_digit(clause[d - 1])) --d;
          if (d < at) months = std::atoi(clause.c_str() + d);
        }
        if (cue[0] == 'w' && clause.find("month", at) == std::string::npos) months = -1;
      }
      if (months >= 12 || (months < 0 && in({"routine", "annual", "year", "常规", "每年", "年内"}))) r = Referral::Routine;
    }
    out = std::max(out.value_or(Referral::Routine), r);
  }
  return out;
}

// The soonest follow-up interval a sentence states, in months ("review in 6 months", "rescreen in
// 12 months", "annual", "3个月后复查", "每6个月随访一次", "1年后复查"), or nullopt. A referral's
// window ("within 3 months", "3个月内转诊") is no follow-up.
std::optional<int> follow_up_in(const std::string& sentence) {
  std::optional<int> out;
  const auto soonest = [&out](int months) {
    if (months > 0) out = std::min(out.value_or(months), months);
  };
  const auto ends_with = [&sentence](size_t end, std::string_view s) {
    return end >= s.size() && sentence.compare(end - s.size(), s.size(), s) == 0;
  };
  for (size_t at = 0; at < sentence.size();) {
    if (!is_digit(sentence[at])) {
      ++at;
      continue;
    }
    size_t end = at;
    while (end < sentence.size() && is_digit(sentence[end])) ++end;
    const int n = end - at <= 3 ? std::atoi(sentence.c_str() + at) : -1;
    const std::string_view after(sentence.data() + end, sentence.size() - end);
    const bool months = after.rfind(" month", 0) == 0, years = after.rfind(" year", 0) == 0;
    // "in 6 months" and "every 6 months", not "within 6 months".
    const bool in = (ends_with(at, " in ") || ends_with(at, "every ")) && !ends_with(at, "within ");
    if (in && (months || years)) soonest(years ? 12 * n : n);
    if (after.rfind("个月后", 0) == 0 || (ends_with(at, "每") && after.rfind("个月", 0) == 0)) soonest(n);
    if (after.rfind("年后", 0) == 0) soonest(12 * n);
    at = end;
  }
  for (const char* annual : {"annual", "每年", "一年后"})
    if (sentence.find(annual) != std::string::npos) soonest(12);
  return out;
}

Extraction scan(const std::string& text) {
  const Lexicon& lex = lexicon();
  Extraction x;
  Eyes eyes;  // the eye context
  std::optional<Modality> modality;
  bool negated = false;
  int clause = 0;
  // The current sentence: where it starts, the eyes and modalities it names.
  size_t sentence_start = 0;
  Eyes sentence_eyes, eyes_at_sentence_start;
  std::set<Modality> sentence_modalities;
  size_t previous_eye_end = std::string::npos;
  bool eye_in_line = false;  // whether the current line has named an eye so far

  auto end_sentence = [&](size_t pos) {
    for (Modality m : sentence_modalities)
      for (Eye e : sentence_eyes.empty() ? eyes_at_sentence_start : sentence_eyes) x.imaged[e].insert(m);
    // A referral is about the eyes its sentence names, else every eye ("Recommendation: urgent
    // referral."). A follow-up, and a routine one without a referral ("rescreen in 12 months
    // (routine)", "常规随访"), is about the eyes its sentence names, else those its line named before
    // it ("Left eye (OS): refer within 3 months. Review in 6 months."), else every eye.
    const std::optional<Eyes> named = sentence_eyes.empty() ? std::nullopt : std::optional<Eyes>(sentence_eyes);
    const std::optional<Eyes> about = named || !eye_in_line ? named : std::optional<Eyes>(eyes_at_sentence_start);
    const std::string sentence = text.substr(sentence_start, pos - sentence_start);
    // A routine recommendation names its interval as part of saying that no referral is due
    // ("rescreen in 12 months (routine)"); a shorter follow-up may follow it ("Review in 6 months").
    const bool routine = sentence.find("routine") != std::string::npos || sentence.find("常规") != std::string::npos;
    bool recommends = true;
    if (auto referral = referral_in(sentence)) x.referrals.push_back({named, *referral});
    else if (routine) x.referrals.push_back({about, Referral::Routine});
    else recommends = false;
    if (auto months = routine ? std::nullopt : follow_up_in(sentence))
      x.follow_ups.push_back({about, *months}), recommends = true;
    if (recommends && about) x.recommended.insert(about->begin(), about->end());
    sentence_start = pos;
    sentence_eyes.clear();
    sentence_modalities.clear();
    eyes_at_sentence_start = eyes;
    negated = false;
    ++clause;
  };

  size_t pos = 0, next = 0;
  auto state = [&](Kind kind, int a, int b) { x.statements.push_back({kind, a, b, eyes, negated, clause, pos, next}); };

  while (pos < text.size()) {
    if (sentence_end_at(text, pos)) {
      end_sentence(pos);
      if (text[pos] == '\n') eye_in_line = false;
      pos += detail::utf8_sequence_length(static_cast<unsigned char>(text[pos]));
      continue;
    }
    if (clause_end_at(text, pos)) {
      negated = false;
      ++clause;
    }
    const auto [entry, length] = lex.match(text, pos);
    if (entry == nullptr) {
      pos += detail::utf8_sequence_length(static_cast<unsigned char>(text[pos]));
      continue;
    }
    next = pos + length;
    switch (entry->kind) {
      case Kind::Finding: state(Kind::Finding, entry->a, 0); break;
      case Kind::AmbiguousDrusen:
        if (modality == Modality::Oct) state(Kind::Finding, static_cast<int>(Finding::OctDrusen), 0);
        break;
      case Kind::Level: state(Kind::Level, entry->a, entry->b); break;
      case Kind::Modality:
        modality = static_cast<Modality>(entry->a);
        sentence_modalities.insert(*modality);
        break;
      case Kind::EyeWord: {
        Eyes named = entry->a == 0 ? Eyes{Eye::OD} : entry->a == 1 ? Eyes{Eye::OS} : Eyes{Eye::OD, Eye::OS};
        bool joined = previous_eye_end != std::string::npos && previous_eye_end <= pos;
        if (joined) {  // "right eye (OD)", "OD and OS": only connectors in between
          const size_t gap_end = skip_gap(text, previous_eye_end, {" ", "(", ")", "（", "）", ",", "、", "/", "&", "and", "和", "及", "与"});
          joined = gap_end >= pos;
        }
        if (joined) eyes.insert(named.begin(), named.end());
        else eyes = named;
        sentence_eyes.insert(named.begin(), named.end());
        eye_in_line = true;
        previous_eye_end = next;
        break;
      }
      case Kind::NegationPrefix: negated = true; break;
      case Kind::NegationPostfix:
        if (!x.statements.empty() && x.statements.back().clause == clause) x.statements.back().negated = true;
        break;
      case Kind::ScopeBreak:
        negated = false;
        ++clause;
        break;
      case Kind::Ungradable:
        if (modality && !negated)
          for (Eye e : eyes) x.ungradable[e].insert(*modality), x.imaged[e].insert(*modality);
        break;
      case Kind::SectionHeader: modality.reset(); break;
      case Kind::Inert: break;
      case Kind::AnchorIcdr: {
        const size_t at = skip_gap(text, next, {" ", ":", "：", "=", "(", "（", "grade", "level", "stage", "分级", "级", "为", "第"});
        const int d = digit_at(text, at, 0, 4);
        if (d >= 0) state(Kind::Level, static_cast<int>(GradeScale::Icdr), d), next = at + 1;
        break;
      }
      case Kind::AnchorAreds: {
        const size_t at = skip_gap(text, next, {" ", ":", "：", "=", "(", "（", "category", "cat.", "grade", "level", "stage", "分级",
                                                "分期", "分类", "类别", "为", "第"});
        const int d = digit_at(text, at, 1, 4);
        if (d >= 0) state(Kind::Level, static_cast<int>(GradeScale::Areds), d - 1), next = at + 1;
        break;
      }
      case Kind::AnchorOctClass:
      case Kind::AnchorOctAmd: {
        const bool amd = entry->kind == Kind::AnchorOctAmd;
        const size_t at = amd ? skip_gap(text, next, {" ", ":", "：", "=", "(", "（", "stage", "分期", "为"})
                              : skip_gap(text, next, {" ", ":", "：", "=", "(", ")", "（", "）", "class", "category", "kermany", "分型", "分类", "为"});
        for (const auto& [word, level] : amd ? lex.oct_amd_words() : lex.oct_class_words()) {
          if (text.compare(at, word.size(), word) != 0) continue;
          if (is_alnum(word.back()) && at + word.size() < text.size() && is_alnum(text[at + word.size()])) continue;
          state(Kind::Level, static_cast<int>(amd ? GradeScale::OctAmd : GradeScale::OctClass), level);
          next = at + word.size();
          break;
        }
        break;
      }
      case Kind::AnchorMeiboscore: {
        size_t end = next;
        while (end < text.size() && !sentence_end_at(text, end)) ++end;
        struct Lid {
          GradeScale scale;
          std::array<const char*, 3> words;
        };
        static constexpr Lid lids[] = {{GradeScale::MeiboscoreUpper, {"upper", "上眼睑", "上睑"}},
                                       {GradeScale::MeiboscoreLower, {"lower", "下眼睑", "下睑"}}};
        size_t consumed = next;
        for (const auto& [scale, words] : lids)
          for (const char* word : words) {
            const size_t at = text.find(word, next);
            if (at == std::string::npos || at >= end) continue;
            const size_t value = skip_gap(text, at + std::char_traits<char>::length(word), {" ", ":", "：", "=", "-", "eyelid", "lid", "为"});
            const int d = digit_at(text, value, 0, 3);
            if (d < 0) continue;
            state(Kind::Level, static_cast<int>(scale), d);
            consumed = std::max(consumed, value + 1);
            break;
          }
        next = consumed;
        break;
      }
      case Kind::AnchorCupDisc: {
        const size_t at = skip_gap(text, next, {" ", ":", "：", "=", "(", ")", "（", "）", "(vertical)", "（垂直）", "vertical", "ratio",
                                                "of", "is", "为", "约", "≈", "~", "比"});
        size_t end = at;
        while (end < text.size() && is_digit(text[end])) ++end;
        if (end > at && end + 1 < text.size() && text[end] == '.' && is_digit(text[end + 1])) {
          ++end;
          while (end < text.size() && is_digit(text[end])) ++end;
        }
        if (end > at && !negated) {
          const double value = std::strtod(text.substr(at, end - at).c_str(), nullptr);
          if (value >= 0.0 && value <= 1.0) {
            for (Eye e : eyes) {
              x.vertical_cdr[e] = std::round(value * 100.0) / 100.0;
              x.stated_cdr[e].insert(x.vertical_cdr[e]);
            }
            for (Eye e : eyes) x.imaged[e].insert(Modality::Cfp);
            x.cdr_mentions.push_back({eyes, {pos, end}});
            next = end;
          }
        }
        break;
      }
    }
    pos = next;
  }
  end_sentence(text.size());
  return x;
}

// The labels of an extraction; `implied` (when given) receives the grades the fallback gave.
StudyLabels assemble(const Extraction& x, std::vector<std::pair<Eye, GradeScale>>* implied = nullptr) {
  std::map<Eye, EyeLabels> eyes;
  std::map<Eye, std::set<Finding>> findings;
  std::map<Eye, std::map<GradeScale, int>> grades;
  for (const auto& [eye, modalities] : x.imaged) eyes[eye].imaged.assign(modalities.begin(), modalities.end());
  for (const Statement& s : x.statements) {
    for (Eye e : s.eyes) {
      // Saying a lesion is absent still says the modality that would show it was read.
      eyes[e];
      const Modality m = s.kind == Kind::Finding ? finding_modality(static_cast<Finding>(s.a))
                                                 : grade_scale_info(static_cast<GradeScale>(s.a)).modality;
      if (std::find(eyes[e].imaged.begin(), eyes[e].imaged.end(), m) == eyes[e].imaged.end()) {
        eyes[e].imaged.push_back(m);
        std::sort(eyes[e].imaged.begin(), eyes[e].imaged.end());
      }
      if (s.negated) continue;
      if (s.kind == Kind::Finding) {
        findings[e].insert(static_cast<Finding>(s.a));
        continue;
      }
      const auto scale = static_cast<GradeScale>(s.a);
      auto [it, inserted] = grades[e].insert({scale, s.b});
      if (!inserted) it->second = grade_scale_info(scale).ordinal ? std::max(it->second, s.b) : s.b;
    }
  }
  StudyLabels labels;
  std::set<Eye> all;
  for (const auto& m : {x.imaged, x.ungradable})
    for (const auto& [e, unused] : m) all.insert(e);
  for (const auto& [e, unused] : eyes) all.insert(e);
  for (const auto& [e, unused] : findings) all.insert(e);
  for (const auto& [e, unused] : grades) all.insert(e);
  for (const auto& [e, unused] : x.vertical_cdr) all.insert(e);
  for (Eye e : all) {
    std::set<Modality> imaged(eyes[e].imaged.begin(), eyes[e].imaged.end());
    const std::set<Modality> ungradable = x.ungradable.count(e) ? x.ungradable.at(e) : std::set<Modality>{};
    for (Finding f : findings[e]) imaged.insert(finding_modality(f));
    for (const auto& [scale, level] : grades[e]) imaged.insert(grade_scale_info(scale).modality);
    auto gradable = [&](Modality m) { return imaged.count(m) && !ungradable.count(m); };
    EyeLabels eye;
    eye.imaged.assign(imaged.begin(), imaged.end());
    eye.ungradable.assign(ungradable.begin(), ungradable.end());
    for (Finding f : findings[e])
      if (gradable(finding_modality(f))) eye.findings.push_back(f);
    for (const auto& [scale, level] : grades[e])
      if (gradable(grade_scale_info(scale).modality)) eye.grades[scale] = level;
    if (x.vertical_cdr.count(e) && gradable(Modality::Cfp)) {
      eye.vertical_cdr = x.vertical_cdr.at(e);
      eye.grades[GradeScale::CupDisc] = cup_disc_level(*eye.vertical_cdr);
    }
    for (GradeScale scale : {GradeScale::Icdr, GradeScale::Areds, GradeScale::OctClass, GradeScale::OctAmd})
      if (gradable(grade_scale_info(scale).modality) && !eye.grades.count(scale)) {
        eye.grades[scale] = implied_level(scale, eye.findings);
        if (implied) implied->push_back({e, scale});
      }
    labels.eyes[e] = std::move(eye);
  }
  for (const auto& [named, referral] : x.referrals)
    for (auto& [e, eye] : labels.eyes)
      if (!named || named->count(e)) eye.referral = std::max(eye.referral, referral);
  return labels;
}

// The (eye, finding) pairs both a statement and a negated statement name.
std::vector<EyeFinding> contradictions(const Extraction& x) {
  std::set<std::pair<Eye, Finding>> stated, denied;
  for (const Statement& s : x.statements)
    if (s.kind == Kind::Finding)
      for (Eye e : s.eyes) (s.negated ? denied : stated).insert({e, static_cast<Finding>(s.a)});
  std::vector<EyeFinding> out;
  for (const auto& [eye, finding] : stated)
    if (denied.count({eye, finding})) out.push_back({eye, finding});
  return out;
}

// The eyes the report gives more than one vertical C/D value.
std::vector<Eye> cup_disc_conflicts(const Extraction& x) {
  std::vector<Eye> out;
  for (const auto& [eye, values] : x.stated_cdr)
    if (values.size() > 1) out.push_back(eye);
  return out;
}

// The eyes whose referral the report states (a sentence stating an urgency is about the eye)
// other than the one referral_for gives their labels.
std::vector<Eye> referral_conflicts(const Extraction& x, const StudyLabels& labels) {
  std::vector<Eye> out;
  for (const auto& [eye, read] : labels.eyes) {
    const auto about = [eye = eye](const auto& said) { return !said.first || said.first->count(eye); };
    if (std::any_of(x.referrals.begin(), x.referrals.end(), about) && read.referral != referral_for(read))
      out.push_back(eye);
  }
  return out;
}

// The eyes whose soonest stated follow-up interval is not follow_up_months of their labels.
std::vector<Eye> follow_up_conflicts(const Extraction& x, const StudyLabels& labels) {
  std::vector<Eye> out;
  for (const auto& [eye, read] : labels.eyes) {
    std::optional<int> follow_up;
    for (const auto& [about, months] : x.follow_ups)
      if (!about || about->count(eye)) follow_up = std::min(follow_up.value_or(months), months);
    if (follow_up && *follow_up != follow_up_months(read)) out.push_back(eye);
  }
  return out;
}

// Whether text[begin, end) holds any of `marks`.
bool gap_holds(const std::string& text, size_t begin, size_t end, std::initializer_list<const char*> marks) {
  const std::string_view gap(text.data() + begin, end - begin);
  return std::any_of(marks.begin(), marks.end(), [&gap](const char* mark) { return gap.find(mark) != std::string_view::npos; });
}

// Whether text[begin, end) holds a list separator or a sentence's end: two mentions it parts are
// two items of a list (or of a line), not one phrase ("intraretinal cysts with retinal thickening").
bool parts_items(const std::string& text, size_t begin, size_t end) {
  return gap_holds(text, begin, end,
                   {",", ";", ".", "\xEF\xBC\x8C", "\xE3\x80\x81", "\xEF\xBC\x9B", "\xE3\x80\x82", " and ",
                    "\xE5\x8F\x8A", "\xE5\x92\x8C", "\xE4\xB8\x8E"});  // ， 、 ； 。 及 和 与
}

// Each further mention of a finding an eye's statements already named in the same line, in
// another item of it (parts_items); a name and its synonym in brackets are one mention.
std::vector<EyeFinding> repetitions(const Extraction& x, const std::string& text) {
  std::map<std::pair<Eye, Finding>, size_t> last_end;  // where the last mention's words end, in this line
  std::vector<EyeFinding> out;
  size_t scanned = 0;  // statements come in text order; line breaks up to here are seen
  for (const Statement& s : x.statements) {
    if (s.begin > scanned) {
      if (text.find('\n', scanned) < s.begin) last_end.clear();  // a new line: mentions before it do not count
      scanned = s.begin;
    }
    if (s.kind != Kind::Finding || s.negated) continue;
    for (Eye e : s.eyes) {
      const auto key = std::make_pair(e, static_cast<Finding>(s.a));
      const auto seen = last_end.find(key);
      if (seen != last_end.end() && seen->second <= s.begin && parts_items(text, seen->second, s.begin))
        out.push_back({e, key.second});
      last_end[key] = s.end;
    }
  }
  std::sort(out.begin(), out.end(), [](const EyeFinding& a, const EyeFinding& b) {
    return std::make_pair(a.eye, a.finding) < std::make_pair(b.eye, b.finding);
  });
  return out;
}

// Each further statement of a grade an eye's statements already gave in the same line, in another
// item of it — a clause after ";" or a sentence after "." (a diagnosis and its scale, "severe
// NPDR, ICDR grade 3", "C/D 0.64 (early glaucomatous cupping)", are one item). A vertical C/D
// value states the cup_disc scale.
std::vector<std::pair<Eye, GradeScale>> grade_repetitions(const Extraction& x, const std::string& text) {
  struct Mention {
    size_t begin, end;
    GradeScale scale;
    const Eyes* eyes;
  };
  std::vector<Mention> mentions;
  for (const Statement& s : x.statements)
    if (s.kind == Kind::Level && !s.negated) mentions.push_back({s.begin, s.end, static_cast<GradeScale>(s.a), &s.eyes});
  for (const auto& [eyes, where] : x.cdr_mentions) mentions.push_back({where.first, where.second, GradeScale::CupDisc, &eyes});
  std::stable_sort(mentions.begin(), mentions.end(), [](const Mention& a, const Mention& b) { return a.begin < b.begin; });
  // Another item: a clause after ";" or "；", a sentence after ". " or "。".
  const auto parts_grades = [&text](size_t begin, size_t end) {
    return gap_holds(text, begin, end, {";", ". ", "\xEF\xBC\x9B", "\xE3\x80\x82"});  // ； 。
  };
  std::map<std::pair<Eye, GradeScale>, size_t> last_end;  // where the last mention's words end, in this line
  std::vector<std::pair<Eye, GradeScale>> out;
  size_t scanned = 0;
  for (const Mention& m : mentions) {
    if (m.begin > scanned) {
      if (text.find('\n', scanned) < m.begin) last_end.clear();  // a new line
      scanned = m.begin;
    }
    for (Eye e : *m.eyes) {
      const auto key = std::make_pair(e, m.scale);
      const auto seen = last_end.find(key);
      if (seen != last_end.end() && seen->second <= m.begin && parts_grades(seen->second, m.begin)) out.push_back(key);
      last_end[key] = std::max(m.end, seen == last_end.end() ? 0 : seen->second);
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

void check_language(std::string_view lang, const char* caller) {
  if (lang != "zh" && lang != "en" && lang != "auto")
    fail(ErrorCode::InvalidArgument, "{}: language '{}' is not supported, expected \"zh\", \"en\" or \"auto\"", caller, lang);
}

}  // namespace

StudyLabels extract_labels_from_text(std::string_view report, std::string_view lang) {
  check_language(lang, "extract_labels_from_text");
  return assemble(scan(normalise_for_matching(report)));
}

ReportReading read_report(std::string_view report, std::string_view lang) {
  check_language(lang, "read_report");
  const std::string text = normalise_for_matching(report);
  const Extraction x = scan(text);
  ReportReading reading;
  reading.contradictions = contradictions(x);
  reading.cup_disc_conflicts = cup_disc_conflicts(x);
  reading.repetitions = repetitions(x, text);
  reading.grade_repetitions = grade_repetitions(x, text);
  reading.labels = assemble(x, &reading.implied_grades);
  reading.referral_conflicts = referral_conflicts(x, reading.labels);
  reading.follow_up_conflicts = follow_up_conflicts(x, reading.labels);
  reading.recommended_eyes.assign(x.recommended.begin(), x.recommended.end());
  return reading;
}

bool opens_summary_section(std::string_view line) {
  const size_t first = line.find_first_not_of(" \t");
  if (first == std::string_view::npos) return false;
  const std::string text = normalise_for_matching(line.substr(first, 64));
  for (const char* header : kSectionHeaders) {
    const std::string_view h = header;
    if (text.compare(0, h.size(), h) != 0) continue;
    // An English heading is a whole word ("Plan:", not "Planar"); a Chinese one needs no boundary.
    if (!is_alnum(h.front()) || text.size() == h.size() || !is_alnum(text[h.size()])) return true;
  }
  return false;
}

}  // namespace ophtha
