// Reference reports and instrument lines from labels (report_writer.hpp).
#include "ophtha/report_writer.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "ophtha/error.hpp"
#include "ophtha/structured_report.hpp"
#include "report/phrasebook.hpp"
#include "report/wording.hpp"

namespace ophtha {

namespace {

using namespace report_detail;
using F = Finding;
using Strings = std::vector<std::string>;

constexpr Modality kModalities[] = {Modality::Cfp, Modality::Oct, Modality::Osa};

bool is_disc_finding(Finding f) { return f == F::EnlargedCup || f == F::RimThinning || f == F::DiscHaemorrhage; }

bool listed(const std::vector<Modality>& list, Modality m) { return std::find(list.begin(), list.end(), m) != list.end(); }

// What one eye's labels say about one modality: two eyes agree on a section when these are equal.
struct ModalityReading {
  bool imaged = false, ungradable = false;
  std::vector<Finding> findings;
  std::map<GradeScale, int> grades;
  std::optional<double> vertical_cdr;
  bool operator==(const ModalityReading& o) const {
    return imaged == o.imaged && ungradable == o.ungradable && findings == o.findings && grades == o.grades &&
           vertical_cdr == o.vertical_cdr;
  }
};

ModalityReading reading_of(const EyeLabels& eye, Modality m) {
  ModalityReading r;
  r.imaged = listed(eye.imaged, m);
  r.ungradable = listed(eye.ungradable, m);
  for (Finding f : eye.findings)
    if (finding_modality(f) == m) r.findings.push_back(f);
  for (const auto& [scale, level] : eye.grades)
    if (grade_scale_info(scale).modality == m) r.grades[scale] = level;
  if (m == Modality::Cfp) r.vertical_cdr = eye.vertical_cdr;
  return r;
}

int grade_of(const std::map<GradeScale, int>& grades, GradeScale scale) {
  const auto it = grades.find(scale);
  return it == grades.end() ? -1 : it->second;
}

void check_labels(const StudyLabels& labels) {
  for (const auto& [eye, e] : labels.eyes) {
    for (const auto& [scale, level] : e.grades)
      if (level < 0 || level >= grade_scale_info(scale).levels)
        fail(ErrorCode::InvalidArgument, "write_report: labels.{}.grades.{} is {}, expected a level 0..{}", eye_name(eye),
             grade_scale_info(scale).code, level, grade_scale_info(scale).levels - 1);
    if (e.vertical_cdr && !(*e.vertical_cdr >= 0.0 && *e.vertical_cdr <= 1.0))
      fail(ErrorCode::InvalidArgument, "write_report: labels.{}.vertical_cdr is {}, expected a ratio in [0, 1]", eye_name(eye),
           *e.vertical_cdr);
  }
}

EyeGroup group_of(Eye eye) { return eye == Eye::OD ? EyeGroup::OD : EyeGroup::OS; }

class Writer {
 public:
  Writer(Lang lang, Random& rng) : lang_(lang), rng_(rng) {}

  std::string report(const StudyLabels& labels) {
    Strings paragraphs;
    const std::string title = pick(en() ? Strings{"Ophthalmic imaging report", "Eye examination report", "", ""}
                                        : Strings{"眼科影像检查报告", "眼部影像报告", "", ""});
    if (!title.empty()) paragraphs.push_back(title);
    for (Modality m : kModalities)
      for (const auto& [group, eye] : groups(labels, [m](const EyeLabels& e) { return reading_of(e, m); }))
        if (listed(eye->imaged, m)) paragraphs.push_back(modality_section(*eye, group, m));
    paragraphs.push_back(impression(labels));
    paragraphs.push_back(recommendation(labels));
    std::string out;
    for (const auto& p : paragraphs) out += (out.empty() ? "" : "\n") + p;
    return out;
  }

