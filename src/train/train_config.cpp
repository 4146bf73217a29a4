// TrainConfig from JSON: every key checked for type and range, unknown keys refused (a typo
// must not silently train with a default).
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "ophtha/error.hpp"
#include "ophtha/model_bundle.hpp"
#include "ophtha/study_json.hpp"
#include "ophtha/train.hpp"
#include "train/mixed_precision.hpp"

namespace ophtha {
namespace {

using nlohmann::json;

// One JSON object of the configuration, read key by key; `where` is its path ("optimizer").
class Section {
 public:
  Section(const json& j, std::string source, std::string where) : j_(j), source_(std::move(source)), where_(std::move(where)) {
    if (!j_.is_object()) bad("", "an object", j_);
  }
  // Refuses any key of the object that was never asked for.
  void finish() const {
    for (const auto& [key, value] : j_.items())
      if (!read_.count(key)) fail(ErrorCode::InvalidFormat, "{}: unknown key '{}'", source_, path(key));
  }

  bool has(const std::string& key) { read_.insert(key); return j_.contains(key) && !j_[key].is_null(); }
  const json& at(const std::string& key) { read_.insert(key); return j_[key]; }

  int64_t integer(const std::string& key, int64_t fallback, int64_t lo, int64_t hi) {
    if (!has(key)) return fallback;
    const json& v = j_[key];
    if (!v.is_number_integer() || v.get<int64_t>() < lo || v.get<int64_t>() > hi)
      bad(key, fmt::format("an integer in [{}, {}]", lo, hi), v);
    return v.get<int64_t>();
  }
  int64_t required_integer(const std::string& key, int64_t lo, int64_t hi) {
    if (!has(key)) fail(ErrorCode::InvalidFormat, "{}: missing key '{}'", source_, path(key));
    return integer(key, 0, lo, hi);
  }
  double number(const std::string& key, double fallback, double lo, double hi) {
    if (!has(key)) return fallback;
    const json& v = j_[key];
    if (!v.is_number() || !(v.get<double>() >= lo && v.get<double>() <= hi))
      bad(key, fmt::format("a number in [{}, {}]", lo, hi), v);
    return v.get<double>();
  }
  std::string string(const std::string& key, const std::string& fallback) {
    if (!has(key)) return fallback;
    if (!j_[key].is_string()) bad(key, "a string", j_[key]);
    return j_[key].get<std::string>();
  }
  bool boolean(const std::string& key, bool fallback) {
    if (!has(key)) return fallback;
    if (!j_[key].is_boolean()) bad(key, "true or false", j_[key]);
    return j_[key].get<bool>();
  }
  const std::string& source() const { return source_; }
  std::string path(const std::string& key) const { return where_.empty() ? key : where_ + "." + key; }
  [[noreturn]] void bad(const std::string& key, const std::string& expected, const json& v) const {
    fail(ErrorCode::InvalidFormat, "{}: '{}' is {}, expected {}", source_, key.empty() ? where_ : path(key), v.dump(),
         expected);
  }

