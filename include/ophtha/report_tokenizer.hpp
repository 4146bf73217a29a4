// Splits a diagnostic report (Chinese, English or both mixed) into the tokens the text metrics
// (ophtha/text_metrics.hpp) count. Rules, applied per character of the UTF-8 text:
//
//   1. Fullwidth ASCII variants U+FF01..U+FF5E are folded to ASCII ("０.５" -> "0.5", "，" -> ",")
//      and U+3000 (ideographic space) to a space, so width variants typed by different clinicians
//      compare equal.
//   2. Whitespace (ASCII, U+00A0, U+2000..U+200B, U+2028/9, U+202F, U+205F, U+3000, U+FEFF)
//      separates tokens and is never one.
//   3. Chinese by characters: every CJK ideograph (U+3400..U+4DBF, U+4E00..U+9FFF, U+F900..U+FAFF,
//      U+20000..U+323AF), CJK radical, CJK symbol or punctuation (U+3001..U+303F: 、。「」《》…),
//      kana, bopomofo, Hangul syllable and CJK compatibility/vertical/small/halfwidth form is a
//      token of its own.
//   4. English by words: a word is a maximal run of letters and digits (ASCII, Latin-1 and Latin
//      Extended-A/B letters, Greek, Cyrillic, combining accents, the micro sign µ), lower-cased
//      (ASCII, Latin-1, Greek and Cyrillic capitals). Inside a word,
//        '.' and '/' join only between two ASCII digits, so numbers stay whole: "0.7", "20/20",
//            "2/3", "1.5mm" (digits followed by letters are one word: "18mmhg", "3.00d");
//        '-' and '\'' join between two letters or digits: "anti-vegf", "non-proliferative",
//            "patient's".
//      Anything else — a sentence-final '.', a '/' between letters ("c/d" -> "c" "/" "d"), a
//      leading '-' ("-3.00" -> "-" "3.00") — is split off.
//   5. Every other character (ASCII punctuation, symbols such as % ° ± ×, general punctuation such
//      as “ ” — …) is a token of its own.
//   Mixed text is handled per script: a change between a CJK character and a word ends the token,
//   so "视力0.5，眼压18mmHg" -> 视 力 0.5 , 眼 压 18mmhg.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "ophtha/export.h"

namespace ophtha {

// The tokens of one report, in text order, each a UTF-8 string.
using ReportTokens = std::vector<std::string>;

// Tokenises one report by the rules above. Pure function; any thread.
// Throws Error(InvalidArgument) "invalid UTF-8 at byte N" for malformed UTF-8 (truncated or
// overlong sequences, surrogates, code points above U+10FFFF).
OPHTHA_API ReportTokens tokenize_report(std::string_view text);

}  // namespace ophtha
