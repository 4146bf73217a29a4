// TokenStreamDecoder: decode() one token at a time; decode() itself is built on it.
#include "ophtha/error.hpp"
#include "ophtha/tokenizer.hpp"
#include "tokenizer/tokenizer_tables.hpp"
#include "tokenizer/utf8.hpp"

namespace ophtha {

TokenStreamDecoder::TokenStreamDecoder(const Tokenizer& tokenizer, bool continues_text)
    : tokenizer_(tokenizer), at_start_(!continues_text) {}

std::string TokenStreamDecoder::push(int32_t id) {
  const detail::TokenizerTables& tables = *tokenizer_.tables_;
  if (id < 0 || id >= tokenizer_.n_vocab())
    fail(ErrorCode::InvalidArgument, "TokenStreamDecoder::push: token id {} is out of range [0, {})", id,
         tokenizer_.n_vocab());
  const TokenKind kind = tables.vocab.kinds[id];
  if (kind == TokenKind::Byte) {
    held_bytes_ += tables.surfaces[id];
    at_start_ = false;
    return release_bytes(false);
  }
  // Any other token ends a run of byte tokens, as in SentencePiece's DecodeIds.
  std::string text = release_bytes(true);
  if (kind == TokenKind::Control) return text;
  text += tables.text_surface(id, at_start_);
  at_start_ = false;
  return text;
}

std::string TokenStreamDecoder::flush() { return release_bytes(true); }

std::string TokenStreamDecoder::release_bytes(bool final) {
  std::string text;
  const size_t consumed = detail::append_utf8_with_replacement(held_bytes_, final, text);
  held_bytes_.erase(0, consumed);
  return text;
}

}  // namespace ophtha
