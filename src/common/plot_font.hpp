// The embedded 5×7 bitmap font of the charts (ophtha/plot.hpp).
#pragma once
#include <cstdint>

namespace ophtha::plot_detail {

inline constexpr int kGlyphWidth = 5;
inline constexpr int kGlyphHeight = 7;
inline constexpr int kGlyphAdvance = 6;  // pixels per character at scale 1 (one column of space)

// Column c (0..4) of the glyph of `ch`: bit r set = pixel at row r (0 = top) is ink.
// Bytes outside 32..126 give the glyph of '?'.
uint8_t glyph_column(unsigned char ch, int c);

}  // namespace ophtha::plot_detail
