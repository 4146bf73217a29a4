// The ResNet encoder against torchvision itself (tests/tools/torchvision_encoder_reference.py):
// ResNet-18/34/50, batches of 1 and 3, square and non-square inputs, F32/F16/BF16 checkpoints
// under several prefixes, BatchNorm in eval mode with random running statistics; then every way
// a checkpoint or an input can be wrong.
#include "support/doctest_with_aten.hpp"

#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "ophtha/error.hpp"
#include "ophtha/safetensors.hpp"
#include "ophtha/vision_encoder.hpp"
#include "support/tensor_check.hpp"
#include "support/test_models.hpp"
#include "support/expect_error.hpp"

using namespace ophtha;
using ophtha::test::error_from;

namespace {

constexpr double kTolerance = 1e-4;  // max |ours − torchvision| / max |torchvision|

// The reference folder for these script arguments (other than --out), made once and cached.
std::string torchvision_reference(const std::string& args) {
  return test::cached_script_output("tests/tools/torchvision_encoder_reference.py", "encoder-ref", args, "",
                                    "weights.safetensors");
}

at::Tensor load_npy(const std::string& path) { return test::load_npy_tensor(path); }

void check_close(const at::Tensor& got, const at::Tensor& expected, const std::string& what) {
  test::check_close(got, expected, what, kTolerance);
}

// Encodes every input of a reference folder and compares tokens, pooled vector and grid size.
void check_against_reference(const VisionEncoder& encoder, const std::string& dir, int n_inputs) {
  for (int i = 0; i < n_inputs; ++i) {
    const at::Tensor images = load_npy(dir + "/input_" + std::to_string(i) + ".npy");
    const at::Tensor grid = load_npy(dir + "/features_" + std::to_string(i) + ".npy");  // (B, C, h, w)
    const at::Tensor pooled = load_npy(dir + "/pooled_" + std::to_string(i) + ".npy");
    const VisionFeatures f = encoder.encode(images);
    const std::string what = "input " + std::to_string(i) + " of shape " + c10::str(images.sizes());
    CHECK(f.grid_height == grid.size(2));
    CHECK(f.grid_width == grid.size(3));
    CHECK(f.tokens.is_contiguous());
    check_close(f.tokens, grid.flatten(2).transpose(1, 2), what + " tokens");
    check_close(f.pooled, pooled, what + " pooled");
  }
}


// A ResNet-18 state_dict in F16 (small), read back as editable tensors.
std::vector<SafetensorsTensorData> resnet18_tensors() {
  const SafetensorsFile file = SafetensorsFile::open(torchvision_reference("--arch resnet18 --dtype f16 --seed 5") +
                                                     "/weights.safetensors");
  std::vector<SafetensorsTensorData> tensors;
  for (const SafetensorsTensor& t : file.tensors())
    tensors.push_back({t.name, t.dtype, t.shape, std::vector<uint8_t>(t.data, t.data + t.nbytes)});
  return tensors;
}

std::string write_variant(const std::string& name, const std::vector<SafetensorsTensorData>& tensors) {
  const std::string dir = test::work_dir() + "/test_resnet_encoder";
  std::filesystem::create_directories(dir);
  const std::string path = dir + "/" + name + ".safetensors";
  write_safetensors(path, tensors);
  return path;
}

SafetensorsTensorData& tensor_named(std::vector<SafetensorsTensorData>& tensors, const std::string& name) {
  for (SafetensorsTensorData& t : tensors)
    if (t.name == name) return t;
  FAIL("the reference state_dict has no tensor " << name);
  throw std::logic_error("unreachable");
}

}  // namespace

TEST_CASE("ResNet-18/34/50 features equal torchvision's in eval mode, batches 1 and 3, square and non-square") {
  struct Case {
    EncoderArch arch;
    const char* args;
    int64_t channels;
  };
  const Case cases[] = {
      {EncoderArch::ResNet18, "--arch resnet18 --seed 1 --inputs 1x224x224,3x256x192", 512},
      {EncoderArch::ResNet34, "--arch resnet34 --seed 2 --prefix backbone. --inputs 1x224x224,3x256x192", 512},
      {EncoderArch::ResNet50, "--arch resnet50 --seed 3 --prefix encoder. --inputs 1x224x224,3x256x192", 2048},
  };
  for (const Case& c : cases) {
    SUBCASE(std::string(encoder_arch_name(c.arch)).c_str()) {
      const std::string dir = torchvision_reference(c.args);
      const auto encoder = load_vision_encoder(dir + "/weights.safetensors", c.arch);
      CHECK(encoder->arch() == c.arch);
      CHECK(encoder->channels() == c.channels);
      check_against_reference(*encoder, dir, 2);
    }
  }
}

