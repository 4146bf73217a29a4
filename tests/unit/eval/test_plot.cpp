// Charts (ophtha/plot.hpp) written as PNG and decoded by PIL (tests/tools/png_decode.py): the file
// is a PNG of the laid-out size holding exactly our pixels, and the pictures mean what they should
// (darker cells for larger counts, bars as long as their values, lines through their points).
#include <doctest/doctest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ophtha/plot.hpp"
#include "support/expect_error.hpp"

namespace {

namespace fs = std::filesystem;
using namespace ophtha;

fs::path plot_folder() {
  const fs::path folder = fs::path(OPHTHA_TEST_WORK_DIR) / "plots";
  fs::create_directories(folder);
  return folder;
}

// PIL's reading of each PNG: the JSON it printed and the decoded RGB bytes.
struct Decoded {
  nlohmann::json info;
  std::vector<uint8_t> rgb;
};

std::map<std::string, Decoded> decode_with_pil(const std::vector<fs::path>& pngs) {
  const fs::path listing = plot_folder() / "pil.jsonl";
  const char* python = std::getenv("OPHTHA_PYTHON");
  std::string command = std::string("'") + (python ? python : "/usr/bin/python3") + "' '" + OPHTHA_SOURCE_DIR +
                        "/tests/tools/png_decode.py'";
  for (const auto& p : pngs) command += " '" + p.string() + "'";
  command += " > '" + listing.string() + "'";
  REQUIRE_MESSAGE(std::system(command.c_str()) == 0, "PIL could not decode the charts (needs python3-pil): ", command);
  std::map<std::string, Decoded> out;
  std::ifstream lines(listing);
  std::string line;
  while (std::getline(lines, line)) {
    Decoded d;
    d.info = nlohmann::json::parse(line);
    std::ifstream raw(d.info.at("path").get<std::string>() + ".rgb", std::ios::binary);
    d.rgb.assign(std::istreambuf_iterator<char>(raw), {});
    out[d.info.at("path").get<std::string>()] = std::move(d);
  }
  return out;
}

// The PNG as PIL decodes it equals `image`, pixel for pixel.
const Decoded& check_decoded(const std::map<std::string, Decoded>& all, const fs::path& png, const RgbImage& image,
                             int width, int height) {
  REQUIRE_MESSAGE(all.count(png.string()) == 1, "PIL did not report ", png.string());
  const Decoded& d = all.at(png.string());
  CHECK(d.info.at("format") == "PNG");
  CHECK(d.info.at("mode") == "RGB");
  CHECK_MESSAGE(d.info.at("width") == width, png.string(), ": width ", d.info.at("width").dump(), ", expected ", width);
  CHECK_MESSAGE(d.info.at("height") == height, png.string(), ": height ", d.info.at("height").dump(), ", expected ", height);
  CHECK_MESSAGE(d.rgb == image.pixels, png.string(), ": PIL's pixels differ from the drawn ones");
  return d;
}

int brightness(const RgbImage& image, int x, int y) {
  const uint8_t* p = image.at(x, y);
  return p[0] + p[1] + p[2];
}

bool is_colour(const RgbImage& image, int x, int y, uint32_t rgb) {
  const uint8_t* p = image.at(x, y);
  return p[0] == ((rgb >> 16) & 255) && p[1] == ((rgb >> 8) & 255) && p[2] == (rgb & 255);
}

// Pixels in the rectangle that are not white.
int inked(const RgbImage& image, const PlotRect& r) {
  int n = 0;
  for (int y = r.y; y < r.y + r.height; ++y)
    for (int x = r.x; x < r.x + r.width; ++x) n += brightness(image, x, y) < 3 * 255;
  return n;
}

}  // namespace

