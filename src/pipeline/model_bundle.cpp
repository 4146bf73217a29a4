// Reading, checking and writing a model bundle's manifest (ophtha-bundle.json).
#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "ophtha/error.hpp"
#include "ophtha/mapped_file.hpp"
#include "ophtha/model_bundle.hpp"
#include "ophtha/study_json.hpp"

namespace ophtha {
namespace {

using nlohmann::json;

bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

size_t count_of(const std::string& text, const std::string& needle) {
  if (needle.empty()) return 0;
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + needle.size())) ++n;
  return n;
}

// Collects every problem of a manifest, each naming its field.
class Checker {
 public:
  explicit Checker(std::string file) : file_(std::move(file)) {}

  void problem(const std::string& field, const std::string& what) { problems_.push_back(field + ": " + what); }
  // A problem already written "FIELD: what" (study_json.hpp's readers).
  void problem_line(const std::string& line) { problems_.push_back(line); }

  // The member `key` of object `j` (at `field`), or nullptr after recording a problem when it is
  // required and missing.
  const json* member(const json& j, const std::string& field, const std::string& key, bool required) {
    auto it = j.find(key);
    if (it == j.end()) {
      if (required) problem(join(field, key), "missing, expected it to be present");
      return nullptr;
    }
    return &*it;
  }

  void known_keys(const json& j, const std::string& field, const std::set<std::string>& keys) {
    for (auto it = j.begin(); it != j.end(); ++it)
      if (!keys.count(it.key())) {
        std::string list;
        for (const auto& k : keys) list += (list.empty() ? "" : ", ") + k;
        problem(join(field, it.key()), "unknown key, expected one of: " + list);
      }
  }

  std::string string_at(const json& j, const std::string& field, const std::string& key, bool required,
                        const std::string& fallback = "") {
    const json* v = member(j, field, key, required);
    if (!v) return fallback;
    if (!v->is_string()) {
      problem(join(field, key), std::string("is ") + v->type_name() + ", expected a string");
      return fallback;
    }
    return v->get<std::string>();
  }

  double number_at(const json& j, const std::string& field, const std::string& key, double fallback, double lo,
                   double hi) {
    const json* v = member(j, field, key, false);
    if (!v) return fallback;
    if (!v->is_number() || !(v->get<double>() >= lo && v->get<double>() <= hi)) {
      problem(join(field, key), fmt::format("is {}, expected a number in [{}, {}]", v->dump(), lo, hi));
      return fallback;
    }
    return v->get<double>();
  }

  bool boolean_at(const json& j, const std::string& field, const std::string& key, bool fallback) {
    const json* v = member(j, field, key, false);
    if (!v) return fallback;
    if (!v->is_boolean()) {
      problem(join(field, key), "is " + v->dump() + ", expected true or false");
      return fallback;
    }
    return v->get<bool>();
  }

  // A path inside the bundle folder: relative, no "..", and the file exists.
  std::string bundle_path(const json& j, const std::string& field, const std::string& key, bool required,
                          const std::string& folder) {
    const std::string path = string_at(j, field, key, required);
    if (path.empty()) {
      if (required && j.contains(key)) problem(join(field, key), "is empty, expected a path inside the bundle");
      return path;
    }
    if (path[0] == '/' || path == ".." || path.rfind("../", 0) == 0 || path.find("/../") != std::string::npos ||
        ends_with(path, "/..")) {
      problem(join(field, key), "'" + path + "' leaves the bundle folder, expected a path relative to it");
      return path;
    }
    if (!exists(folder + "/" + path))
      problem(join(field, key), "'" + path + "' does not exist in the bundle folder " + folder);
    return path;
  }

  void finish() const {
    if (problems_.empty()) return;
    std::string message = fmt::format("{}: {} problem{} in the model bundle manifest:", file_, problems_.size(),
                                      problems_.size() == 1 ? "" : "s");
    for (const auto& p : problems_) message += "\n  " + p;
    throw Error(ErrorCode::InvalidFormat, message);
  }

  static std::string join(const std::string& field, const std::string& key) {
    return field.empty() ? key : field + "." + key;
  }

 private:
  std::string file_;
  std::vector<std::string> problems_;
};

