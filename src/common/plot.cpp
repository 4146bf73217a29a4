// Confusion heat maps, horizontal bar charts and line charts drawn into an RGB buffer
// (ophtha/plot.hpp), and their PNG encoding.
#include "ophtha/plot.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb_image_write.h>

#include "common/plot_font.hpp"
#include "ophtha/error.hpp"

namespace ophtha {

namespace {

using plot_detail::glyph_column;
using plot_detail::kGlyphAdvance;
using plot_detail::kGlyphHeight;
using plot_detail::kGlyphWidth;

struct Rgb {
  uint8_t r, g, b;
};
constexpr Rgb kWhite{255, 255, 255}, kBlack{0, 0, 0}, kGrid{220, 220, 220}, kAxis{90, 90, 90};
constexpr Rgb kHeatDark{8, 48, 107};  // the largest count
constexpr Rgb kBar{70, 130, 180};
constexpr Rgb kPalette[] = {{31, 119, 180}, {255, 127, 14}, {44, 160, 44}, {214, 39, 40}, {148, 103, 189}};
constexpr size_t kPaletteSize = sizeof kPalette / sizeof kPalette[0];

constexpr int kMargin = 8;
constexpr int kTitleScale = 2;

int text_width(const std::string& text, int scale) { return static_cast<int>(text.size()) * kGlyphAdvance * scale; }
int longest(const std::vector<std::string>& labels) {
  size_t n = 0;
  for (const auto& l : labels) n = std::max(n, l.size());
  return static_cast<int>(n);
}
// Height of the title block: margin, 2× text, margin (just the margin without a title).
int title_height(const std::string& title) {
  return title.empty() ? kMargin : kMargin + kGlyphHeight * kTitleScale + kMargin;
}

class Canvas {
 public:
  Canvas(int width, int height) {
    image_.width = width;
    image_.height = height;
    image_.pixels.assign(static_cast<size_t>(width) * height * 3, 255);
  }
  RgbImage take() { return std::move(image_); }

  void pixel(int x, int y, Rgb c) {
    if (x < 0 || y < 0 || x >= image_.width || y >= image_.height) return;
    uint8_t* p = &image_.pixels[(static_cast<size_t>(y) * image_.width + x) * 3];
    p[0] = c.r;
    p[1] = c.g;
    p[2] = c.b;
  }
  void fill(const PlotRect& r, Rgb c) {
    for (int y = r.y; y < r.y + r.height; ++y)
      for (int x = r.x; x < r.x + r.width; ++x) pixel(x, y, c);
  }
  // Bresenham, `thickness` pixels square per step.
  void line(int x0, int y0, int x1, int y1, Rgb c, int thickness = 1) {
    const int dx = std::abs(x1 - x0), dy = -std::abs(y1 - y0);
    const int sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1;
    int err = dx + dy;
    for (;;) {
      fill({x0, y0, thickness, thickness}, c);
      if (x0 == x1 && y0 == y1) break;
      const int e2 = 2 * err;
      if (e2 >= dy) {
        err += dy;
        x0 += sx;
      }
      if (e2 <= dx) {
        err += dx;
        y0 += sy;
      }
    }
  }
  // Text with its top-left corner at (x, y).
  void text(int x, int y, const std::string& s, int scale, Rgb c) {
    for (size_t i = 0; i < s.size(); ++i)
      glyph(static_cast<unsigned char>(s[i]), scale, c, [&](int gx, int gy) {
        return std::pair<int, int>{x + static_cast<int>(i) * kGlyphAdvance * scale + gx, y + gy};
      });
  }
  // Text turned 90° anticlockwise (read bottom to top), its first character's bottom-left at (x, y).
  void vertical_text(int x, int y, const std::string& s, int scale, Rgb c) {
    for (size_t i = 0; i < s.size(); ++i)
      glyph(static_cast<unsigned char>(s[i]), scale, c, [&](int gx, int gy) {
        return std::pair<int, int>{x + gy, y - static_cast<int>(i) * kGlyphAdvance * scale - gx};
      });
  }