TEST_CASE("charts are PNGs of their laid-out size that PIL decodes to exactly the drawn pixels") {
  const fs::path folder = plot_folder();

  ConfusionPlot confusion;
  confusion.title = "ICDR grade";
  confusion.row_labels = {"no apparent DR", "mild NPDR", "moderate NPDR", "severe NPDR", "PDR"};
  confusion.column_labels = {"no apparent DR", "mild NPDR", "moderate NPDR", "severe NPDR", "PDR", "not stated"};
  for (int r = 0; r < 5; ++r) {
    confusion.counts.emplace_back();
    for (int c = 0; c < 6; ++c) confusion.counts.back().push_back((r * 6 + c) * 7 % 31);  // 30 distinct counts 0..30
  }
  const RgbImage heat = plot_confusion_matrix(confusion);
  const ConfusionLayout heat_layout = confusion_layout(confusion);

  BarChart bars;
  bars.title = "F1 per finding";
  bars.labels = {"microaneurysms", "hard_exudates", "drusen", "subretinal_fluid", "gland_dropout", "enlarged_cup"};
  bars.values = {0.0, 0.25, 0.5, 1.0, NAN, 0.8125};
  const RgbImage bar_image = plot_bar_chart(bars);
  const BarLayout bar_geometry = bar_layout(bars);

  std::vector<PlotSeries> curves(2);
  curves[0].name = "train loss";
  curves[1].name = "val loss";
  curves[1].rgb = series_colour(1);
  for (int i = 0; i <= 20; ++i) {
    curves[0].x.push_back(i * 50);
    curves[0].y.push_back(4.0 / (1.0 + 0.3 * i));
    curves[1].x.push_back(i * 50);
    curves[1].y.push_back(i == 10 ? NAN : 4.2 / (1.0 + 0.2 * i));
  }
  PlotOptions options;
  options.title = "loss";
  options.x_label = "step";
  options.y_label = "cross-entropy";
  const RgbImage lines = plot_line_chart(curves, options);
  const LineLayout line_geometry = line_layout(curves, options);

  const fs::path heat_png = folder / "confusion.png", bar_png = folder / "bars.png", line_png = folder / "loss.png";
  write_png(heat_png.string(), heat);
  write_png(bar_png.string(), bar_image);
  write_png(line_png.string(), lines);
  for (const auto& entry : fs::directory_iterator(folder))
    CHECK_MESSAGE(entry.path().filename().string().rfind(".", 0) != 0, "temporary file left: ", entry.path().string());
  const auto decoded = decode_with_pil({heat_png, bar_png, line_png});

  SUBCASE("confusion matrix") {
    check_decoded(decoded, heat_png, heat, heat_layout.width, heat_layout.height);
    // Each cell's colour, sampled inside its corner (away from the grid lines and the count).
    for (int a = 0; a < 30; ++a)
      for (int b = 0; b < 30; ++b) {
        const int64_t ca = confusion.counts[a / 6][a % 6], cb = confusion.counts[b / 6][b % 6];
        if (ca >= cb) continue;
        const PlotRect cell_a = heat_layout.cell(a / 6, a % 6), cell_b = heat_layout.cell(b / 6, b % 6);
        CHECK_MESSAGE(brightness(heat, cell_a.x + 3, cell_a.y + 3) > brightness(heat, cell_b.x + 3, cell_b.y + 3),
                      "count ", ca, " is not lighter than count ", cb);
      }
    const PlotRect zero = heat_layout.cell(0, 0);  // count 0: white
    CHECK(brightness(heat, zero.x + 3, zero.y + 3) == 3 * 255);
    for (int r = 0; r < 5; ++r)
      for (int c = 0; c < 6; ++c) {  // the count is written in the middle of its cell
        const PlotRect cell = heat_layout.cell(r, c);
        const PlotRect middle{cell.x + 8, cell.y + 14, 24, 12};
        int differing = 0;
        for (int y = middle.y; y < middle.y + middle.height; ++y)
          for (int x = middle.x; x < middle.x + middle.width; ++x)
            differing += brightness(heat, x, y) != brightness(heat, cell.x + 3, cell.y + 3);
        CHECK_MESSAGE(differing > 5, "no count drawn in cell ", r, ",", c);
      }
    // Row labels to the left of the matrix, column labels above it.
    CHECK(inked(heat, {0, heat_layout.matrix.y, heat_layout.matrix.x - 2, heat_layout.matrix.height}) > 100);
    CHECK(inked(heat, {heat_layout.matrix.x, 0, heat_layout.matrix.width, heat_layout.matrix.y - 2}) > 100);
  }

  SUBCASE("bar chart") {
    check_decoded(decoded, bar_png, bar_image, bar_geometry.width, bar_geometry.height);
    for (size_t i = 0; i < bars.values.size(); ++i) {
      const PlotRect slot = bar_geometry.bar_slot(static_cast<int>(i));
      const int y = slot.y + slot.height / 2;
      int length = 0;
      while (length < slot.width && is_colour(bar_image, slot.x + length, y, 0x4682b4)) ++length;
      const int expected = std::isnan(bars.values[i]) ? 0 : static_cast<int>(std::lround(bars.values[i] * slot.width));
      CHECK_MESSAGE(length == expected, "bar ", i, " (", bars.values[i], ") is ", length, " px, expected ", expected);
      CHECK_MESSAGE(inked(bar_image, {0, slot.y, bar_geometry.bars.x - 2, slot.height}) > 20, "label ", i, " not drawn");
    }
  }

  SUBCASE("line chart") {
    check_decoded(decoded, line_png, lines, options.width, options.height);
    const PlotRect& p = line_geometry.plot;
    auto at = [&](double x, double y) {
      return std::pair<int, int>{
          p.x + static_cast<int>(std::lround((x - line_geometry.x_min) / (line_geometry.x_max - line_geometry.x_min) * (p.width - 1))),
          p.y + p.height - 1 -
              static_cast<int>(std::lround((y - line_geometry.y_min) / (line_geometry.y_max - line_geometry.y_min) * (p.height - 1)))};
    };
    CHECK(line_geometry.x_min == 0);
    CHECK(line_geometry.x_max == 1000);
    CHECK(line_geometry.y_max == doctest::Approx(4.2 + 0.05 * (4.2 - 4.0 / 7.0)));
    for (size_t s = 0; s < curves.size(); ++s)
      for (size_t i = 0; i < curves[s].x.size(); ++i) {
        if (std::isnan(curves[s].y[i])) continue;
        const auto [x, y] = at(curves[s].x[i], curves[s].y[i]);
        if (x > p.x + p.width - 200 && y < p.y + 60) continue;  // under the legend
        CHECK_MESSAGE(is_colour(lines, x, y, curves[s].rgb), "series ", s, " point ", i, " not drawn at ", x, ",", y);
      }
    // The NaN at point 10 breaks the validation curve: nothing of its colour between points 9 and 11
    // on the straight line that would join them.
    const auto [x9, y9] = at(450, curves[1].y[9]);
    const auto [x11, y11] = at(550, curves[1].y[11]);
    const int mx = (x9 + x11) / 2, my = (y9 + y11) / 2;
    CHECK_FALSE(is_colour(lines, mx, my, curves[1].rgb));
    CHECK(inked(lines, {0, 0, options.width, p.y}) > 20);  // the title
  }
}