  std::string instrument_line(const EyeLabels& labels, Eye eye, Modality m) {
    static const Strings en_names = {"CFP", "OCT", "OSA"};
    static const Strings zh_names = {"眼底彩照", "OCT", "睑板腺照相"};
    const size_t mi = static_cast<size_t>(m);
    std::string head = en() ? fmt::format("{} {}: ", en_names[mi], eye_name(eye))
                            : fmt::format("{} {}：", zh_names[mi], eye == Eye::OD ? "右眼" : "左眼");
    if (listed(labels.ungradable, m)) return head + (en() ? "quality poor, ungradable" : "图像质量差，无法分级");
    const ModalityReading r = reading_of(labels, m);
    Strings items;
    for (Finding f : r.findings) items.push_back(bare_name(f));
    if (items.empty()) items.push_back(en() ? "no abnormality detected" : "未见明显异常");
    if (r.vertical_cdr) items.push_back(fmt::format(en() ? "C/D {:.2f}" : "杯盘比 {:.2f}", *r.vertical_cdr));
    const int upper = grade_of(r.grades, GradeScale::MeiboscoreUpper), lower = grade_of(r.grades, GradeScale::MeiboscoreLower);
    if (upper >= 0 && lower >= 0)
      items.push_back(fmt::format(en() ? "meiboscore upper {} / lower {}" : "meiboscore 上睑{}分/下睑{}分", upper, lower));
    items.push_back(pick(en() ? Strings{"quality good", "quality adequate"} : Strings{"图像质量良好", "图像质量可"}));
    std::string out = head;
    for (size_t i = 0; i < items.size(); ++i) out += (i ? (en() ? "; " : "；") : "") + items[i];
    return out;
  }

 private:
  bool en() const { return lang_ == Lang::En; }

  // The plain name of a finding, for lists and negations: "pigment epithelial detachment (PED)".
  std::string bare_name(Finding f) const {
    std::string name = finding_phrases(f)[lang_].written.front();
    for (const char* article : {"a ", "an "})
      if (name.rfind(article, 0) == 0) name.erase(0, std::char_traits<char>::length(article));
    return name;
  }
  const std::string& pick(const Strings& forms) { return choose(forms, &rng_); }

  template <typename T>
  void shuffle(std::vector<T>& v) {
    for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[static_cast<size_t>(rng_.integer(0, static_cast<int64_t>(i) - 1))]);
  }

  // The eye groups of a section: OU when both eyes are present and `content` agrees, else each eye.
  template <typename Content>
  std::vector<std::pair<EyeGroup, const EyeLabels*>> groups(const StudyLabels& labels, Content content) {
    std::vector<std::pair<EyeGroup, const EyeLabels*>> out;
    if (labels.eyes.size() == 2 && content(labels.eyes.at(Eye::OD)) == content(labels.eyes.at(Eye::OS)))
      return {{EyeGroup::OU, &labels.eyes.at(Eye::OD)}};
    for (const auto& [eye, e] : labels.eyes) out.push_back({group_of(eye), &e});
    return out;
  }

  std::string eye_words(EyeGroup group) { return pick(eye_phrases(group)[lang_].written); }

  std::string abbreviation(EyeGroup group) {
    static const char* abbr[] = {"OD", "OS", "OU"};
    return abbr[static_cast<int>(group)];
  }

  std::string sentence(const std::string& text) { return en() ? capitalised(text) + "." : text + "。"; }

  std::string join_sentences(const Strings& sentences) {
    std::string out;
    for (const auto& s : sentences)
      if (!s.empty()) out += (out.empty() || !en() ? "" : " ") + s;
    return out;
  }

  std::string section_header(EyeGroup group, Modality m) {
    const std::string modality = pick(modality_phrases(m)[lang_].written);
    const std::string eye = eye_words(group);
    if (en()) {
      switch (rng_.integer(0, 2)) {
        case 0: return fmt::format("{}, {}: ", modality, eye);
        case 1: return fmt::format("{} — {}: ", capitalised(eye), modality_in_text(m, lang_, &rng_));
        default: return fmt::format("{} {}: ", abbreviation(group), modality);
      }
    }
    switch (rng_.integer(0, 2)) {
      case 0: return fmt::format("{}{}：", eye, modality);
      case 1: return fmt::format("{}（{}）：", modality, eye_phrases(group)[lang_].written.front());
      default: return fmt::format("{}{}检查：", eye, modality);
    }
  }

