// A model bundle: one folder holding everything `ophtha report` needs, named by a small JSON
// manifest (ophtha-bundle.json). The format is written out in docs/formats.md ("Model bundle").
//
//   bundle/
//     ophtha-bundle.json     this manifest
//     llm.gguf               the LLaMA2-architecture language model with its tokenizer (or an HF folder)
//     encoder.safetensors    the vision encoder (torchvision names) or encoder.pt (TorchScript)
//     projector.safetensors  the feature projector
//     heads.safetensors      optional auxiliary classification heads (modality, gradability, grades)
//     disc-encoder.safetensors, disc-heads.safetensors   optional disc reader (below)
//     tile-encoder.safetensors, tile-heads.safetensors   optional tile reader (below)
//
// The manifest also fixes the preprocessing per modality, the prompt template per language, the
// report languages, the default generation settings, and the disclaimer every report carries.
// Paths in the manifest are relative to the bundle folder; absolute paths and ".." are refused so
// that a bundle is one self-contained, relocatable folder.
//
// Thread safety: plain values and pure functions.
// Errors: read_bundle_manifest checks the whole manifest and throws one Error(InvalidFormat) listing
// every problem as "<file>: <field>: <what was wrong>, expected <...>" (Error(Io) when the file cannot
// be read); write_bundle_manifest throws Error(Io) when the file cannot be written.
#pragma once
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "ophtha/export.h"
#include "ophtha/modality.hpp"
#include "ophtha/preprocess.hpp"
#include "ophtha/study.hpp"

