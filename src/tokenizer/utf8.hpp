// UTF-8 as SentencePiece reads it (util.cc DecodeUTF8 / IsValidDecodeUTF8): shortest form only, no
// surrogates, nothing above U+10FFFF. Shared by normalization (bad byte → U+FFFD) and by decoding of
// byte-token runs, so both treat the same bytes as invalid.
#pragma once
#include <cstddef>
#include <string_view>

namespace ophtha::detail {

inline constexpr std::string_view kReplacementCharacter = "\xEF\xBF\xBD";  // U+FFFD

inline bool is_utf8_trail_byte(unsigned char b) { return (b & 0xC0) == 0x80; }

// How many bytes a character starting with `lead` has; 1 for a byte that cannot start one.
inline size_t utf8_sequence_length(unsigned char lead) {
  if (lead < 0xC0 || lead >= 0xF8) return 1;
  if (lead < 0xE0) return 2;
  if (lead < 0xF0) return 3;
  return 4;
}

// Length of the valid character at the start of `s`, or 0 when `s` does not start with one
// (an empty `s` included).
inline size_t valid_utf8_length(std::string_view s) {
  if (s.empty()) return 0;
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  const unsigned char b0 = byte(0);
  if (b0 < 0x80) return 1;
  const size_t length = utf8_sequence_length(b0);
  if (length == 1 || s.size() < length) return 0;
  for (size_t i = 1; i < length; ++i)
    if (!is_utf8_trail_byte(byte(i))) return 0;
  char32_t cp = b0 & (0x7F >> length);
  for (size_t i = 1; i < length; ++i) cp = (cp << 6) | (byte(i) & 0x3F);
  switch (length) {
    case 2: return cp >= 0x80 ? 2 : 0;
    case 3: return cp >= 0x800 && (cp < 0xD800 || cp >= 0xE000) ? 3 : 0;
    default: return cp >= 0x10000 && cp <= 0x10FFFF ? 4 : 0;
  }
}

// Appends `bytes` read as UTF-8, every byte that does not start a valid character replaced by
// U+FFFD (SentencePiece's rule for a run of byte tokens). Unless `final`, stops before an
// incomplete character at the end that later bytes could still complete. Returns the number of
// bytes consumed.
inline size_t append_utf8_with_replacement(std::string_view bytes, bool final, std::string& out) {
  size_t offset = 0;
  while (offset < bytes.size()) {
    const std::string_view rest = bytes.substr(offset);
    if (const size_t length = valid_utf8_length(rest)) {
      out.append(rest.data(), length);
      offset += length;
      continue;
    }
    const size_t needed = utf8_sequence_length(static_cast<unsigned char>(rest[0]));
    if (!final && rest.size() < needed) {
      bool may_complete = true;
      for (size_t i = 1; i < rest.size(); ++i) may_complete = may_complete && is_utf8_trail_byte(rest[i]);
      if (may_complete) break;
    }
    out.append(kReplacementCharacter);
    offset += 1;
  }
  return offset;
}

}  // namespace ophtha::detail
