// TrainableResNet against torchvision: one training-mode forward and backward (gradients, updated
// running statistics) and the evaluation-mode forward after it, from the same weights
// (tests/tools/torchvision_training_reference.py); then what it saves is what the inference
// encoder loads.
#include "support/doctest_with_aten.hpp"

#include <filesystem>
#include <map>
#include <string>

#include <ATen/ATen.h>
#include <torch/csrc/autograd/autograd.h>

#include "ophtha/error.hpp"
#include "ophtha/trainable_resnet.hpp"
#include "ophtha/vision_encoder.hpp"
#include "support/tensor_check.hpp"
#include "support/test_models.hpp"

using namespace ophtha;

namespace {

constexpr double kTolerance = 1e-4;  // relative to the reference's largest magnitude

std::string reference(const std::string& arch) {
  return test::cached_script_output("tests/tools/torchvision_training_reference.py", "training-ref-" + arch,
                                    "--arch " + arch + " --seed 3 --input 2x64x48", "", "tokens_eval.npy");
}

at::Tensor param(const TrainableResNet& net, const std::string& name) {
  for (const auto& [n, t] : net.named_parameters())
    if (n == name) return t;
  for (const auto& [n, t] : net.named_buffers())
    if (n == name) return t;
  FAIL("no tensor " << name);
  return {};
}

void check_training_step(const std::string& arch_name) {
  const std::string dir = reference(arch_name);
  TrainableResNet net = TrainableResNet::load(dir + "/weights.safetensors", parse_encoder_arch(arch_name));
  for (auto& [name, t] : net.named_parameters()) t.requires_grad_(true);
  const at::Tensor input = test::load_npy_tensor(dir + "/input.npy");
  const at::Tensor probe = test::load_npy_tensor(dir + "/probe.npy");

  net.set_training(true);
  const VisionFeatures f = net.forward(input);
  test::check_close(f.tokens.detach(), test::load_npy_tensor(dir + "/tokens_train.npy"), "training-mode tokens", kTolerance);
  (f.tokens * probe).sum().backward();
  for (const char* name : {"conv1.weight", "bn1.weight", "bn1.bias", "layer1.0.conv1.weight",
                           "layer2.0.downsample.0.weight", "layer4.1.bn2.weight"}) {
    const at::Tensor grad = param(net, name).grad();
    REQUIRE_MESSAGE(grad.defined(), name, " has no gradient");
    test::check_close(grad, test::load_npy_tensor(dir + "/grad." + name + ".npy"), std::string("gradient of ") + name,
                      kTolerance);
  }
  for (const char* name : {"bn1.running_mean", "bn1.running_var", "layer3.1.bn2.running_var"})
    test::check_close(param(net, name), test::load_npy_tensor(dir + "/after." + name + ".npy"),
                      std::string("updated ") + name, kTolerance);
  CHECK(param(net, "bn1.num_batches_tracked").item<int64_t>() == 1);

  net.set_training(false);
  at::NoGradGuard no_grad;
  test::check_close(net.forward(input).tokens, test::load_npy_tensor(dir + "/tokens_eval.npy"),
                    "evaluation-mode tokens after the step", kTolerance);
}

}  // namespace

TEST_CASE("a ResNet-18 training step equals torchvision's: tokens, gradients, running statistics") {
  check_training_step("resnet18");
}

TEST_CASE("a ResNet-50 training step equals torchvision's (Bottleneck blocks)") { check_training_step("resnet50"); }

TEST_CASE("what a TrainableResNet saves, the inference encoder loads and runs to the same features") {
  TrainableResNet net = TrainableResNet::random(EncoderArch::ResNet18, 11);
  at::NoGradGuard no_grad;
  net.set_training(true);  // one step of statistics so the running values are not the defaults
  net.forward(at::randn({4, 3, 64, 64}));
  net.set_training(false);
  const at::Tensor images = at::randn({2, 3, 80, 64});
  const VisionFeatures expected = net.forward(images);
  const std::string path = test::work_dir() + "/trainable-resnet-saved.safetensors";
  net.save(path, "encoder.");
  const auto encoder = load_vision_encoder(path, EncoderArch::ResNet18);
  const VisionFeatures got = encoder->encode(images);
  test::check_close(got.tokens, expected.tokens, "tokens", 1e-5);
  test::check_close(got.pooled, expected.pooled, "pooled", 1e-5);
  CHECK(got.grid_height == expected.grid_height);

  const TrainableResNet reloaded = TrainableResNet::load(path, EncoderArch::ResNet18);
  for (const char* name : {"layer2.1.conv2.weight", "layer4.0.bn1.running_var"})
    CHECK(at::equal(param(reloaded, name), param(net, name)));
}