namespace ophtha {

inline constexpr const char* kBundleManifestName = "ophtha-bundle.json";
inline constexpr int kBundleFormatVersion = 1;
inline constexpr int kMaxReportCandidates = 128;  // generation.candidates and ReportOptions::candidates at most
inline constexpr float kMaxEvidenceWeight = 100.0f;  // generation.evidence_weight and ReportOptions::evidence_weight at most
inline constexpr int kMaxSentenceInsertions = 16;  // generation.sentence_insertions and ReportOptions::sentence_insertions at most
inline constexpr int kMaxGuidedDrafts = 16;  // generation.guided_drafts and ReportOptions::guided_drafts at most

// How the prompt is built for a study (docs/formats.md, "Prompt"):
//   template[lang] with "{images}" and "{findings}" placeholders;
//   "{images}"   ← one image_line per image, in the order given, each holding one image_marker
//                  ("{modality}" and "{eye}" in image_line become e.g. "CFP" and "OD");
//   "{findings}" ← the instruments' findings text, or no_findings[lang] when none was given;
//                  with heads_findings, followed by the auxiliary heads' reading of each image
//                  (heads_findings.hpp; the bundle must then have heads).
// The prompt for the text-only route is the same template with no images.
struct BundlePrompt {
  std::map<std::string, std::string> templates;    // language → template
  std::string image_line = "{modality} {eye}: <image>\n";
  std::string image_marker = "<image>";
  std::map<std::string, std::string> no_findings;  // language → text used when no findings are given
  bool heads_findings = false;                     // manifest "heads_findings" (default false)
};

struct BundleGeneration {
  int max_tokens = 384;
  float temperature = 0.0f;  // 0 = greedy
  float top_p = 1.0f;
  int top_k = 0;
  int candidates = 1;                // drafts per report; > 1: the consensus draft (report_consensus.hpp)
  float candidate_temperature = 0.7f;  // temperature of every draft after the first (which uses `temperature`)
  // How much the heads' reading and the instruments' findings text weigh in choosing among drafts
  // (report_consensus.hpp consensus_choice): 0 = the drafts vote among themselves only.
  float evidence_weight = 0.0f;
  // Line refinement of the chosen draft (line_refinement.hpp): alternatives drafted per sentence
  // of each line, sampled at candidate_temperature; 0 = none.
  int line_drafts = 0;
  // With line refinement: the most sentences it may insert in a line (LineRefinementOptions::
  // sentence_insertions); 0 = none, the lines keep the draft's number of sentences.
  int sentence_insertions = 0;
  // With sentence insertions and evidence: guided alternatives per finding the evidence holds that
  // the report does not state (LineRefinementOptions::guided_drafts); 0 = none.
  int guided_drafts = 0;
  // Drop the report's list items that state only findings the evidence — the heads' reading of
  // each image, the instruments' findings text — reads absent (report_pruning.hpp
  // drop_unsupported_findings); false = keep them. Manifest "drop_unsupported_findings".
  bool drop_unsupported_findings = false;
};

// An optional second reader of colour fundus photographs for some of their findings: its own
// encoder and auxiliary heads (the main heads' format) on a region of each CFP image, trained by
// a vision stage on such regions (docs/training.md). Its reading of `findings` replaces the main
// heads' for those findings (report_pipeline.hpp) — in the prompt's heads line and as evidence;
// everything else (modality, gradability, grades, the other findings) stays the main heads'.
//
//   disc reader  (manifest "disc_reader", preprocessing.region OpticDisc): a disc-centred crop, for
//                the findings of the optic disc. At 320² of the whole field a splinter haemorrhage
//                on the disc margin is 1.5–2 px wide (in the synthetic 1024² photographs); on a
//                0.28 crop at 160², 2.6–3.8 px ("Disc reader").
//   tile reader  (manifest "tile_reader", preprocessing.region Tiles): the field of view in g × g
//                overlapping tiles at a higher resolution (fundus_tiles.hpp), for findings small
//                and scattered over the fundus; a photograph's reading of a finding is the largest
//                over its tiles (max_over_tiles, heads_findings.hpp) ("Tile reader").
// A finding is read by at most one of them.
struct BundleRegionReader {
  std::string encoder_arch;         // "resnet18", "resnet34", "resnet50"
  std::string encoder;              // weights file
  std::string heads;                // auxiliary heads file (the same format as the main heads)
  PreprocessOptions preprocessing;  // region OpticDisc or Tiles
  std::vector<Finding> findings;    // CFP findings it reads, at least one, no repeats
};

struct OPHTHA_API ModelBundle {
  std::string folder;        // the bundle folder (as given to read_bundle_manifest)
  std::string name;          // e.g. "ophtha-demo"
  std::string description;
  std::string disclaimer;    // shown with every report, e.g. that the model was trained on synthetic images
  std::string llm;           // GGUF file or Hugging Face folder, relative to `folder`
  std::string encoder_arch;  // "resnet18", "resnet34", "resnet50", "torchscript"
  std::string encoder;       // weights file
  std::string projector;     // projector weights file
  std::string heads;         // auxiliary heads file; empty = none
  std::map<Modality, PreprocessOptions> preprocessing;  // all three modalities
  std::optional<BundleRegionReader> disc_reader;        // manifest "disc_reader"; needs heads
  std::optional<BundleRegionReader> tile_reader;        // manifest "tile_reader"; needs heads
  BundlePrompt prompt;
  std::vector<std::string> languages;  // report languages the model was trained for ("zh", "en")
  BundleGeneration generation;

  // `relative` joined to the bundle folder.
  std::string path_of(const std::string& relative) const;
};

// Reads and checks <folder>/ophtha-bundle.json (or the manifest file itself when `path` names a
// .json file): every field's type and range, known keys only, the format version, the files it
// names exist inside the folder, every language has a template holding {images} and {findings},
// image_line holds the image marker exactly once, a disc reader reads CFP findings on an optic
// disc region and a tile reader on tiles, no finding is read by both, and the bundle has main
// heads for them to stand beside.
OPHTHA_API ModelBundle read_bundle_manifest(const std::string& path);

// Writes <bundle.folder>/ophtha-bundle.json atomically (the files it names are not touched).
OPHTHA_API void write_bundle_manifest(const ModelBundle& bundle);

// The default prompt: English and Chinese templates, "{modality} {eye}: <image>" image lines.
OPHTHA_API BundlePrompt default_bundle_prompt();

}  // namespace ophtha