TEST_CASE("F16 and BF16 checkpoints are widened to f32 and match torchvision on the stored values") {
  for (const char* dtype : {"f16", "bf16"}) {
    SUBCASE(dtype) {
      const std::string dir = torchvision_reference(std::string("--arch resnet18 --seed 4 --prefix visual. --dtype ") +
                                                    dtype + " --inputs 2x96x160");
      check_against_reference(*load_vision_encoder(dir + "/weights.safetensors", EncoderArch::ResNet18), dir, 1);
    }
  }
}

TEST_CASE("the comparison tells models apart: another seed's weights give other features") {
  const std::string ours = torchvision_reference("--arch resnet18 --seed 1 --inputs 1x224x224,3x256x192");
  const std::string other = torchvision_reference("--arch resnet18 --dtype f16 --seed 5");
  const auto encoder = load_vision_encoder(other + "/weights.safetensors", EncoderArch::ResNet18);
  const at::Tensor expected = load_npy(ours + "/pooled_0.npy");
  const at::Tensor got = encoder->encode(load_npy(ours + "/input_0.npy")).pooled;
  const double relative = (got - expected).abs().max().item<double>() / expected.abs().max().item<double>();
  INFO("relative difference between two seeds' models: ", relative);
  CHECK(relative > 100 * kTolerance);
}

TEST_CASE("a batch is encoded in one call: each image's features equal its own encoding") {
  const std::string dir = torchvision_reference("--arch resnet18 --seed 1 --inputs 1x224x224,3x256x192");
  const auto encoder = load_vision_encoder(dir + "/weights.safetensors", EncoderArch::ResNet18);
  const at::Tensor images = load_npy(dir + "/input_1.npy");
  const VisionFeatures batch = encoder->encode(images);
  for (int64_t b = 0; b < images.size(0); ++b) {
    const VisionFeatures one = encoder->encode(images.narrow(0, b, 1));
    check_close(batch.tokens.narrow(0, b, 1), one.tokens, "image " + std::to_string(b) + " tokens");
    check_close(batch.pooled.narrow(0, b, 1), one.pooled, "image " + std::to_string(b) + " pooled");
  }
}

TEST_CASE("no autograd graph is recorded, even for an input that requires grad; non-contiguous input is read right") {
  const std::string dir = torchvision_reference("--arch resnet18 --seed 1 --inputs 1x224x224,3x256x192");
  const auto encoder = load_vision_encoder(dir + "/weights.safetensors", EncoderArch::ResNet18);
  const at::Tensor images = load_npy(dir + "/input_1.npy");
  const VisionFeatures plain = encoder->encode(images);
  const VisionFeatures tracked = encoder->encode(images.clone().set_requires_grad(true));
  CHECK_FALSE(tracked.tokens.requires_grad());
  CHECK_FALSE(tracked.pooled.requires_grad());
  CHECK_FALSE(tracked.tokens.grad_fn());
  // The same images stored channels-last: same values, other strides.
  const at::Tensor strided = images.permute({0, 2, 3, 1}).contiguous().permute({0, 3, 1, 2});
  REQUIRE_FALSE(strided.is_contiguous());
  check_close(encoder->encode(strided).tokens, plain.tokens, "channels-last input");
}

TEST_CASE("a checkpoint that lacks a tensor is rejected, naming it and its shape") {
  auto tensors = resnet18_tensors();
  tensors.erase(std::find_if(tensors.begin(), tensors.end(),
                             [](const auto& t) { return t.name == "layer3.1.bn2.running_var"; }));
  const std::string path = write_variant("missing", tensors);
  test::check_message_all(error_from([&] { load_vision_encoder(path, EncoderArch::ResNet18); }), ErrorCode::InvalidFormat,
              {path, "'layer3.1.bn2.running_var'", "[256]", "missing"});
}

TEST_CASE("loading a ResNet-18 checkpoint as ResNet-50 names the first tensor ResNet-50 lacks") {
  const std::string path = write_variant("as_resnet50", resnet18_tensors());
  test::check_message_all(error_from([&] { load_vision_encoder(path, EncoderArch::ResNet50); }), ErrorCode::InvalidFormat,
              {path, "'layer1.0.conv3.weight'", "resnet50", "missing"});
}

TEST_CASE("a tensor of the wrong shape is rejected, naming both shapes") {
  auto tensors = resnet18_tensors();
  SafetensorsTensorData& t = tensor_named(tensors, "layer2.0.conv1.weight");  // (128, 64, 3, 3)
  t.shape = {128, 64, 1, 1};
  t.bytes.resize(128 * 64 * 2);
  const std::string path = write_variant("wrong_shape", tensors);
  test::check_message_all(error_from([&] { load_vision_encoder(path, EncoderArch::ResNet18); }), ErrorCode::InvalidFormat,
              {path, "'layer2.0.conv1.weight'", "[128, 64, 1, 1]", "expected [128, 64, 3, 3]"});
}