  // A location for a finding, or "" (the labels do not record locations: these are wording only).
  std::string location(Finding f, int icdr) {
    if (en()) {
      switch (f) {
        case F::Microaneurysms: return pick({"at the posterior pole", "temporal to the fovea", "in the macular area", "", ""});
        case F::DotBlotHaemorrhages:
          if (icdr >= 3 && rng_.chance(0.6)) return "in all four quadrants";
          return pick({"in the superotemporal quadrant", "in the inferotemporal quadrant", "around the arcades", "", ""});
        case F::FlameHaemorrhages: return pick({"along the arcades", "", ""});
        case F::HardExudates: return pick({"near the fovea", "in a circinate pattern at the macula", "at the posterior pole", ""});
        case F::CottonWoolSpots: return pick({"along the superior arcade", "", ""});
        case F::Irma: return pick({"in the inferotemporal quadrant", ""});
        case F::SmallDrusen: case F::MediumDrusen: case F::LargeDrusen:
          return pick({"at the macula", "within two disc diameters of the fovea", "", ""});
        case F::PigmentaryChange: return pick({"at the macula", ""});
        case F::GeographicAtrophy: return pick({"involving the fovea", "at the macula", ""});
        case F::OctDrusen: case F::PigmentEpithelialDetachment: case F::ChoroidalNeovascularisation:
          return pick({"beneath the fovea", "in the parafoveal region", "", ""});
        case F::SubretinalFluid: return pick({"beneath the fovea", "in the macula", ""});
        case F::IntraretinalFluid: return pick({"in the inner nuclear layer", "at the fovea", ""});
        default: return "";
      }
    }
    switch (f) {
      case F::Microaneurysms: return pick({"后极部", "黄斑区", "黄斑颞侧", "", ""});
      case F::DotBlotHaemorrhages:
        if (icdr >= 3 && rng_.chance(0.6)) return "四个象限内";
        return pick({"颞上象限", "颞下象限", "血管弓附近", "", ""});
      case F::FlameHaemorrhages: return pick({"血管弓旁", "", ""});
      case F::HardExudates: return pick({"黄斑区", "中心凹附近", "后极部", ""});
      case F::CottonWoolSpots: return pick({"上方血管弓旁", "", ""});
      case F::Irma: return pick({"颞下象限", ""});
      case F::SmallDrusen: case F::MediumDrusen: case F::LargeDrusen: case F::PigmentaryChange: return pick({"黄斑区", "", ""});
      case F::GeographicAtrophy: return pick({"累及黄斑中心凹的", "黄斑区", ""});
      case F::OctDrusen: case F::PigmentEpithelialDetachment: case F::ChoroidalNeovascularisation: case F::SubretinalFluid:
      case F::IntraretinalFluid:
        return pick({"中心凹下", "黄斑区", "", ""});
      default: return "";
    }
  }

  std::string finding_words(Finding f, int icdr) {
    const std::string name = pick(finding_phrases(f)[lang_].written);
    const std::string where = location(f, icdr);
    if (where.empty()) return name;
    return en() ? name + " " + where : where + name;
  }

  // Positive findings as one list sentence or one sentence each.
  Strings positive_sentences(const Strings& items) {
    if (items.empty()) return {};
    if (items.size() > 1 && rng_.chance(0.25)) {
      Strings out;
      for (const auto& item : items) out.push_back(sentence(item));
      return out;
    }
    const std::string list = join_list(items, lang_);
    if (en()) {
      switch (rng_.integer(0, 2)) {
        case 0: return {sentence(list)};
        case 1: return {sentence("findings include " + list)};
        default: return {sentence(list + " noted")};
      }
    }
    return {sentence(pick({"可见", "见", ""}) + list)};
  }

  // "No a, b or c." for up to three absent findings of `candidates` (sometimes nothing).
  std::string negative_sentence(const std::vector<Finding>& candidates, const std::vector<Finding>& present, double p) {
    std::vector<Finding> absent;
    for (Finding f : candidates)
      if (std::find(present.begin(), present.end(), f) == present.end()) absent.push_back(f);
    if (absent.empty() || !rng_.chance(p)) return "";
    shuffle(absent);
    absent.resize(static_cast<size_t>(rng_.integer(1, std::min<int64_t>(3, static_cast<int64_t>(absent.size())))));
    std::sort(absent.begin(), absent.end());
    Strings names;
    for (Finding f : absent) names.push_back(bare_name(f));
    if (en()) {
      const std::string list = join_list(names, lang_, "or");
      return fmt::format(fmt::runtime(pick({"No {}.", "No {} seen.", "There is no evidence of {}."})), list);
    }
    return fmt::format(fmt::runtime(pick({"未见{}。", "无{}。", "未见明显{}。"})), join_list(names, lang_));
  }

