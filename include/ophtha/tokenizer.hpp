// The LLaMA 2 tokenizer: SentencePiece BPE (bpe_model.cc), reproduced id for id.
//
// encode() gives exactly what sentencepiece's EncodeAsIds gives and decode() exactly what DecodeIds
// gives, for the normalizer LLaMA 2 ships (identity, add_dummy_prefix, remove_extra_whitespaces off,
// ' ' escaped as U+2581 "▁"):
//   1. normalize: "" stays ""; otherwise "▁" is prepended (add_space_prefix), every ' ' becomes "▁",
//      every byte that does not start a valid UTF-8 character becomes U+FFFD (one per byte); tabs,
//      newlines and everything else are kept as they are.
//   2. split into symbols: a user-defined piece (longest match) is one frozen symbol that never
//      merges; anything else is one UTF-8 character.
//   3. merge: repeatedly join the adjacent pair whose concatenation is the piece with the highest
//      score (ties → leftmost pair), over Normal, UserDefined and Unused pieces.
//   4. Unused pieces are split back into the two symbols they were merged from.
//   5. a symbol that is no piece becomes, with byte fallback (the vocabulary has Byte pieces), one
//      <0xNN> token per UTF-8 byte, otherwise unk_id.
// Thread safety: a Tokenizer is immutable after construction; any number of threads may call its
// const methods at once. Copies are cheap and share the same immutable tables.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "ophtha/export.h"

namespace ophtha {

// What a token is; the numbering is GGUF's tokenizer.ggml.token_type (and SentencePiece's Type).
enum class TokenKind : int32_t {
  Normal = 1,       // ordinary text piece; "▁" stands for a space
  Unknown = 2,      // <unk>: what a symbol with no piece becomes without byte fallback
  Control = 3,      // <s>, </s>: never produced by encode(), decodes to ""
  UserDefined = 4,  // always kept whole by encode() when it occurs in the text
  Unused = 5,       // in the vocabulary but never produced by encode()
  Byte = 6,         // <0xNN>: one raw byte, used for byte fallback
};

// The data a Tokenizer is built from. GGUF's tokenizer.ggml.{tokens, scores, token_type,
// bos_token_id, eos_token_id, unknown_token_id, add_space_prefix} map onto it 1:1; a token's id is
// its index in the three parallel vectors.
struct OPHTHA_API TokenizerVocab {
  std::vector<std::string> pieces;  // (n_vocab) UTF-8 text of each token, "▁" for space, "<0xNN>" for bytes
  std::vector<float> scores;        // (n_vocab) merge priority: the higher, the earlier a pair merges into it
  std::vector<TokenKind> kinds;     // (n_vocab)
  int32_t bos_id = 1, eos_id = 2, unk_id = 0;
  bool add_space_prefix = true;     // SentencePiece normalizer_spec.add_dummy_prefix
};

namespace detail {
struct TokenizerTables;
}

class OPHTHA_API Tokenizer {
 public:
  // Takes the vocabulary and builds the lookup tables.
  // Throws Error(InvalidFormat) when pieces, scores and kinds differ in size or are empty, when a
  // kind is outside 1..6, when bos_id, eos_id or unk_id is not a valid id, or when a Byte piece is
  // not spelled <0xNN>. When a piece occurs twice, the lower id is the one encode() produces.
  explicit Tokenizer(TokenizerVocab vocab);

  // Reads a SentencePiece tokenizer.model (a serialized sentencepiece.ModelProto) with a
  // bounds-checked protobuf reader of its own. Reads the pieces (text, score, type), the
  // trainer_spec (model_type, byte_fallback, bos_id, eos_id) and normalizer_spec.add_dummy_prefix.
  // Every message names `path` and what was wrong. Throws Error with
  //   Io            the file cannot be opened or read;
  //   InvalidFormat the bytes are not a well-formed ModelProto (truncated field, bad wire type,
  //                 length past the end, no pieces, no trainer_spec or normalizer_spec, empty or
  //                 duplicated piece, not exactly one Unknown piece, Byte pieces without
  //                 byte_fallback, bos/eos id out of range);
  //   Unsupported   a well-formed model this tokenizer would not reproduce: a model_type other than
  //                 BPE, a normalizer with a precompiled charsmap, remove_extra_whitespaces,
  //                 escape_whitespaces off, treat_whitespace_as_suffix, byte_fallback without Byte
  //                 pieces.
  static Tokenizer from_sentencepiece_model(const std::string& path);