 private:
  template <typename Place>
  void glyph(unsigned char ch, int scale, Rgb c, Place place) {
    for (int col = 0; col < kGlyphWidth; ++col) {
      const uint8_t bits = glyph_column(ch, col);
      for (int row = 0; row < kGlyphHeight; ++row) {
        if (!(bits & (1u << row))) continue;
        for (int sy = 0; sy < scale; ++sy)
          for (int sx = 0; sx < scale; ++sx) {
            const auto [px, py] = place(col * scale + sx, row * scale + sy);
            pixel(px, py, c);
          }
      }
    }
  }
  RgbImage image_;
};

Rgb mix(Rgb a, Rgb b, double t) {
  auto m = [t](uint8_t x, uint8_t y) { return static_cast<uint8_t>(std::lround(x + (y - x) * t)); };
  return {m(a.r, b.r), m(a.g, b.g), m(a.b, b.b)};
}

Rgb rgb_of(uint32_t rgb) {
  return {static_cast<uint8_t>(rgb >> 16), static_cast<uint8_t>(rgb >> 8), static_cast<uint8_t>(rgb)};
}

std::string format_number(const char* format, double v) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, format, v);
  return buffer;
}

void draw_title(Canvas& canvas, const std::string& title) {
  if (!title.empty()) canvas.text(kMargin, kMargin, title, kTitleScale, kBlack);
}

}  // namespace

// ---- confusion matrix ----

ConfusionLayout confusion_layout(const ConfusionPlot& plot) {
  const int rows = static_cast<int>(plot.row_labels.size());
  const int cols = static_cast<int>(plot.column_labels.size());
  if (rows < 1 || cols < 1 || rows > 100 || cols > 100)
    fail(ErrorCode::InvalidArgument, "confusion plot '{}': {} row and {} column labels, expected 1..100 each", plot.title,
         rows, cols);
  ConfusionLayout layout;
  const int axis_title = kGlyphHeight + 4;  // "predicted" above, "reference" to the left
  layout.matrix.y = title_height(plot.title) + axis_title + longest(plot.column_labels) * kGlyphAdvance + 6;
  layout.matrix.x = kMargin + axis_title + longest(plot.row_labels) * kGlyphAdvance + 6;
  layout.matrix.width = cols * kConfusionCell;
  layout.matrix.height = rows * kConfusionCell;
  layout.width = std::max(layout.matrix.x + layout.matrix.width + 2 * kMargin,
                          2 * kMargin + text_width(plot.title, kTitleScale));
  layout.height = layout.matrix.y + layout.matrix.height + 2 * kMargin;
  return layout;
}

