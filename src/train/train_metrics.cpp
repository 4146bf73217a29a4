#include "train/train_metrics.hpp"

#include <cerrno>
#include <cstring>
#include <sstream>
#include <vector>

#include "ophtha/error.hpp"
#include "ophtha/plot.hpp"

namespace ophtha::train {

MetricsLog::MetricsLog(const std::string& path, int64_t keep_through_step) : path_(path) {
  std::string kept;
  if (keep_through_step >= 0) {
    std::ifstream old(path, std::ios::binary);
    std::string line;
    while (std::getline(old, line)) {
      const nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
      if (j.is_object() && j.contains("step") && j["step"].is_number_integer() &&
          j["step"].get<int64_t>() <= keep_through_step)
        kept += line + "\n";
    }
  }
  out_.open(path, std::ios::binary | std::ios::trunc);
  if (!out_) fail(ErrorCode::Io, "cannot write the metrics log '{}': {}", path, std::strerror(errno));
  out_ << kept;
  out_.flush();
}

void MetricsLog::append(const nlohmann::json& record) {
  out_ << record.dump() << '\n';
  out_.flush();
  if (!out_) fail(ErrorCode::Io, "{}: write failed: {}", path_, std::strerror(errno));
}

void draw_loss_curve(const std::string& metrics_path, const std::string& png_path) {
  std::ifstream in(metrics_path, std::ios::binary);
  if (!in) fail(ErrorCode::Io, "cannot open the metrics log '{}': {}", metrics_path, std::strerror(errno));
  PlotSeries train{"train loss", {}, {}, series_colour(0)}, validation{"validation loss", {}, {}, series_colour(1)};
  std::string line;
  while (std::getline(in, line)) {
    const nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_object() || !j.contains("step") || !j["step"].is_number()) continue;
    for (auto [key, series] : {std::pair{"loss", &train}, std::pair{"val_loss", &validation}})
      if (j.contains(key) && j[key].is_number()) {
        series->x.push_back(j["step"].get<double>());
        series->y.push_back(j[key].get<double>());
      }
  }
  std::vector<PlotSeries> series{train};
  if (!validation.x.empty()) series.push_back(validation);
  PlotOptions options;
  options.title = "training loss";
  options.x_label = "step";
  options.y_label = "loss (nats/token)";
  write_png(png_path, plot_line_chart(series, options));
}

}  // namespace ophtha::train
