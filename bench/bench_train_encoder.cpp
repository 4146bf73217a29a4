// Training speed of TrainableResNet: images per second for forward + backward + an SGD update, at a
// few base widths and input sizes, batch 16, on the threads given (default 2). bench/
// torchvision_train_bench.py times torchvision on the same shapes for comparison.
//   ophtha_bench_train_encoder [--threads N] [--steps N]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/csrc/autograd/autograd.h>

#include "ophtha/trainable_resnet.hpp"

int main(int argc, char** argv) {
  int threads = 2, steps = 4;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--threads")) threads = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--steps")) steps = std::atoi(argv[i + 1]);
  }
  at::set_num_threads(threads);
  std::printf("TrainableResNet training, batch 16, %d thread(s), %d timed steps after one warm-up\n", threads, steps);
  std::printf("%-10s %6s %6s %10s\n", "arch", "width", "size", "images/s");
  struct Case { ophtha::EncoderArch arch; int64_t width, size; };
  for (const Case c : {Case{ophtha::EncoderArch::ResNet18, 64, 128}, Case{ophtha::EncoderArch::ResNet18, 64, 192},
                       Case{ophtha::EncoderArch::ResNet18, 32, 192}, Case{ophtha::EncoderArch::ResNet18, 16, 192},
                       Case{ophtha::EncoderArch::ResNet18, 16, 256}}) {
    ophtha::TrainableResNet net = ophtha::TrainableResNet::random(c.arch, 1, c.width);
    for (auto& [name, t] : net.named_parameters()) t.requires_grad_(true);
    const at::Tensor x = at::randn({16, 3, c.size, c.size});
    auto step = [&] {
      const at::Tensor loss = net.forward(x).pooled.pow(2).mean();
      for (auto& [name, t] : net.named_parameters())
        if (t.grad().defined()) t.mutable_grad().zero_();
      loss.backward();
      at::NoGradGuard no_grad;
      for (auto& [name, t] : net.named_parameters()) t.sub_(t.grad() * 1e-3);
    };
    step();
    const auto start = std::chrono::steady_clock::now();
    for (int s = 0; s < steps; ++s) step();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("%-10s %6lld %6lld %10.1f\n", "resnet18", static_cast<long long>(c.width), static_cast<long long>(c.size),
                16.0 * steps / seconds);
  }
  return 0;
}