RgbImage plot_confusion_matrix(const ConfusionPlot& plot) {
  const ConfusionLayout layout = confusion_layout(plot);
  const size_t rows = plot.row_labels.size(), cols = plot.column_labels.size();
  if (plot.counts.size() != rows)
    fail(ErrorCode::InvalidArgument, "confusion plot '{}': counts has {} rows, expected {} (one per row label)",
         plot.title, plot.counts.size(), rows);
  int64_t largest = 0;
  for (size_t r = 0; r < rows; ++r) {
    if (plot.counts[r].size() != cols)
      fail(ErrorCode::InvalidArgument,
           "confusion plot '{}': counts[{}] has {} entries, expected {} (one per column label)", plot.title, r,
           plot.counts[r].size(), cols);
    for (size_t c = 0; c < cols; ++c) {
      if (plot.counts[r][c] < 0)
        fail(ErrorCode::InvalidArgument, "confusion plot '{}': counts[{}][{}] is {}, expected a count >= 0", plot.title,
             r, c, plot.counts[r][c]);
      largest = std::max(largest, plot.counts[r][c]);
    }
  }
  Canvas canvas(layout.width, layout.height);
  draw_title(canvas, plot.title);
  const PlotRect& m = layout.matrix;
  canvas.text(m.x + (m.width - text_width(plot.column_axis, 1)) / 2, title_height(plot.title), plot.column_axis, 1,
              kAxis);
  canvas.vertical_text(kMargin, m.y + (m.height + text_width(plot.row_axis, 1)) / 2, plot.row_axis, 1, kAxis);
  for (size_t c = 0; c < cols; ++c)  // vertical labels ending just above the matrix
    canvas.vertical_text(m.x + static_cast<int>(c) * kConfusionCell + (kConfusionCell - kGlyphHeight) / 2, m.y - 4,
                         plot.column_labels[c], 1, kBlack);
  for (size_t r = 0; r < rows; ++r) {
    const std::string& label = plot.row_labels[r];
    canvas.text(m.x - 6 - text_width(label, 1),
                m.y + static_cast<int>(r) * kConfusionCell + (kConfusionCell - kGlyphHeight) / 2, label, 1, kBlack);
    for (size_t c = 0; c < cols; ++c) {
      const PlotRect cell = layout.cell(static_cast<int>(r), static_cast<int>(c));
      const double t = largest == 0 ? 0.0 : static_cast<double>(plot.counts[r][c]) / static_cast<double>(largest);
      canvas.fill(cell, mix(kWhite, kHeatDark, t));
      const std::string count = std::to_string(plot.counts[r][c]);
      canvas.text(cell.x + (cell.width - text_width(count, 1) + 1) / 2, cell.y + (cell.height - kGlyphHeight) / 2,
                  count, 1, t > 0.5 ? kWhite : kBlack);
    }
  }
  for (size_t r = 0; r <= rows; ++r) {
    const int y = m.y + static_cast<int>(r) * kConfusionCell;
    canvas.line(m.x, y, m.x + m.width, y, kAxis);
  }
  for (size_t c = 0; c <= cols; ++c) {
    const int x = m.x + static_cast<int>(c) * kConfusionCell;
    canvas.line(x, m.y, x, m.y + m.height, kAxis);
  }
  return canvas.take();
}

// ---- bar chart ----

BarLayout bar_layout(const BarChart& chart) {
  const int n = static_cast<int>(chart.labels.size());
  if (chart.values.size() != chart.labels.size())
    fail(ErrorCode::InvalidArgument, "bar chart '{}': {} values for {} labels, expected one per label", chart.title,
         chart.values.size(), chart.labels.size());
  if (n < 1 || n > 1000) fail(ErrorCode::InvalidArgument, "bar chart '{}': {} bars, expected 1..1000", chart.title, n);
  if (!(chart.max_value > 0.0) || !std::isfinite(chart.max_value))
    fail(ErrorCode::InvalidArgument, "bar chart '{}': max_value is {}, expected a finite number > 0", chart.title,
         chart.max_value);
  if (chart.bar_area_width < 40 || chart.bar_area_width > 4000)
    fail(ErrorCode::InvalidArgument, "bar chart '{}': bar_area_width is {}, expected 40..4000", chart.title,
         chart.bar_area_width);
  BarLayout layout;
  layout.bars = {kMargin + longest(chart.labels) * kGlyphAdvance + 6, title_height(chart.title) + 4,
                 chart.bar_area_width, n * kBarRow};
  const int value_text = 4 + 4 * kGlyphAdvance;  // "0.75" or "n/a"
  layout.width = std::max(layout.bars.x + layout.bars.width + value_text + kMargin,
                          2 * kMargin + text_width(chart.title, kTitleScale));
  layout.height = layout.bars.y + layout.bars.height + 4 + kGlyphHeight + kMargin;
  return layout;
}