  std::string modality_section(const EyeLabels& eye, EyeGroup group, Modality m) {
    const std::string header = section_header(group, m);
    if (listed(eye.ungradable, m)) {
      const std::string text = en() ? pick({"image ungradable (media opacity); repeat imaging recommended.",
                                            "poor image quality, ungradable; please repeat the examination.",
                                            "the image cannot be graded (motion artefact); repeat imaging."})
                                    : pick({"图像质量差，无法分级，建议重新拍摄。", "屈光介质混浊，图像无法评估，建议复查。",
                                            "图像模糊，不可分级，建议重新采集图像。"});
      return header + text;
    }
    const ModalityReading r = reading_of(eye, m);
    Strings sentences;
    sentences.push_back(pick(en() ? Strings{"Image quality good.", "Good image quality.", "Adequate image quality.", ""}
                                  : Strings{"图像质量良好。", "图像清晰，质量可。", "图像质量满意。", ""}));
    switch (m) {
      case Modality::Cfp: cfp_body(r, sentences); break;
      case Modality::Oct: oct_body(r, sentences); break;
      case Modality::Osa: osa_body(r, sentences); break;
    }
    return header + join_sentences(sentences);
  }

  void cfp_body(const ModalityReading& r, Strings& out) {
    const int icdr = grade_of(r.grades, GradeScale::Icdr);
    Strings retina, disc;
    std::vector<Finding> order = r.findings;
    shuffle(order);
    for (Finding f : order) (is_disc_finding(f) ? disc : retina).push_back(finding_words(f, icdr));
    const Strings positives = positive_sentences(retina);
    out.insert(out.end(), positives.begin(), positives.end());
    const std::string negatives = negative_sentence(
        {F::Microaneurysms, F::DotBlotHaemorrhages, F::HardExudates, F::CottonWoolSpots, F::VenousBeading, F::Irma,
         F::Neovascularisation, F::VitreousHaemorrhage, F::GeographicAtrophy},
        r.findings, retina.empty() ? 0.7 : 0.45);
    if (!negatives.empty()) out.push_back(negatives);
    else if (retina.empty())
      out.push_back(pick(en() ? Strings{"The retina appears normal.", "No retinal lesions are seen.",
                                        "Macula and retinal vessels unremarkable."}
                              : Strings{"视网膜未见明显异常。", "黄斑区及视网膜血管未见异常。", "眼底未见明显病变。"}));
    if (!r.vertical_cdr) return;
    const std::string v = fmt::format("{:.2f}", *r.vertical_cdr);
    if (en()) {
      const std::string with = disc.empty() ? pick({", rim intact", ", healthy neuroretinal rim", ""}) : ", with " + join_list(disc, lang_);
      switch (rng_.integer(0, disc.empty() ? 1 : 2)) {
        case 0: out.push_back(fmt::format("Optic disc: vertical C/D {}{}.", v, with)); break;
        case 1: out.push_back(fmt::format("Vertical cup-to-disc ratio {}{}.", v, with)); break;
        default: out.push_back(fmt::format("The optic disc shows {}; C/D ratio (vertical) {}.", join_list(disc, lang_), v));
      }
      return;
    }
    const std::string with = disc.empty() ? pick({"，盘沿完整", ""}) : "，" + join_list(disc, lang_);
    switch (rng_.integer(0, 2)) {
      case 0: out.push_back(fmt::format("视盘边界清，垂直杯盘比{}{}。", v, with)); break;
      case 1: out.push_back(fmt::format("垂直杯盘比{}{}。", v, with)); break;
      default: out.push_back(fmt::format("视盘：C/D {}{}。", v, with));
    }
  }

  void oct_body(const ModalityReading& r, Strings& out) {
    Strings items;
    std::vector<Finding> order = r.findings;
    shuffle(order);
    for (Finding f : order) items.push_back(finding_words(f, -1));
    if (items.empty()) {
      out.push_back(pick(en() ? Strings{"Foveal contour preserved, retinal layers intact, no fluid.",
                                        "Normal foveal profile without fluid or RPE elevation."}
                              : Strings{"黄斑中心凹形态正常，视网膜各层结构完整，未见积液。", "黄斑区结构正常，未见视网膜下液及视网膜内液。"}));
      return;
    }
    const Strings positives = positive_sentences(items);
    out.insert(out.end(), positives.begin(), positives.end());
    const std::string negatives = negative_sentence(
        {F::SubretinalFluid, F::IntraretinalFluid, F::PigmentEpithelialDetachment, F::ChoroidalNeovascularisation}, r.findings, 0.4);
    if (!negatives.empty()) out.push_back(negatives);
  }

