#include "train/mixed_precision.hpp"

#include <ATen/autocast_mode.h>

#include "ophtha/error.hpp"

namespace ophtha::train {

bool cpu_has_native_bf16() {
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512bf16") || __builtin_cpu_supports("amx-bf16");
#else
  return false;
#endif
}

AutocastScope::AutocastScope(TrainPrecision precision) {
  if (precision != TrainPrecision::Bf16) return;
  if (at::autocast::is_cpu_enabled())
    fail(ErrorCode::InvalidArgument, "a bf16 autocast scope is already open on this thread");
  at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
  at::autocast::set_cpu_enabled(true);
  at::autocast::increment_nesting();
  active_ = true;
}

AutocastScope::~AutocastScope() {
  if (!active_) return;
  at::autocast::set_cpu_enabled(false);
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
}

}  // namespace ophtha::train
