// The lookup tables a Tokenizer builds once from its vocabulary; shared, immutable.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ophtha/tokenizer.hpp"

namespace ophtha::detail {

inline constexpr std::string_view kSpaceSymbol = "\xE2\x96\x81";  // U+2581 "▁", what ' ' becomes

// Open-addressing map from piece text to id; the views point into TokenizerTables::vocab.pieces.
class PieceIndex {
 public:
  void insert_if_absent(std::string_view piece, int32_t id);
  // The id of `piece`, or -1.
  int32_t find(std::string_view piece) const;

 private:
  struct Slot {
    std::string_view piece;
    int32_t id = -1;
  };
  void grow();
  std::vector<Slot> slots_;  // power-of-two size, at most half full
  size_t count_ = 0;
};

struct TokenizerTables {
  explicit TokenizerTables(TokenizerVocab vocab);

  // SentencePiece PieceToId: Control/Unknown/Byte pieces first, then the others, else unk_id.
  int32_t piece_to_id(std::string_view piece) const;

  // What token `id` (not a Byte token) adds to decoded text: surfaces[id], minus the leading space
  // of a text piece that starts with "▁" when it is the first non-control token (`at_start`) and
  // add_space_prefix put that "▁" there.
  std::string_view text_surface(int32_t id, bool at_start) const;

  TokenizerVocab vocab;
  PieceIndex mergeable;                 // Normal, UserDefined, Unused pieces (SentencePiece pieces_)
  PieceIndex reserved;                  // Control, Unknown, Byte pieces (SentencePiece reserved_id_map_)
  PieceIndex user_defined;              // UserDefined pieces, matched whole before merging
  std::vector<size_t> user_defined_lengths;  // distinct byte lengths of user_defined, longest first
  std::array<int32_t, 256> byte_ids{};  // piece_to_id("<0xNN>") for every byte
  bool byte_fallback = false;           // some piece is a Byte piece
  bool has_unused = false;              // some piece is Unused, so merges into it are undone
  std::vector<std::string> surfaces;    // (n_vocab) token_bytes() of each id
};

}  // namespace ophtha::detail