 private:
  const json& j_;
  std::string source_, where_;
  std::set<std::string> read_;
};

std::string resolved(const std::string& base_dir, const std::string& path) {
  if (path.empty() || path[0] == '/' || base_dir.empty()) return path;
  return base_dir + "/" + path;
}

TensorType parse_output_type(const std::string& name, Section& s) {
  if (name == "f32") return TensorType::F32;
  if (name == "f16") return TensorType::F16;
  if (name == "bf16") return TensorType::BF16;
  if (name == "q8_0") return TensorType::Q8_0;
  s.bad("type", "one of \"f32\", \"f16\", \"bf16\", \"q8_0\"", json(name));
}

TrainPrecision parse_precision(const std::string& name, Section& s) {
  if (name == "f32") return TrainPrecision::F32;
  if (name == "bf16") return TrainPrecision::Bf16;
  if (name == "auto") return train::cpu_has_native_bf16() ? TrainPrecision::Bf16 : TrainPrecision::F32;
  s.bad("precision", "one of \"f32\", \"bf16\", \"auto\"", json(name));
}

std::vector<Split> parse_splits(Section& s, const std::string& key, std::vector<Split> fallback) {
  if (!s.has(key)) return fallback;
  const json& v = s.at(key);
  if (!v.is_array() || v.empty()) s.bad(key, "a non-empty array of \"train\", \"val\", \"test\"", v);
  std::vector<Split> splits;
  for (const json& name : v) {
    if (!name.is_string()) s.bad(key, "an array of \"train\", \"val\", \"test\"", v);
    try {
      splits.push_back(parse_split(name.get<std::string>()));
    } catch (const Error&) {
      s.bad(key, "an array of \"train\", \"val\", \"test\"", v);
    }
  }
  return splits;
}

// data.* of the vision and multimodal stages.
void read_image_data(Section& d, ImageTrainConfig& im, const std::string& base_dir, bool multimodal) {
  if (!d.has("manifest")) fail(ErrorCode::InvalidFormat, "{}: missing key 'data.manifest'", d.source());
  im.manifest = resolved(base_dir, d.string("manifest", ""));
  im.splits = parse_splits(d, "splits", im.splits);
  im.validation_manifest = resolved(base_dir, d.string("validation_manifest", ""));
  im.validation_splits = parse_splits(d, "validation_splits", im.validation_splits);
  if (!multimodal) {
    if (d.has("modalities")) {
      const json& v = d.at("modalities");
      const char* expected = "a non-empty array of \"cfp\", \"oct\", \"osa\", each once";
      if (!v.is_array() || v.empty()) d.bad("modalities", expected, v);
      im.modalities.clear();
      for (const json& name : v) {
        Modality m{};
        try {
          if (!name.is_string()) d.bad("modalities", expected, v);
          m = parse_modality(name.get<std::string>());
        } catch (const Error&) {
          d.bad("modalities", expected, v);
        }
        if (std::find(im.modalities.begin(), im.modalities.end(), m) != im.modalities.end()) d.bad("modalities", expected, v);
        im.modalities.push_back(m);
      }
    }
    if (d.has("oversample")) {
      Section o(d.at("oversample"), d.source(), d.path("oversample"));
      for (Modality m : {Modality::Cfp, Modality::Oct, Modality::Osa})
        im.oversample[static_cast<size_t>(m)] = o.integer(modality_name(m), 1, 1, 1000);
      o.finish();
    }
    return;
  }
  if (d.has("languages")) {
    const json& v = d.at("languages");
    if (!v.is_array() || v.empty()) d.bad("languages", "a non-empty array of \"zh\" and/or \"en\"", v);
    im.languages.clear();
    for (const json& l : v) {
      if (!l.is_string() || (l != "zh" && l != "en")) d.bad("languages", "a non-empty array of \"zh\" and/or \"en\"", v);
      im.languages.push_back(l.get<std::string>());
    }
  }
  im.text_only_fraction = d.number("text_only_fraction", 0.0, 0.0, 1.0);
  im.heads_findings = d.boolean("heads_findings", false);
  im.validation_reports = d.integer("validation_reports", 0, 0, 1 << 20);
  if (d.has("corrections")) {
    Section c(d.at("corrections"), d.source(), d.path("corrections"));
    if (!c.has("store")) fail(ErrorCode::InvalidFormat, "{}: missing key 'data.corrections.store'", d.source());
    im.corrections = resolved(base_dir, c.string("store", ""));
    im.correction_weight = c.number("weight", 1.0, 0.0, 1e6);
    c.finish();
  }
}

}  // namespace

TrainConfig TrainConfig::from_json_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(ErrorCode::Io, "cannot open '{}': {}", path, std::strerror(errno));
  std::stringstream text;
  text << in.rdbuf();
  const size_t slash = path.find_last_of('/');
  return from_json(text.str(), path, slash == std::string::npos ? "." : path.substr(0, slash));
}

