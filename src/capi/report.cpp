// Reports and image embeddings through the C ABI: a model bundle's ReportSession behind the handles.
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "capi/boundary.hpp"
#include "capi/handles.hpp"
#include "capi/struct_size.hpp"
#include "ophtha/image_embedder.hpp"

namespace ophtha::capi {
namespace {

#define OPHTHA_REPORT_FIELD(field) OPHTHA_FIELD_END(ophtha_report_params, field)
const StructLayout kReportParams = {
    "ophtha_report_params",
    sizeof(ophtha_report_params),
    {OPHTHA_REPORT_FIELD(lang), OPHTHA_REPORT_FIELD(findings), OPHTHA_REPORT_FIELD(max_tokens),
     OPHTHA_REPORT_FIELD(temperature), OPHTHA_REPORT_FIELD(top_p), OPHTHA_REPORT_FIELD(seed),
     OPHTHA_REPORT_FIELD(check_images), OPHTHA_REPORT_FIELD(modality_threshold),
     OPHTHA_REPORT_FIELD(token_callback), OPHTHA_REPORT_FIELD(token_user_data),
     OPHTHA_REPORT_FIELD(abort_callback), OPHTHA_REPORT_FIELD(abort_user_data), OPHTHA_REPORT_FIELD(candidates),
     OPHTHA_REPORT_FIELD(candidate_temperature), OPHTHA_REPORT_FIELD(evidence_weight),
     OPHTHA_REPORT_FIELD(line_drafts), OPHTHA_REPORT_FIELD(sentence_insertions), OPHTHA_REPORT_FIELD(guided_drafts),
     OPHTHA_REPORT_FIELD(drop_unsupported)}};
#undef OPHTHA_REPORT_FIELD

#define OPHTHA_REPORT_INFO_FIELD(field) OPHTHA_FIELD_END(ophtha_report_info, field)
const StructLayout kReportInfo = {
    "ophtha_report_info",
    sizeof(ophtha_report_info),
    {OPHTHA_REPORT_INFO_FIELD(n_prompt_tokens), OPHTHA_REPORT_INFO_FIELD(n_generated_tokens),
     OPHTHA_REPORT_INFO_FIELD(embed_seconds), OPHTHA_REPORT_INFO_FIELD(prefill_seconds),
     OPHTHA_REPORT_INFO_FIELD(decode_seconds), OPHTHA_REPORT_INFO_FIELD(n_candidates),
     OPHTHA_REPORT_INFO_FIELD(chosen_candidate), OPHTHA_REPORT_INFO_FIELD(n_refined_lines),
     OPHTHA_REPORT_INFO_FIELD(n_inserted_sentences), OPHTHA_REPORT_INFO_FIELD(n_dropped_sentences),
     OPHTHA_REPORT_INFO_FIELD(n_guided_sentences)}};
#undef OPHTHA_REPORT_INFO_FIELD

// The C defaults are ReportOptions' defaults: one source of truth.
ophtha_report_params report_defaults() {
  const ReportOptions options;
  ophtha_report_params p{};
  p.struct_size = sizeof(p);
  p.lang = nullptr;  // "en"
  p.findings = nullptr;
  p.max_tokens = options.max_tokens;
  p.temperature = options.temperature;
  p.top_p = options.top_p;
  p.seed = options.seed;
  p.check_images = options.check_images ? 1 : 0;
  p.modality_threshold = options.modality_threshold;
  p.candidates = options.candidates;
  p.candidate_temperature = 0.0f;  // the bundle's (ReportOptions says so with -1)
  p.evidence_weight = 0.0f;        // the bundle's (ReportOptions: -1; its 0, "none", is < 0 here)
  p.line_drafts = 0;               // the bundle's (ReportOptions: -1; its 0, "none", is < 0 here)
  p.sentence_insertions = 0;       // the bundle's (likewise)
  p.guided_drafts = 0;             // the bundle's (likewise)
  p.drop_unsupported = 0;          // the bundle's (ReportOptions: -1; its 0, "keep", is < 0 here)
  return p;
}

const ReportModel& report_model_of(const ophtha_model* model, const char* function) {
  if (!model->report)
    fail(ErrorCode::Unsupported, "{}: the model was loaded from a language-model file, not a model bundle "
         "(a folder with ophtha-bundle.json); reports and image embeddings need the bundle's vision parts", function);
  return *model->report;
}

}  // namespace
}  // namespace ophtha::capi

