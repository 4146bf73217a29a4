#include "ophtha/multimodal_prompt.hpp"

#include <ATen/ATen.h>
#include <fmt/ranges.h>

#include "ophtha/error.hpp"

namespace ophtha {
namespace {

std::vector<std::string> split(const std::string& text, const std::string& marker) {
  std::vector<std::string> pieces;
  size_t from = 0;
  for (size_t at = text.find(marker); at != std::string::npos; at = text.find(marker, from)) {
    pieces.push_back(text.substr(from, at - from));
    from = at + marker.size();
  }
  pieces.push_back(text.substr(from));
  return pieces;
}

std::string replace_all(const std::string& text, const std::string& marker, const std::string& with) {
  const std::vector<std::string> pieces = split(text, marker);
  std::string out = pieces[0];
  for (size_t i = 1; i < pieces.size(); ++i) out += with + pieces[i];
  return out;
}

}  // namespace

MultimodalPromptLayout layout_multimodal_prompt(const Tokenizer& tokenizer, const std::string& template_text,
                                                const std::string& findings, const std::vector<int64_t>& image_tokens,
                                                const PromptTemplateOptions& options) {
  if (options.image_marker.empty() || options.findings_marker.empty())
    fail(ErrorCode::InvalidArgument, "prompt template: the image marker and the findings marker must not be empty");
  for (size_t i = 0; i < image_tokens.size(); ++i)
    if (image_tokens[i] < 1)
      fail(ErrorCode::InvalidArgument, "image {} has {} embedding rows, expected at least 1", i, image_tokens[i]);
  std::vector<std::string> pieces = split(template_text, options.image_marker);
  if (pieces.size() - 1 != image_tokens.size())
    fail(ErrorCode::InvalidArgument, "prompt template has {} image marker(s) '{}' but {} image(s) were given",
         pieces.size() - 1, options.image_marker, image_tokens.size());
  bool has_findings_marker = false;
  for (std::string& piece : pieces) {
    has_findings_marker = has_findings_marker || piece.find(options.findings_marker) != std::string::npos;
    piece = replace_all(piece, options.findings_marker, findings);
  }
  if (!findings.empty() && !has_findings_marker)
    fail(ErrorCode::InvalidArgument, "findings text was given but the prompt template has no findings marker '{}'",
         options.findings_marker);

  MultimodalPromptLayout layout;
  for (size_t i = 0; i < pieces.size(); ++i) {
    std::string text = pieces[i];
    if (i > 0) text = options.image_end + text;
    if (i + 1 < pieces.size()) text += options.image_begin;
    const std::vector<int32_t> ids = tokenizer.encode(text, i == 0 && options.add_bos);
    layout.token_ids.insert(layout.token_ids.end(), ids.begin(), ids.end());
    if (i + 1 < pieces.size()) {
      layout.images.push_back({static_cast<int64_t>(layout.token_ids.size()), image_tokens[i]});
      layout.token_ids.insert(layout.token_ids.end(), static_cast<size_t>(image_tokens[i]), -1);
    }
  }
  return layout;
}

MultimodalPrompt assemble_multimodal_prompt(const LlamaModel& model, const std::string& template_text,
                                            const std::string& findings,
                                            const std::vector<at::Tensor>& image_embeddings,
                                            const PromptTemplateOptions& options) {
  const int64_t dim = model.config().dim;
  std::vector<int64_t> image_tokens;
  for (size_t i = 0; i < image_embeddings.size(); ++i) {
    const at::Tensor& e = image_embeddings[i];
    if (!e.defined() || e.dim() != 2 || e.size(0) < 1 || e.size(1) != dim || e.scalar_type() != at::kFloat ||
        !e.device().is_cpu())
      fail(ErrorCode::InvalidArgument, "image embedding {} is {} [{}], expected float32 [N, {}] on the CPU "
           "(N >= 1 tokens of the LLM's dim {})", i, e.defined() ? c10::toString(e.scalar_type()) : "undefined",
           e.defined() ? fmt::format("{}", fmt::join(e.sizes(), ", ")) : "", dim, dim);
    image_tokens.push_back(e.size(0));
  }
  MultimodalPromptLayout layout = layout_multimodal_prompt(model.tokenizer(), template_text, findings, image_tokens, options);

  // Text runs embedded with the LLM's token embedding, image rows spliced in between.
  std::vector<at::Tensor> parts;
  const std::vector<int32_t>& ids = layout.token_ids;
  size_t next_image = 0;
  for (size_t at_row = 0; at_row < ids.size();) {
    if (ids[at_row] < 0) {
      const at::Tensor& image = image_embeddings[next_image++];
      parts.push_back(image);
      at_row += static_cast<size_t>(image.size(0));
      continue;
    }
    size_t end = at_row;
    while (end < ids.size() && ids[end] >= 0) ++end;
    at::Tensor embedded = at::empty({static_cast<int64_t>(end - at_row), dim}, at::kFloat);
    model.embed_tokens(ids.data() + at_row, static_cast<int64_t>(end - at_row), embedded.data_ptr<float>());
    parts.push_back(std::move(embedded));
    at_row = end;
  }
  MultimodalPrompt prompt;
  prompt.embeddings = parts.empty() ? at::empty({0, dim}, at::kFloat) : at::cat(parts, 0).contiguous();
  prompt.token_ids = std::move(layout.token_ids);
  prompt.images = std::move(layout.images);
  return prompt;
}

}  // namespace ophtha