TEST_CASE("tensors the architecture does not have are rejected, named; fc.* and num_batches_tracked are ignored") {
  auto tensors = resnet18_tensors();
  CHECK_NOTHROW(load_vision_encoder(write_variant("with_fc", tensors), EncoderArch::ResNet18));
  tensors.push_back({"layer5.0.conv1.weight", "F16", {2, 2}, std::vector<uint8_t>(8)});
  tensors.push_back({"projector.bias", "F32", {3}, std::vector<uint8_t>(12)});
  const std::string path = write_variant("extra", tensors);
  test::check_message_all(error_from([&] { load_vision_encoder(path, EncoderArch::ResNet18); }), ErrorCode::InvalidFormat,
              {path, "2 tensor(s)", "layer5.0.conv1.weight", "projector.bias"});
}

TEST_CASE("a dtype other than F32/F16/BF16 is unsupported, naming the tensor") {
  auto tensors = resnet18_tensors();
  SafetensorsTensorData& t = tensor_named(tensors, "bn1.bias");
  t.dtype = "I16";
  const std::string path = write_variant("int_dtype", tensors);
  test::check_message_all(error_from([&] { load_vision_encoder(path, EncoderArch::ResNet18); }), ErrorCode::Unsupported,
              {"'bn1.bias'", "I16"});
}

TEST_CASE("a negative running variance is rejected, naming the tensor") {
  auto tensors = resnet18_tensors();
  SafetensorsTensorData& t = tensor_named(tensors, "layer1.1.bn1.running_var");
  t.bytes[1] = static_cast<uint8_t>(t.bytes[1] | 0x80);  // the sign bit of the first F16 value
  const std::string path = write_variant("negative_var", tensors);
  test::check_message_all(error_from([&] { load_vision_encoder(path, EncoderArch::ResNet18); }), ErrorCode::InvalidFormat,
              {"'layer1.1.bn1.running_var'", "negative"});
}

TEST_CASE("the prefix must be one: two ResNets in one file, or none, are rejected") {
  auto tensors = resnet18_tensors();
  std::vector<SafetensorsTensorData> two = tensors;
  for (SafetensorsTensorData t : tensors) {
    t.name = "teacher." + t.name;
    two.push_back(std::move(t));
  }
  const std::string path = write_variant("two_prefixes", two);
  test::check_message_all(error_from([&] { load_vision_encoder(path, EncoderArch::ResNet18); }), ErrorCode::InvalidFormat,
              {path, "several ResNets", "'teacher.'"});

  tensors.erase(std::find_if(tensors.begin(), tensors.end(), [](const auto& t) { return t.name == "conv1.weight"; }));
  const std::string headless = write_variant("no_stem", tensors);
  test::check_message_all(error_from([&] { load_vision_encoder(headless, EncoderArch::ResNet18); }), ErrorCode::InvalidFormat,
              {headless, "'conv1.weight'"});
}

TEST_CASE("a missing file is an I/O error naming it") {
  const std::string path = test::work_dir() + "/no-such-encoder.safetensors";
  test::check_message_all(error_from([&] { load_vision_encoder(path, EncoderArch::ResNet34); }), ErrorCode::Io, {path});
}

TEST_CASE("inputs other than a CPU f32 batch [B, 3, H, W] are rejected, naming the shape or dtype got") {
  const std::string dir = torchvision_reference("--arch resnet18 --dtype f16 --seed 5");
  const auto encoder = load_vision_encoder(dir + "/weights.safetensors", EncoderArch::ResNet18);
  test::check_message_all(error_from([&] { encoder->encode(at::zeros({3, 32, 32})); }), ErrorCode::InvalidArgument,
              {"[3, 32, 32]", "[B, 3, H, W]"});
  test::check_message_all(error_from([&] { encoder->encode(at::zeros({2, 1, 32, 32})); }), ErrorCode::InvalidArgument,
              {"[2, 1, 32, 32]"});
  test::check_message_all(error_from([&] { encoder->encode(at::zeros({0, 3, 32, 32})); }), ErrorCode::InvalidArgument,
              {"[0, 3, 32, 32]"});
  test::check_message_all(error_from([&] { encoder->encode(at::zeros({1, 3, 32, 32}, at::kDouble)); }),
              ErrorCode::InvalidArgument, {"Double", "float32"});
  CHECK(encoder->encode(at::zeros({1, 3, 1, 1})).tokens.sizes() == at::IntArrayRef({1, 1, 512}));
}

TEST_CASE("encoder architecture names round-trip; unknown names are rejected") {
  for (EncoderArch arch : {EncoderArch::ResNet18, EncoderArch::ResNet34, EncoderArch::ResNet50, EncoderArch::TorchScript})
    CHECK(parse_encoder_arch(encoder_arch_name(arch)) == arch);
  test::check_message_all(error_from([] { parse_encoder_arch("resnet101"); }), ErrorCode::InvalidArgument, {"'resnet101'"});
}
