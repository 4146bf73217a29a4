#include "llm/tokenizer_from_gguf.hpp"

#include "ophtha/error.hpp"

namespace ophtha {

Tokenizer tokenizer_from_gguf(const GgufFile& gguf) {
  const std::string& path = gguf.path();
  const std::string model = gguf.get_string("tokenizer.ggml.model");
  if (model != "llama")
    fail(ErrorCode::Unsupported, "{}: tokenizer.ggml.model is '{}', expected 'llama' (SentencePiece BPE)", path, model);
  TokenizerVocab vocab;
  vocab.pieces = gguf.get_string_array("tokenizer.ggml.tokens");
  const size_t n = vocab.pieces.size();
  if (n == 0) fail(ErrorCode::InvalidFormat, "{}: tokenizer.ggml.tokens is empty", path);
  vocab.scores = gguf.has("tokenizer.ggml.scores") ? gguf.get_float_array("tokenizer.ggml.scores")
                                                   : std::vector<float>(n, 0.f);
  std::vector<int32_t> types = gguf.has("tokenizer.ggml.token_type") ? gguf.get_int_array("tokenizer.ggml.token_type")
                                                                     : std::vector<int32_t>(n, 1);
  for (const auto& [key, size] : {std::pair<const char*, size_t>{"tokenizer.ggml.scores", vocab.scores.size()},
                                  std::pair<const char*, size_t>{"tokenizer.ggml.token_type", types.size()}})
    if (size != n)
      fail(ErrorCode::InvalidFormat, "{}: {} has {} entries but tokenizer.ggml.tokens has {}", path, key, size, n);
  vocab.kinds.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    if (types[i] < 1 || types[i] > 6)
      fail(ErrorCode::InvalidFormat, "{}: tokenizer.ggml.token_type[{}] is {}, expected 1..6", path, i, types[i]);
    vocab.kinds.push_back(static_cast<TokenKind>(types[i]));
  }
  auto id = [&](const char* key, int32_t fallback) {
    const auto v = gguf.find_uint(key);
    const uint64_t value = v.value_or(static_cast<uint64_t>(fallback));
    if (value >= n)
      fail(ErrorCode::InvalidFormat, "{}: {} is {}{}, outside the vocabulary of {} (tokenizer.ggml.tokens)", path, key,
           value, v ? "" : " (the default when absent)", n);
    return static_cast<int32_t>(value);
  };
  vocab.bos_id = id("tokenizer.ggml.bos_token_id", 1);
  vocab.eos_id = id("tokenizer.ggml.eos_token_id", 2);
  vocab.unk_id = id("tokenizer.ggml.unknown_token_id", 0);
  vocab.add_space_prefix = gguf.find_bool("tokenizer.ggml.add_space_prefix").value_or(true);
  try {
    return Tokenizer(std::move(vocab));
  } catch (const Error& e) {  // the vocabulary's own checks (empty, Byte pieces) do not know the file
    fail(e.code(), "{}: tokenizer.ggml.tokens: {}", path, e.what());
  }
}

}  // namespace ophtha
