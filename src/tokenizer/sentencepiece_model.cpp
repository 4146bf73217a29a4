// Tokenizer::from_sentencepiece_model: a bounds-checked reader for the few fields of
// sentencepiece_model.proto a BPE tokenizer needs; everything else is skipped by wire type.
//   ModelProto      1 pieces (repeated SentencePiece)  2 trainer_spec  3 normalizer_spec
//   SentencePiece   1 piece (string)  2 score (float)  3 type (enum, 1..6, default NORMAL)
//   TrainerSpec     3 model_type (1 UNIGRAM, 2 BPE, 3 WORD, 4 CHAR; default UNIGRAM)
//                   24 treat_whitespace_as_suffix  35 byte_fallback  40 unk_id  41 bos_id  42 eos_id
//   NormalizerSpec  1 name  2 precompiled_charsmap  3 add_dummy_prefix (default true)
//                   4 remove_extra_whitespaces (default true)  5 escape_whitespaces (default true)
#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <memory>
#include <cstring>
#include <optional>
#include <set>

#include "ophtha/error.hpp"
#include "ophtha/tokenizer.hpp"

namespace ophtha {
namespace {

enum WireType : uint32_t { Varint = 0, Fixed64 = 1, LengthDelimited = 2, Fixed32 = 5 };

// Reads one protobuf message held in file[begin, end); every error names the file, the message
// and the byte offset in the file.
class ProtoReader {
 public:
  ProtoReader(const std::string& path, std::string_view file, size_t begin, size_t end, std::string message)
      : path_(path), file_(file), pos_(begin), end_(end), message_(std::move(message)) {}

  bool at_end() const { return pos_ >= end_; }
  size_t position() const { return pos_; }

  // Reads the next key; returns the field number, sets `wire_type`.
  uint32_t next_field(uint32_t& wire_type) {
    const size_t at = pos_;
    const uint64_t key = varint();
    wire_type = static_cast<uint32_t>(key & 7);
    const uint64_t field = key >> 3;
    if (field == 0 || field > 536870911) error(at, fmt::format("invalid field number {}", field));
    if (wire_type != Varint && wire_type != Fixed64 && wire_type != LengthDelimited && wire_type != Fixed32)
      error(at, fmt::format("field {} has unsupported wire type {}", field, wire_type));
    return static_cast<uint32_t>(field);
  }

  uint64_t varint() {
    const size_t at = pos_;
    uint64_t value = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= end_) error(at, "varint runs past the end of the message");
      const uint8_t byte = static_cast<uint8_t>(file_[pos_++]);
      value |= static_cast<uint64_t>(byte & 0x7F) << shift;
      if ((byte & 0x80) == 0) return value;
    }
    error(at, "varint longer than 10 bytes");
  }

  // A length-delimited field's payload as [begin, end) offsets in the file.
  std::pair<size_t, size_t> length_delimited() {
    const size_t at = pos_;
    const uint64_t length = varint();
    if (length > end_ - pos_)
      error(at, fmt::format("length {} runs past the end of the message ({} bytes left)", length, end_ - pos_));
    const size_t begin = pos_;
    pos_ += static_cast<size_t>(length);
    return {begin, pos_};
  }

  uint32_t fixed32() {
    if (end_ - pos_ < 4) error(pos_, "fixed32 runs past the end of the message");
    uint32_t value = 0;
    for (int i = 0; i < 4; ++i) value |= static_cast<uint32_t>(static_cast<uint8_t>(file_[pos_ + i])) << (8 * i);
    pos_ += 4;
    return value;
  }

  void skip(uint32_t wire_type) {
    switch (wire_type) {
      case Varint: varint(); break;
      case LengthDelimited: length_delimited(); break;
      case Fixed32: fixed32(); break;
      default:
        if (end_ - pos_ < 8) error(pos_, "fixed64 runs past the end of the message");
        pos_ += 8;
    }
  }

  // Checks that `field` came with `expected` wire type.
  void expect(uint32_t field, uint32_t wire_type, uint32_t expected, const char* name) {
    if (wire_type != expected)
      error(pos_, fmt::format("field {} ({}) has wire type {}, expected {}", field, name, wire_type, expected));
  }

  bool boolean() { return varint() != 0; }
  int32_t int32() { return static_cast<int32_t>(static_cast<int64_t>(varint())); }
  std::string_view text(std::pair<size_t, size_t> span) const { return file_.substr(span.first, span.second - span.first); }
  const std::string& path() const { return path_; }
  std::string_view file() const { return file_; }

  [[noreturn]] void error(size_t at, const std::string& what) const {
    fail(ErrorCode::InvalidFormat, "{}: not a valid SentencePiece model: {} at byte {}: {}", path_, message_, at, what);
  }

 private:
  const std::string& path_;
  std::string_view file_;
  size_t pos_;
  size_t end_;
  std::string message_;
};

struct TrainerSpec {
  int32_t model_type = 1;
  bool treat_whitespace_as_suffix = false;
  bool byte_fallback = false;
  int32_t bos_id = 1;
  int32_t eos_id = 2;
};

