// The main job: images of one study (and the instruments' findings text) in, a diagnostic report
// out — streamed text in Chinese or English plus its structured JSON.
//
//   images (modality, eye) ──► auxiliary heads: does each image look like its modality? gradable?
//        │                     (an image that looks like another modality is left out and reported)
//        │                     and, with a disc or tile reader, its reading of its findings on a
//        │                     disc-centred crop or on tiles of each CFP (model_bundle.hpp
//        │                     BundleRegionReader)
//        ▼
//   ImageEmbedder (preprocess per modality ─► encoder ─► projector; cached by content)
//        ▼
//   prompt: the bundle's template for the language, one "{modality} {eye}: <image>" line per
//           image, the findings text ─► assemble_multimodal_prompt
//        ▼
//   LLaMA2 generate_from_embeddings (streamed) ─► report text
//        (or N drafts after one prefill ─► the consensus draft, report_consensus.hpp)
//        ▼
//   extract_labels_from_text ─► structured_report (+ image checks, disclaimer) ─► JSON
//
// The structured JSON is read from the generated text itself, so the two never disagree.
//
// Ownership and threads: a ReportModel is loaded once and immutable; any number of ReportSessions
// (each used by one thread at a time) share it. The on_text callback runs on the thread that
// called ReportSession::generate.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "ophtha/auxiliary_heads.hpp"
#include "ophtha/export.h"
#include "ophtha/image.hpp"
#include "ophtha/llama.hpp"
#include "ophtha/manifest.hpp"
#include "ophtha/model_bundle.hpp"
#include "ophtha/projector.hpp"
#include "ophtha/report_extractor.hpp"
#include "ophtha/vision_encoder.hpp"

namespace ophtha {

class EmbeddingCache;
class ImageEmbedder;

struct ReportModelOptions {
  size_t cache_bytes = 64ull << 20;            // image-embedding cache; 0 = none
  std::function<bool(float)> progress;         // LLM load progress, as LlamaLoadOptions::progress
};

class OPHTHA_API ReportModel {
 public:
  // Loads every part a bundle names (read_bundle_manifest) and checks they fit together: the
  // projector maps the encoder's channels to the LLM's dim, the heads read the encoder's channels.
  // Errors: those of read_bundle_manifest, LlamaModel::load, load_vision_encoder,
  // FeatureProjector::load, AuxiliaryHeads::load and check_projector_fits, each naming its file.
  static std::shared_ptr<const ReportModel> load(const std::string& bundle_path, const ReportModelOptions& options = {});

  const ModelBundle& bundle() const { return bundle_; }
  const std::shared_ptr<const LlamaModel>& llm() const { return llm_; }
  const AuxiliaryHeads* heads() const { return heads_.get(); }  // nullptr when the bundle has none
  const ImageEmbedder& embedder(Modality modality) const;
  const VisionEncoder& encoder() const { return *encoder_; }
  // The disc and tile readers' heads (model_bundle.hpp BundleRegionReader); nullptr when the
  // bundle has no such reader.
  const AuxiliaryHeads* disc_heads() const { return disc_.heads.get(); }
  const AuxiliaryHeads* tile_heads() const { return tile_.heads.get(); }

  // With a disc or tile reader: in predictions[i] of each CFP image i, the score, threshold and
  // source of each finding a reader reads become the reader's own — on the image's disc-centred
  // crop, or the largest over the image's tiles (max_over_tiles) — by its encoder and heads; the
  // rest of the prediction stays. Nothing changes without one.
  // predictions.size() must equal images.size() (Error(InvalidArgument) otherwise).
  void apply_region_readers(const std::vector<Image>& images, std::vector<HeadPrediction>& predictions) const;

  // The modality the auxiliary heads see in `image`, its own label ignored: the image is
  // preprocessed as each modality in turn, and the modality the heads find most likely under its
  // own preprocessing wins. Error(Unsupported) when the bundle has no auxiliary heads.
  Modality recognise_modality(const Image& image) const;