RgbImage plot_bar_chart(const BarChart& chart) {
  const BarLayout layout = bar_layout(chart);
  Canvas canvas(layout.width, layout.height);
  draw_title(canvas, chart.title);
  const PlotRect& area = layout.bars;
  for (int tick = 0; tick <= 4; ++tick) {  // gridlines at 0, 1/4, 1/2, 3/4, 1 of max_value, labelled below
    const int x = area.x + area.width * tick / 4;
    canvas.line(x, area.y, x, area.y + area.height, tick == 0 ? kAxis : kGrid);
    const std::string label = format_number("%.3g", chart.max_value * tick / 4.0);
    canvas.text(std::min(x - text_width(label, 1) / 2, layout.width - kMargin - text_width(label, 1)),
                area.y + area.height + 4, label, 1, kAxis);
  }
  for (size_t i = 0; i < chart.labels.size(); ++i) {
    const PlotRect slot = layout.bar_slot(static_cast<int>(i));
    const int text_y = slot.y + (slot.height - kGlyphHeight) / 2;
    canvas.text(area.x - 6 - text_width(chart.labels[i], 1), text_y, chart.labels[i], 1, kBlack);
    const double v = chart.values[i];
    if (std::isnan(v)) {
      canvas.text(area.x + 4, text_y, "n/a", 1, kAxis);
      continue;
    }
    const int length = static_cast<int>(std::lround(std::clamp(v / chart.max_value, 0.0, 1.0) * area.width));
    canvas.fill({slot.x, slot.y, length, slot.height}, kBar);
    canvas.text(area.x + length + 4, text_y, format_number("%.2f", v), 1, kBlack);
  }
  return canvas.take();
}

// ---- line chart ----

uint32_t series_colour(size_t i) {
  const Rgb& c = kPalette[i % kPaletteSize];
  return (uint32_t{c.r} << 16) | (uint32_t{c.g} << 8) | c.b;
}

LineLayout line_layout(const std::vector<PlotSeries>& series, const PlotOptions& options) {
  if (options.width < 200 || options.width > 4000 || options.height < 200 || options.height > 4000)
    fail(ErrorCode::InvalidArgument, "line chart '{}': size {}x{}, expected 200..4000 pixels each way", options.title,
         options.width, options.height);
  LineLayout layout;
  layout.width = options.width;
  layout.height = options.height;
  const int tick_text = 10 * kGlyphAdvance;  // "%.4g" is at most 10 characters ("-1.234e+05")
  layout.plot.x = kMargin + kGlyphHeight + 4 + tick_text + 4;
  layout.plot.y = title_height(options.title) + 4;
  layout.plot.width = options.width - layout.plot.x - 2 * kMargin;
  layout.plot.height = options.height - layout.plot.y - (4 + kGlyphHeight + 4 + kGlyphHeight + kMargin);
  double x_min = INFINITY, x_max = -INFINITY, y_min = INFINITY, y_max = -INFINITY;
  for (size_t s = 0; s < series.size(); ++s) {
    const PlotSeries& one = series[s];
    if (one.x.size() != one.y.size())
      fail(ErrorCode::InvalidArgument, "line chart '{}': series {} ('{}') has {} x and {} y values, expected as many",
           options.title, s, one.name, one.x.size(), one.y.size());
    for (size_t i = 0; i < one.x.size(); ++i) {
      if (!std::isfinite(one.x[i]) || !std::isfinite(one.y[i])) continue;
      x_min = std::min(x_min, one.x[i]);
      x_max = std::max(x_max, one.x[i]);
      y_min = std::min(y_min, one.y[i]);
      y_max = std::max(y_max, one.y[i]);
    }
  }
  if (x_min > x_max) {  // nothing to draw
    x_min = 0;
    x_max = 1;
    y_min = 0;
    y_max = 1;
  }
  if (x_min == x_max) {
    x_min -= 0.5;
    x_max += 0.5;
  }
  if (y_min == y_max) {
    y_min -= 0.5;
    y_max += 0.5;
  } else {
    const double pad = 0.05 * (y_max - y_min);
    y_min -= pad;
    y_max += pad;
  }
  layout.x_min = x_min;
  layout.x_max = x_max;
  layout.y_min = y_min;
  layout.y_max = y_max;
  return layout;
}