struct NormalizerSpec {
  std::string name;
  size_t precompiled_charsmap_bytes = 0;
  bool add_dummy_prefix = true;
  bool remove_extra_whitespaces = true;
  bool escape_whitespaces = true;
};

void read_piece(ProtoReader reader, TokenizerVocab& vocab) {
  std::string piece;
  float score = 0.0f;
  int32_t type = static_cast<int32_t>(TokenKind::Normal);
  while (!reader.at_end()) {
    uint32_t wire_type = 0;
    switch (const uint32_t field = reader.next_field(wire_type)) {
      case 1:
        reader.expect(field, wire_type, LengthDelimited, "piece");
        piece = std::string(reader.text(reader.length_delimited()));
        break;
      case 2: {
        reader.expect(field, wire_type, Fixed32, "score");
        const uint32_t bits = reader.fixed32();
        std::memcpy(&score, &bits, sizeof score);
        break;
      }
      case 3: {
        reader.expect(field, wire_type, Varint, "type");
        const size_t at = reader.position();
        type = reader.int32();
        if (type < 1 || type > 6) reader.error(at, fmt::format("type is {}, expected 1..6", type));
        break;
      }
      default: reader.skip(wire_type);
    }
  }
  vocab.pieces.push_back(std::move(piece));
  vocab.scores.push_back(score);
  vocab.kinds.push_back(static_cast<TokenKind>(type));
}

// Like protobuf's parser, merges a repeated occurrence of the message into what was read before.
void read_trainer_spec(ProtoReader reader, TrainerSpec& spec) {
  while (!reader.at_end()) {
    uint32_t wire_type = 0;
    const uint32_t field = reader.next_field(wire_type);
    const auto read_varint = [&](const char* name) {
      reader.expect(field, wire_type, Varint, name);
      return reader.int32();
    };
    switch (field) {
      case 3: spec.model_type = read_varint("model_type"); break;
      case 24: spec.treat_whitespace_as_suffix = read_varint("treat_whitespace_as_suffix") != 0; break;
      case 35: spec.byte_fallback = read_varint("byte_fallback") != 0; break;
      case 41: spec.bos_id = read_varint("bos_id"); break;
      case 42: spec.eos_id = read_varint("eos_id"); break;
      default: reader.skip(wire_type);
    }
  }
}

void read_normalizer_spec(ProtoReader reader, NormalizerSpec& spec) {
  while (!reader.at_end()) {
    uint32_t wire_type = 0;
    const uint32_t field = reader.next_field(wire_type);
    const auto read_bool = [&](const char* name) {
      reader.expect(field, wire_type, Varint, name);
      return reader.boolean();
    };
    switch (field) {
      case 1:
        reader.expect(field, wire_type, LengthDelimited, "name");
        spec.name = std::string(reader.text(reader.length_delimited()));
        break;
      case 2: {
        reader.expect(field, wire_type, LengthDelimited, "precompiled_charsmap");
        const auto span = reader.length_delimited();
        spec.precompiled_charsmap_bytes = span.second - span.first;
        break;
      }
      case 3: spec.add_dummy_prefix = read_bool("add_dummy_prefix"); break;
      case 4: spec.remove_extra_whitespaces = read_bool("remove_extra_whitespaces"); break;
      case 5: spec.escape_whitespaces = read_bool("escape_whitespaces"); break;
      default: reader.skip(wire_type);
    }
  }
}

// Whole-file read with a size cap: tokenizer.model files are a few hundred KiB to a few MiB.
constexpr uint64_t kMaxModelBytes = 256ull << 20;

std::string read_file(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    fail(ErrorCode::Io, "{}: cannot open tokenizer model: {}", path, std::strerror(errno));
  if (!S_ISREG(st.st_mode)) fail(ErrorCode::Io, "{}: cannot open tokenizer model: not a regular file", path);
  if (static_cast<uint64_t>(st.st_size) > kMaxModelBytes)
    fail(ErrorCode::InvalidFormat, "{}: {} bytes is too large for a SentencePiece model (limit {} MiB)", path,
         static_cast<uint64_t>(st.st_size), kMaxModelBytes >> 20);
  std::unique_ptr<FILE, int (*)(FILE*)> file(std::fopen(path.c_str(), "rb"), std::fclose);
  if (!file) fail(ErrorCode::Io, "{}: cannot open tokenizer model: {}", path, std::strerror(errno));
  std::string bytes(static_cast<size_t>(st.st_size), '\0');
  if (std::fread(bytes.data(), 1, bytes.size(), file.get()) != bytes.size())
    fail(ErrorCode::Io, "{}: cannot read tokenizer model: {}", path,
         std::ferror(file.get()) ? std::strerror(errno) : "file shrank while reading");
  return bytes;
}

