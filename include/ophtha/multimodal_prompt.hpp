// Prompt assembly: a template text with one image marker per image, the instruments' findings
// text, and the images' projected embeddings become one sequence of LLM input embeddings (T, dim)
// for LlamaSession::forward_embeddings / generate_from_embeddings.
//
//   template  "Findings: {findings}\nFundus: <image>\nOCT: <image>\nReport:"
//   findings  "IOP 21 mmHg OD"
//     1. every "{findings}" becomes the findings text (inserted after the split below, so a
//        marker inside the findings is plain text, never an image slot);
//     2. the template is split at each image marker; image i's slot is
//        image_begin + [embeddings of image i (N'_i, d)] + image_end;
//     3. each text piece is tokenised on its own (LLaVA's tokenizer_image_token does the same:
//        with SentencePiece each non-empty piece gets its own leading "▁"), BOS once at the start;
//     4. the text tokens are embedded with the LLM's token embedding (LlamaModel::embed_tokens)
//        and the image embeddings spliced in their slots:
//
//   [BOS] piece₀ image_begin | image 0 | image_end piece₁ image_begin | image 1 | image_end piece₂
//
// Autograd: the result is at::cat of the text embeddings and the image tensors as given, so a
// gradient flows back into image embeddings that require it (projector training).
// Thread safety: a pure function of its arguments (LlamaModel is immutable).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include "ophtha/export.h"
#include "ophtha/llama.hpp"
#include "ophtha/tokenizer.hpp"

namespace ophtha {

struct PromptTemplateOptions {
  std::string image_marker = "<image>";       // one per image, in image order; must not be empty
  std::string findings_marker = "{findings}"; // replaced by the findings text; must not be empty
  std::string image_begin;                    // text before each image, e.g. "<img>" ("" = none)
  std::string image_end;                      // text after each image, e.g. "</img>"
  bool add_bos = true;                        // BOS once, at the very start
};

// Where image i's embeddings sit in the assembled sequence: rows [start, start + length).
struct ImageSpan {
  int64_t start = 0;
  int64_t length = 0;
};

struct MultimodalPrompt {
  at::Tensor embeddings;           // (T, dim) f32, contiguous
  std::vector<int32_t> token_ids;  // (T) the text token ids; -1 in image rows
  std::vector<ImageSpan> images;   // one per image, in order
};

// The prompt's token layout before embedding (steps 1–3): what assemble_multimodal_prompt embeds,
// from the tokenizer alone — a trainer lays out its sequences exactly as inference will.
struct MultimodalPromptLayout {
  std::vector<int32_t> token_ids;  // (T) the text token ids; -1 in image rows
  std::vector<ImageSpan> images;   // one per image, in order
};

// `image_tokens[i]` ≥ 1 is image i's number of embedding rows (N'_i).
// Errors: as assemble_multimodal_prompt for the markers and the findings; Error(InvalidArgument)
// for an image of fewer than one token.
OPHTHA_API MultimodalPromptLayout layout_multimodal_prompt(const Tokenizer& tokenizer, const std::string& template_text,
                                                           const std::string& findings,
                                                           const std::vector<int64_t>& image_tokens,
                                                           const PromptTemplateOptions& options = {});

// Assembles the prompt (steps above). `image_embeddings[i]` is image i's (N'_i ≥ 1, dim) f32 CPU
// tensor (FeatureProjector::project gives [B, N', d]: pass its rows one image at a time).
// Errors: Error(InvalidArgument) when the number of image markers differs from the number of
// images (both counts named), when the findings text is not empty but the template has no
// findings marker, when a marker is empty, and when an image embedding is not (N ≥ 1, dim) f32
// (its index, shape and the LLM's dim named).
OPHTHA_API MultimodalPrompt assemble_multimodal_prompt(const LlamaModel& model, const std::string& template_text,
                                                       const std::string& findings,
                                                       const std::vector<at::Tensor>& image_embeddings,
                                                       const PromptTemplateOptions& options = {});

}  // namespace ophtha
