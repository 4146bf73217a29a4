// Report tokenisation: Chinese by characters, English by words (rules in report_tokenizer.hpp).
#include "ophtha/report_tokenizer.hpp"

#include <cstdint>

#include "ophtha/error.hpp"

namespace ophtha {
namespace {

enum class CharClass { Space, CjkToken, WordPart, Joiner, Other };

// Decodes the code point starting at text[pos]; advances pos. Strict UTF-8 (RFC 3629).
char32_t decode_utf8(std::string_view text, size_t& pos) {
  const size_t start = pos;
  const auto byte = [&](size_t i) { return static_cast<uint8_t>(text[i]); };
  const uint8_t lead = byte(pos);
  int extra = 0;
  char32_t cp = 0;
  char32_t min_cp = 0;
  if (lead < 0x80) {
    ++pos;
    return lead;
  } else if ((lead & 0xE0) == 0xC0) {
    extra = 1, cp = lead & 0x1F, min_cp = 0x80;
  } else if ((lead & 0xF0) == 0xE0) {
    extra = 2, cp = lead & 0x0F, min_cp = 0x800;
  } else if ((lead & 0xF8) == 0xF0) {
    extra = 3, cp = lead & 0x07, min_cp = 0x10000;
  } else {
    fail(ErrorCode::InvalidArgument, "invalid UTF-8 at byte {}: unexpected byte 0x{:02x}", start, lead);
  }
  for (int i = 1; i <= extra; ++i) {
    if (pos + i >= text.size() || (byte(pos + i) & 0xC0) != 0x80) {
      fail(ErrorCode::InvalidArgument, "invalid UTF-8 at byte {}: truncated {}-byte sequence", start,
           extra + 1);
    }
    cp = (cp << 6) | (byte(pos + i) & 0x3F);
  }
  if (cp < min_cp || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
    fail(ErrorCode::InvalidArgument, "invalid UTF-8 at byte {}: U+{:04X} is overlong or not a scalar value",
         start, static_cast<uint32_t>(cp));
  }
  pos += extra + 1;
  return cp;
}

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// Width folding (rule 1): fullwidth ASCII -> ASCII, ideographic space -> space.
char32_t fold_width(char32_t cp) {
  if (cp >= 0xFF01 && cp <= 0xFF5E) return cp - 0xFEE0;
  if (cp == 0x3000) return U' ';
  return cp;
}

bool in(char32_t cp, char32_t lo, char32_t hi) { return cp >= lo && cp <= hi; }

bool is_ascii_digit(char32_t cp) { return in(cp, U'0', U'9'); }

CharClass classify(char32_t cp) {
  if (cp == U' ' || in(cp, 0x09, 0x0D) || cp == 0xA0 || in(cp, 0x2000, 0x200B) || cp == 0x2028 ||
      cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0xFEFF) {
    return CharClass::Space;
  }
  if (in(cp, U'a', U'z') || in(cp, U'A', U'Z') || is_ascii_digit(cp)) return CharClass::WordPart;
  if (cp == U'.' || cp == U'/' || cp == U'-' || cp == U'\'') return CharClass::Joiner;
  if (cp < 0x80) return CharClass::Other;
  if (cp == 0xB5 || (in(cp, 0xC0, 0x24F) && cp != 0xD7 && cp != 0xF7) || in(cp, 0x300, 0x36F) ||
      (in(cp, 0x370, 0x3FF) && cp != 0x37E && cp != 0x387) || in(cp, 0x400, 0x4FF)) {
    return CharClass::WordPart;
  }
  if (in(cp, 0x2E80, 0x2FDF) ||   // CJK radicals, Kangxi radicals
      in(cp, 0x3001, 0x303F) ||   // CJK symbols and punctuation
      in(cp, 0x3040, 0x31FF) ||   // kana, bopomofo, Hangul compatibility jamo, CJK strokes
      in(cp, 0x3400, 0x4DBF) ||   // CJK extension A
      in(cp, 0x4E00, 0x9FFF) ||   // CJK unified ideographs
      in(cp, 0xAC00, 0xD7AF) ||   // Hangul syllables
      in(cp, 0xF900, 0xFAFF) ||   // CJK compatibility ideographs
      in(cp, 0xFE10, 0xFE1F) ||   // vertical forms
      in(cp, 0xFE30, 0xFE6F) ||   // CJK compatibility forms, small form variants
      in(cp, 0xFF5F, 0xFFEF) ||   // halfwidth CJK punctuation, katakana, Hangul; fullwidth signs
      in(cp, 0x20000, 0x323AF)) { // CJK extensions B..H
    return CharClass::CjkToken;
  }
  return CharClass::Other;
}

char32_t to_lower(char32_t cp) {
  if (in(cp, U'A', U'Z')) return cp + 32;
  if (in(cp, 0xC0, 0xDE) && cp != 0xD7) return cp + 32;    // Latin-1 capitals
  if (in(cp, 0x391, 0x3A9) && cp != 0x3A2) return cp + 32;  // Greek capitals
  if (in(cp, 0x410, 0x42F)) return cp + 32;                 // Cyrillic capitals
  if (in(cp, 0x400, 0x40F)) return cp + 80;
  return cp;
}

bool is_letter_or_digit(char32_t cp) { return classify(cp) == CharClass::WordPart; }

}  // namespace

ReportTokens tokenize_report(std::string_view text) {
  std::vector<char32_t> chars;
  chars.reserve(text.size());
  for (size_t pos = 0; pos < text.size();) chars.push_back(fold_width(decode_utf8(text, pos)));

  ReportTokens tokens;
  std::string word;         // the word being built (rule 4), UTF-8
  char32_t word_last = 0;   // its last character
  const auto end_word = [&] {
    if (!word.empty()) tokens.push_back(std::move(word));
    word.clear();
  };
  const auto single = [&](char32_t cp) {
    std::string token;
    append_utf8(token, cp);
    tokens.push_back(std::move(token));
  };

  for (size_t i = 0; i < chars.size(); ++i) {
    const char32_t cp = chars[i];
    switch (classify(cp)) {
      case CharClass::Space:
        end_word();
        break;
      case CharClass::WordPart:
        append_utf8(word, to_lower(cp));
        word_last = cp;
        break;
      case CharClass::Joiner: {
        const char32_t next = i + 1 < chars.size() ? chars[i + 1] : 0;
        const bool numeric = cp == U'.' || cp == U'/';
        const bool joins = !word.empty() &&
                           (numeric ? is_ascii_digit(word_last) && is_ascii_digit(next)
                                    : is_letter_or_digit(word_last) && is_letter_or_digit(next));
        if (joins) {
          word += static_cast<char>(cp);
          word_last = cp;
        } else {
          end_word();
          single(cp);
        }
        break;
      }
      case CharClass::CjkToken:
      case CharClass::Other:
        end_word();
        single(cp);
        break;
    }
  }
  end_word();
  return tokens;
}

}  // namespace ophtha
