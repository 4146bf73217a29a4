// Tokenizer construction, accessors and decode(); encode() lives in bpe_encode.cpp.
#include "ophtha/tokenizer.hpp"

#include <algorithm>
#include <utility>

#include "ophtha/error.hpp"
#include "tokenizer/tokenizer_tables.hpp"

namespace ophtha {
namespace detail {
namespace {

constexpr std::string_view kUnknownSurface = " \xE2\x81\x87 ";  // " ⁇ ", SentencePiece's unk_surface

// FNV-1a; pieces are short, so this beats std::hash's setup cost.
uint64_t hash_piece(std::string_view piece) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : piece) h = (h ^ c) * 1099511628211ull;
  return h ^ (h >> 29);
}

// The byte a "<0xNN>" piece stands for, or -1 when it is not spelled that way.
int parse_byte_piece(std::string_view piece) {
  if (piece.size() != 6 || piece.substr(0, 3) != "<0x" || piece[5] != '>') return -1;
  int value = 0;
  for (char c : piece.substr(3, 2)) {
    int digit = -1;
    if (c >= '0' && c <= '9') digit = c - '0';
    if (c >= 'A' && c <= 'F') digit = c - 'A' + 10;
    if (c >= 'a' && c <= 'f') digit = c - 'a' + 10;
    if (digit < 0) return -1;
    value = value * 16 + digit;
  }
  return value;
}

std::string replace_space_symbols(std::string_view piece) {
  std::string out;
  out.reserve(piece.size());
  for (size_t i = 0; i < piece.size();) {
    if (piece.compare(i, kSpaceSymbol.size(), kSpaceSymbol) == 0) {
      out += ' ';
      i += kSpaceSymbol.size();
    } else {
      out += piece[i++];
    }
  }
  return out;
}

}  // namespace

void PieceIndex::grow() {
  std::vector<Slot> old = std::move(slots_);
  slots_.assign(std::max<size_t>(16, old.size() * 2), Slot{});
  count_ = 0;
  for (const Slot& slot : old)
    if (slot.id >= 0) insert_if_absent(slot.piece, slot.id);
}

void PieceIndex::insert_if_absent(std::string_view piece, int32_t id) {
  if ((count_ + 1) * 2 > slots_.size()) grow();
  const size_t mask = slots_.size() - 1;
  for (size_t i = hash_piece(piece) & mask;; i = (i + 1) & mask) {
    Slot& slot = slots_[i];
    if (slot.id < 0) {
      slot = Slot{piece, id};
      ++count_;
      return;
    }
    if (slot.piece == piece) return;
  }
}

int32_t PieceIndex::find(std::string_view piece) const {
  if (slots_.empty()) return -1;
  const size_t mask = slots_.size() - 1;
  for (size_t i = hash_piece(piece) & mask;; i = (i + 1) & mask) {
    const Slot& slot = slots_[i];
    if (slot.id < 0) return -1;
    if (slot.piece == piece) return slot.id;
  }
}

