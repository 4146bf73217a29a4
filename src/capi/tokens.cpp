// Tokenize and detokenize with a model's tokenizer, into caller buffers.
#include <algorithm>
#include <cstring>
#include <string_view>
#include <vector>

#include "capi/boundary.hpp"
#include "capi/handles.hpp"

using namespace ophtha;
using namespace ophtha::capi;

extern "C" {

ophtha_status ophtha_tokenize(const ophtha_model* model, const char* text, size_t text_length, int32_t add_bos,
                              int32_t* tokens, size_t capacity, size_t* n_tokens) {
  return guarded("ophtha_tokenize", [&]() -> ophtha_status {
    require(model, "model");
    require(n_tokens, "n_tokens");
    if (text_length > 0) require(text, "text (with text_length > 0)");
    if (capacity > 0) require(tokens, "tokens (with capacity > 0)");
    const std::vector<int32_t> ids =
        model->llm->tokenizer().encode(std::string_view(text ? text : "", text_length), add_bos != 0);
    if (ids.size() > capacity) {
      *n_tokens = ids.size();
      return report_failure(OPHTHA_STATUS_BUFFER_TOO_SMALL, "ophtha_tokenize",
                            fmt::format("the text has {} tokens but the buffer holds {}; call again with "
                                        "capacity >= {}",
                                        ids.size(), capacity, ids.size())
                                .c_str());
    }
    std::copy(ids.begin(), ids.end(), tokens);
    *n_tokens = ids.size();
    return OPHTHA_STATUS_OK;
  });
}

ophtha_status ophtha_detokenize(const ophtha_model* model, const int32_t* tokens, size_t n_tokens, char* text,
                                size_t capacity, size_t* text_length) {
  return guarded("ophtha_detokenize", [&]() -> ophtha_status {
    require(model, "model");
    require(text_length, "text_length");
    if (n_tokens > 0) require(tokens, "tokens (with n_tokens > 0)");
    if (capacity > 0) require(text, "text (with capacity > 0)");
    const Tokenizer& tokenizer = model->llm->tokenizer();
    for (size_t i = 0; i < n_tokens; ++i)
      if (tokens[i] < 0 || tokens[i] >= tokenizer.n_vocab())
        fail(ErrorCode::InvalidArgument, "tokens[{}] is {}, expected an id in [0, {})", i, tokens[i],
             tokenizer.n_vocab());
    const std::string decoded = tokenizer.decode(std::vector<int32_t>(tokens, tokens + n_tokens));
    if (decoded.size() >= capacity) {
      *text_length = decoded.size();
      return report_failure(OPHTHA_STATUS_BUFFER_TOO_SMALL, "ophtha_detokenize",
                            fmt::format("the text has {} bytes and a terminating NUL but the buffer holds {}; "
                                        "call again with capacity >= {}",
                                        decoded.size(), capacity, decoded.size() + 1)
                                .c_str());
    }
    std::memcpy(text, decoded.c_str(), decoded.size() + 1);
    *text_length = decoded.size();
    return OPHTHA_STATUS_OK;
  });
}

}  // extern "C"
