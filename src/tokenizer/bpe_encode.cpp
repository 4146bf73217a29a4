// Tokenizer::encode: SentencePiece's normalizer and BPE model (normalizer.cc, bpe_model.cc) for the
// LLaMA configuration, step for step, so the ids match EncodeAsIds exactly.
#include <algorithm>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <utility>

#include "ophtha/error.hpp"
#include "ophtha/tokenizer.hpp"
#include "tokenizer/tokenizer_tables.hpp"
#include "tokenizer/utf8.hpp"

namespace ophtha {
namespace {

using detail::TokenizerTables;

// Identity normalization: dummy prefix, ' ' → "▁", each byte that starts no valid character → U+FFFD.
std::string normalize(std::string_view text, bool add_space_prefix) {
  std::string out;
  if (text.empty()) return out;
  out.reserve(text.size() + text.size() / 2 + detail::kSpaceSymbol.size());
  if (add_space_prefix) out += detail::kSpaceSymbol;
  for (size_t i = 0; i < text.size();) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == ' ') {
      out += detail::kSpaceSymbol;
      i += 1;
    } else if (c < 0x80) {
      out += static_cast<char>(c);
      i += 1;
    } else if (const size_t length = detail::valid_utf8_length(text.substr(i))) {
      out.append(text.data() + i, length);
      i += length;
    } else {
      out += detail::kReplacementCharacter;
      i += 1;
    }
  }
  return out;
}

// A span of the normalized text; merged-away symbols keep length 0.
struct Symbol {
  int32_t prev;
  int32_t next;
  uint32_t begin;
  uint32_t length;
  bool frozen;  // a user-defined piece: never merges
};

// Merging symbols[left] and symbols[right] would give a piece of `score` and `length` bytes.
struct MergeCandidate {
  float score;
  int32_t left;
  int32_t right;
  uint32_t length;
};

// Max-heap order: higher score first, then the leftmost pair.
struct MergeOrder {
  bool operator()(const MergeCandidate& a, const MergeCandidate& b) const {
    return a.score < b.score || (a.score == b.score && a.left > b.left);
  }
};

// Merged Unused piece → the two pieces it was last merged from (SentencePiece's rev_merge).
using UnmergeMap = std::unordered_map<std::string_view, std::pair<std::string_view, std::string_view>>;

std::vector<Symbol> split_into_symbols(std::string_view normalized, const TokenizerTables& tables) {
  std::vector<Symbol> symbols;
  symbols.reserve(normalized.size());
  for (size_t begin = 0; begin < normalized.size();) {
    const size_t remaining = normalized.size() - begin;
    size_t length = 0;
    bool frozen = false;
    for (size_t candidate : tables.user_defined_lengths) {
      if (candidate <= remaining && tables.user_defined.find(normalized.substr(begin, candidate)) >= 0) {
        length = candidate;
        frozen = true;
        break;
      }
    }
    if (!frozen) length = std::min(remaining, detail::utf8_sequence_length(static_cast<unsigned char>(normalized[begin])));
    const int32_t index = static_cast<int32_t>(symbols.size());
    symbols.push_back(Symbol{index - 1, begin + length < normalized.size() ? index + 1 : -1,
                             static_cast<uint32_t>(begin), static_cast<uint32_t>(length), frozen});
    begin += length;
  }
  return symbols;
}

// Appends the ids of one final symbol: Unused pieces split back, unknown ones as bytes.
void append_piece_ids(std::string_view piece, const TokenizerTables& tables, const UnmergeMap& unmerge,
                      std::vector<int32_t>& ids) {
  int32_t id = tables.reserved.find(piece);
  if (id < 0) id = tables.mergeable.find(piece);
  const bool unknown = id < 0 || tables.vocab.kinds[id] == TokenKind::Unknown;
  if (id >= 0 && tables.vocab.kinds[id] == TokenKind::Unused) {
    if (const auto it = unmerge.find(piece); it != unmerge.end()) {
      append_piece_ids(it->second.first, tables, unmerge, ids);
      append_piece_ids(it->second.second, tables, unmerge, ids);
      return;
    }
  }
  if (unknown && tables.byte_fallback) {
    for (unsigned char byte : piece) ids.push_back(tables.byte_ids[byte]);
    return;
  }
  ids.push_back(id < 0 ? tables.vocab.unk_id : id);
}

}  // namespace

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_bos) const {
  const TokenizerTables& tables = *tables_;
  std::vector<int32_t> ids;
  if (add_bos) ids.push_back(tables.vocab.bos_id);
  const std::string normalized = normalize(text, tables.vocab.add_space_prefix);
  if (normalized.empty()) return ids;
  if (normalized.size() > UINT32_MAX)  // Symbol offsets are 32-bit
    fail(ErrorCode::InvalidArgument, "Tokenizer::encode: text of {} bytes is {} bytes once normalized, over the 4 GiB limit",
         text.size(), normalized.size());

  std::vector<Symbol> symbols = split_into_symbols(normalized, tables);
  std::vector<MergeCandidate> agenda;
  agenda.reserve(symbols.size());
  UnmergeMap unmerge;
  const auto span = [&](const Symbol& s) { return std::string_view(normalized.data() + s.begin, s.length); };
  const auto consider = [&](int32_t left, int32_t right) {
    if (left < 0 || right < 0 || symbols[left].frozen || symbols[right].frozen) return;
    const std::string_view merged(normalized.data() + symbols[left].begin, symbols[left].length + symbols[right].length);
    const int32_t id = tables.mergeable.find(merged);
    if (id < 0) return;
    agenda.push_back(MergeCandidate{tables.vocab.scores[id], left, right, static_cast<uint32_t>(merged.size())});
    std::push_heap(agenda.begin(), agenda.end(), MergeOrder{});
    if (tables.has_unused && tables.vocab.kinds[id] == TokenKind::Unused)
      unmerge[merged] = {span(symbols[left]), span(symbols[right])};
  };
  for (size_t i = 1; i < symbols.size(); ++i) consider(static_cast<int32_t>(i - 1), static_cast<int32_t>(i));

  while (!agenda.empty()) {
    std::pop_heap(agenda.begin(), agenda.end(), MergeOrder{});
    const MergeCandidate top = agenda.back();
    agenda.pop_back();
    Symbol& left = symbols[top.left];
    Symbol& right = symbols[top.right];
    // Stale: one side was merged away or grew since this candidate was queued.
    if (left.length == 0 || right.length == 0 || left.length + right.length != top.length) continue;
    left.length += right.length;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = top.left;
    right.length = 0;
    consider(left.prev, top.left);
    consider(top.left, left.next);
  }

  ids.reserve(ids.size() + symbols.size());
  for (int32_t i = 0; i >= 0; i = symbols[i].next) append_piece_ids(span(symbols[i]), tables, unmerge, ids);
  return ids;
}

}  // namespace ophtha