  void osa_body(const ModalityReading& r, Strings& out) {
    const int upper = grade_of(r.grades, GradeScale::MeiboscoreUpper), lower = grade_of(r.grades, GradeScale::MeiboscoreLower);
    Strings items;
    std::vector<Finding> order = r.findings;
    shuffle(order);
    for (Finding f : order) {
      std::string words = pick(finding_phrases(f)[lang_].written);
      if (f == F::GlandDropout && upper >= 0 && lower >= 0) {
        const int lids = (upper > 0 ? 1 : 0) + (lower > 0 ? 2 : 0);
        static const char* en_lids[] = {"", " in the upper lid", " in the lower lid", " in both lids"};
        static const char* zh_lids[] = {"", "上睑", "下睑", "上下睑"};
        words = en() ? words + en_lids[lids] : zh_lids[lids] + words;
      }
      items.push_back(words);
    }
    if (items.empty())
      out.push_back(pick(en() ? Strings{"Gland ducts straight and uniformly dense; no obvious gland loss or duct blockage.",
                                        "Meibomian glands regular and evenly distributed, without dropout."}
                              : Strings{"睑板腺导管走行平直、分布均匀致密，未见明显腺体缺失及导管阻塞。", "睑板腺排列规则，分布均匀，未见腺体缺失。"}));
    else {
      const Strings positives = positive_sentences(items);
      out.insert(out.end(), positives.begin(), positives.end());
    }
    if (upper < 0 || lower < 0) return;
    out.push_back(fmt::format(fmt::runtime(en() ? pick({"Meiboscore upper {0} / lower {1}.", "Arita meiboscore: upper lid {0}, lower lid {1} (total {2}/6).",
                                                        "Meiboscore: upper {0}, lower {1}."})
                                                : pick({"睑板腺缺失评分（meiboscore）：上睑{0}分，下睑{1}分。", "meiboscore：上睑{0}分/下睑{1}分（总分{2}分）。"})),
                              upper, lower, upper + lower));
  }

  // ---- impression ----

  Strings diagnoses(const EyeLabels& eye) {
    Strings items;
    for (Modality m : eye.ungradable) {
      const std::string name = modality_in_text(m, lang_, &rng_);
      items.push_back(en() ? name + " ungradable" : name + "图像无法分级");
    }
    Strings graded;
    const int icdr = grade_of(eye.grades, GradeScale::Icdr);
    if (icdr >= 0) {
      const Phrases& names = level_phrases(GradeScale::Icdr, icdr)[lang_];
      const std::string name = names.written.front();
      const std::string brief = en() ? grade_scale_info(GradeScale::Icdr).level_names[icdr] : icdr == 0 ? "0级" : names.written.back();
      graded.push_back(fmt::format(fmt::runtime(en() ? pick({"{0} (ICDR {1})", "ICDR grade {2} ({1})", "ICDR {1}", "{0}, ICDR grade {2}"})
                                                     : pick({"{0}（ICDR {1}）", "ICDR {2}级（{0}）", "{0}（ICDR分级：{2}级）"})),
                                   name, brief, icdr));
    }
    const int areds = grade_of(eye.grades, GradeScale::Areds);
    if (areds >= 0) {
      const Phrases& names = level_phrases(GradeScale::Areds, areds)[lang_];
      graded.push_back(fmt::format(fmt::runtime(en() ? pick({"{0} (AREDS category {2})", "AREDS category {2} ({1})", "AREDS category {2}"})
                                                     : pick({"{0}（AREDS {2}级）", "AREDS分级{2}级（{1}）", "AREDS {2}级"})),
                                   names.written.front(), names.written[1], areds + 1));
    }
    if (eye.vertical_cdr) {
      const std::string v = fmt::format("{:.2f}", *eye.vertical_cdr);
      const std::string cup = pick(level_phrases(GradeScale::CupDisc, cup_disc_level(*eye.vertical_cdr))[lang_].written);
      graded.push_back(fmt::format(fmt::runtime(en() ? pick({"vertical C/D {0} ({1})", "{1}, vertical C/D {0}", "vertical C/D {0}"})
                                                     : pick({"垂直杯盘比{0}（{1}）", "{1}，垂直杯盘比{0}", "杯盘比{0}"})),
                                   v, cup));
    }
    const int oct = grade_of(eye.grades, GradeScale::OctClass);
    if (oct >= 0) {
      const std::string name = pick(oct_class_phrases(oct)[lang_].written);
      graded.push_back(fmt::format(fmt::runtime(en() ? pick({"OCT: Kermany class {}", "Kermany class {} on OCT", "OCT class {} (Kermany)"})
                                                     : pick({"OCT分型（Kermany）：{}", "OCT：Kermany分类{}"})),
                                   name));
    }
    const int amd = grade_of(eye.grades, GradeScale::OctAmd);
    if (amd >= 0) {  // always after its anchor: the stage words overlap the AREDS diagnosis names
      const std::string name = pick(oct_amd_phrases(amd)[lang_].written);
      graded.push_back(fmt::format(fmt::runtime(en() ? pick({"OCT AMD stage: {}", "AMD stage on OCT: {}"})
                                                     : pick({"OCT AMD分期：{}", "OCT年龄相关性黄斑变性分期：{}"})),
                                   name));
    }
    const int upper = grade_of(eye.grades, GradeScale::MeiboscoreUpper), lower = grade_of(eye.grades, GradeScale::MeiboscoreLower);
    if (upper >= 0 && lower >= 0) {
      std::string item = fmt::format(fmt::runtime(en() ? pick({"meiboscore upper {} / lower {}", "Arita meiboscore upper lid {}, lower lid {}"})
                                                       : pick({"睑板腺缺失评分：上睑{}分，下睑{}分", "meiboscore 上睑{}分/下睑{}分"})),
                                     upper, lower);
      if (upper + lower >= 3) item += en() ? " (meibomian gland dysfunction)" : "（睑板腺功能障碍）";
      graded.push_back(item);
    }
    shuffle(graded);
    items.insert(items.end(), graded.begin(), graded.end());
    return items;
  }

