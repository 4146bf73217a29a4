// TorchScriptEncoder on modules that PyTorch scripted or traced (tests/tools/torchscript_modules.py):
// a conv net returning a grid [B, C, h, w] and a transformer-like module returning tokens [B, N, C]
// match PyTorch's own outputs; modules whose output no encoder can use are rejected, naming the file
// and the shape got.
#include "support/doctest_with_aten.hpp"

#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "ophtha/error.hpp"
#include "ophtha/vision_encoder.hpp"
#include "support/tensor_check.hpp"
#include "support/test_models.hpp"
#include "support/expect_error.hpp"

using namespace ophtha;
using ophtha::test::error_from;

namespace {

constexpr double kTolerance = 1e-5;  // max |ours − PyTorch| / max |PyTorch|: the same module, run twice

std::string modules_dir() {
  return test::cached_script_output("tests/tools/torchscript_modules.py", "torchscript-modules", "--seed 7", "", "tokens.pt");
}

at::Tensor load_npy(const std::string& path) { return test::load_npy_tensor(path); }

void check_close(const at::Tensor& got, const at::Tensor& expected, const std::string& what) {
  test::check_close(got, expected, what, kTolerance);
}


}  // namespace

TEST_CASE("a scripted conv net's grid [B, C, h, w] becomes row-major tokens and their mean, in eval mode") {
  const std::string dir = modules_dir();
  const auto encoder = load_vision_encoder(dir + "/grid.pt", EncoderArch::TorchScript);
  CHECK(encoder->arch() == EncoderArch::TorchScript);
  CHECK(encoder->channels() == 16);
  const at::Tensor images = load_npy(dir + "/input.npy");      // (2, 3, 64, 48)
  const at::Tensor grid = load_npy(dir + "/grid_output.npy");  // (2, 16, 16, 12), eval-mode BatchNorm
  const VisionFeatures f = encoder->encode(images);
  CHECK(f.grid_height == 16);
  CHECK(f.grid_width == 12);
  check_close(f.tokens, grid.flatten(2).transpose(1, 2), "tokens");
  check_close(f.pooled, grid.mean({2, 3}), "pooled");
  // Cell (y, x) = (3, 5) of image 1 is token 3·12 + 5.
  check_close(f.tokens[1][3 * 12 + 5], grid.select(0, 1).select(1, 3).select(1, 5), "token of cell (3, 5)");
  CHECK_FALSE(f.tokens.requires_grad());
}

TEST_CASE("a traced transformer-like module's tokens [B, N, C] are kept as they are, pooled = mean over N") {
  const std::string dir = modules_dir();
  const auto encoder = load_vision_encoder(dir + "/tokens.pt", EncoderArch::TorchScript);
  CHECK(encoder->channels() == 32);
  const at::Tensor images = load_npy(dir + "/input.npy");
  const at::Tensor expected = load_npy(dir + "/tokens_output.npy");  // (2, 48, 32)
  const VisionFeatures f = encoder->encode(images);
  CHECK(f.grid_height == 0);
  CHECK(f.grid_width == 0);
  check_close(f.tokens, expected, "tokens");
  check_close(f.pooled, expected.mean(1), "pooled");
  // Another size in one call: the probe was 224 × 224, this is a batch of 3 at 32 × 40.
  CHECK(encoder->encode(at::randn({3, 3, 32, 40})).tokens.sizes() == at::IntArrayRef({3, 20, 32}));
}

TEST_CASE("outputs an encoder cannot use are rejected, naming the file and what it got") {
  const std::string dir = modules_dir();
  SUBCASE("wrong rank") {
    const std::string path = dir + "/pooled_only.pt";
    test::check_message_all(error_from([&] { load_vision_encoder(path, EncoderArch::TorchScript); }), ErrorCode::InvalidFormat,
                {path, "[1, 16]", "expected [B, C, h, w] or [B, N, C]"});
  }
  SUBCASE("integer output") {
    const std::string path = dir + "/integer_output.pt";
    test::check_message_all(error_from([&] { load_vision_encoder(path, EncoderArch::TorchScript); }), ErrorCode::InvalidFormat,
                {path, "Long", "[1, 56, 56]", "floating point"});
  }
  SUBCASE("batch size mismatch") {
    // A batch of one hides the mismatch at load time; a batch of two shows it.
    const std::string path = dir + "/batch_mismatch.pt";
    const auto encoder = load_vision_encoder(path, EncoderArch::TorchScript);
    test::check_message_all(error_from([&] { encoder->encode(at::zeros({2, 3, 64, 48})); }), ErrorCode::InvalidFormat,
                {path, "[1, 16, 16, 12]", "batch of 2"});
  }
  SUBCASE("not a tensor") {
    const std::string path = dir + "/tuple_output.pt";
    test::check_message_all(error_from([&] { load_vision_encoder(path, EncoderArch::TorchScript); }), ErrorCode::InvalidFormat,
                {path, "Tuple"});
  }
  SUBCASE("channels that change with the input") {
    const std::string path = dir + "/growing_channels.pt";
    const auto encoder = load_vision_encoder(path, EncoderArch::TorchScript);
    CHECK(encoder->channels() == 56);
    test::check_message_all(error_from([&] { encoder->encode(at::zeros({1, 3, 64, 48})); }), ErrorCode::InvalidFormat,
                {path, "[1, 12, 16, 3]", "12 channels", "gave 56"});
  }
}

TEST_CASE("a missing file is an I/O error; a file that is not TorchScript is an invalid format; both named") {
  const std::string missing = test::work_dir() + "/no-such-module.pt";
  test::check_message_all(error_from([&] { load_vision_encoder(missing, EncoderArch::TorchScript); }), ErrorCode::Io, {missing});

  const std::string garbage = test::work_dir() + "/not-torchscript.pt";
  std::FILE* f = std::fopen(garbage.c_str(), "wb");
  REQUIRE(f);
  std::fputs("PK\x03\x04 this is no zip archive", f);
  std::fclose(f);
  test::check_message_all(error_from([&] { load_vision_encoder(garbage, EncoderArch::TorchScript); }), ErrorCode::InvalidFormat,
              {garbage, "not a TorchScript module"});
}

TEST_CASE("the module throwing on an input is an internal error carrying LibTorch's message") {
  const auto encoder = load_vision_encoder(modules_dir() + "/tokens.pt", EncoderArch::TorchScript);
  // A 4 × 4 image is smaller than the 8 × 8 patch embedding's kernel.
  test::check_message_all(error_from([&] { encoder->encode(at::zeros({1, 3, 4, 4})); }), ErrorCode::Internal,
              {"tokens.pt", "[1, 3, 4, 4]"});
}
