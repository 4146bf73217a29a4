// The metrics log of a training run: one JSON object per line, appended and flushed as it happens
//   {"step": 12, "loss": 3.41, "lr": 0.0003, "grad_norm": 1.7, "tokens": 2048, "tokens_per_s": 5120.4, "elapsed_s": 4.8}
//   {"step": 20, "val_loss": 3.52}
// and the loss-curve PNG drawn from it.
#pragma once
#include <cstdint>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

namespace ophtha::train {

class MetricsLog {
 public:
  // Opens `path` for appending. A fresh run (keep_through_step < 0) empties it; a resumed run keeps
  // the records of steps ≤ keep_through_step and drops the rest (written after the checkpoint it
  // resumes from). Error(Io) naming the file.
  MetricsLog(const std::string& path, int64_t keep_through_step);
  void append(const nlohmann::json& record);

 private:
  std::string path_;
  std::ofstream out_;
};

// Draws train loss (and validation loss, when logged) against the step from the metrics log into
// a PNG, written atomically. Error(Io) when either file cannot be read or written.
void draw_loss_curve(const std::string& metrics_path, const std::string& png_path);

}  // namespace ophtha::train
