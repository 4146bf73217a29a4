// Small charts drawn by our own code into an RGB buffer and encoded as PNG by stb_image_write:
// confusion matrices and per-finding F1 for `ophtha eval`, loss curves for training. No plotting
// library, no fonts on disk: text uses an embedded 5×7 bitmap font (printable ASCII; any other
// byte is drawn as '?'), ×1 for labels and ×2 for titles. White background, black text, a
// white → dark blue ramp for heat maps.
//
// Geometry is fixed by the content so that tests and callers can find things: each chart has a
// *_layout function that says where its cells, bars or plot area are, in pixels (x right, y down).
//
// Thread safety: pure functions, no shared state; any thread. Ownership: returned images and
// bytes are the caller's. Errors: Error(InvalidArgument) for inconsistent input (counts not
// matching the labels, negative counts, x and y of different lengths, sizes out of range),
// naming the chart and the field.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "ophtha/export.h"
#include "ophtha/mapped_file.hpp"

namespace ophtha {

// An 8-bit RGB image, rows top to bottom.
struct RgbImage {
  int width = 0;
  int height = 0;
  std::vector<uint8_t> pixels;  // (height, width, 3)

  const uint8_t* at(int x, int y) const { return &pixels[(static_cast<size_t>(y) * width + x) * 3]; }
};

struct PlotRect {
  int x = 0, y = 0, width = 0, height = 0;
};

// ---- heat-map confusion matrix ----
// Rows are the reference levels, columns the predicted levels (column labels written vertically
// above the matrix). Each cell is kConfusionCell pixels square, coloured by count / largest count
// (white for 0, dark blue for the largest) with its count written in the middle.
struct ConfusionPlot {
  std::string title;
  std::vector<std::string> row_labels;     // (rows) reference levels
  std::vector<std::string> column_labels;  // (columns) predicted levels; may add e.g. "not stated"
  std::vector<std::vector<int64_t>> counts;  // (rows, columns), each >= 0
  std::string row_axis = "reference";
  std::string column_axis = "predicted";
};
inline constexpr int kConfusionCell = 40;

struct ConfusionLayout {
  int width = 0, height = 0;
  PlotRect matrix;  // the cells; cell (r, c) is at matrix.x + c·kConfusionCell, matrix.y + r·kConfusionCell
  PlotRect cell(int row, int column) const {
    return {matrix.x + column * kConfusionCell, matrix.y + row * kConfusionCell, kConfusionCell, kConfusionCell};
  }
};
OPHTHA_API ConfusionLayout confusion_layout(const ConfusionPlot& plot);
OPHTHA_API RgbImage plot_confusion_matrix(const ConfusionPlot& plot);

// ---- horizontal bar chart (e.g. F1 per finding) ----
// One bar per label, top to bottom, length value / max_value of the bar area (values are clamped
// to [0, max_value]); the value is written after the bar with two decimals, "n/a" for NaN (no bar).
struct BarChart {
  std::string title;
  std::vector<std::string> labels;  // (bars)
  std::vector<double> values;       // (bars)
  double max_value = 1.0;           // > 0
  int bar_area_width = 320;         // pixels for max_value; 40..4000
};
inline constexpr int kBarRow = 14;  // pixels per bar

struct BarLayout {
  int width = 0, height = 0;
  PlotRect bars;  // the bar area: max_value is bars.width pixels long
  // Where bar i is drawn (10 px tall, 2 px below the top of its row); its length is in pixels.
  PlotRect bar_slot(int i) const { return {bars.x, bars.y + i * kBarRow + 2, bars.width, kBarRow - 4}; }
};
OPHTHA_API BarLayout bar_layout(const BarChart& chart);
OPHTHA_API RgbImage plot_bar_chart(const BarChart& chart);

// ---- line chart (e.g. training and validation loss per step) ----
// The axes span every finite point (y padded by 5 %, a single x or y value by ±0.5), with 5 ticks
// each labelled "%.4g". Each series is a 2-px polyline in its colour, listed in a legend at the
// top right of the plot area; a non-finite x or y breaks the line there.
struct PlotSeries {
  std::string name;          // shown in the legend
  std::vector<double> x, y;  // same length
  uint32_t rgb = 0x1f77b4;   // line colour 0xRRGGBB
};
struct PlotOptions {
  int width = 800, height = 480;  // pixels, each 200 … 4000
  std::string title, x_label, y_label;
};
struct LineLayout {
  int width = 0, height = 0;
  PlotRect plot;  // inside the axes
  double x_min = 0, x_max = 1, y_min = 0, y_max = 1;  // data coordinates of the plot area's edges
};
OPHTHA_API LineLayout line_layout(const std::vector<PlotSeries>& series, const PlotOptions& options);
OPHTHA_API RgbImage plot_line_chart(const std::vector<PlotSeries>& series, const PlotOptions& options);
// The same chart as PNG bytes (encode_png(plot_line_chart(...))).
OPHTHA_API std::vector<uint8_t> render_line_plot_png(const std::vector<PlotSeries>& series, const PlotOptions& options);
// A distinct colour for series i (blue, orange, green, red, purple, then again), 0xRRGGBB.
OPHTHA_API uint32_t series_colour(size_t i);

// ---- files ----
// PNG bytes of the image (8-bit RGB). Error(InvalidArgument) for an empty or inconsistent image.
OPHTHA_API std::vector<uint8_t> encode_png(const RgbImage& image);

// Writes the PNG atomically (AtomicFileWriter: readers see the old file or the new one). Inline
// so that the `common` component, which draws, does not depend on `io`, which writes: the caller
// links io. Errors: Error(Io) from the file system.
inline void write_png(const std::string& path, const RgbImage& image) {
  const std::vector<uint8_t> png = encode_png(image);
  AtomicFileWriter file(path);
  file.write(png.data(), png.size());
  file.commit();
}

}  // namespace ophtha
