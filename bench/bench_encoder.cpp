// Vision encoder benchmark: ResNet-50 at 224 × 224, images per second for batches of 1 and 8, on
// LibTorch's intra-op pool at a given thread count (default 2, the machine's cores).
// bench/torchvision_encoder_bench.py times torchvision on the same shapes and threads.
//
//   ophtha_bench_encoder [--weights FILE] [--threads N] [--seconds S] [--dim D]
//
// Without --weights a ResNet-50 state_dict with He-initialised convolutions and identity
// BatchNorms (torchvision's names, F32) is written to $TMPDIR. Per batch size: two warm-up calls,
// then timed calls for at least S seconds (default 5); prints the median, best and worst images/s
// over the calls (the median, because a busy core makes OpenMP's barriers stall some calls badly).
// Then the LLaVA-1.5 projector (mlp2x_gelu, C = 2048 → d = --dim, default 4096 as LLaMA-2 7B) on
// ResNet-50's 7 × 7 grid, batches 1 and 8: the cost the projector adds per image.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include <ATen/Parallel.h>
#include <ATen/TensorOperators.h>
#include <ATen/ops/ones.h>
#include <ATen/ops/randn.h>
#include <ATen/ops/zeros.h>
#include <torch/version.h>

#include "ophtha/projector.hpp"
#include "ophtha/safetensors.hpp"
#include "ophtha/vision_encoder.hpp"
#include "vision/encoder_resnet.hpp"

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string weights;
  int threads = 2;
  double seconds = 5;
  int64_t dim = 4096;
};

ophtha::SafetensorsTensorData f32_tensor(const std::string& name, const at::Tensor& t) {
  const at::Tensor c = t.contiguous();
  const auto* bytes = static_cast<const uint8_t*>(c.data_ptr());
  return {name, "F32", c.sizes().vec(), std::vector<uint8_t>(bytes, bytes + c.numel() * sizeof(float))};
}

std::string write_random_resnet50() {
  const ophtha::vision::ResNetLayout layout = ophtha::vision::resnet_layout(ophtha::EncoderArch::ResNet50);
  std::vector<const ophtha::vision::ConvBnSpec*> specs{&layout.stem};
  for (const auto& block : layout.blocks) {
    for (const auto& conv : block.path) specs.push_back(&conv);
    if (block.downsample) specs.push_back(&*block.downsample);
  }
  std::vector<ophtha::SafetensorsTensorData> tensors;
  for (const auto* s : specs) {
    const double he = std::sqrt(2.0 / static_cast<double>(s->out * s->kernel * s->kernel));
    tensors.push_back(f32_tensor(s->conv + ".weight", at::randn({s->out, s->in, s->kernel, s->kernel}) * he));
    tensors.push_back(f32_tensor(s->bn + ".weight", at::ones({s->out})));
    tensors.push_back(f32_tensor(s->bn + ".bias", at::zeros({s->out})));
    tensors.push_back(f32_tensor(s->bn + ".running_mean", at::zeros({s->out})));
    tensors.push_back(f32_tensor(s->bn + ".running_var", at::ones({s->out})));
  }
  const char* tmp = std::getenv("TMPDIR");
  const std::string path = std::string(tmp ? tmp : "/tmp") + "/ophtha_bench_resnet50.safetensors";
  ophtha::write_safetensors(path, tensors);
  return path;
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (i + 1 >= argc) throw std::invalid_argument("missing value after " + arg);
    if (arg == "--weights") o.weights = argv[++i];
    else if (arg == "--threads") o.threads = std::max(1, std::atoi(argv[++i]));
    else if (arg == "--seconds") o.seconds = std::atof(argv[++i]);
    else if (arg == "--dim") o.dim = std::max(1, std::atoi(argv[++i]));
    else throw std::invalid_argument("unknown argument " + arg);
  }
  return o;
}

// Calls `run` (which handles `batch` images) for at least `seconds` after two warm-up calls and
// prints the median, best and worst images/s.
template <typename Run>
void time_calls(const char* what, int64_t batch, double seconds, Run run) {
  for (int i = 0; i < 2; ++i) run();
  std::vector<double> rates;
  const auto start = Clock::now();
  while (rates.empty() || std::chrono::duration<double>(Clock::now() - start).count() < seconds) {
    const auto t0 = Clock::now();
    run();
    rates.push_back(static_cast<double>(batch) / std::chrono::duration<double>(Clock::now() - t0).count());
  }
  std::sort(rates.begin(), rates.end());
  std::printf("%s batch %2lld: median %7.2f images/s, best %7.2f, worst %7.2f (%zu calls)\n", what,
              static_cast<long long>(batch), rates[rates.size() / 2], rates.back(), rates.front(), rates.size());
}

}  // namespace

int main(int argc, char** argv) try {
  const Options o = parse(argc, argv);
  at::set_num_threads(o.threads);
  const std::string weights = o.weights.empty() ? write_random_resnet50() : o.weights;
  const auto encoder = ophtha::load_vision_encoder(weights, ophtha::EncoderArch::ResNet50);
  std::printf("ophtha ResNet-50, 224x224, %d threads (LibTorch %s)\n", at::get_num_threads(), TORCH_VERSION);
  for (const int64_t batch : {1, 8}) {
    const at::Tensor images = at::randn({batch, 3, 224, 224});
    time_calls("encoder  ", batch, o.seconds, [&] { encoder->encode(images); });
  }
  ophtha::ProjectorConfig config;
  config.vision_channels = encoder->channels();
  config.embedding_dim = o.dim;
  const auto projector = ophtha::FeatureProjector::random(config, 1);
  std::printf("projector mlp2x_gelu %lld -> %lld, 49 tokens per image\n", static_cast<long long>(config.vision_channels),
              static_cast<long long>(config.embedding_dim));
  at::NoGradGuard no_grad;
  for (const int64_t batch : {1, 8}) {
    const ophtha::VisionFeatures features = encoder->encode(at::randn({batch, 3, 224, 224}));
    const std::vector<ophtha::Modality> modalities(batch, ophtha::Modality::Cfp);
    const std::vector<ophtha::Eye> eyes(batch, ophtha::Eye::OD);
    time_calls("projector", batch, o.seconds, [&] { projector.project(features, modalities, eyes); });
  }
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "ophtha_bench_encoder: %s\n", e.what());
  return 1;
}
