// Writing a SentencePiece tokenizer.model (a serialized sentencepiece.ModelProto) from a vocabulary,
// so that a Hugging Face folder exported from a GGUF (which holds only the vocabulary) is complete.
#pragma once
#include <cstdint>
#include <string>

#include "ophtha/tokenizer.hpp"

namespace ophtha::train {

// The protobuf bytes of a BPE model with `vocab`'s pieces, scores and kinds, and the fields
// Tokenizer::from_sentencepiece_model reads: trainer_spec {model_type BPE, byte_fallback when a
// Byte piece exists, unk_id, bos_id, eos_id}, normalizer_spec {name "identity",
// add_dummy_prefix, remove_extra_whitespaces false, escape_whitespaces true}.
std::string sentencepiece_model_bytes(const TokenizerVocab& vocab);

}  // namespace ophtha::train