std::array<float, 3> triple_at(Checker& c, const json& j, const std::string& field, const std::string& key,
                               std::array<float, 3> fallback, bool positive) {
  const json* v = c.member(j, field, key, false);
  if (!v) return fallback;
  if (!v->is_array() || v->size() != 3) {
    c.problem(Checker::join(field, key), "is " + v->dump() + ", expected an array of 3 numbers");
    return fallback;
  }
  std::array<float, 3> out{};
  for (size_t i = 0; i < 3; ++i) {
    const json& x = (*v)[i];
    if (!x.is_number() || !std::isfinite(x.get<double>()) || (positive && x.get<double>() <= 0)) {
      c.problem(Checker::join(field, key), "is " + v->dump() +
                                               (positive ? ", expected 3 positive numbers" : ", expected 3 finite numbers"));
      return fallback;
    }
    out[i] = x.get<float>();
  }
  return out;
}

std::map<std::string, std::string> language_map(Checker& c, const json& j, const std::string& field,
                                                const std::string& key, bool required) {
  std::map<std::string, std::string> out;
  const json* v = c.member(j, field, key, required);
  if (!v) return out;
  if (!v->is_object()) {
    c.problem(Checker::join(field, key), std::string("is ") + v->type_name() + ", expected an object language → text");
    return out;
  }
  for (auto it = v->begin(); it != v->end(); ++it) {
    if (!it->is_string()) {
      c.problem(Checker::join(Checker::join(field, key), it.key()), std::string("is ") + it->type_name() + ", expected a string");
      continue;
    }
    out[it.key()] = it->get<std::string>();
  }
  return out;
}


// One modality's preprocessing object at `field`; `cfp` allows the region keys.
PreprocessOptions preprocessing_at(Checker& c, const json& entry, const std::string& field, bool cfp) {
  PreprocessOptions o;
  if (!entry.is_object()) {
    c.problem(field, "expected an object {\"size\", \"mean\", \"std\"}");
    return o;
  }
  if (cfp)
    c.known_keys(entry, field, {"size", "mean", "std", "pad_value", "region", "disc_side", "tile_grid", "tile_stride"});
  else
    c.known_keys(entry, field, {"size", "mean", "std", "pad_value"});
  if (!entry.contains("size")) c.problem(field + ".size", "missing, expected the encoder's input side");
  o.size = static_cast<int>(c.number_at(entry, field, "size", o.size, 1, 8192));
  if (entry.contains("size") && entry["size"].is_number() && !entry["size"].is_number_integer())
    c.problem(field + ".size", "is " + entry["size"].dump() + ", expected a whole number");
  o.mean = triple_at(c, entry, field, "mean", o.mean, false);
  o.std = triple_at(c, entry, field, "std", o.std, true);
  o.pad_value = static_cast<float>(c.number_at(entry, field, "pad_value", o.pad_value, 0, 1));
  const std::string region = c.string_at(entry, field, "region", false, "field_of_view");
  if (region == "optic_disc")
    o.region = PreprocessRegion::OpticDisc;
  else if (region == "tiles")
    o.region = PreprocessRegion::Tiles;
  else if (region != "field_of_view")
    c.problem(field + ".region", "is '" + region + "', expected \"field_of_view\", \"optic_disc\" or \"tiles\"");
  o.disc_side = c.number_at(entry, field, "disc_side", o.disc_side, 1e-3, 1);
  o.tile_grid = static_cast<int>(c.number_at(entry, field, "tile_grid", o.tile_grid, 1, 8));
  o.tile_stride = static_cast<int>(c.number_at(entry, field, "tile_stride", o.size, 1, o.size));
  for (const char* key : {"tile_grid", "tile_stride"})
    if (entry.contains(key) && entry[key].is_number() && !entry[key].is_number_integer())
      c.problem(field + "." + key, "is " + entry[key].dump() + ", expected a whole number");
  if (o.region == PreprocessRegion::Tiles && o.size + (o.tile_grid - 1) * o.tile_stride > 8192)
    c.problem(field, "tiles a square of side size + (tile_grid - 1) × tile_stride = " +
                         std::to_string(o.size + (o.tile_grid - 1) * o.tile_stride) + ", expected at most 8192");
  return o;
}

json preprocessing_json(const PreprocessOptions& o) {
  json j = {{"size", o.size}, {"mean", o.mean}, {"std", o.std}, {"pad_value", o.pad_value}};
  if (o.region == PreprocessRegion::OpticDisc) {
    j["region"] = "optic_disc";
    j["disc_side"] = o.disc_side;
  } else if (o.region == PreprocessRegion::Tiles) {
    j["region"] = "tiles";
    j["tile_grid"] = o.tile_grid;
    j["tile_stride"] = o.tile_stride;
  }
  return j;
}

