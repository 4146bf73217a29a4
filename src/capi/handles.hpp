// What the opaque handles of ophtha.h hold. Only src/capi sees these definitions.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "ophtha/image.hpp"
#include "ophtha/llama.hpp"
#include "ophtha/ophtha.h"

struct ophtha_model {
  std::shared_ptr<const ophtha::LlamaModel> llm;  // shared with every session made from it
};

struct ophtha_session {
  std::unique_ptr<ophtha::LlamaSession> llm;  // keeps its model alive
  // The last successful generation, which ophtha_generation points into.
  std::string text;
  std::vector<int32_t> tokens;
  std::string piece;  // the streamed piece being handed to the token callback, NUL-terminated
};

struct ophtha_image {
  ophtha::Image image;
};
