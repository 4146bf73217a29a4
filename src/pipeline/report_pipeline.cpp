// ReportModel (a loaded bundle) and ReportSession (images → report), report_pipeline.hpp.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <exception>
#include <mutex>
#include <thread>

#include <ATen/ATen.h>

#include "ophtha/embedding_cache.hpp"
#include "ophtha/error.hpp"
#include "ophtha/fundus_tiles.hpp"
#include "ophtha/generate.hpp"
#include "ophtha/heads_findings.hpp"
#include "ophtha/image_embedder.hpp"
#include "ophtha/line_refinement.hpp"
#include "ophtha/multimodal_prompt.hpp"
#include "ophtha/projector.hpp"
#include "ophtha/report_consensus.hpp"
#include "ophtha/report_extractor.hpp"
#include "ophtha/report_pruning.hpp"
#include "ophtha/report_pipeline.hpp"
#include "ophtha/structured_report.hpp"

namespace ophtha {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string upper(std::string text) {
  for (char& c : text) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return text;
}

void replace_all(std::string& text, const std::string& from, const std::string& to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size()))
    text.replace(at, from.size(), to);
}

// `text` without the one leading space a SentencePiece text's first piece carries.
std::string_view without_dummy_prefix(std::string_view text) {
  return !text.empty() && text.front() == ' ' ? text.substr(1) : text;
}

}  // namespace

std::shared_ptr<const ReportModel> ReportModel::load(const std::string& bundle_path, const ReportModelOptions& options) {
  std::shared_ptr<ReportModel> model(new ReportModel());
  model->bundle_ = read_bundle_manifest(bundle_path);
  const ModelBundle& b = model->bundle_;
  LlamaLoadOptions llm_options;
  llm_options.progress = options.progress;
  model->llm_ = LlamaModel::load(b.path_of(b.llm), llm_options);
  model->encoder_ = load_vision_encoder(b.path_of(b.encoder), parse_encoder_arch(b.encoder_arch));
  model->projector_ = std::make_shared<const FeatureProjector>(FeatureProjector::load(b.path_of(b.projector)));
  check_projector_fits(*model->projector_, model->encoder_->channels(), model->llm_->config().dim);
  if (!b.heads.empty()) {
    model->heads_ = std::make_unique<AuxiliaryHeads>(AuxiliaryHeads::load(b.path_of(b.heads)));
    if (model->heads_->channels() != model->encoder_->channels())
      fail(ErrorCode::InvalidFormat, "{}: the auxiliary heads read C = {} channels but the {} encoder gives C = {}",
           b.path_of(b.heads), model->heads_->channels(), b.encoder_arch, model->encoder_->channels());
  }
  model->load_region_reader(model->disc_, b.disc_reader, "disc");
  model->load_region_reader(model->tile_, b.tile_reader, "tile");
  if (options.cache_bytes > 0) model->cache_ = std::make_shared<EmbeddingCache>(options.cache_bytes);
  const std::string identity = file_fingerprint(b.path_of(b.encoder));
  for (Modality m : {Modality::Cfp, Modality::Oct, Modality::Osa}) {
    ImageEmbedderOptions o;
    o.preprocess = b.preprocessing.at(m);
    o.encoder_identity = identity;
    o.keep_grid = model->heads_ && model->heads_->reads_lesion_peaks();  // only such heads read the grid
    model->embedders_.push_back(std::make_unique<ImageEmbedder>(model->encoder_, model->projector_, o, model->cache_));
  }
  return model;
}

const ImageEmbedder& ReportModel::embedder(Modality modality) const {
  return *embedders_.at(static_cast<size_t>(modality));
}

void ReportModel::load_region_reader(RegionReader& reader, const std::optional<BundleRegionReader>& spec,
                                     const char* what) {
  if (!spec) return;
  const BundleRegionReader& r = *spec;
  reader.spec = &r;
  reader.encoder = load_vision_encoder(bundle_.path_of(r.encoder), parse_encoder_arch(r.encoder_arch));
  reader.heads = std::make_unique<AuxiliaryHeads>(AuxiliaryHeads::load(bundle_.path_of(r.heads)));
  if (reader.heads->channels() != reader.encoder->channels())
    fail(ErrorCode::InvalidFormat, "{}: the {} reader's heads read C = {} channels but its {} encoder gives C = {}",
         bundle_.path_of(r.heads), what, reader.heads->channels(), r.encoder_arch, reader.encoder->channels());
}