TEST_CASE("inconsistent chart input is refused, naming the chart and the field") {
  ConfusionPlot plot;
  plot.title = "referral";
  plot.row_labels = {"routine", "soon"};
  plot.column_labels = {"routine", "soon"};
  plot.counts = {{1, 2}, {3}};
  test::check_message(test::error_from([&] { plot_confusion_matrix(plot); }), ErrorCode::InvalidArgument,
                      "confusion plot 'referral': counts[1] has 1 entries, expected 2");
  plot.counts = {{1, 2}, {3, -1}};
  test::check_message(test::error_from([&] { plot_confusion_matrix(plot); }), ErrorCode::InvalidArgument,
                      "counts[1][1] is -1");
  BarChart bars;
  bars.labels = {"a", "b"};
  bars.values = {0.5};
  test::check_message(test::error_from([&] { plot_bar_chart(bars); }), ErrorCode::InvalidArgument,
                      "1 values for 2 labels");
  std::vector<PlotSeries> series(1);
  series[0].name = "loss";
  series[0].x = {1, 2};
  series[0].y = {1};
  test::check_message(test::error_from([&] { plot_line_chart(series, {}); }), ErrorCode::InvalidArgument,
                      "series 0 ('loss') has 2 x and 1 y values");
  PlotOptions tiny;
  tiny.width = 100;
  test::check_message(test::error_from([&] { render_line_plot_png({}, tiny); }), ErrorCode::InvalidArgument,
                      "size 100x480");
}