TrainConfig TrainConfig::from_json(const std::string& text, const std::string& source, const std::string& base_dir) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    fail(ErrorCode::InvalidFormat, "{}: not valid JSON ({})", source, e.what());
  }
  TrainConfig c;
  c.source = source;
  Section top(j, source, "");
  const std::string stage = top.string("stage", "language");
  if (stage == "language")
    c.stage = TrainStage::Language;
  else if (stage == "vision")
    c.stage = TrainStage::Vision;
  else if (stage == "multimodal")
    c.stage = TrainStage::Multimodal;
  else
    top.bad("stage", "\"language\", \"vision\" or \"multimodal\"", json(stage));
  const bool vision = c.stage == TrainStage::Vision, multimodal = c.stage == TrainStage::Multimodal;
  if (!vision) {
    if (!top.has("model")) fail(ErrorCode::InvalidFormat, "{}: missing key 'model'", source);
    Section m(top.at("model"), source, "model");
    if (m.has("from")) {
      c.init_from = resolved(base_dir, m.string("from", ""));
    } else {
      LlamaConfig& s = c.scratch;
      s.dim = m.required_integer("dim", 2, 65536);
      s.n_layers = m.required_integer("layers", 1, 1024);
      s.n_heads = m.required_integer("heads", 1, 1024);
      s.n_kv_heads = m.integer("kv_heads", s.n_heads, 1, 1024);
      s.ffn_dim = m.required_integer("ffn", 1, 1 << 20);
      s.context_length = m.required_integer("context", 2, 1 << 20);
      s.head_dim = s.dim / s.n_heads;
      s.rms_eps = static_cast<float>(m.number("rms_eps", 1e-5, 1e-12, 0.1));
      s.rope_theta = static_cast<float>(m.number("rope_theta", 10000.0, 1.0 + 1e-9, 1e12));
      s.tied_output = m.boolean("tied", false);
      c.init_std = m.number("init_std", 0.02, 1e-9, 10.0);
      if (!m.has("tokenizer"))
        fail(ErrorCode::InvalidFormat, "{}: model needs either 'from' (a GGUF file or HF folder) or 'tokenizer' with "
                                       "'dim', 'layers', 'heads', 'ffn', 'context'", source);
      c.tokenizer = resolved(base_dir, m.string("tokenizer", ""));
    }
    m.finish();
  }
  {
    if (!top.has("data")) fail(ErrorCode::InvalidFormat, "{}: missing key 'data'", source);
    Section d(top.at("data"), source, "data");
    if (vision || multimodal) {
      read_image_data(d, c.images, base_dir, multimodal);
    } else {
      if (!d.has("train")) fail(ErrorCode::InvalidFormat, "{}: missing key 'data.train'", source);
      c.train_data = resolved(base_dir, d.string("train", ""));
      c.validation_data = resolved(base_dir, d.string("validation", ""));
    }
    if (!vision) c.max_tokens = d.integer("max_tokens", 0, 2, 1 << 20);
    if (!vision) c.group_by_length = d.integer("group_by_length", 0, 0, 1 << 20);
    d.finish();
  }
  if (vision || multimodal) {
    ImageTrainConfig& im = c.images;
    if (top.has("encoder")) {
      Section e(top.at("encoder"), source, "encoder");
      try {
        im.encoder_arch = parse_encoder_arch(e.string("arch", "resnet18"));
      } catch (const Error&) {
        e.bad("arch", "\"resnet18\", \"resnet34\" or \"resnet50\"", e.at("arch"));
      }
      if (im.encoder_arch == EncoderArch::TorchScript)
        e.bad("arch", "a ResNet (\"resnet18\", \"resnet34\", \"resnet50\"); TorchScript encoders are not trained here",
              e.at("arch"));
      im.encoder_from = resolved(base_dir, e.string("from", ""));
      if (vision) im.encoder_width = e.integer("width", 64, 1, 256);
      im.image_size = e.integer("image_size", 224, 32, 1024);
      if (vision) {
        const std::string region = e.string("region", "field_of_view");
        if (region == "optic_disc")
          im.region = PreprocessRegion::OpticDisc;
        else if (region == "tiles")
          im.region = PreprocessRegion::Tiles;
        else if (region != "field_of_view")
          e.bad("region", "\"field_of_view\", \"optic_disc\" or \"tiles\"", json(region));
        im.disc_side = e.number("disc_side", im.disc_side, 1e-3, 1.0);
        im.tile_grid = e.integer("tile_grid", im.tile_grid, 1, 8);
        im.tile_stride = e.integer("tile_stride", im.image_size, 1, im.image_size);
      }
      e.finish();
    }
    if (multimodal && im.encoder_from.empty())
      fail(ErrorCode::InvalidFormat, "{}: missing key 'encoder.from' (the multimodal stage uses a trained encoder, frozen)",
           source);
    if (top.has("heads")) {
      Section h(top.at("heads"), source, "heads");
      im.heads_from = resolved(base_dir, h.string("from", ""));
      if (vision && h.has("weights")) {
        Section w(h.at("weights"), source, "heads.weights");
        im.head_weights.modality = w.number("modality", 1.0, 0.0, 1e6);
        im.head_weights.gradable = w.number("gradable", 1.0, 0.0, 1e6);
        im.head_weights.findings = w.number("findings", 1.0, 0.0, 1e6);
        im.head_weights.grades = w.number("grades", 1.0, 0.0, 1e6);
        im.head_weights.lesions = w.number("lesions", 0.0, 0.0, 1e6);
        w.finish();
      }
      if (vision) {
        im.calibrate_thresholds = h.boolean("calibrate_thresholds", false);
        im.calibration_min_positives = static_cast<int>(h.integer("calibration_min_positives", 10, 1, 1000000));
        if (im.calibrate_thresholds && im.validation_manifest.empty())
          fail(ErrorCode::InvalidFormat,
               "{}: 'heads.calibrate_thresholds' needs a validation split to calibrate on (data.validation_manifest)", source);
      }
      h.finish();
    }
    if (multimodal && top.has("projector")) {
      Section p(top.at("projector"), source, "projector");
      try {
        im.projector_kind = parse_projector_kind(p.string("kind", "mlp2x_gelu"));
      } catch (const Error&) {
        p.bad("kind", "\"mlp2x_gelu\" or \"linear\"", p.at("kind"));
      }
      im.pool_side = p.integer("pool_side", 1, 0, 64);
      im.projector_from = resolved(base_dir, p.string("from", ""));
      p.finish();
    }
  }
  const std::string method = top.string("method", vision ? "full" : "full");
  if (method == "full")
    c.method = TrainMethod::Full;
  else if (method == "lora" && !vision)
    c.method = TrainMethod::Lora;
  else if (method == "align" && multimodal)
    c.method = TrainMethod::Align;
  else
    top.bad("method", vision ? "\"full\" (the vision stage trains every encoder weight)"
                      : multimodal ? "\"align\", \"full\" or \"lora\"" : "\"full\" or \"lora\"", json(method));
  if (top.has("lora")) {
    Section l(top.at("lora"), source, "lora");
    c.lora.rank = l.integer("rank", c.lora.rank, 1, 4096);
    c.lora.alpha = l.number("alpha", c.lora.alpha, 1e-9, 1e9);
    c.lora.dropout = l.number("dropout", c.lora.dropout, 0.0, 0.999);
    if (l.has("targets")) {
      const json& t = l.at("targets");
      if (!t.is_array() || t.empty()) l.bad("targets", "a non-empty array of names among q, k, v, o, gate, up, down", t);
      c.lora.targets.clear();
      for (const json& name : t) {
        if (!name.is_string()) l.bad("targets", "an array of strings", t);
        try {
          c.lora.targets.push_back(parse_llama_linear(name.get<std::string>()));
        } catch (const Error& e) {
          fail(ErrorCode::InvalidFormat, "{}: lora.targets: {}", source, e.what());
        }
      }
    }
    l.finish();
  }
  if (top.has("optimizer")) {
    Section o(top.at("optimizer"), source, "optimizer");
    c.lr = o.number("lr", c.lr, 0.0, 10.0);
    c.min_lr = o.number("min_lr", c.min_lr, 0.0, 10.0);
    c.warmup_steps = o.integer("warmup_steps", 0, 0, 1 << 30);
    c.grad_clip = o.number("grad_clip", c.grad_clip, 0.0, 1e9);
    c.adamw.weight_decay = o.number("weight_decay", c.adamw.weight_decay, 0.0, 10.0);
    c.adamw.beta1 = o.number("beta1", c.adamw.beta1, 0.0, 0.999999);
    c.adamw.beta2 = o.number("beta2", c.adamw.beta2, 0.0, 0.999999);
    c.adamw.eps = o.number("eps", c.adamw.eps, 0.0, 1.0);
    o.finish();
  }
  c.steps = top.integer("steps", 0, 0, 1LL << 40);
  c.epochs = top.integer("epochs", 1, 1, 1 << 20);
  c.batch_size = top.integer("batch_size", c.batch_size, 1, 1 << 16);
  c.grad_accum = top.integer("grad_accum", c.grad_accum, 1, 1 << 16);
  c.seed = static_cast<uint64_t>(top.integer("seed", 0, 0, INT64_MAX));
  c.threads = static_cast<int>(top.integer("threads", 0, 0, 1024));
  c.precision = parse_precision(top.string("precision", "f32"), top);
  c.validation_every = top.integer("validation_every", 0, 0, 1LL << 40);
  if (top.has("checkpoint")) {
    Section k(top.at("checkpoint"), source, "checkpoint");
    c.checkpoint_dir = resolved(base_dir, k.string("dir", ""));
    c.checkpoint_every = k.integer("every", 0, 0, 1LL << 40);
    if (c.checkpoint_dir.empty()) fail(ErrorCode::InvalidFormat, "{}: 'checkpoint' needs 'dir'", source);
    k.finish();
  }
  if (top.has("output")) {
    Section o(top.at("output"), source, "output");
    if (!vision) {
      c.output_gguf = resolved(base_dir, o.string("gguf", ""));
      c.output_type = parse_output_type(o.string("type", "f32"), o);
      c.output_hf = resolved(base_dir, o.string("hf", ""));
    }
    if (vision) {
      c.output_encoder = resolved(base_dir, o.string("encoder", ""));
      c.output_heads = resolved(base_dir, o.string("heads", ""));
      if (o.has("disc_reader") && o.has("tile_reader"))
        fail(ErrorCode::InvalidFormat, "{}: both 'output.disc_reader' and 'output.tile_reader': a stage trains one reader",
             source);
      for (const char* key : {"disc_reader", "tile_reader"}) {
        if (!o.has(key)) continue;
        const std::string field = std::string("output.") + key;
        const bool tiles = std::string(key) == "tile_reader";
        Section r(o.at(key), source, field);
        if (!r.has("bundle")) fail(ErrorCode::InvalidFormat, "{}: missing key '{}.bundle'", source, field);
        c.output_reader_bundle = resolved(base_dir, r.string("bundle", ""));
        if (!r.has("findings")) fail(ErrorCode::InvalidFormat, "{}: missing key '{}.findings'", source, field);
        std::vector<std::string> problems;
        c.reader_findings = finding_list_from_json(r.at("findings"), Modality::Cfp, field + ".findings", problems);
        if (!problems.empty()) fail(ErrorCode::InvalidFormat, "{}: {}", source, problems.front());
        r.finish();
        const PreprocessRegion needs = tiles ? PreprocessRegion::Tiles : PreprocessRegion::OpticDisc;
        if (c.images.region != needs)
          fail(ErrorCode::InvalidFormat, "{}: '{}' needs encoder.region \"{}\" (a {} reader reads {})", source, field,
               tiles ? "tiles" : "optic_disc", tiles ? "tile" : "disc", tiles ? "tiles" : "the disc's crop");
      }
    }
    if (multimodal) {
      c.output_bundle = resolved(base_dir, o.string("bundle", ""));
      c.images.bundle_name = o.string("name", c.images.bundle_name);
      c.images.bundle_description = o.string("description", "");
      c.images.disclaimer = o.string("disclaimer", "");
      c.images.report_candidates = static_cast<int>(o.integer("candidates", c.images.report_candidates, 1, kMaxReportCandidates));
      c.images.candidate_temperature = o.number("candidate_temperature", c.images.candidate_temperature, 1e-3, 100.0);
      c.images.evidence_weight = o.number("evidence_weight", c.images.evidence_weight, 0.0, kMaxEvidenceWeight);
      c.images.line_drafts = static_cast<int>(o.integer("line_drafts", c.images.line_drafts, 0, kMaxReportCandidates));
      c.images.sentence_insertions =
          static_cast<int>(o.integer("sentence_insertions", c.images.sentence_insertions, 0, kMaxSentenceInsertions));
      c.images.guided_drafts = static_cast<int>(o.integer("guided_drafts", c.images.guided_drafts, 0, kMaxGuidedDrafts));
      c.images.drop_unsupported_findings = o.boolean("drop_unsupported_findings", false);
    }
    c.metrics_log = resolved(base_dir, o.string("metrics", ""));
    c.loss_plot = resolved(base_dir, o.string("loss_plot", ""));
    o.finish();
  }
  top.finish();
  if (vision && c.images.region != PreprocessRegion::FieldOfView &&
      c.images.modalities != std::vector<Modality>{Modality::Cfp})
    fail(ErrorCode::InvalidFormat, "{}: encoder.region \"{}\" reads colour fundus photographs only, expected "
         "data.modalities [\"cfp\"]", source, c.images.region == PreprocessRegion::Tiles ? "tiles" : "optic_disc");
  if (vision && c.images.region == PreprocessRegion::Tiles && c.reader_findings.empty())
    fail(ErrorCode::InvalidFormat, "{}: encoder.region \"tiles\" needs 'output.tile_reader' with its findings: a tile "
         "learns which findings it holds from their lesion marks", source);
  return c;
}