 private:
  ReportModel() = default;
  ModelBundle bundle_;
  std::shared_ptr<const LlamaModel> llm_;
  std::shared_ptr<const VisionEncoder> encoder_;
  std::shared_ptr<const FeatureProjector> projector_;
  std::unique_ptr<AuxiliaryHeads> heads_;
  struct RegionReader {  // a BundleRegionReader's parts, loaded
    const BundleRegionReader* spec = nullptr;  // in bundle_; null: none
    std::unique_ptr<const VisionEncoder> encoder;
    std::unique_ptr<AuxiliaryHeads> heads;
  };
  RegionReader disc_, tile_;
  void load_region_reader(RegionReader& reader, const std::optional<BundleRegionReader>& spec, const char* what);
  std::shared_ptr<EmbeddingCache> cache_;
  std::vector<std::unique_ptr<ImageEmbedder>> embedders_;  // one per modality (its preprocessing)
};

struct ReportOptions {
  std::string lang = "en";        // "zh" or "en": one of the bundle's languages
  std::string findings;           // the instruments' findings text; may be empty
  int max_tokens = 0;             // 0 = the bundle's default
  float temperature = -1.0f;      // < 0 = the bundle's default; 0 = greedy
  float top_p = -1.0f;            // < 0 = the bundle's default
  // Drafts per report: 0 = the bundle's default; 1 = one report, streamed as it is generated
  // (unless line drafts refine it); N > 1 = N drafts after one shared prefill — the first at
  // `temperature`, the others sampled at `candidate_temperature` with seeds seed + 1 ... seed + N − 1
  // — and the one whose labels agree most with the others' is the report (report_consensus.hpp),
  // each draft less the referrals and follow-up intervals it gives at odds with its own grades
  // (choose_draft: read_report's referral_conflicts and follow_up_conflicts, counted as contradictions);
  // on_text then receives it whole, once chosen. At most kMaxReportCandidates.
  int candidates = 0;
  float candidate_temperature = -1.0f;  // < 0 = the bundle's default; must be > 0 when drafts are sampled
  // With N > 1 drafts, how much the evidence outside the language model — the auxiliary heads'
  // reading of each image and the labels the findings text states — weighs in choosing among them
  // (report_consensus.hpp consensus_choice): < 0 = the bundle's default, 0 = the drafts vote among
  // themselves only, at most kMaxEvidenceWeight.
  float evidence_weight = -1.0f;
  // Line refinement (line_refinement.hpp, by sentence): each sentence of each line of the chosen
  // draft drafted again this many times from the report so far, sampled at candidate_temperature,
  // and the sentence that agrees most with the others and the evidence kept. < 0 = the bundle's default, 0 = none, at most
  // kMaxReportCandidates. With line drafts on_text receives the report whole, once refined.
  int line_drafts = -1;
  // With line drafts: the most sentences line refinement may insert in a line — a sentence the
  // draft's line lacks, kept when the line it completes states all the line's findings and more
  // and the report scores above the best replacement (line_refinement.hpp). < 0 = the bundle's
  // default, 0 = none (each line keeps the draft's number of sentences), at most
  // kMaxSentenceInsertions.
  int sentence_insertions = -1;
  // With line drafts, sentence insertions and the evidence weighed: guided alternatives per finding
  // the evidence holds for a line's eye and modality that the report does not state — sentences the
  // language model writes after the finding's name, kept only as insertions that score above the
  // best replacement (LineRefinementOptions::guided_drafts). < 0 = the bundle's default, 0 = none,
  // at most kMaxGuidedDrafts.
  int guided_drafts = -1;
  // Where candidates tie on support (the same findings and grades), keep the wording most of them
  // share (highest summed ROUGE-L against the others: a minimum-Bayes-risk choice,
  // line_refinement.hpp "Wording"): with line drafts, each step's alternative; with several
  // drafts, the report's title, or none (central_title, after line refinement). false keeps the
  // draft's own sentence at each step and its own title (as before 2026-12-01; before 2026-12-03
  // for the title).
  bool central_wording = true;
  // Drop the list items that only name a finding the line already named (report_pruning.hpp:
  // nothing the report states changes). The report as streamed piece by piece — one draft, no line
  // drafts, on_text set — keeps its repeats, as the reader saw them.
  bool drop_repeats = true;
  // Drop the list items that state only findings the evidence reads absent: the auxiliary heads'
  // reading of a gradable image of the finding's modality of that eye, or the findings text, holds
  // the modality but not the finding (report_pruning.hpp drop_unsupported_findings; the structured
  // report is read from the text so pruned). < 0 = the bundle's default
  // (generation.drop_unsupported_findings), 0 = keep them, > 0 = drop them. The report as streamed
  // piece by piece keeps them, as the reader saw them.
  int drop_unsupported = -1;
  uint64_t seed = 0;
  bool check_images = true;       // run the auxiliary heads' modality and gradability checks
  float modality_threshold = 0.9f;  // an image is left out when another modality is this likely
  // Called with each new piece of report text (complete UTF-8); returning false stops generation.
  std::function<bool(std::string_view piece)> on_text;
  // Polled per token and per layer; returning true aborts with Error(Aborted).
  std::function<bool()> should_abort;
};

// What the auxiliary heads made of one input image.
struct ImageCheck {
  Modality given = Modality::Cfp;
  Eye eye = Eye::OD;
  Modality looks_like = Modality::Cfp;
  float looks_like_probability = 0;
  float gradable_probability = 1;
  bool used = true;  // false: left out of the prompt because it looks like another modality
};

struct Report {
  std::string text;                 // the report (as streamed; else pruned: ReportOptions::drop_repeats, ::drop_unsupported)
  nlohmann::json structured;        // docs/reports.md: per eye findings, diagnosis, grades, referral, ...
  std::vector<ImageCheck> image_checks;  // one per input image (empty when checks are off or no heads)
  std::string disclaimer;           // the bundle's
  int64_t prompt_tokens = 0;
  int64_t generated_tokens = 0;    // of the report (the chosen draft)
  int candidates = 1;               // drafts written
  size_t chosen = 0;                // the index of the draft that became the report
  int refined_lines = 0;            // lines of the chosen draft in which line refinement replaced, inserted or dropped a sentence
  int inserted_sentences = 0;       // sentences line refinement inserted
  int guided_sentences = 0;         // of those, guided alternatives (guided_drafts)
  int dropped_sentences = 0;        // sentences of the chosen draft line refinement left out: contradicting the report,
                                    // or repeating the sentence before them word for word
  // The findings the text stated before pruning took out the list items the evidence reads absent
  // (ReportOptions::drop_unsupported; report_pruning.hpp), by eye then finding; also
  // structured["dropped_findings"]. Empty when nothing went or pruning was off.
  std::vector<EyeFinding> dropped_findings;
  std::vector<std::string> drafts;  // every draft's text in order when candidates > 1 (else empty)
  double embed_seconds = 0;
  double prefill_seconds = 0;
  double decode_seconds = 0;        // decoding every draft (side by side, one batched step per token) and refining
};

class OPHTHA_API ReportSession {
 public:
  // n_threads 0 = every core this process may use. Error(InvalidArgument) as LlamaSession.
  explicit ReportSession(std::shared_ptr<const ReportModel> model, int n_threads = 0);
  ReportSession(std::shared_ptr<const ReportModel> model, const LlamaSessionOptions& options);
  ~ReportSession();