  std::string impression(const StudyLabels& labels) {
    std::string out = pick(en() ? Strings{"Impression: ", "Diagnosis: ", "Assessment: ", "Conclusion: "}
                                : Strings{"诊断：", "印象：", "诊断意见：", "结论："});
    auto content = [](const EyeLabels& e) { return std::make_tuple(e.imaged, e.ungradable, e.grades, e.vertical_cdr); };
    Strings parts;
    for (const auto& [group, eye] : groups(labels, content)) {
      Strings items = diagnoses(*eye);
      if (items.empty()) items.push_back(en() ? "no gradable image" : "无可分级图像");
      const std::string eye_name_text = en() ? capitalised(eye_words(group)) : eye_words(group);
      parts.push_back(en() ? fmt::format("{}: {}.", eye_name_text, fmt::join(items, "; "))
                           : fmt::format("{}：{}。", eye_name_text, fmt::join(items, "；")));
    }
    return out + fmt::format("{}", fmt::join(parts, en() ? " " : ""));
  }

  std::string recommendation(const StudyLabels& labels) {
    std::string out = pick(en() ? Strings{"Recommendation: ", "Plan: ", "Recommendations: "} : Strings{"建议：", "处理意见：", "随访建议："});
    auto content = [](const EyeLabels& e) { return std::make_tuple(e.referral, follow_up_months(e), e.ungradable); };
    const auto eye_groups = groups(labels, content);
    const bool name_eyes = eye_groups.size() > 1 || rng_.chance(0.7);
    Strings parts;
    for (const auto& [group, eye] : eye_groups) {
      const std::string text = recommendation_text(*eye, lang_, &rng_);
      if (!name_eyes) parts.push_back(en() ? capitalised(text) : text);
      else parts.push_back(en() ? fmt::format("{}: {}", capitalised(eye_words(group)), text) : fmt::format("{}：{}", eye_words(group), text));
    }
    return out + fmt::format("{}", fmt::join(parts, en() ? " " : ""));
  }

  Lang lang_;
  Random& rng_;
};

}  // namespace

std::string write_report(const StudyLabels& labels, std::string_view lang, Random& rng) {
  const Lang l = parse_lang(lang, "write_report");
  check_labels(labels);
  return Writer(l, rng).report(labels);
}

std::string finding_phrase(Finding finding, std::string_view lang) {
  return finding_phrases(finding)[parse_lang(lang, "finding_phrase")].written.front();
}

std::string write_instrument_findings(const EyeLabels& labels, Eye eye, Modality modality, std::string_view lang, Random& rng) {
  if (!listed(labels.imaged, modality)) {
    std::string imaged;
    for (Modality m : labels.imaged) imaged += (imaged.empty() ? "" : ", ") + std::string(modality_name(m));
    fail(ErrorCode::InvalidArgument, "write_instrument_findings: {} has no {} image (imaged: {}), expected one of its imaged modalities",
         eye_name(eye), modality_name(modality), imaged.empty() ? "none" : imaged);
  }
  return Writer(parse_lang(lang, "write_instrument_findings"), rng).instrument_line(labels, eye, modality);
}

}  // namespace ophtha