const char* train_precision_name(TrainPrecision precision) {
  return precision == TrainPrecision::Bf16 ? "bf16" : "f32";
}

std::string TrainConfig::run_identity() const {
  json j = {{"init_from", init_from}, {"tokenizer", tokenizer}, {"method", method == TrainMethod::Lora ? "lora" : method == TrainMethod::Align ? "align" : "full"},
            {"seed", seed}, {"batch_size", batch_size}, {"grad_accum", grad_accum}, {"train_data", train_data},
            {"max_tokens", max_tokens}, {"stage", static_cast<int>(stage)}};
  if (stage != TrainStage::Language)
    j["images"] = {{"manifest", images.manifest}, {"splits", images.splits.size()}, {"corrections", images.corrections},
                   {"correction_weight", images.correction_weight}, {"languages", images.languages},
                   {"text_only_fraction", images.text_only_fraction}, {"image_size", images.image_size},
                   {"encoder", encoder_arch_name(images.encoder_arch)}, {"encoder_width", images.encoder_width},
                   {"encoder_from", images.encoder_from}, {"heads_from", images.heads_from},
                   {"projector", projector_kind_name(images.projector_kind)}, {"pool_side", images.pool_side},
                   {"projector_from", images.projector_from}};
  if (stage != TrainStage::Language && images.heads_findings) j["images"]["heads_findings"] = true;
  if (group_by_length > 0) j["group_by_length"] = group_by_length;
  if (precision != TrainPrecision::F32) j["precision"] = train_precision_name(precision);
  if (images.oversample != std::array<int64_t, 3>{1, 1, 1})  // only the vision stage reads it
    j["images"]["oversample"] = images.oversample;
  if (stage == TrainStage::Vision && images.modalities.size() != 3) {
    std::vector<std::string> names;
    for (Modality m : images.modalities) names.emplace_back(modality_name(m));
    j["images"]["modalities"] = names;
  }
  if (stage == TrainStage::Vision && images.region == PreprocessRegion::OpticDisc)
    j["images"]["region"] = {"optic_disc", images.disc_side};
  if (stage == TrainStage::Vision && images.region == PreprocessRegion::Tiles) {
    std::vector<std::string> findings;
    for (Finding f : reader_findings) findings.emplace_back(finding_code(f));
    j["images"]["region"] = {"tiles", images.tile_grid, images.tile_stride, findings};
  }
  if (init_from.empty())
    j["scratch"] = {scratch.dim, scratch.n_layers, scratch.n_heads, scratch.n_kv_heads, scratch.ffn_dim,
                    scratch.context_length, scratch.tied_output, init_std};
  if (method == TrainMethod::Lora) {
    std::vector<std::string> targets;
    for (LlamaLinear t : lora.targets) targets.emplace_back(llama_linear_name(t));
    j["lora"] = {lora.rank, lora.alpha, lora.dropout, targets};
  }
  return j.dump();
}

}  // namespace ophtha