const std::set<std::string> kEncoderArchs = {"resnet18", "resnet34", "resnet50", "torchscript"};

// A region reader's manifest object, "disc_reader" (region optic_disc) or "tile_reader" (region
// tiles): model_bundle.hpp BundleRegionReader.
BundleRegionReader region_reader_at(Checker& c, const json& j, const std::string& folder, const std::string& field,
                                    PreprocessRegion region) {
  BundleRegionReader r;
  if (!j.is_object()) {
    c.problem(field, "expected an object {\"encoder\", \"heads\", \"preprocessing\", \"findings\"}");
    return r;
  }
  c.known_keys(j, field, {"encoder", "heads", "preprocessing", "findings"});
  if (const json* enc = c.member(j, field, "encoder", true)) {
    if (enc->is_object()) {
      c.known_keys(*enc, field + ".encoder", {"arch", "path"});
      r.encoder_arch = c.string_at(*enc, field + ".encoder", "arch", true);
      if (!r.encoder_arch.empty() && (!kEncoderArchs.count(r.encoder_arch) || r.encoder_arch == "torchscript"))
        c.problem(field + ".encoder.arch", "is '" + r.encoder_arch + "', expected resnet18, resnet34 or resnet50");
      r.encoder = c.bundle_path(*enc, field + ".encoder", "path", true, folder);
    } else {
      c.problem(field + ".encoder", "expected an object {\"arch\": ..., \"path\": ...}");
    }
  }
  if (const json* heads = c.member(j, field, "heads", true)) {
    if (heads->is_object()) {
      c.known_keys(*heads, field + ".heads", {"path"});
      r.heads = c.bundle_path(*heads, field + ".heads", "path", true, folder);
    } else {
      c.problem(field + ".heads", "expected an object {\"path\": ...}");
    }
  }
  if (const json* pre = c.member(j, field, "preprocessing", true)) {
    r.preprocessing = preprocessing_at(c, *pre, field + ".preprocessing", true);
    if (pre->is_object() && r.preprocessing.region != region)
      c.problem(field + ".preprocessing.region", region == PreprocessRegion::OpticDisc
                                                     ? "is not \"optic_disc\", expected the disc reader to read the disc's region"
                                                     : "is not \"tiles\", expected the tile reader to read tiles");
  }
  if (const json* findings = c.member(j, field, "findings", true)) {
    std::vector<std::string> problems;
    r.findings = finding_list_from_json(*findings, Modality::Cfp, field + ".findings", problems);
    for (const std::string& p : problems) c.problem_line(p);
  }
  return r;
}

// A region reader's manifest object (the inverse of region_reader_at).
json region_reader_json(const BundleRegionReader& r) {
  json findings = json::array();
  for (Finding f : r.findings) findings.push_back(finding_code(f));
  return {{"encoder", {{"arch", r.encoder_arch}, {"path", r.encoder}}},
          {"heads", {{"path", r.heads}}},
          {"preprocessing", preprocessing_json(r.preprocessing)},
          {"findings", findings}};
}

}  // namespace

std::string ModelBundle::path_of(const std::string& relative) const { return folder + "/" + relative; }

BundlePrompt default_bundle_prompt() {
  BundlePrompt p;
  p.templates["en"] =
      "Ophthalmic examination.\n{images}Instrument findings:\n{findings}\n"
      "Write the diagnostic report in English.\nReport:\n";
  p.templates["zh"] = "眼科检查。\n{images}仪器所见：\n{findings}\n请用中文写出诊断报告。\n报告：\n";
  p.no_findings["en"] = "none given";
  p.no_findings["zh"] = "未提供";
  return p;
}