RgbImage plot_line_chart(const std::vector<PlotSeries>& series, const PlotOptions& options) {
  const LineLayout layout = line_layout(series, options);
  const PlotRect& p = layout.plot;
  auto px = [&](double x) {
    return p.x + static_cast<int>(std::lround((x - layout.x_min) / (layout.x_max - layout.x_min) * (p.width - 1)));
  };
  auto py = [&](double y) {
    return p.y + p.height - 1 -
           static_cast<int>(std::lround((y - layout.y_min) / (layout.y_max - layout.y_min) * (p.height - 1)));
  };
  Canvas canvas(layout.width, layout.height);
  draw_title(canvas, options.title);
  for (int tick = 0; tick <= 4; ++tick) {
    const double xv = layout.x_min + (layout.x_max - layout.x_min) * tick / 4.0;
    const double yv = layout.y_min + (layout.y_max - layout.y_min) * tick / 4.0;
    const int x = px(xv), y = py(yv);
    canvas.line(x, p.y, x, p.y + p.height - 1, kGrid);
    canvas.line(p.x, y, p.x + p.width - 1, y, kGrid);
    const std::string xl = format_number("%.4g", xv), yl = format_number("%.4g", yv);
    canvas.text(std::clamp(x - text_width(xl, 1) / 2, 0, layout.width - text_width(xl, 1)), p.y + p.height + 4, xl, 1,
                kAxis);
    canvas.text(p.x - 4 - text_width(yl, 1), y - kGlyphHeight / 2, yl, 1, kAxis);
  }
  canvas.line(p.x, p.y, p.x, p.y + p.height - 1, kAxis);
  canvas.line(p.x, p.y + p.height - 1, p.x + p.width - 1, p.y + p.height - 1, kAxis);
  canvas.text(p.x + (p.width - text_width(options.x_label, 1)) / 2, layout.height - kMargin - kGlyphHeight,
              options.x_label, 1, kBlack);
  canvas.vertical_text(kMargin, p.y + (p.height + text_width(options.y_label, 1)) / 2, options.y_label, 1, kBlack);
  for (const PlotSeries& one : series) {
    const Rgb colour = rgb_of(one.rgb);
    bool have_previous = false;
    int x0 = 0, y0 = 0;
    for (size_t i = 0; i < one.x.size(); ++i) {
      if (!std::isfinite(one.x[i]) || !std::isfinite(one.y[i])) {
        have_previous = false;
        continue;
      }
      const int x1 = px(one.x[i]), y1 = py(one.y[i]);
      canvas.line(have_previous ? x0 : x1, have_previous ? y0 : y1, x1, y1, colour, 2);
      x0 = x1;
      y0 = y1;
      have_previous = true;
    }
  }
  int legend_width = 0;
  for (const PlotSeries& one : series) legend_width = std::max(legend_width, text_width(one.name, 1));
  if (legend_width > 0) {
    const int n = static_cast<int>(series.size());
    const PlotRect box{p.x + p.width - legend_width - 32, p.y + 4, legend_width + 28, n * 12 + 6};
    canvas.fill(box, kWhite);
    for (int i = 0; i < n; ++i) {
      const PlotSeries& one = series[static_cast<size_t>(i)];
      canvas.fill({box.x + 4, box.y + 6 + i * 12 + 2, 16, 2}, rgb_of(one.rgb));
      canvas.text(box.x + 24, box.y + 4 + i * 12, one.name, 1, kBlack);
    }
  }
  return canvas.take();
}

std::vector<uint8_t> render_line_plot_png(const std::vector<PlotSeries>& series, const PlotOptions& options) {
  return encode_png(plot_line_chart(series, options));
}

// ---- PNG ----

std::vector<uint8_t> encode_png(const RgbImage& image) {
  if (image.width <= 0 || image.height <= 0 ||
      image.pixels.size() != static_cast<size_t>(image.width) * image.height * 3)
    fail(ErrorCode::InvalidArgument,
         "encode_png: image {}x{} with {} bytes, expected a non-empty image of width*height*3 bytes", image.width,
         image.height, image.pixels.size());
  std::vector<uint8_t> out;
  auto append = [](void* context, void* data, int size) {
    auto* bytes = static_cast<std::vector<uint8_t>*>(context);
    bytes->insert(bytes->end(), static_cast<uint8_t*>(data), static_cast<uint8_t*>(data) + size);
  };
  if (!stbi_write_png_to_func(append, &out, image.width, image.height, 3, image.pixels.data(), image.width * 3))
    fail(ErrorCode::Internal, "encode_png: stb_image_write failed on a {}x{} image", image.width, image.height);
  return out;
}

}  // namespace ophtha