void ReportModel::apply_region_readers(const std::vector<Image>& images, std::vector<HeadPrediction>& predictions) const {
  if (predictions.size() != images.size())
    fail(ErrorCode::InvalidArgument, "apply_region_readers: {} predictions for {} images, expected one per image",
         predictions.size(), images.size());
  std::vector<size_t> fundus;
  for (size_t i = 0; i < images.size(); ++i)
    if (images[i].modality() == Modality::Cfp) fundus.push_back(i);
  if (fundus.empty()) return;
  at::NoGradGuard no_grad;
  for (const RegionReader* reader : {&disc_, &tile_}) {
    if (!reader->heads) continue;
    const BundleRegionReader& r = *reader->spec;
    std::vector<at::Tensor> regions;  // [3, S, S] per image, or [3, T, T] to be cut into tiles
    for (size_t i : fundus) regions.push_back(preprocess(images[i], r.preprocessing));
    at::Tensor pixels = at::stack(regions);
    const int64_t per_image = r.preprocessing.region == PreprocessRegion::Tiles ? tile_count(r.preprocessing) : 1;
    if (per_image > 1) pixels = cut_tiles(pixels, r.preprocessing);
    const VisionFeatures features = reader->encoder->encode(pixels);
    const AuxiliaryHeads& heads = *reader->heads;
    const HeadLogits logits = heads.reads_lesion_peaks() ? heads.forward(features.pooled, features.tokens)
                                                         : heads.forward(features.pooled);
    const std::vector<HeadPrediction> read = heads.predict(logits);
    for (size_t k = 0; k < fundus.size(); ++k) {
      const HeadPrediction mine = max_over_tiles(read.data() + k * per_image, static_cast<size_t>(per_image));
      HeadPrediction& p = predictions[fundus[k]];
      for (Finding f : r.findings) {
        const auto j = static_cast<size_t>(f);
        p.finding_probability[j] = mine.finding_probability[j];
        p.lesion_peak_probability[j] = mine.lesion_peak_probability[j];
        p.finding_threshold[j] = mine.finding_threshold[j];
        p.finding_source[j] = mine.finding_source[j];
      }
    }
  }
}

Modality ReportModel::recognise_modality(const Image& image) const {
  if (!heads_)
    fail(ErrorCode::Unsupported, "the model bundle '{}' has no auxiliary heads to recognise an image's modality; "
         "give the modality (PATH:cfp, :oct or :osa)", bundle_.name);
  Modality best = Modality::Cfp;
  float best_probability = -1;
  for (Modality m : {Modality::Cfp, Modality::Oct, Modality::Osa}) {
    Image as_m = image;
    as_m.set_modality(m);
    const at::Tensor pooled = embedder(m).embed_images({as_m})[0].pooled;
    at::NoGradGuard no_grad;
    const at::Tensor p = at::softmax(heads_->forward(pooled.unsqueeze(0)).modality, 1)[0];
    const float pm = p[static_cast<int64_t>(m)].item<float>();
    if (pm > best_probability) best = m, best_probability = pm;
  }
  return best;
}

std::string report_prompt_text(const ModelBundle& bundle, const std::vector<Image>& images, const std::string& findings,
                               const std::string& lang) {
  std::vector<PromptImage> described;
  for (const Image& image : images) described.push_back({image.modality(), image.eye()});
  return report_prompt_text(bundle, described, findings, lang);
}

std::string report_prompt_text(const ModelBundle& bundle, const std::vector<PromptImage>& images,
                               const std::string& findings, const std::string& lang) {
  auto t = bundle.prompt.templates.find(lang);
  if (t == bundle.prompt.templates.end())
    fail(ErrorCode::InvalidArgument, "the model bundle '{}' has no prompt template for language '{}'", bundle.name, lang);
  std::string lines;
  for (const PromptImage& image : images) {
    std::string line = bundle.prompt.image_line;
    replace_all(line, "{modality}", upper(modality_name(image.modality)));
    replace_all(line, "{eye}", eye_name(image.eye));
    lines += line;
  }
  std::string text = t->second;
  replace_all(text, "{images}", lines);
  // Given findings go in later, through the prompt assembler's own marker, so that a marker-like
  // text inside them is never taken for an image slot; without findings the bundle's text for
  // "none given" stands in their place.
  const auto none = bundle.prompt.no_findings.find(lang);
  if (findings.empty() && none != bundle.prompt.no_findings.end()) replace_all(text, "{findings}", none->second);
  return text;
}

