#include <cmath>
#include <set>

#include <ATen/ATen.h>

#include "ophtha/error.hpp"
#include "ophtha/train_optim.hpp"

namespace ophtha {

AdamW::AdamW(std::vector<std::pair<std::string, at::Tensor>> params, const AdamWOptions& options) : options_(options) {
  if (!(options.beta1 >= 0 && options.beta1 < 1) || !(options.beta2 >= 0 && options.beta2 < 1))
    fail(ErrorCode::InvalidArgument, "AdamW: betas are ({}, {}), expected each in [0, 1)", options.beta1, options.beta2);
  if (!(options.eps >= 0)) fail(ErrorCode::InvalidArgument, "AdamW: eps is {}, expected ≥ 0", options.eps);
  if (!(options.weight_decay >= 0))
    fail(ErrorCode::InvalidArgument, "AdamW: weight_decay is {}, expected ≥ 0", options.weight_decay);
  std::set<std::string> names;
  for (auto& [name, p] : params) {
    if (!names.insert(name).second) fail(ErrorCode::InvalidArgument, "AdamW: parameter '{}' given twice", name);
    slots_.push_back({name, p, at::zeros_like(p), at::zeros_like(p), p.dim() >= 2});
  }
}

void AdamW::step(double lr) {
  at::NoGradGuard no_grad;
  for (const Slot& s : slots_)
    if (!s.param.grad().defined())
      fail(ErrorCode::InvalidArgument, "AdamW: parameter '{}' has no gradient", s.name);
  ++steps_;
  const double b1 = options_.beta1, b2 = options_.beta2;
  const double bias1 = 1.0 - std::pow(b1, static_cast<double>(steps_));
  const double bias2_sqrt = std::sqrt(1.0 - std::pow(b2, static_cast<double>(steps_)));
  for (Slot& s : slots_) {
    const at::Tensor& g = s.param.grad();
    if (s.decay && options_.weight_decay > 0) s.param.mul_(1.0 - lr * options_.weight_decay);
    s.exp_avg.lerp_(g, 1.0 - b1);
    s.exp_avg_sq.mul_(b2).addcmul_(g, g, 1.0 - b2);
    const at::Tensor denom = (s.exp_avg_sq.sqrt() / bias2_sqrt).add_(options_.eps);
    s.param.addcdiv_(s.exp_avg, denom, -lr / bias1);
  }
}

std::vector<std::pair<std::string, at::Tensor>> AdamW::state() const {
  std::vector<std::pair<std::string, at::Tensor>> out;
  for (const Slot& s : slots_) {
    out.emplace_back("exp_avg/" + s.name, s.exp_avg);
    out.emplace_back("exp_avg_sq/" + s.name, s.exp_avg_sq);
  }
  return out;
}

void AdamW::load_state(const std::map<std::string, at::Tensor>& state, int64_t step_count, const std::string& source) {
  for (Slot& s : slots_)
    for (at::Tensor* moment : {&s.exp_avg, &s.exp_avg_sq}) {
      const std::string key = (moment == &s.exp_avg ? "exp_avg/" : "exp_avg_sq/") + s.name;
      const auto it = state.find(key);
      if (it == state.end()) fail(ErrorCode::InvalidFormat, "{}: optimizer moment '{}' is missing", source, key);
      if (it->second.sizes() != s.param.sizes())
        fail(ErrorCode::InvalidFormat, "{}: optimizer moment '{}' has shape [{}], expected [{}]", source, key,
             fmt::join(it->second.sizes(), ", "), fmt::join(s.param.sizes(), ", "));
      moment->copy_(it->second);
    }
  steps_ = step_count;
}

double LrSchedule::at(int64_t step) const {
  if (step < warmup_steps) return peak * static_cast<double>(step + 1) / static_cast<double>(warmup_steps);
  const double span = static_cast<double>(std::max<int64_t>(1, total_steps - warmup_steps));
  const double progress = std::min(1.0, static_cast<double>(step - warmup_steps) / span);
  return min + (peak - min) * 0.5 * (1.0 + std::cos(M_PI * progress));
}

double clip_grad_norm(const std::vector<at::Tensor>& params, double max_norm) {
  at::NoGradGuard no_grad;
  std::vector<at::Tensor> norms;
  for (const at::Tensor& p : params)
    if (p.grad().defined()) norms.push_back(p.grad().norm(2));
  if (norms.empty()) return 0.0;
  const double total = at::stack(norms).norm(2).item<double>();
  if (max_norm > 0) {
    const double scale = std::min(1.0, max_norm / (total + 1e-6));
    for (const at::Tensor& p : params)
      if (p.grad().defined()) p.grad().mul_(scale);
  }
  return total;
}

}  // namespace ophtha