TokenizerTables::TokenizerTables(TokenizerVocab v) : vocab(std::move(v)) {
  const size_t n = vocab.pieces.size();
  if (n == 0) fail(ErrorCode::InvalidFormat, "tokenizer vocabulary is empty");
  if (vocab.scores.size() != n || vocab.kinds.size() != n)
    fail(ErrorCode::InvalidFormat, "tokenizer vocabulary has {} pieces but {} scores and {} kinds", n,
         vocab.scores.size(), vocab.kinds.size());
  const auto check_id = [&](const char* name, int32_t id) {
    if (id < 0 || static_cast<size_t>(id) >= n)
      fail(ErrorCode::InvalidFormat, "tokenizer {} is {}, expected an id in [0, {})", name, id, n);
  };
  check_id("bos_id", vocab.bos_id);
  check_id("eos_id", vocab.eos_id);
  check_id("unk_id", vocab.unk_id);

  surfaces.resize(n);
  for (size_t id = 0; id < n; ++id) {
    const std::string& piece = vocab.pieces[id];
    const int32_t kind = static_cast<int32_t>(vocab.kinds[id]);
    switch (vocab.kinds[id]) {
      case TokenKind::Normal:
      case TokenKind::UserDefined:
      case TokenKind::Unused:
        mergeable.insert_if_absent(piece, static_cast<int32_t>(id));
        surfaces[id] = replace_space_symbols(piece);
        break;
      case TokenKind::Control:
      case TokenKind::Unknown:
        reserved.insert_if_absent(piece, static_cast<int32_t>(id));
        if (vocab.kinds[id] == TokenKind::Unknown) surfaces[id] = kUnknownSurface;
        break;
      case TokenKind::Byte: {
        const int byte = parse_byte_piece(piece);
        if (byte < 0)
          fail(ErrorCode::InvalidFormat, "token {} is a Byte token but its piece '{}' is not spelled <0xNN>", id,
               piece);
        reserved.insert_if_absent(piece, static_cast<int32_t>(id));
        surfaces[id] = std::string(1, static_cast<char>(byte));
        byte_fallback = true;
        break;
      }
      default:
        fail(ErrorCode::InvalidFormat, "token {} ('{}') has kind {}, expected 1..6", id, piece, kind);
    }
    if (vocab.kinds[id] == TokenKind::UserDefined && !piece.empty()) {
      user_defined.insert_if_absent(piece, static_cast<int32_t>(id));
      if (std::find(user_defined_lengths.begin(), user_defined_lengths.end(), piece.size()) ==
          user_defined_lengths.end())
        user_defined_lengths.push_back(piece.size());
    }
    has_unused = has_unused || vocab.kinds[id] == TokenKind::Unused;
  }
  std::sort(user_defined_lengths.rbegin(), user_defined_lengths.rend());
  for (int byte = 0; byte < 256; ++byte) byte_ids[byte] = piece_to_id(fmt::format("<0x{:02X}>", byte));
}

int32_t TokenizerTables::piece_to_id(std::string_view piece) const {
  if (const int32_t id = reserved.find(piece); id >= 0) return id;
  if (const int32_t id = mergeable.find(piece); id >= 0) return id;
  return vocab.unk_id;
}

std::string_view TokenizerTables::text_surface(int32_t id, bool at_start) const {
  const std::string_view surface = surfaces[id];
  const TokenKind kind = vocab.kinds[id];
  const bool text_piece = kind == TokenKind::Normal || kind == TokenKind::UserDefined || kind == TokenKind::Unused;
  if (at_start && text_piece && vocab.add_space_prefix && vocab.pieces[id].compare(0, kSpaceSymbol.size(), kSpaceSymbol) == 0)
    return surface.substr(1);
  return surface;
}

}  // namespace detail

Tokenizer::Tokenizer(TokenizerVocab vocab)
    : tables_(std::make_shared<const detail::TokenizerTables>(std::move(vocab))) {}

namespace {

void check_id_in_range(const char* function, int32_t id, int32_t n_vocab) {
  if (id < 0 || id >= n_vocab)
    fail(ErrorCode::InvalidArgument, "Tokenizer::{}: token id {} is out of range [0, {})", function, id, n_vocab);
}

}  // namespace

std::string Tokenizer::decode(const std::vector<int32_t>& ids) const {
  for (int32_t id : ids) check_id_in_range(__func__, id, n_vocab());
  TokenStreamDecoder stream(*this);
  std::string text;
  for (int32_t id : ids) text += stream.push(id);
  return text + stream.flush();
}

std::string Tokenizer::token_bytes(int32_t id) const {
  check_id_in_range(__func__, id, n_vocab());
  return tables_->surfaces[id];
}

const std::string& Tokenizer::piece(int32_t id) const {
  check_id_in_range(__func__, id, n_vocab());
  return tables_->vocab.pieces[id];
}

bool Tokenizer::is_control(int32_t id) const {
  check_id_in_range(__func__, id, n_vocab());
  return tables_->vocab.kinds[id] == TokenKind::Control;
}

int32_t Tokenizer::n_vocab() const { return static_cast<int32_t>(tables_->vocab.pieces.size()); }
int32_t Tokenizer::bos_id() const { return tables_->vocab.bos_id; }
int32_t Tokenizer::eos_id() const { return tables_->vocab.eos_id; }
const TokenizerVocab& Tokenizer::vocab() const { return tables_->vocab; }

}  // namespace ophtha
