// Field of view of a colour fundus photograph: the bright disc on the camera's dark border.
//
// 1. Brightness b = the largest colour sample of a pixel (red dominates a fundus, but the largest
//    sample also serves grey and red-free photographs and colour casts).
// 2. Border level = median b over four corner patches (outside the disc on every fundus camera,
//    also when the disc is cut at the top and bottom); fundus level = median b over a central patch.
// 3. Threshold = border + threshold_fraction × (fundus − border). It sits just above the border,
//    not between two populations as a global (Otsu) threshold would, so a periphery dimmed by
//    uneven illumination (down to ~10% of the centre's contrast) stays inside.
// 4. Counting pixels above the threshold per row and per column; rows (columns) holding at least
//    min_line_fraction of the fullest one qualify; the longest run of consecutive qualifying
//    rows (columns) is the disc, which drops noise in the border and separate captions or stamps.
//    Rows are counted within the columns' run and columns within the rows' run, alternating
//    twice, so that a caption level with the disc in one direction is dropped in the other.
// Without a dark border (fundus − border < min_contrast: an already-cropped photograph, a blank
// frame) the whole image is the field of view and `found` is false.
#include <algorithm>
#include <cmath>
#include <vector>

#include "ophtha/error.hpp"
#include "ophtha/preprocess.hpp"

namespace ophtha {
namespace {

template <typename T>
uint32_t brightness(const T* pixel, int colour_channels) {
  uint32_t b = pixel[0];
  for (int c = 1; c < colour_channels; ++c) b = std::max<uint32_t>(b, pixel[c]);
  return b;
}

// Median brightness over the square [x0, x0 + side) × [y0, y0 + side), every `step`-th pixel.
template <typename T>
void sample_patch(const T* samples, const Image& image, int x0, int y0, int side, std::vector<uint32_t>& out) {
  const int channels = image.channels(), colour = std::min(channels, 3);
  const int step = std::max(1, side / 128);
  for (int y = y0; y < y0 + side; y += step)
    for (int x = x0; x < x0 + side; x += step)
      out.push_back(brightness(samples + (static_cast<size_t>(y) * image.width() + x) * channels, colour));
}

uint32_t median(std::vector<uint32_t>& values) {
  std::nth_element(values.begin(), values.begin() + values.size() / 2, values.end());
  return values[values.size() / 2];
}

// The longest run of consecutive entries ≥ min_count (the first of equally long runs), [begin, end).
std::pair<int, int> longest_run(const std::vector<int64_t>& counts, int64_t min_count) {
  int best_begin = 0, best_end = 0;
  for (int i = 0, n = static_cast<int>(counts.size()); i < n;) {
    if (counts[i] < min_count) {
      ++i;
      continue;
    }
    const int begin = i;
    while (i < n && counts[i] >= min_count) ++i;
    if (i - begin > best_end - best_begin) best_begin = begin, best_end = i;
  }
  return {best_begin, best_end};
}

void check_fraction(double value, const char* name, bool allow_zero) {
  if (!(value <= 1.0) || !(allow_zero ? value >= 0.0 : value > 0.0))
    fail(ErrorCode::InvalidArgument, "FundusFovOptions::{} must be in {}0, 1], got {}", name, allow_zero ? "[" : "(",
         value);
}

template <typename T>
FundusFov detect(const T* samples, const Image& image, const FundusFovOptions& options) {
  const int width = image.width(), height = image.height(), channels = image.channels();
  const int colour = std::min(channels, 3);
  const int shorter = std::min(width, height);
  const double full_scale = image.max_value();

  FundusFov fov;
  fov.box = {0, 0, width, height};
  const int corner = std::max(1, static_cast<int>(std::lround(options.corner_fraction * shorter)));
  std::vector<uint32_t> values;
  sample_patch(samples, image, 0, 0, corner, values);
  sample_patch(samples, image, width - corner, 0, corner, values);
  sample_patch(samples, image, 0, height - corner, corner, values);
  sample_patch(samples, image, width - corner, height - corner, corner, values);
  const uint32_t border = median(values);
  values.clear();
  const int centre = std::max(1, static_cast<int>(std::lround(options.centre_fraction * shorter)));
  sample_patch(samples, image, (width - centre) / 2, (height - centre) / 2, centre, values);
  const uint32_t fundus = median(values);

  fov.border_level = static_cast<float>(border / full_scale);
  fov.fundus_level = static_cast<float>(fundus / full_scale);
  const double contrast = (static_cast<double>(fundus) - border) / full_scale;
  fov.threshold = static_cast<float>(fov.border_level + options.threshold_fraction * std::max(contrast, 0.0));
  if (contrast < options.min_contrast) return fov;

  // Pixels strictly brighter than `level` (in sample units) are inside.
  const auto level = static_cast<uint32_t>(std::floor(fov.threshold * full_scale));
  std::vector<uint8_t> inside(static_cast<size_t>(width) * height);
  for (size_t i = 0; i < inside.size(); ++i) inside[i] = brightness(samples + i * channels, colour) > level;

  // Rows over the current column span, then columns over the new row span, twice: a caption
  // beside the disc in one projection lies outside its span in the other.
  std::pair<int, int> rows{0, height}, columns{0, width};
  for (int round = 0; round < 2; ++round) {
    std::vector<int64_t> per_row(height, 0), per_column(width, 0);
    for (int y = 0; y < height; ++y)
      for (int x = columns.first; x < columns.second; ++x) per_row[y] += inside[static_cast<size_t>(y) * width + x];
    const int64_t fullest_row = *std::max_element(per_row.begin(), per_row.end());
    if (fullest_row == 0) return fov;
    rows = longest_run(per_row,
                       std::max<int64_t>(1, static_cast<int64_t>(std::ceil(options.min_line_fraction * fullest_row))));
    for (int y = rows.first; y < rows.second; ++y)
      for (int x = 0; x < width; ++x) per_column[x] += inside[static_cast<size_t>(y) * width + x];
    const int64_t fullest_column = *std::max_element(per_column.begin(), per_column.end());
    columns = longest_run(
        per_column, std::max<int64_t>(1, static_cast<int64_t>(std::ceil(options.min_line_fraction * fullest_column))));
  }
  fov.found = true;
  fov.box = {columns.first, rows.first, columns.second, rows.second};
  return fov;
}

}  // namespace

FundusFov detect_fundus_fov(const Image& image, const FundusFovOptions& options) {
  check_fraction(options.corner_fraction, "corner_fraction", false);
  check_fraction(options.centre_fraction, "centre_fraction", false);
  check_fraction(options.threshold_fraction, "threshold_fraction", true);
  check_fraction(options.min_contrast, "min_contrast", true);
  check_fraction(options.min_line_fraction, "min_line_fraction", true);
  if (options.corner_fraction > 0.5)
    fail(ErrorCode::InvalidArgument, "FundusFovOptions::corner_fraction must be at most 0.5, got {}",
         options.corner_fraction);
  return image.bit_depth() == 8 ? detect(image.pixels8(), image, options) : detect(image.pixels16(), image, options);
}

}  // namespace ophtha
