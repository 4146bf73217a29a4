// The phrase tables of phrasebook.hpp.
#include "report/phrasebook.hpp"

#include <array>

#include "ophtha/error.hpp"

namespace ophtha::report_detail {

namespace {

using List = std::vector<std::string>;

Bilingual entry(List en_written, List en_recognised, List zh_written, List zh_recognised) {
  return Bilingual{{std::move(en_written), std::move(en_recognised)}, {std::move(zh_written), std::move(zh_recognised)}};
}

const std::array<Bilingual, kFindingCount>& finding_table() {
  static const std::array<Bilingual, kFindingCount> table = {
      // Microaneurysms
      entry({"microaneurysms", "scattered microaneurysms", "a few microaneurysms", "multiple microaneurysms"},
            {"microaneurysm", "micro-aneurysm"},
            {"微动脉瘤", "散在微动脉瘤", "少量微血管瘤", "多个微动脉瘤"}, {"微动脉瘤", "微血管瘤"}),
      // DotBlotHaemorrhages
      entry({"dot-blot haemorrhages", "dot and blot haemorrhages", "intraretinal haemorrhages", "blot haemorrhages"},
            {"dot-blot hemorrhage", "dot and blot hemorrhage", "dot/blot hemorrhage", "blot hemorrhage", "dot hemorrhage",
             "intraretinal hemorrhage", "retinal hemorrhage", "hemorrhage", "bleeding"},
            {"点片状出血", "点状及斑状出血", "视网膜内点片状出血", "斑点状出血"},
            {"点片状出血", "点状出血", "斑状出血", "片状出血", "点状及斑状出血", "斑点状出血", "视网膜出血", "视网膜内出血", "出血"}),
      // FlameHaemorrhages
      entry({"flame-shaped haemorrhages", "flame haemorrhages", "superficial flame-shaped haemorrhages"},
            {"flame-shaped hemorrhage", "flame shaped hemorrhage", "flame hemorrhage"},
            {"火焰状出血", "浅层火焰状出血"}, {"火焰状出血", "火焰样出血"}),
      // HardExudates
      entry({"hard exudates", "scattered hard exudates", "yellow hard exudates"},
            {"hard exudate", "lipid exudate", "exudate"},
            {"硬性渗出", "黄白色硬性渗出", "散在硬性渗出"}, {"硬性渗出", "硬渗", "渗出"}),
      // CottonWoolSpots
      entry({"cotton-wool spots", "cotton wool spots", "soft exudates (cotton-wool spots)"},
            {"cotton-wool spot", "cotton wool spot", "soft exudate", "cws"},
            {"棉絮斑", "棉絮状斑", "软性渗出（棉絮斑）"}, {"棉絮斑", "棉絮状斑", "棉绒斑", "软性渗出"}),
      // VenousBeading
      entry({"venous beading", "beading of the retinal veins", "venous beading in two quadrants"},
            {"venous beading", "beading of the retinal vein", "beading of the vein", "beaded vein"},
            {"静脉串珠", "静脉串珠样改变"}, {"静脉串珠", "静脉呈串珠"}),
      // Irma
      entry({"IRMA", "intraretinal microvascular abnormalities", "intraretinal microvascular abnormalities (IRMA)"},
            {"irma", "intraretinal microvascular abnormalities", "intraretinal microvascular abnormality"},
            {"视网膜内微血管异常", "视网膜内微血管异常（IRMA）", "IRMA"}, {"视网膜内微血管异常", "irma"}),
      // Neovascularisation
      entry({"neovascularisation", "new vessels at the disc (NVD)", "new vessels elsewhere (NVE)", "neovascularisation of the disc"},
            {"neovascularization", "new vessel", "nvd", "nve"},
            {"新生血管", "视盘新生血管（NVD）", "视网膜新生血管（NVE）"}, {"新生血管", "nvd", "nve"}),
      // VitreousHaemorrhage
      entry({"vitreous haemorrhage", "preretinal haemorrhage", "vitreous/preretinal haemorrhage"},
            {"vitreous hemorrhage", "preretinal hemorrhage", "pre-retinal hemorrhage", "vitreous/preretinal hemorrhage",
             "subhyaloid hemorrhage"},
            {"玻璃体积血", "视网膜前出血"}, {"玻璃体积血", "玻璃体出血", "视网膜前出血"}),
      // SmallDrusen
      entry({"small drusen (<63 µm)", "a few small hard drusen", "small drusen"},
            {"small drusen", "small hard drusen", "hard drusen", "drupelet"},
            {"小玻璃膜疣（<63μm）", "少量小玻璃膜疣", "硬性玻璃膜疣"}, {"小玻璃膜疣", "小的玻璃膜疣", "硬性玻璃膜疣"}),
      // MediumDrusen
      entry({"medium-sized drusen (63–125 µm)", "intermediate-size drusen", "medium drusen"},
            {"medium-sized drusen", "medium sized drusen", "medium drusen", "intermediate-size drusen",
             "intermediate-sized drusen", "intermediate size drusen"},
            {"中等大小玻璃膜疣（63–125μm）", "中等大小的玻璃膜疣", "中玻璃膜疣"},
            {"中等大小玻璃膜疣", "中等大小的玻璃膜疣", "中玻璃膜疣", "中等玻璃膜疣"}),
      // LargeDrusen
      entry({"large drusen (≥125 µm)", "large soft drusen", "confluent large drusen"},
            {"large drusen", "large soft drusen", "soft drusen", "confluent large drusen", "confluent drusen"},
            {"大玻璃膜疣（≥125μm）", "大的软性玻璃膜疣", "融合性大玻璃膜疣"},
            {"大玻璃膜疣", "大的玻璃膜疣", "大的软性玻璃膜疣", "软性玻璃膜疣", "融合性大玻璃膜疣", "融合性玻璃膜疣"}),
      // PigmentaryChange
      entry({"pigmentary changes", "RPE pigment clumping", "focal hyperpigmentation"},
            {"pigmentary change", "pigment change", "pigment clumping", "pigmentary abnormality", "pigmentary abnormalities",
             "pigmentary alteration", "hyperpigmentation", "hypopigmentation"},
            {"色素改变", "色素紊乱", "局灶性色素沉着"}, {"色素改变", "色素紊乱", "色素沉着", "色素脱失", "色素异常"}),
      // GeographicAtrophy
      entry({"geographic atrophy", "geographic atrophy (GA)", "an area of geographic atrophy"},
            {"geographic atrophy"},
            {"地图样萎缩", "地图状萎缩"}, {"地图样萎缩", "地图状萎缩"}),
      // EnlargedCup
      entry({"an enlarged cup", "an enlarged optic cup", "increased cupping"},
            {"enlarged cup", "enlarged optic cup", "increased cupping", "cup enlargement", "enlarged cupping"},
            {"视杯扩大", "杯凹扩大"}, {"视杯扩大", "杯凹扩大", "视杯增大"}),
      // RimThinning
      entry({"neuroretinal rim thinning", "thinning of the neuroretinal rim", "inferior rim thinning", "rim notching"},
            {"rim thinning", "neuroretinal rim thinning", "thinning of the neuroretinal rim", "thinning of the rim",
             "rim notching", "notching of the rim"},
            {"盘沿变窄", "盘沿变薄", "下方盘沿变窄"}, {"盘沿变窄", "盘沿变薄", "盘沿切迹", "盘沿窄"}),
      // DiscHaemorrhage
      entry({"a disc haemorrhage", "a splinter haemorrhage at the disc margin", "a peripapillary disc haemorrhage"},
            {"disc hemorrhage", "optic disc hemorrhage", "splinter hemorrhage", "drance hemorrhage", "peripapillary hemorrhage"},
            {"视盘出血", "视盘旁线状出血", "视盘边缘出血"}, {"视盘出血", "视盘旁线状出血", "视盘旁出血", "视盘边缘出血", "视盘线状出血"}),
      // OctDrusen — "drusen" without a size is read as OCT drusen inside an OCT section
      entry({"drusen (RPE elevations)", "small RPE elevations consistent with drusen", "drusenoid RPE elevations"},
            {"rpe elevation"},
            {"RPE层多发小隆起（玻璃膜疣）", "玻璃膜疣样RPE隆起", "RPE隆起（玻璃膜疣）"}, {"rpe隆起", "rpe层隆起", "rpe层多发小隆起"}),
      // PigmentEpithelialDetachment
      entry({"a pigment epithelial detachment (PED)", "a dome-shaped PED", "a serous pigment epithelial detachment"},
            {"pigment epithelial detachment", "pigment epithelium detachment", "retinal pigment epithelial detachment",
             "ped", "rpe detachment"},
            {"色素上皮脱离（PED）", "圆顶状色素上皮脱离", "RPE脱离"}, {"色素上皮脱离", "色素上皮层脱离", "rpe脱离", "ped"}),
      // SubretinalFluid
      entry({"subretinal fluid", "subretinal fluid (SRF)", "a pocket of subretinal fluid"},
            {"subretinal fluid", "srf", "serous retinal detachment", "neurosensory detachment"},
            {"视网膜下液", "视网膜下积液", "神经上皮层浆液性脱离"},
            {"视网膜下液", "视网膜下积液", "神经上皮层浆液性脱离", "神经上皮脱离", "srf"}),
      // IntraretinalFluid
      entry({"intraretinal fluid", "intraretinal cystoid spaces", "cystoid macular oedema", "intraretinal cysts with retinal thickening"},
            {"intraretinal fluid", "intraretinal cyst", "intraretinal cystoid space", "cystoid space", "cystoid macular edema",
             "cystoid edema", "macular edema", "retinal thickening", "irf"},
            {"视网膜内液", "视网膜层间囊样水肿", "黄斑囊样水肿", "视网膜内囊腔伴视网膜增厚"},
            {"视网膜内液", "视网膜内积液", "囊样水肿", "视网膜层间囊样水肿", "黄斑囊样水肿", "视网膜内囊腔", "层间积液",
             "黄斑水肿", "视网膜增厚", "irf"}),
      // ChoroidalNeovascularisation
      entry({"choroidal neovascularisation (CNV)", "a choroidal neovascular membrane",
             "subretinal hyperreflective material consistent with CNV"},
            {"choroidal neovascularization", "choroidal neovascular membrane", "neovascular membrane", "cnv"},
            {"脉络膜新生血管（CNV）", "脉络膜新生血管膜", "视网膜下高反射病灶（CNV）"}, {"脉络膜新生血管", "cnv"}),
      // GlandDropout
      entry({"gland dropout", "meibomian gland loss", "areas of gland dropout"},
            {"gland dropout", "gland drop-out", "gland loss", "meibomian gland dropout", "meibomian gland loss",
             "gland atrophy", "loss of glands", "dropout"},
            {"睑板腺缺失", "腺体缺失", "睑板腺萎缩"}, {"睑板腺缺失", "腺体缺失", "睑板腺萎缩", "腺体萎缩", "腺体缺如", "睑板腺缺如"}),
      // TortuousGlands
      entry({"tortuous glands", "gland tortuosity", "distorted glands"},
            {"tortuous gland", "gland tortuosity", "distorted gland", "gland distortion", "tortuosity"},
            {"腺体迂曲", "腺体扭曲", "腺体迂曲变形"}, {"腺体迂曲", "腺体扭曲", "腺体迂曲变形"}),
      // ShortenedGlands
      entry({"shortened glands", "truncated glands", "gland shortening"},
            {"shortened gland", "truncated gland", "gland shortening", "short gland"},
            {"腺体缩短", "腺体短缩", "腺体变短"}, {"腺体缩短", "腺体短缩", "腺体变短"}),
      // GhostGlands
      entry({"ghost glands", "faint ghost glands"}, {"ghost gland"},
            {"幽灵腺体", "腺体显影浅淡（幽灵腺体）"}, {"幽灵腺体", "影子腺体", "腺体显影浅淡"}),
  };
  return table;
}

}  // namespace

Lang parse_lang(std::string_view lang, const char* where) {
  if (lang == "en") return Lang::En;
  if (lang == "zh") return Lang::Zh;
  fail(ErrorCode::InvalidArgument, "{}: language '{}' is not supported, expected \"zh\" or \"en\"", where, lang);
}

const Bilingual& finding_phrases(Finding finding) { return finding_table().at(static_cast<size_t>(finding)); }

const Bilingual& modality_phrases(Modality modality) {
  static const std::array<Bilingual, 3> table = {
      entry({"Colour fundus photograph", "Colour fundus photography (CFP)", "Fundus photograph", "CFP"},
            {"color fundus photograph", "color fundus photography", "color fundus photo", "fundus photograph",
             "fundus photography", "fundus photo", "fundus image", "cfp"},
            {"眼底彩照", "彩色眼底照相", "眼底照相"}, {"眼底彩照", "彩色眼底照相", "彩色眼底照片", "眼底照相", "眼底照片", "cfp"}),
      entry({"OCT", "Optical coherence tomography (OCT)", "OCT B-scan", "Macular OCT"},
            {"oct", "optical coherence tomography", "oct b-scan"},
            {"OCT", "光学相干断层扫描（OCT）", "黄斑区OCT"}, {"oct", "光学相干断层扫描", "光学相干断层成像"}),
      entry({"Meibography", "Ocular surface analyser (meibography)", "Infrared meibography", "OSA meibography"},
            {"meibography", "meibograph", "ocular surface analyser", "ocular surface analyzer", "osa"},
            {"睑板腺照相", "眼表分析仪睑板腺成像", "睑板腺红外成像"},
            {"睑板腺照相", "眼表分析仪", "睑板腺红外成像", "睑板腺成像", "眼表综合分析", "osa"}),
  };
  return table.at(static_cast<size_t>(modality));
}

const Bilingual& eye_phrases(EyeGroup group) {
  static const std::array<Bilingual, 3> table = {
      entry({"right eye (OD)", "OD", "right eye"}, {"right eye", "od", "oculus dexter"},
            {"右眼", "右眼（OD）"}, {"右眼", "od"}),
      entry({"left eye (OS)", "OS", "left eye"}, {"left eye", "os", "oculus sinister"},
            {"左眼", "左眼（OS）"}, {"左眼", "os"}),
      entry({"both eyes (OU)", "OU", "both eyes"}, {"both eyes", "ou", "bilateral", "bilaterally", "right and left eyes", "each eye"},
            {"双眼", "双眼（OU）"}, {"双眼", "ou", "双侧", "两眼", "左右眼"}),
  };
  return table.at(static_cast<size_t>(group));
}

const Bilingual& level_phrases(GradeScale scale, int level) {
  static const std::array<Bilingual, 5> icdr = {
      entry({"no apparent diabetic retinopathy", "no diabetic retinopathy"},
            {"no apparent diabetic retinopathy", "no apparent dr", "no diabetic retinopathy", "no dr",
             "no evidence of diabetic retinopathy", "no signs of diabetic retinopathy"},
            {"无明显糖尿病视网膜病变", "未见糖尿病视网膜病变"},
            {"无明显糖尿病视网膜病变", "未见糖尿病视网膜病变", "无糖尿病视网膜病变", "未见明显糖尿病视网膜病变", "无明显dr"}),
      entry({"mild non-proliferative diabetic retinopathy", "mild NPDR"},
            {"mild non-proliferative diabetic retinopathy", "mild nonproliferative diabetic retinopathy", "mild npdr",
             "mild diabetic retinopathy"},
            {"轻度非增殖期糖尿病视网膜病变", "轻度NPDR"}, {"轻度非增殖期糖尿病视网膜病变", "轻度非增殖性糖尿病视网膜病变", "轻度npdr"}),
      entry({"moderate non-proliferative diabetic retinopathy", "moderate NPDR"},
            {"moderate non-proliferative diabetic retinopathy", "moderate nonproliferative diabetic retinopathy",
             "moderate npdr", "moderate diabetic retinopathy"},
            {"中度非增殖期糖尿病视网膜病变", "中度NPDR"}, {"中度非增殖期糖尿病视网膜病变", "中度非增殖性糖尿病视网膜病变", "中度npdr"}),
      entry({"severe non-proliferative diabetic retinopathy", "severe NPDR"},
            {"severe non-proliferative diabetic retinopathy", "severe nonproliferative diabetic retinopathy", "severe npdr",
             "very severe npdr", "severe diabetic retinopathy"},
            {"重度非增殖期糖尿病视网膜病变", "重度NPDR"}, {"重度非增殖期糖尿病视网膜病变", "重度非增殖性糖尿病视网膜病变", "重度npdr"}),
      entry({"proliferative diabetic retinopathy", "PDR"}, {"proliferative diabetic retinopathy", "pdr"},
            {"增殖期糖尿病视网膜病变", "PDR"}, {"增殖期糖尿病视网膜病变", "增殖性糖尿病视网膜病变", "pdr"}),
  };
  static const std::array<Bilingual, 4> areds = {
      entry({"no age-related macular degeneration", "no AMD"},
            {"no age-related macular degeneration", "no amd", "no evidence of amd"},
            {"无年龄相关性黄斑变性", "未见年龄相关性黄斑变性"}, {"无年龄相关性黄斑变性", "未见年龄相关性黄斑变性", "无amd", "无明显年龄相关性黄斑变性"}),
      entry({"early age-related macular degeneration", "early AMD"}, {"early age-related macular degeneration", "early amd"},
            {"早期年龄相关性黄斑变性", "早期AMD"}, {"早期年龄相关性黄斑变性", "早期amd"}),
      entry({"intermediate age-related macular degeneration", "intermediate AMD"},
            {"intermediate age-related macular degeneration", "intermediate amd"},
            {"中期年龄相关性黄斑变性", "中期AMD"}, {"中期年龄相关性黄斑变性", "中期amd"}),
      entry({"advanced age-related macular degeneration", "advanced AMD", "late AMD"},
            {"advanced age-related macular degeneration", "advanced amd", "late age-related macular degeneration", "late amd"},
            {"晚期年龄相关性黄斑变性", "晚期AMD"}, {"晚期年龄相关性黄斑变性", "晚期amd"}),
  };
  static const std::array<Bilingual, 4> cup_disc = {
      entry({"no glaucomatous cupping", "physiological cupping"}, {"no glaucomatous cupping", "physiological cupping"},
            {"未见青光眼性视杯改变", "视杯在正常范围"}, {"未见青光眼性视杯改变", "视杯在正常范围"}),
      entry({"early glaucomatous cupping"}, {"early glaucomatous cupping"},
            {"早期青光眼性视杯改变"}, {"早期青光眼性视杯改变"}),
      entry({"moderate glaucomatous cupping"}, {"moderate glaucomatous cupping"},
            {"中期青光眼性视杯改变"}, {"中期青光眼性视杯改变"}),
      entry({"severe glaucomatous cupping", "advanced glaucomatous cupping"},
            {"severe glaucomatous cupping", "advanced glaucomatous cupping"},
            {"晚期青光眼性视杯改变"}, {"晚期青光眼性视杯改变"}),
  };
  switch (scale) {
    case GradeScale::Icdr: return icdr.at(static_cast<size_t>(level));
    case GradeScale::Areds: return areds.at(static_cast<size_t>(level));
    case GradeScale::CupDisc: return cup_disc.at(static_cast<size_t>(level));
    default: fail(ErrorCode::Internal, "level_phrases: scale {} has no diagnosis names", grade_scale_info(scale).code);
  }
}

const Bilingual& oct_class_phrases(int oct_class) {
  static const std::array<Bilingual, 4> table = {
      entry({"normal"}, {"normal"}, {"正常"}, {"正常"}),
      entry({"drusen"}, {"drusen"}, {"玻璃膜疣"}, {"玻璃膜疣", "drusen"}),
      entry({"DME", "diabetic macular oedema"}, {"dme", "diabetic macular edema"},
            {"糖尿病黄斑水肿（DME）", "DME"}, {"糖尿病黄斑水肿", "dme"}),
      entry({"CNV", "choroidal neovascularisation"}, {"cnv", "choroidal neovascularization"},
            {"脉络膜新生血管（CNV）", "CNV"}, {"脉络膜新生血管", "cnv"}),
  };
  return table.at(static_cast<size_t>(oct_class));
}

const Bilingual& oct_amd_phrases(int stage) {
  static const std::array<Bilingual, 4> table = {
      entry({"no AMD", "no age-related macular degeneration"}, {"no amd", "no age-related macular degeneration"},
            {"未见年龄相关性黄斑变性", "无AMD"}, {"未见年龄相关性黄斑变性", "无年龄相关性黄斑变性", "无amd"}),
      entry({"early/intermediate AMD", "early or intermediate AMD"},
            {"early/intermediate amd", "early or intermediate amd", "early/intermediate age-related macular degeneration"},
            {"早期/中期年龄相关性黄斑变性", "早中期AMD"},
            {"早期/中期年龄相关性黄斑变性", "早中期年龄相关性黄斑变性", "早中期amd"}),
      entry({"intermediate AMD with pigment epithelial detachment", "intermediate AMD with PED"},
            {"intermediate amd with pigment epithelial detachment", "intermediate amd with ped"},
            {"中期年龄相关性黄斑变性伴色素上皮脱离", "中期AMD伴PED"},
            {"中期年龄相关性黄斑变性伴色素上皮脱离", "中期amd伴ped", "中期amd伴色素上皮脱离"}),
      entry({"neovascular AMD", "neovascular (wet) age-related macular degeneration"},
            {"neovascular amd", "neovascular (wet) age-related macular degeneration", "neovascular age-related macular degeneration",
             "wet amd"},
            {"新生血管性年龄相关性黄斑变性", "湿性AMD"}, {"新生血管性年龄相关性黄斑变性", "湿性年龄相关性黄斑变性", "湿性amd", "新生血管性amd"}),
  };
  return table.at(static_cast<size_t>(stage));
}

std::string normalise_for_matching(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) out += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  static const std::pair<const char*, const char*> spellings[] = {
      {"haem", "hem"}, {"oedema", "edema"}, {"isation", "ization"}, {"colour", "color"}, {"analyse", "analyze"},
  };
  for (const auto& [from, to] : spellings) {
    const std::string f = from, t = to;
    for (size_t pos = out.find(f); pos != std::string::npos; pos = out.find(f, pos + t.size())) out.replace(pos, f.size(), t);
  }
  return out;
}

}  // namespace ophtha::report_detail