ReportSession::ReportSession(std::shared_ptr<const ReportModel> model, int n_threads)
    : ReportSession(std::move(model), LlamaSessionOptions{n_threads, 0}) {}

ReportSession::ReportSession(std::shared_ptr<const ReportModel> model, const LlamaSessionOptions& options)
    : model_(std::move(model)), session_(std::make_unique<LlamaSession>(model_->llm(), options)) {}

ReportSession::~ReportSession() = default;

Report ReportSession::generate(const std::vector<Image>& images, const ReportOptions& options) {
  const ModelBundle& bundle = model_->bundle();
  if (std::find(bundle.languages.begin(), bundle.languages.end(), options.lang) == bundle.languages.end())
    fail(ErrorCode::InvalidArgument, "the model bundle '{}' writes reports in {}, not in '{}'", bundle.name,
         fmt::join(bundle.languages, " and "), options.lang);
  if (images.empty() && options.findings.empty())
    fail(ErrorCode::InvalidArgument, "nothing to report on: no images and no findings text");

  if (options.candidates < 0)
    fail(ErrorCode::InvalidArgument, "candidates is {}, expected 0 (the bundle's) or more", options.candidates);
  const int candidates = options.candidates > 0 ? options.candidates : bundle.generation.candidates;
  if (candidates > kMaxReportCandidates)
    fail(ErrorCode::InvalidArgument, "candidates is {}, expected at most {}", candidates, kMaxReportCandidates);
  const float candidate_temperature =
      options.candidate_temperature >= 0 ? options.candidate_temperature : bundle.generation.candidate_temperature;
  if (candidates > 1 && !(candidate_temperature > 0 && std::isfinite(candidate_temperature)))
    fail(ErrorCode::InvalidArgument, "candidate_temperature is {}, expected > 0 when {} drafts are sampled",
         candidate_temperature, candidates);
  if (std::isnan(options.evidence_weight))
    fail(ErrorCode::InvalidArgument, "evidence_weight is nan, expected a number >= 0 (or < 0 for the bundle's)");
  const float evidence_weight = options.evidence_weight >= 0 ? options.evidence_weight : bundle.generation.evidence_weight;
  if (!std::isfinite(evidence_weight) || evidence_weight > kMaxEvidenceWeight)
    fail(ErrorCode::InvalidArgument, "evidence_weight is {}, expected at most {}", evidence_weight, kMaxEvidenceWeight);
  if (options.line_drafts > kMaxReportCandidates)
    fail(ErrorCode::InvalidArgument, "line_drafts is {}, expected at most {} (or < 0 for the bundle's)", options.line_drafts,
         kMaxReportCandidates);
  const int line_drafts = options.line_drafts >= 0 ? options.line_drafts : bundle.generation.line_drafts;
  if (line_drafts > 0 && !(candidate_temperature > 0 && std::isfinite(candidate_temperature)))
    fail(ErrorCode::InvalidArgument, "candidate_temperature is {}, expected > 0 when {} line drafts are sampled",
         candidate_temperature, line_drafts);
  if (options.sentence_insertions > kMaxSentenceInsertions)
    fail(ErrorCode::InvalidArgument, "sentence_insertions is {}, expected at most {} (or < 0 for the bundle's)",
         options.sentence_insertions, kMaxSentenceInsertions);
  const int sentence_insertions =
      options.sentence_insertions >= 0 ? options.sentence_insertions : bundle.generation.sentence_insertions;
  if (options.guided_drafts > kMaxGuidedDrafts)
    fail(ErrorCode::InvalidArgument, "guided_drafts is {}, expected at most {} (or < 0 for the bundle's)", options.guided_drafts,
         kMaxGuidedDrafts);
  const int guided_drafts = options.guided_drafts >= 0 ? options.guided_drafts : bundle.generation.guided_drafts;
  const bool weigh_evidence = (candidates > 1 || line_drafts > 0) && evidence_weight > 0;
  const bool drop_unsupported =
      options.drop_unsupported >= 0 ? options.drop_unsupported > 0 : bundle.generation.drop_unsupported_findings;
  const bool gather_evidence = weigh_evidence || drop_unsupported;

  Report report;
  report.disclaimer = bundle.disclaimer;
  const Clock::time_point embed_start = Clock::now();

  // Encode every image once (its modality's preprocessing), keeping the pooled features for the
  // auxiliary heads' checks.
  std::vector<ImageEmbedding> encoded(images.size());
  for (Modality m : {Modality::Cfp, Modality::Oct, Modality::Osa}) {
    std::vector<Image> group;
    std::vector<size_t> where;
    for (size_t i = 0; i < images.size(); ++i)
      if (images[i].modality() == m) group.push_back(images[i]), where.push_back(i);
    if (group.empty()) continue;
    std::vector<ImageEmbedding> out = model_->embedder(m).embed_images(group);
    for (size_t k = 0; k < where.size(); ++k) encoded[where[k]] = std::move(out[k]);
  }

  // The auxiliary heads read every image's pooled features in one batch: for the image checks,
  // for the prompt when the bundle puts their reading there (heads_findings.hpp), and as evidence
  // in choosing among drafts.
  const bool heads_findings = bundle.prompt.heads_findings;  // the bundle then has heads (read_bundle_manifest)
  const AuxiliaryHeads* heads = options.check_images || heads_findings || gather_evidence ? model_->heads() : nullptr;
  std::vector<HeadPrediction> predictions;
  if (heads && !images.empty()) {
    at::NoGradGuard no_grad;
    std::vector<at::Tensor> pooled, peaks;
    const bool read_peaks = heads->reads_lesion_peaks();  // the embedders then kept the grids
    for (const ImageEmbedding& e : encoded) {
      pooled.push_back(e.pooled);
      if (read_peaks) peaks.push_back(heads->lesion_peaks(e.tokens.unsqueeze(0)));  // grids may differ in size between modalities
    }
    HeadLogits logits = heads->forward(at::stack(pooled));
    if (read_peaks) logits.lesion_peaks = at::cat(peaks);
    predictions = heads->predict(logits);
    model_->apply_region_readers(images, predictions);
  }
  std::vector<Image> used_images;
  std::vector<at::Tensor> used_embeddings;
  std::vector<HeadPrediction> used_predictions;
  std::vector<HeadsFindingsImage> used_described;
  // What the study shows outside the language model, to weigh the drafts against
  // (report_consensus.hpp): the instruments' findings text first, then the heads' reading of each
  // image the report uses.
  StudyLabels evidence;
  if (gather_evidence && !options.findings.empty())
    for (const auto& [eye, labels] : extract_labels_from_text(options.findings, options.lang).eyes)
      add_evidence(evidence, eye, labels);
  for (size_t i = 0; i < images.size(); ++i) {
    bool used = true;
    if (heads && options.check_images) {
      const HeadPrediction& p = predictions[i];
      ImageCheck check;
      check.given = images[i].modality();
      check.eye = images[i].eye();
      check.looks_like = p.modality;
      check.looks_like_probability = p.modality_probability;
      check.gradable_probability = p.gradable_probability;
      check.used = used = !(p.modality != check.given && p.modality_probability >= options.modality_threshold);
      report.image_checks.push_back(check);
    }
    if (used) {
      if (gather_evidence && heads)
        add_evidence(evidence, images[i].eye(), heads_reading(predictions[i], images[i].modality()));
      used_images.push_back(images[i]);
      used_embeddings.push_back(encoded[i].embedding);
      if (heads_findings) {
        used_predictions.push_back(predictions[i]);
        used_described.push_back({images[i].modality(), images[i].eye()});
      }
    }
  }
  if (used_images.empty() && options.findings.empty())
    fail(ErrorCode::InvalidArgument, "nothing to report on: every image looks like another modality than the one given "
                                     "(see the image checks) and no findings text was given");
  report.embed_seconds = seconds_since(embed_start);

  const std::string findings =
      heads_findings ? with_heads_findings(options.findings, used_predictions, used_described, options.lang) : options.findings;
  const std::string prompt_text = report_prompt_text(bundle, used_images, findings, options.lang);
  PromptTemplateOptions prompt_options;
  prompt_options.image_marker = bundle.prompt.image_marker;
  const MultimodalPrompt prompt =
      assemble_multimodal_prompt(*model_->llm(), prompt_text, findings, used_embeddings, prompt_options);

  GenerateOptions g;
  g.max_tokens = options.max_tokens > 0 ? options.max_tokens : bundle.generation.max_tokens;
  g.sampling.temperature = options.temperature >= 0 ? options.temperature : bundle.generation.temperature;
  g.sampling.top_p = options.top_p >= 0 ? options.top_p : bundle.generation.top_p;
  g.sampling.top_k = bundle.generation.top_k;
  g.sampling.min_p = 0.0f;
  g.sampling.seed = options.seed;
  g.should_abort = options.should_abort;
  session_->rewind(0);

  // The report was learned as its own SentencePiece text, so its first piece carries the dummy-prefix
  // space that SentencePiece's decoder drops at the start of a text; so do we, streamed and stored.
  // One prompt pass; then the drafts decode side by side from the prompt's end (branches of the
  // session). One draft streams as it is generated; of several, the consensus draft is the
  // report, given to on_text whole.
  const auto prefill_start = Clock::now();
  const at::Tensor prompt_logits = prefill_embeddings(*session_, prompt.embeddings, options.should_abort);
  report.prefill_seconds = seconds_since(prefill_start);
  report.prompt_tokens = prompt.embeddings.size(0);
  bool first_piece = true;
  if (options.on_text && candidates == 1 && line_drafts == 0)
    g.on_token = [&](std::string_view piece, int32_t) {
      if (first_piece && !piece.empty()) piece = without_dummy_prefix(piece), first_piece = false;
      return piece.empty() || options.on_text(piece);
    };
  std::vector<GenerateOptions> drafts(static_cast<size_t>(candidates), g);
  for (int i = 1; i < candidates; ++i) {
    drafts[static_cast<size_t>(i)].sampling.temperature = candidate_temperature;
    drafts[static_cast<size_t>(i)].sampling.seed = options.seed + static_cast<uint64_t>(i);
  }
  std::vector<std::string> texts;
  std::vector<int64_t> lengths;
  const std::vector<GenerateResult> results = generate_drafts_after_prompt(*session_, prompt_logits, drafts);
  report.decode_seconds = results.front().decode_seconds;  // the batch's time, the same in every result
  for (const GenerateResult& result : results) {
    texts.emplace_back(without_dummy_prefix(result.text));
    lengths.push_back(static_cast<int64_t>(result.tokens.size()));
  }
  const StudyLabels weighed = weigh_evidence ? evidence : StudyLabels{};  // gathered only to prune: weighs nothing
  DraftChoice choice = choose_draft(texts, options.lang, weighed, weigh_evidence ? evidence_weight : 0.0);
  report.chosen = choice.chosen;
  report.candidates = candidates;
  report.text = texts[report.chosen];
  report.generated_tokens = lengths[report.chosen];
  StudyLabels stated = std::move(choice.labels[report.chosen]);  // what the report states, read from its text
  if (line_drafts > 0) {
    // The chosen draft, refined line by line from the prompt's end (line_refinement.hpp).
    LineRefinementOptions refine;
    refine.line_drafts = line_drafts;
    refine.step = RefinementStep::Sentence;
    refine.drafting = g;
    refine.drafting.on_token = nullptr;
    refine.drafting.sampling.temperature = candidate_temperature;
    refine.evidence = weighed;
    refine.evidence_weight = weigh_evidence ? evidence_weight : 0.0;
    refine.lang = options.lang;
    refine.sentence_insertions = sentence_insertions;
    refine.guided_drafts = guided_drafts;
    refine.wording = options.central_wording ? WordingChoice::Central : WordingChoice::Draft;
    const auto refine_start = Clock::now();
    const RefinedReport refined = refine_report_lines(*session_, prompt_logits, results[report.chosen].tokens, refine);
    report.decode_seconds += seconds_since(refine_start);
    report.refined_lines = static_cast<int>(refined.replaced_lines);
    report.inserted_sentences = static_cast<int>(refined.inserted_sentences);
    report.guided_sentences = static_cast<int>(refined.guided_sentences);
    report.dropped_sentences = static_cast<int>(refined.dropped_sentences);
    if (refined.replaced_lines > 0) {
      report.text = model_->llm()->tokenizer().decode(refined.tokens);  // decode drops the dummy prefix itself
      report.generated_tokens = static_cast<int64_t>(refined.tokens.size());
      stated = extract_labels_from_text(report.text, options.lang);
    }
  }
  if (options.central_wording && candidates > 1) report.text = central_title(report.text, texts, options.lang);
  if (candidates > 1) report.drafts = std::move(texts);
  const bool streamed = options.on_text && candidates == 1 && line_drafts == 0;
  if (options.drop_repeats && !streamed) report.text = drop_repeated_mentions(report.text, options.lang);  // states the same
  if (drop_unsupported && !streamed) {
    std::string pruned = drop_unsupported_findings(report.text, evidence, options.lang);
    if (pruned != report.text) {
      report.text = std::move(pruned);
      StudyLabels kept = extract_labels_from_text(report.text, options.lang);  // less the findings that went
      for (const auto& [eye, labels] : stated.eyes) {
        const auto now = kept.eyes.find(eye);
        for (Finding f : labels.findings)
          if (now == kept.eyes.end() || std::find(now->second.findings.begin(), now->second.findings.end(), f) ==
                                            now->second.findings.end())
            report.dropped_findings.push_back({eye, f});
      }
      stated = std::move(kept);
    }
  }
  if (options.on_text && (candidates > 1 || line_drafts > 0) && !report.text.empty()) options.on_text(report.text);

  report.structured = structured_report(stated, options.lang);
  nlohmann::json checks = nlohmann::json::array();
  for (const ImageCheck& c : report.image_checks)
    checks.push_back({{"modality", modality_name(c.given)},
                      {"eye", eye_name(c.eye)},
                      {"looks_like", modality_name(c.looks_like)},
                      {"looks_like_probability", c.looks_like_probability},
                      {"gradable_probability", c.gradable_probability},
                      {"used", c.used}});
  report.structured["image_checks"] = checks;
  nlohmann::json dropped = nlohmann::json::array();
  for (const EyeFinding& d : report.dropped_findings)
    dropped.push_back({{"eye", eye_name(d.eye)}, {"finding", finding_code(d.finding)}});
  report.structured["dropped_findings"] = dropped;
  report.structured["disclaimer"] = bundle.disclaimer;
  report.structured["model"] = bundle.name;
  report.structured["text"] = report.text;
  return report;
}

}  // namespace ophtha