TEST_CASE("random weights follow torchvision's initialisation and depend only on the seed") {
  const TrainableResNet a = TrainableResNet::random(EncoderArch::ResNet34, 5);
  const TrainableResNet b = TrainableResNet::random(EncoderArch::ResNet34, 5);
  const TrainableResNet c = TrainableResNet::random(EncoderArch::ResNet34, 6);
  const at::Tensor w = param(a, "layer3.2.conv1.weight");  // (256, 256, 3, 3): fan_out = 256·9
  CHECK(w.std().item<double>() == doctest::Approx(std::sqrt(2.0 / (256 * 9))).epsilon(0.02));
  CHECK(w.mean().item<double>() == doctest::Approx(0).epsilon(1e-3).scale(1));
  CHECK(at::equal(w, param(b, "layer3.2.conv1.weight")));
  CHECK_FALSE(at::equal(w, param(c, "layer3.2.conv1.weight")));
  CHECK(at::equal(param(a, "bn1.weight"), at::ones({64})));
  CHECK(a.channels() == 512);
  CHECK(TrainableResNet::random(EncoderArch::ResNet50, 1).channels() == 2048);
}

TEST_CASE("a TrainableResNet refuses images that are not (B, 3, H, W) float32") {
  TrainableResNet net = TrainableResNet::random(EncoderArch::ResNet18, 1);
  CHECK_THROWS_WITH_AS(net.forward(at::zeros({3, 32, 32})), doctest::Contains("(B, 3, H, W) float32"), ophtha::Error);
  CHECK_THROWS_WITH_AS(net.forward(at::zeros({1, 1, 32, 32})), doctest::Contains("(B, 3, H, W) float32"), ophtha::Error);
  CHECK_THROWS_WITH_AS(net.forward(at::zeros({1, 3, 32, 32}, at::kDouble)), doctest::Contains("float32"), ophtha::Error);
}

TEST_CASE("a narrower ResNet (base width 16) trains, saves, and loads as an inference encoder") {
  TrainableResNet net = TrainableResNet::random(EncoderArch::ResNet18, 4, 16);
  CHECK(net.channels() == 128);
  CHECK(param(net, "conv1.weight").sizes() == at::IntArrayRef({16, 3, 7, 7}));
  CHECK(param(net, "layer4.1.conv2.weight").sizes() == at::IntArrayRef({128, 128, 3, 3}));
  at::NoGradGuard no_grad;
  net.forward(at::randn({4, 3, 48, 48}));  // one step of running statistics
  net.set_training(false);
  const at::Tensor images = at::randn({2, 3, 64, 64});
  const VisionFeatures expected = net.forward(images);
  const std::string path = test::work_dir() + "/trainable-resnet-w16.safetensors";
  net.save(path);
  const auto encoder = load_vision_encoder(path, EncoderArch::ResNet18);
  CHECK(encoder->channels() == 128);
  test::check_close(encoder->encode(images).tokens, expected.tokens, "width-16 tokens", 1e-5);
  CHECK(TrainableResNet::load(path, EncoderArch::ResNet18).channels() == 128);
  CHECK(TrainableResNet::random(EncoderArch::ResNet50, 1, 8).channels() == 256);
  CHECK_THROWS_WITH_AS(TrainableResNet::random(EncoderArch::ResNet18, 1, 0), doctest::Contains("base width 0"),
                       ophtha::Error);
}

TEST_CASE("a training batch of one image with a 1 x 1 map leaves those BatchNorms' running statistics as they were") {
  // 32 × 32: the map is 2 × 2 in layer3 and 1 × 1 in layer4, where one image has one value per
  // channel and no variance (torchvision refuses it; its unbiased variance would be NaN).
  TrainableResNet net = TrainableResNet::random(EncoderArch::ResNet18, 7);
  std::map<std::string, at::Tensor> before;
  for (const auto& [name, t] : net.named_buffers()) before[name] = t.clone();
  for (const auto& [name, t] : net.named_parameters()) t.requires_grad_(true);
  const VisionFeatures features = net.forward(at::randn({1, 3, 32, 32}));
  CHECK(features.grid_height == 1);
  features.pooled.square().sum().backward();
  for (const auto& [name, t] : net.named_parameters()) CHECK_MESSAGE(at::isfinite(t.grad()).all().item<bool>(), name);
  for (const auto& [name, t] : net.named_buffers()) {
    CHECK_MESSAGE(at::isfinite(t).all().item<bool>(), name);
    const bool stage4 = name.rfind("layer4.", 0) == 0;
    CHECK_MESSAGE(at::equal(t, before.at(name)) == stage4, name);  // layer4 untouched, every earlier one updated
  }
  // Two such images have two values per channel: batch statistics again.
  net.forward(at::randn({2, 3, 32, 32}));
  for (const auto& [name, t] : net.named_buffers()) {
    CHECK_MESSAGE(at::isfinite(t).all().item<bool>(), name);
    if (name == "layer4.1.bn2.num_batches_tracked") CHECK(t.item<int64_t>() == 1);
  }
}