// Checks what SentencePiece checks when it loads a model (model_interface.cc InitializePieces) and
// what this tokenizer needs to reproduce it; fills in unk/bos/eos.
void check_model(const std::string& path, TokenizerVocab& vocab, const std::optional<TrainerSpec>& trainer,
                 const std::optional<NormalizerSpec>& normalizer) {
  const auto invalid = [&](const std::string& what) {
    fail(ErrorCode::InvalidFormat, "{}: not a valid SentencePiece model: {}", path, what);
  };
  const auto unsupported = [&](const std::string& what) {
    fail(ErrorCode::Unsupported, "{}: unsupported SentencePiece model: {}", path, what);
  };
  if (vocab.pieces.empty()) invalid("no pieces (ModelProto field 1)");
  if (!trainer) invalid("no trainer_spec (ModelProto field 2); is the file truncated?");
  if (!normalizer) invalid("no normalizer_spec (ModelProto field 3); is the file truncated?");

  const int32_t n = static_cast<int32_t>(vocab.pieces.size());
  std::set<std::string_view> normal_pieces, reserved_pieces;
  int32_t unk_id = -1;
  bool has_byte_pieces = false;
  for (int32_t id = 0; id < n; ++id) {
    const std::string& piece = vocab.pieces[id];
    const TokenKind kind = vocab.kinds[id];
    if (piece.empty()) invalid(fmt::format("piece {} is empty", id));
    const bool normal = kind == TokenKind::Normal || kind == TokenKind::UserDefined || kind == TokenKind::Unused;
    if (!(normal ? normal_pieces : reserved_pieces).insert(piece).second)
      invalid(fmt::format("piece {} '{}' is defined twice", id, piece));
    if (kind == TokenKind::Unknown) {
      if (unk_id >= 0) invalid(fmt::format("pieces {} and {} are both of type UNKNOWN", unk_id, id));
      unk_id = id;
    }
    has_byte_pieces = has_byte_pieces || kind == TokenKind::Byte;
  }
  if (unk_id < 0) invalid("no piece of type UNKNOWN");
  if (has_byte_pieces && !trainer->byte_fallback) invalid("BYTE pieces but trainer_spec.byte_fallback is false");
  for (auto [name, id] : {std::pair<const char*, int32_t>{"bos_id", trainer->bos_id}, {"eos_id", trainer->eos_id}})
    if (id < 0 || id >= n) invalid(fmt::format("trainer_spec.{} is {}, expected an id in [0, {})", name, id, n));

  if (trainer->model_type != 2)
    unsupported(fmt::format("trainer_spec.model_type is {}, only BPE (2) is supported", trainer->model_type));
  if (trainer->treat_whitespace_as_suffix) unsupported("trainer_spec.treat_whitespace_as_suffix is set");
  if (trainer->byte_fallback && !has_byte_pieces) unsupported("trainer_spec.byte_fallback is set but there are no BYTE pieces");
  if (normalizer->precompiled_charsmap_bytes > 0)
    unsupported(fmt::format("normalizer '{}' has a {}-byte precompiled charsmap; only the identity normalizer is supported",
                            normalizer->name, normalizer->precompiled_charsmap_bytes));
  if (normalizer->remove_extra_whitespaces) unsupported("normalizer_spec.remove_extra_whitespaces is set");
  if (!normalizer->escape_whitespaces) unsupported("normalizer_spec.escape_whitespaces is off");

  vocab.unk_id = unk_id;
  vocab.bos_id = trainer->bos_id;
  vocab.eos_id = trainer->eos_id;
  vocab.add_space_prefix = normalizer->add_dummy_prefix;
}

}  // namespace

Tokenizer Tokenizer::from_sentencepiece_model(const std::string& path) {
  const std::string bytes = read_file(path);
  TokenizerVocab vocab;
  std::optional<TrainerSpec> trainer;
  std::optional<NormalizerSpec> normalizer;
  ProtoReader model(path, bytes, 0, bytes.size(), "ModelProto");
  while (!model.at_end()) {
    uint32_t wire_type = 0;
    const uint32_t field = model.next_field(wire_type);
    if (field < 1 || field > 3) {
      model.skip(wire_type);
      continue;
    }
    static constexpr const char* kNames[] = {"", "pieces", "trainer_spec", "normalizer_spec"};
    model.expect(field, wire_type, LengthDelimited, kNames[field]);
    const auto [begin, end] = model.length_delimited();
    if (field == 1) {
      const std::string name = fmt::format("ModelProto.pieces[{}]", vocab.pieces.size());
      read_piece(ProtoReader(path, bytes, begin, end, name), vocab);
    } else if (field == 2) {
      read_trainer_spec(ProtoReader(path, bytes, begin, end, "ModelProto.trainer_spec"),
                        trainer ? *trainer : trainer.emplace());
    } else {
      read_normalizer_spec(ProtoReader(path, bytes, begin, end, "ModelProto.normalizer_spec"),
                           normalizer ? *normalizer : normalizer.emplace());
    }
  }
  check_model(path, vocab, trainer, normalizer);
  try {
    return Tokenizer(std::move(vocab));
  } catch (const Error& e) {
    fail(e.code(), "{}: {}", path, e.what());
  }
}

}  // namespace ophtha