  // The language-model session underneath (for plain text generation on the same KV cache).
  LlamaSession& llm_session() { return *session_; }

  // Writes the report for `images` (any number ≥ 0 of any modalities and eyes; with none, the
  // report is written from the findings text alone — the text-only route). Each call starts from
  // an empty context.
  // Errors: Error(InvalidArgument) for a language the bundle does not have, or no images and no
  // findings; Error(ContextOverflow) when the prompt does not fit the LLM's context; Error(Aborted)
  // when should_abort asked to stop; and those of preprocessing and encoding.
  Report generate(const std::vector<Image>& images, const ReportOptions& options);

 private:
  std::shared_ptr<const ReportModel> model_;
  std::unique_ptr<LlamaSession> session_;
};

// What the prompt says about one image: its line "{modality} {eye}: <image>".
struct PromptImage {
  Modality modality = Modality::Cfp;
  Eye eye = Eye::OD;
};

// The prompt text for `images` (their modality and eye) under the bundle's template for `lang`,
// with one image marker per image — what ReportSession::generate assembles (and what training lays
// out). Error(InvalidArgument) for a language without a template.
OPHTHA_API std::string report_prompt_text(const ModelBundle& bundle, const std::vector<PromptImage>& images,
                                          const std::string& findings, const std::string& lang);
OPHTHA_API std::string report_prompt_text(const ModelBundle& bundle, const std::vector<Image>& images,
                                          const std::string& findings, const std::string& lang);

// The instruments' findings text of a study, as the text-only route gives it to the model: each
// image's findings_text on its own line, in image order (empty lines left out).
OPHTHA_API std::string study_findings_text(const Study& study);

// One generated report of a study, as a line of a predictions file (evaluation.hpp) holds it.
struct StudyReport {
  std::string id, lang, text;
  nlohmann::json structured;
  std::vector<std::string> drafts;  // Report::drafts: every draft when several were written (else empty)
  size_t chosen = 0;                // Report::chosen
};

struct StudyReportOptions {
  std::vector<std::string> languages = {"en"};  // one report per study and language
  bool text_only = false;   // the text-only route: the study's findings text, no image
  ReportOptions report;     // sampling, checks, limits (lang, findings and callbacks are set per study)
  int threads = 1;          // studies reported at once, each by its own one-thread session
  std::function<void(size_t done, size_t total)> progress;  // after each report, on a worker thread (serialised)
};

// Writes the reports of `studies` (their images read from `manifest`'s folder), in study then
// language order, whatever the thread count. Errors: those of image decoding (naming the file) and
// ReportSession::generate, for the first study that fails.
OPHTHA_API std::vector<StudyReport> report_studies(std::shared_ptr<const ReportModel> model, const Manifest& manifest,
                                                   const std::vector<const Study*>& studies,
                                                   const StudyReportOptions& options);

}  // namespace ophtha