ModelBundle read_bundle_manifest(const std::string& path) {
  std::string file = path, folder = path;
  if (ends_with(path, ".json")) {
    const size_t slash = path.find_last_of('/');
    folder = slash == std::string::npos ? "." : path.substr(0, slash);
  } else {
    file = path + "/" + kBundleManifestName;
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) fail(ErrorCode::Io, "cannot read the model bundle manifest '{}' (is '{}' a model bundle folder?)", file, path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  json root;
  try {
    root = json::parse(buffer.str());
  } catch (const json::parse_error& e) {
    fail(ErrorCode::InvalidFormat, "{}: not valid JSON: {}", file, e.what());
  }
  if (!root.is_object()) fail(ErrorCode::InvalidFormat, "{}: expected a JSON object, got {}", file, root.type_name());

  Checker c(file);
  ModelBundle b;
  b.folder = folder;
  c.known_keys(root, "", {"format", "version", "name", "description", "disclaimer", "llm", "encoder",
                          "projector", "heads", "disc_reader", "tile_reader", "preprocessing", "prompt", "languages", "generation"});
  if (c.string_at(root, "", "format", true) != "ophtha-bundle" && root.contains("format") && root["format"].is_string())
    c.problem("format", "is '" + root["format"].get<std::string>() + "', expected 'ophtha-bundle'");
  if (const json* v = c.member(root, "", "version", true)) {
    if (!v->is_number_integer() || v->get<int64_t>() != kBundleFormatVersion)
      c.problem("version", fmt::format("is {}, expected {} (this build reads version {} bundles)", v->dump(),
                                       kBundleFormatVersion, kBundleFormatVersion));
  }
  b.name = c.string_at(root, "", "name", true);
  b.description = c.string_at(root, "", "description", false);
  b.disclaimer = c.string_at(root, "", "disclaimer", true);

  if (const json* llm = c.member(root, "", "llm", true)) {
    if (llm->is_object()) {
      c.known_keys(*llm, "llm", {"path"});
      b.llm = c.bundle_path(*llm, "llm", "path", true, folder);
    } else {
      c.problem("llm", "expected an object {\"path\": ...}");
    }
  }
  if (const json* enc = c.member(root, "", "encoder", true)) {
    if (enc->is_object()) {
      c.known_keys(*enc, "encoder", {"arch", "path"});
      b.encoder_arch = c.string_at(*enc, "encoder", "arch", true);
      if (!b.encoder_arch.empty() && !kEncoderArchs.count(b.encoder_arch))
        c.problem("encoder.arch", "is '" + b.encoder_arch + "', expected resnet18, resnet34, resnet50 or torchscript");
      b.encoder = c.bundle_path(*enc, "encoder", "path", true, folder);
    } else {
      c.problem("encoder", "expected an object {\"arch\": ..., \"path\": ...}");
    }
  }
  if (const json* proj = c.member(root, "", "projector", true)) {
    if (proj->is_object()) {
      c.known_keys(*proj, "projector", {"path"});
      b.projector = c.bundle_path(*proj, "projector", "path", true, folder);
    } else {
      c.problem("projector", "expected an object {\"path\": ...}");
    }
  }
  if (const json* heads = c.member(root, "", "heads", false)) {
    if (heads->is_object()) {
      c.known_keys(*heads, "heads", {"path"});
      b.heads = c.bundle_path(*heads, "heads", "path", true, folder);
    } else {
      c.problem("heads", "expected an object {\"path\": ...}");
    }
  }

  if (const json* reader = c.member(root, "", "disc_reader", false)) {
    b.disc_reader = region_reader_at(c, *reader, folder, "disc_reader", PreprocessRegion::OpticDisc);
    if (b.heads.empty())
      c.problem("disc_reader", "is given but the bundle has no \"heads\": the disc reader replaces some of their findings");
  }
  if (const json* reader = c.member(root, "", "tile_reader", false)) {
    b.tile_reader = region_reader_at(c, *reader, folder, "tile_reader", PreprocessRegion::Tiles);
    if (b.heads.empty())
      c.problem("tile_reader", "is given but the bundle has no \"heads\": the tile reader replaces some of their findings");
    if (b.disc_reader)
      for (Finding f : b.tile_reader->findings)
        if (std::find(b.disc_reader->findings.begin(), b.disc_reader->findings.end(), f) != b.disc_reader->findings.end())
          c.problem("tile_reader.findings", std::string("names ") + finding_code(f) +
                                                ", which the disc reader reads: expected each finding read by one reader");
  }

  for (Modality m : {Modality::Cfp, Modality::Oct, Modality::Osa}) b.preprocessing[m] = PreprocessOptions{};
  if (const json* pre = c.member(root, "", "preprocessing", true)) {
    if (!pre->is_object()) {
      c.problem("preprocessing", "expected an object with cfp, oct and osa");
    } else {
      c.known_keys(*pre, "preprocessing", {"cfp", "oct", "osa"});
      for (Modality m : {Modality::Cfp, Modality::Oct, Modality::Osa}) {
        const std::string field = std::string("preprocessing.") + modality_name(m);
        const json* entry = c.member(*pre, "preprocessing", modality_name(m), true);
        if (!entry) continue;
        b.preprocessing[m] = preprocessing_at(c, *entry, field, m == Modality::Cfp);
      }
    }
  }

  b.prompt = default_bundle_prompt();
  if (const json* prompt = c.member(root, "", "prompt", false)) {
    if (!prompt->is_object()) {
      c.problem("prompt", "expected an object");
    } else {
      c.known_keys(*prompt, "prompt", {"templates", "image_line", "image_marker", "no_findings", "heads_findings"});
      b.prompt.heads_findings = c.boolean_at(*prompt, "prompt", "heads_findings", b.prompt.heads_findings);
      if (prompt->contains("templates")) b.prompt.templates = language_map(c, *prompt, "prompt", "templates", true);
      if (prompt->contains("no_findings")) b.prompt.no_findings = language_map(c, *prompt, "prompt", "no_findings", true);
      b.prompt.image_marker = c.string_at(*prompt, "prompt", "image_marker", false, b.prompt.image_marker);
      b.prompt.image_line = c.string_at(*prompt, "prompt", "image_line", false, b.prompt.image_line);
    }
  }
  if (b.prompt.heads_findings && b.heads.empty())
    c.problem("prompt.heads_findings", "is true but the bundle has no \"heads\" to read the images with");
  if (b.prompt.image_marker.empty()) c.problem("prompt.image_marker", "is empty, expected a marker such as <image>");
  if (count_of(b.prompt.image_line, b.prompt.image_marker) != 1)
    c.problem("prompt.image_line", "'" + b.prompt.image_line + "' must hold the image marker '" +
                                       b.prompt.image_marker + "' exactly once");

  if (const json* langs = c.member(root, "", "languages", true)) {
    if (!langs->is_array() || langs->empty()) {
      c.problem("languages", "is " + langs->dump() + ", expected a non-empty array such as [\"zh\", \"en\"]");
    } else {
      for (size_t i = 0; i < langs->size(); ++i) {
        const json& l = (*langs)[i];
        const std::string field = fmt::format("languages[{}]", i);
        if (!l.is_string() || (l != "zh" && l != "en")) {
          c.problem(field, "is " + l.dump() + ", expected \"zh\" or \"en\"");
          continue;
        }
        b.languages.push_back(l.get<std::string>());
      }
    }
  }
  for (const std::string& lang : b.languages) {
    auto t = b.prompt.templates.find(lang);
    if (t == b.prompt.templates.end()) {
      c.problem("prompt.templates", "has no template for language '" + lang + "' listed in languages");
      continue;
    }
    if (count_of(t->second, "{images}") != 1 || count_of(t->second, "{findings}") != 1)
      c.problem("prompt.templates." + lang, "must hold {images} and {findings} once each");
    if (!b.prompt.no_findings.count(lang))
      c.problem("prompt.no_findings", "has no text for language '" + lang + "' listed in languages");
  }

  if (const json* gen = c.member(root, "", "generation", false)) {
    if (!gen->is_object()) {
      c.problem("generation", "expected an object");
    } else {
      c.known_keys(*gen, "generation", {"max_tokens", "temperature", "top_p", "top_k", "candidates", "candidate_temperature",
                                           "evidence_weight", "line_drafts", "sentence_insertions", "guided_drafts",
                                           "drop_unsupported_findings"});
      b.generation.max_tokens = static_cast<int>(c.number_at(*gen, "generation", "max_tokens", b.generation.max_tokens, 1, 1 << 20));
      b.generation.temperature = static_cast<float>(c.number_at(*gen, "generation", "temperature", b.generation.temperature, 0, 100));
      b.generation.top_p = static_cast<float>(c.number_at(*gen, "generation", "top_p", b.generation.top_p, 0, 1));
      b.generation.top_k = static_cast<int>(c.number_at(*gen, "generation", "top_k", b.generation.top_k, 0, 1 << 20));
      b.generation.candidates = static_cast<int>(c.number_at(*gen, "generation", "candidates", b.generation.candidates, 1, kMaxReportCandidates));
      b.generation.candidate_temperature = static_cast<float>(
          c.number_at(*gen, "generation", "candidate_temperature", b.generation.candidate_temperature, 0, 100));
      b.generation.evidence_weight = static_cast<float>(
          c.number_at(*gen, "generation", "evidence_weight", b.generation.evidence_weight, 0, kMaxEvidenceWeight));
      b.generation.line_drafts = static_cast<int>(c.number_at(*gen, "generation", "line_drafts", b.generation.line_drafts, 0, kMaxReportCandidates));
      b.generation.sentence_insertions = static_cast<int>(
          c.number_at(*gen, "generation", "sentence_insertions", b.generation.sentence_insertions, 0, kMaxSentenceInsertions));
      b.generation.guided_drafts =
          static_cast<int>(c.number_at(*gen, "generation", "guided_drafts", b.generation.guided_drafts, 0, kMaxGuidedDrafts));
      b.generation.drop_unsupported_findings =
          c.boolean_at(*gen, "generation", "drop_unsupported_findings", b.generation.drop_unsupported_findings);
      if (b.generation.line_drafts > 0 && !(b.generation.candidate_temperature > 0))
        c.problem("generation.candidate_temperature",
                  fmt::format("is {}, expected > 0: the {} line drafts (generation.line_drafts) are sampled at it",
                              b.generation.candidate_temperature, b.generation.line_drafts));
      if (b.generation.candidates > 1 && !(b.generation.candidate_temperature > 0))
        c.problem("generation.candidate_temperature",
                  fmt::format("is {}, expected > 0: the {} drafts (generation.candidates) after the first are sampled at it",
                              b.generation.candidate_temperature, b.generation.candidates));
    }
  }
  c.finish();
  return b;
}

void write_bundle_manifest(const ModelBundle& b) {
  json root;
  root["format"] = "ophtha-bundle";
  root["version"] = kBundleFormatVersion;
  root["name"] = b.name;
  if (!b.description.empty()) root["description"] = b.description;
  root["disclaimer"] = b.disclaimer;
  root["llm"] = {{"path", b.llm}};
  root["encoder"] = {{"arch", b.encoder_arch}, {"path", b.encoder}};
  root["projector"] = {{"path", b.projector}};
  if (!b.heads.empty()) root["heads"] = {{"path", b.heads}};
  json pre = json::object();
  for (const auto& [modality, o] : b.preprocessing) pre[modality_name(modality)] = preprocessing_json(o);
  root["preprocessing"] = pre;
  if (b.disc_reader) root["disc_reader"] = region_reader_json(*b.disc_reader);
  if (b.tile_reader) root["tile_reader"] = region_reader_json(*b.tile_reader);
  root["prompt"] = {{"templates", b.prompt.templates},
                    {"image_line", b.prompt.image_line},
                    {"image_marker", b.prompt.image_marker},
                    {"no_findings", b.prompt.no_findings}};
  if (b.prompt.heads_findings) root["prompt"]["heads_findings"] = true;
  root["languages"] = b.languages;
  root["generation"] = {{"max_tokens", b.generation.max_tokens},
                        {"temperature", b.generation.temperature},
                        {"top_p", b.generation.top_p},
                        {"top_k", b.generation.top_k}};
  if (b.generation.candidates != 1) {
    root["generation"]["candidates"] = b.generation.candidates;
    root["generation"]["candidate_temperature"] = b.generation.candidate_temperature;
  }
  if (b.generation.evidence_weight != 0) root["generation"]["evidence_weight"] = b.generation.evidence_weight;
  if (b.generation.line_drafts != 0) {
    root["generation"]["line_drafts"] = b.generation.line_drafts;
    root["generation"]["candidate_temperature"] = b.generation.candidate_temperature;
  }
  if (b.generation.sentence_insertions != 0) root["generation"]["sentence_insertions"] = b.generation.sentence_insertions;
  if (b.generation.guided_drafts != 0) root["generation"]["guided_drafts"] = b.generation.guided_drafts;
  if (b.generation.drop_unsupported_findings) root["generation"]["drop_unsupported_findings"] = true;
  const std::string text = root.dump(2) + "\n";
  AtomicFileWriter out(b.folder + "/" + kBundleManifestName);
  out.write(text.data(), text.size());
  out.commit();
}

}  // namespace ophtha