namespace ophtha {

std::string study_findings_text(const Study& study) {
  std::string text;
  for (const StudyImage& image : study.images) {
    if (image.findings_text.empty()) continue;
    if (!text.empty()) text += '\n';
    text += image.findings_text;
  }
  return text;
}

std::vector<StudyReport> report_studies(std::shared_ptr<const ReportModel> model, const Manifest& manifest,
                                        const std::vector<const Study*>& studies, const StudyReportOptions& options) {
  const size_t per_study = options.languages.size(), total = studies.size() * per_study;
  std::vector<StudyReport> out(total);
  std::atomic<size_t> next{0}, done{0};
  std::exception_ptr error;
  std::mutex mutex;
  auto work = [&] {
    ReportSession session(model, 1);
    for (size_t k = next++; k < total; k = next++) {
      try {
        const Study& study = *studies[k / per_study];
        const std::string& lang = options.languages[k % per_study];
        std::vector<Image> images;
        ReportOptions o = options.report;
        o.lang = lang;
        o.on_text = nullptr;
        if (options.text_only) {
          o.findings = study_findings_text(study);
        } else {
          o.findings.clear();
          for (const StudyImage& image : study.images)
            images.push_back(Image::decode_file(manifest.image_path(image), image.modality, image.eye));
        }
        Report r = session.generate(images, o);
        out[k] = {study.id, lang, std::move(r.text), std::move(r.structured), std::move(r.drafts), r.chosen};
        const size_t finished = ++done;
        if (options.progress) {
          std::lock_guard<std::mutex> lock(mutex);
          options.progress(finished, total);
        }
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex);
        if (!error) error = std::current_exception();
        next = total;
      }
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < std::max(1, options.threads); ++t) pool.emplace_back(work);
  work();
  for (std::thread& t : pool) t.join();
  if (error) std::rethrow_exception(error);
  return out;
}

}  // namespace ophtha
