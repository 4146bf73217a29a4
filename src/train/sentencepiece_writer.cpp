#include "train/sentencepiece_writer.hpp"

#include <algorithm>
#include <cstring>

namespace ophtha::train {
namespace {

enum WireType : uint32_t { Varint = 0, LengthDelimited = 2, Fixed32 = 5 };

void put_varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

void put_key(std::string& out, uint32_t field, WireType wire) { put_varint(out, (uint64_t{field} << 3) | wire); }

void put_varint_field(std::string& out, uint32_t field, uint64_t v) {
  put_key(out, field, Varint);
  put_varint(out, v);
}

void put_bytes_field(std::string& out, uint32_t field, const std::string& bytes) {
  put_key(out, field, LengthDelimited);
  put_varint(out, bytes.size());
  out += bytes;
}

void put_float_field(std::string& out, uint32_t field, float v) {
  put_key(out, field, Fixed32);
  char bytes[4];
  std::memcpy(bytes, &v, 4);  // little-endian hosts only, as the rest of Ophtha
  out.append(bytes, 4);
}

}  // namespace

std::string sentencepiece_model_bytes(const TokenizerVocab& vocab) {
  std::string model;
  for (size_t i = 0; i < vocab.pieces.size(); ++i) {
    std::string piece;
    put_bytes_field(piece, 1, vocab.pieces[i]);
    put_float_field(piece, 2, vocab.scores[i]);
    put_varint_field(piece, 3, static_cast<uint64_t>(vocab.kinds[i]));
    put_bytes_field(model, 1, piece);
  }
  const bool byte_fallback = std::find(vocab.kinds.begin(), vocab.kinds.end(), TokenKind::Byte) != vocab.kinds.end();
  std::string trainer;
  put_varint_field(trainer, 3, 2);  // model_type BPE
  put_varint_field(trainer, 4, vocab.pieces.size());  // vocab_size
  put_varint_field(trainer, 35, byte_fallback ? 1 : 0);
  put_varint_field(trainer, 40, static_cast<uint64_t>(vocab.unk_id));
  put_varint_field(trainer, 41, static_cast<uint64_t>(vocab.bos_id));
  put_varint_field(trainer, 42, static_cast<uint64_t>(vocab.eos_id));
  put_bytes_field(model, 2, trainer);
  std::string normalizer;
  put_bytes_field(normalizer, 1, "identity");
  put_varint_field(normalizer, 3, vocab.add_space_prefix ? 1 : 0);
  put_varint_field(normalizer, 4, 0);  // remove_extra_whitespaces
  put_varint_field(normalizer, 5, 1);  // escape_whitespaces
  put_bytes_field(model, 3, normalizer);
  return model;
}

}  // namespace ophtha::train
