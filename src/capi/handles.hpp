// What the opaque handles of ophtha.h hold. Only src/capi sees these definitions.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "ophtha/image.hpp"
#include "ophtha/llama.hpp"
#include "ophtha/ophtha.h"
#include "ophtha/report_pipeline.hpp"

struct ophtha_model {
  std::shared_ptr<const ophtha::LlamaModel> llm;  // shared with every session made from it
  std::shared_ptr<const ophtha::ReportModel> report;  // set when loaded from a model bundle
};

struct ophtha_session {
  std::unique_ptr<ophtha::ReportSession> report;  // a bundle's session; owns the LLaMA session
  std::unique_ptr<ophtha::LlamaSession> own_llm;  // a plain language model's session
  ophtha::LlamaSession* llm = nullptr;            // the one in use; keeps its model alive
  // The last successful generation, which ophtha_generation points into.
  std::string text;
  std::vector<int32_t> tokens;
  std::string piece;  // the streamed piece being handed to the token callback, NUL-terminated
};

struct ophtha_image {
  ophtha::Image image;
};

struct ophtha_report {
  std::string text;  // the generated report
  std::string json;  // the structured report (docs/reports.md), serialised
  ophtha::Report result;
};