using namespace ophtha;
using namespace ophtha::capi;

extern "C" {

int32_t ophtha_model_has_vision(const ophtha_model* model) { return model && model->report ? 1 : 0; }

ophtha_status ophtha_report_params_default(ophtha_report_params* params, uint32_t struct_size) {
  return guarded("ophtha_report_params_default", [&] {
    require(params, "params");
    write_prefix(kReportParams, params, struct_size, report_defaults());
  });
}

ophtha_status ophtha_report_generate(ophtha_session* session, const ophtha_image* const* images, size_t n_images,
                                     const ophtha_report_params* params, ophtha_report** out_report) {
  return guarded("ophtha_report_generate", [&] {
    require(session, "session");
    require(out_report, "out_report");
    if (n_images > 0) require(images, "images (with n_images > 0)");
    const ophtha_report_params p = read_params(kReportParams, params, report_defaults());
    if (!session->report)
      fail(ErrorCode::Unsupported, "ophtha_report_generate: the session's model is a language-model file, not a "
           "model bundle (a folder with ophtha-bundle.json)");
    if (n_images > 1024) fail(ErrorCode::InvalidArgument, "n_images is {}, expected at most 1024", n_images);
    std::vector<Image> study;
    for (size_t i = 0; i < n_images; ++i) {
      if (!images[i]) fail(ErrorCode::InvalidArgument, "images[{}] is NULL", i);
      study.push_back(images[i]->image);
    }
    if (!(p.modality_threshold >= 0.0f && p.modality_threshold <= 1.0f))
      fail(ErrorCode::InvalidArgument, "modality_threshold is {}, expected a probability in [0, 1]", p.modality_threshold);
    ReportOptions options;
    options.lang = p.lang ? p.lang : "en";
    options.findings = p.findings ? p.findings : "";
    options.max_tokens = p.max_tokens;
    options.temperature = p.temperature;
    options.top_p = p.top_p;
    options.seed = p.seed;
    options.check_images = p.check_images != 0;
    options.modality_threshold = p.modality_threshold;
    if (!std::isfinite(p.candidate_temperature))
      fail(ErrorCode::InvalidArgument, "candidate_temperature is {}, expected a finite number", p.candidate_temperature);
    options.candidates = p.candidates;
    options.candidate_temperature = p.candidate_temperature > 0 ? p.candidate_temperature : -1.0f;
    if (std::isnan(p.evidence_weight))
      fail(ErrorCode::InvalidArgument, "evidence_weight is nan, expected 0 (the bundle's), < 0 (none) or a weight > 0");
    options.evidence_weight = p.evidence_weight == 0.0f ? -1.0f : p.evidence_weight < 0.0f ? 0.0f : p.evidence_weight;
    options.line_drafts = p.line_drafts == 0 ? -1 : p.line_drafts < 0 ? 0 : p.line_drafts;
    options.sentence_insertions = p.sentence_insertions == 0 ? -1 : p.sentence_insertions < 0 ? 0 : p.sentence_insertions;
    options.guided_drafts = p.guided_drafts == 0 ? -1 : p.guided_drafts < 0 ? 0 : p.guided_drafts;
    options.drop_unsupported = p.drop_unsupported == 0 ? -1 : p.drop_unsupported > 0 ? 1 : 0;
    std::string piece;
    if (p.token_callback)
      options.on_text = [&](std::string_view text) {
        piece.assign(text);  // NUL-terminated for the callback
        return p.token_callback(piece.c_str(), piece.size(), -1, p.token_user_data) == 0;
      };
    if (p.abort_callback) options.should_abort = [&p] { return p.abort_callback(p.abort_user_data) != 0; };

    auto report = std::make_unique<ophtha_report>();
    report->result = session->report->generate(study, options);
    report->text = report->result.text;
    report->json = report->result.structured.dump();
    *out_report = report.release();
  });
}

void ophtha_report_free(ophtha_report* report) { delete report; }

ophtha_status ophtha_report_get_info(const ophtha_report* report, ophtha_report_info* out_info) {
  return guarded("ophtha_report_get_info", [&] {
    require(report, "report");
    require(out_info, "out_info");
    ophtha_report_info info{};
    info.n_prompt_tokens = static_cast<size_t>(report->result.prompt_tokens);
    info.n_generated_tokens = static_cast<size_t>(report->result.generated_tokens);
    info.embed_seconds = report->result.embed_seconds;
    info.prefill_seconds = report->result.prefill_seconds;
    info.decode_seconds = report->result.decode_seconds;
    info.n_candidates = report->result.candidates;
    info.chosen_candidate = static_cast<int32_t>(report->result.chosen);
    info.n_refined_lines = report->result.refined_lines;
    info.n_inserted_sentences = report->result.inserted_sentences;
    info.n_dropped_sentences = report->result.dropped_sentences;
    info.n_guided_sentences = report->result.guided_sentences;
    write_output(kReportInfo, out_info, info);
  });
}

const char* ophtha_report_text(const ophtha_report* report) { return report ? report->text.c_str() : ""; }

const char* ophtha_report_json(const ophtha_report* report) { return report ? report->json.c_str() : ""; }

ophtha_status ophtha_report_get_draft(const ophtha_report* report, int32_t index, const char** out_text) {
  return guarded("ophtha_report_get_draft", [&] {
    require(report, "report");
    require(out_text, "out_text");
    const std::vector<std::string>& drafts = report->result.drafts;
    const int32_t n = drafts.empty() ? 1 : static_cast<int32_t>(drafts.size());
    if (index < 0 || index >= n)
      fail(ErrorCode::InvalidArgument, "index is {}, expected 0 to {} (the report has {} draft{})", index, n - 1, n,
           n == 1 ? "" : "s");
    *out_text = drafts.empty() ? report->text.c_str() : drafts[static_cast<size_t>(index)].c_str();
  });
}

ophtha_status ophtha_image_embed(const ophtha_model* model, const ophtha_image* image, float* out, size_t capacity,
                                 size_t* out_n_tokens, size_t* out_dim) {
  return guarded("ophtha_image_embed", [&]() -> ophtha_status {
    require(model, "model");
    require(image, "image");
    require(out_n_tokens, "out_n_tokens");
    require(out_dim, "out_dim");
    if (capacity > 0) require(out, "out (with capacity > 0)");
    const ReportModel& report_model = report_model_of(model, "ophtha_image_embed");
    const at::Tensor embedding =
        report_model.embedder(image->image.modality()).embed({image->image})[0].contiguous();  // (N', d)
    const auto n_tokens = static_cast<size_t>(embedding.size(0));
    const auto dim = static_cast<size_t>(embedding.size(1));
    *out_n_tokens = n_tokens;
    *out_dim = dim;
    if (capacity < n_tokens * dim)
      return report_failure(OPHTHA_STATUS_BUFFER_TOO_SMALL, "ophtha_image_embed",
                            fmt::format("the image's embeddings are {} x {} = {} floats, the buffer holds {}",
                                        n_tokens, dim, n_tokens * dim, capacity).c_str());
    std::memcpy(out, embedding.data_ptr<float>(), n_tokens * dim * sizeof(float));
    return OPHTHA_STATUS_OK;
  });
}

}  // extern "C"
