// A GGUF's embedded vocabulary (tokenizer.ggml.*) as a Tokenizer.
#pragma once
#include "ophtha/gguf.hpp"
#include "ophtha/tokenizer.hpp"

namespace ophtha {

// Requires tokenizer.ggml.model = "llama" (SentencePiece BPE); reads tokens, scores,
// token_type, bos/eos/unknown ids and add_space_prefix. Errors name the file and the key.
Tokenizer tokenizer_from_gguf(const GgufFile& gguf);

}  // namespace ophtha