  // The token ids of `text` (any bytes; invalid UTF-8 is handled as SentencePiece does: each bad
  // byte becomes U+FFFD), with bos_id() prepended when add_bos. Same result as SentencePiece
  // EncodeAsIds. "" gives [] (or [bos]). Throws Error(InvalidArgument) only when the text is
  // over 4 GiB once normalized (each ' ' grows to 3 bytes).
  std::vector<int32_t> encode(std::string_view text, bool add_bos) const;

  // The text of `ids`, as SentencePiece DecodeIds gives it: control tokens give "", <unk> gives
  // " ⁇ ", "▁" becomes ' ', the first "▁" of the first non-control token is dropped when
  // add_space_prefix (it is the dummy prefix), and each run of consecutive Byte tokens is read as UTF-8 with every byte that does not
  // complete a valid character replaced by U+FFFD. The result is always valid UTF-8 when the pieces
  // are. Throws Error(InvalidArgument) naming the first id outside [0, n_vocab()).
  std::string decode(const std::vector<int32_t>& ids) const;

  // The bytes token `id` contributes in the middle of a text: "▁" → ' ', <0xNN> → that one byte
  // (possibly part of a UTF-8 character), Control → "", Unknown → " ⁇ ".
  // Throws Error(InvalidArgument) when id is outside [0, n_vocab()).
  std::string token_bytes(int32_t id) const;

  // The piece text as stored in the vocabulary ("▁the", "<0x0A>", "<s>"). The reference stays valid
  // as long as this Tokenizer or a copy of it lives. Throws Error(InvalidArgument) when id is outside
  // [0, n_vocab()).
  const std::string& piece(int32_t id) const;

  int32_t n_vocab() const;
  int32_t bos_id() const;
  int32_t eos_id() const;

  // True for Control tokens (<s>, </s>). Throws Error(InvalidArgument) when id is out of range.
  bool is_control(int32_t id) const;

  // The vocabulary this tokenizer was built from, unchanged.
  const TokenizerVocab& vocab() const;

 private:
  friend class TokenStreamDecoder;
  std::shared_ptr<const detail::TokenizerTables> tables_;
};

// Turns generated token ids into text as they arrive. Each push() returns only whole UTF-8
// characters: bytes of a character split over several <0xNN> tokens are held until it is complete
// (or proven invalid, then it becomes U+FFFD as in decode()). The concatenation of every push() and
// a final flush() equals tokenizer.decode(all ids pushed), dummy-prefix space handling included.
// Keeps a cheap copy of the tokenizer, so the tokenizer passed in may die first. Not thread-safe:
// one decoder per stream, used by one thread at a time.
class OPHTHA_API TokenStreamDecoder {
 public:
  // `continues_text`: the stream continues existing text (generation after a prompt), so the
  // first piece keeps its leading "▁" as a space, as llama.cpp prints it; the concatenation then
  // equals decode() with that one space put back.
  explicit TokenStreamDecoder(const Tokenizer& tokenizer, bool continues_text = false);

  // Adds one token; returns the text that is now complete ("" when everything is still held).
  // Throws Error(InvalidArgument) when id is outside [0, n_vocab()); the decoder is then unchanged.
  std::string push(int32_t id);

  // Ends the current run of byte tokens: returns the held bytes as decode() would show them at the
  // end of a text (an incomplete character becomes one U+FFFD per byte) and forgets them. Pushing
  // may continue afterwards; the dummy-prefix space is only ever dropped once per decoder.
  std::string flush();

 private:
  // Releases the leading whole characters of held_bytes_; with `final`, all of it.
  std::string release_bytes(bool final);

  Tokenizer tokenizer_;
  std::string held_bytes_;  // bytes of <0xNN> tokens not yet returned: an incomplete UTF-8 character
  bool at_start_ = true;    // no non-control token seen yet, so the next "▁" prefix is dropped
};

}  // namespace ophtha
