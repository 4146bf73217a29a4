// The feature projector against PyTorch itself (tests/tools/make_projector.py: nn.Linear /
// nn.Sequential(Linear, GELU, Linear), F.adaptive_avg_pool2d / 1d, embedding rows), its file
// format both ways, seeded initialisation, autograd, and every way its inputs can be wrong.
#include "support/doctest_with_aten.hpp"

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "ophtha/error.hpp"
#include "ophtha/projector.hpp"
#include "ophtha/safetensors.hpp"
#include "support/expect_error.hpp"
#include "support/tensor_check.hpp"
#include "support/test_models.hpp"

using namespace ophtha;
using ophtha::test::check_message;
using ophtha::test::error_from;

namespace {

constexpr double kTolerance = 1e-5;  // max |ours − PyTorch| / max |PyTorch|

std::string reference(const std::string& args) {
  return test::cached_script_output("tests/tools/make_projector.py", "projector-ref", args, "", "cases.json");
}

// Projects every case of a reference folder and compares with PyTorch's output.
void check_against_reference(const FeatureProjector& projector, const std::string& dir) {
  std::ifstream in(dir + "/cases.json");
  const nlohmann::json cases = nlohmann::json::parse(in);
  REQUIRE(cases.size() > 0);
  for (size_t i = 0; i < cases.size(); ++i) {
    VisionFeatures features;
    features.tokens = test::load_npy_tensor(dir + "/features_" + std::to_string(i) + ".npy");
    if (!cases[i]["grid"].is_null()) {
      features.grid_height = cases[i]["grid"][0].get<int64_t>();
      features.grid_width = cases[i]["grid"][1].get<int64_t>();
    }
    std::vector<Modality> modalities;
    std::vector<Eye> eyes;
    for (int m : cases[i]["modalities"]) modalities.push_back(static_cast<Modality>(m));
    for (int e : cases[i]["eyes"]) eyes.push_back(static_cast<Eye>(e));
    const at::Tensor expected = test::load_npy_tensor(dir + "/output_" + std::to_string(i) + ".npy");
    test::check_close(projector.project(features, modalities, eyes), expected,
                      dir + " case " + std::to_string(i) + " " + cases[i].dump(), kTolerance);
  }
}

std::string scratch(const std::string& name) {
  const std::string dir = test::work_dir() + "/test_projector";
  std::filesystem::create_directories(dir);
  return dir + "/" + name;
}

// The tensors of a reference projector file, editable.
std::vector<SafetensorsTensorData> file_tensors(const SafetensorsFile& file) {
  std::vector<SafetensorsTensorData> tensors;
  for (const SafetensorsTensor& t : file.tensors())
    tensors.push_back({t.name, t.dtype, t.shape, std::vector<uint8_t>(t.data, t.data + t.nbytes)});
  return tensors;
}

VisionFeatures grid_features(int64_t b, int64_t h, int64_t w, int64_t c) {
  VisionFeatures f;
  f.tokens = at::randn({b, h * w, c});
  f.grid_height = h;
  f.grid_width = w;
  return f;
}

const char* kMlpArgs = "--kind mlp2x_gelu --channels 32 --dim 24 --pool 3 --seed 1 --inputs 2x7x7,3x50,1x2x2";

}  // namespace

TEST_CASE("projections equal PyTorch's: MLP-GELU and linear, pooled grids and sequences, prefixes, F16/BF16, bare LLaVA") {
  const char* cases[] = {
      kMlpArgs,
      "--kind linear --channels 16 --dim 40 --seed 2 --prefix model. --inputs 1x4x6,2x9",
      "--kind mlp2x_gelu --channels 48 --dim 16 --pool 2 --seed 3 --dtype bf16 --inputs 2x5x5",
      "--kind mlp2x_gelu --channels 20 --dim 12 --pool 4 --seed 4 --dtype f16 --inputs 1x3x7,2x17",
      "--kind mlp2x_gelu --channels 24 --dim 8 --seed 5 --bare --prefix model. --inputs 2x3x3",
  };
  for (const char* args : cases) {
    SUBCASE(args) {
      const std::string dir = reference(args);
      check_against_reference(FeatureProjector::load(dir + "/projector.safetensors"), dir);
    }
  }
}

TEST_CASE("the comparison tells projectors apart: another seed's weights give other outputs") {
  const std::string ours = reference(kMlpArgs);
  const std::string other = reference("--kind mlp2x_gelu --channels 32 --dim 24 --pool 3 --seed 9 --inputs 1x2x2");
  const FeatureProjector projector = FeatureProjector::load(other + "/projector.safetensors");
  VisionFeatures f;
  f.tokens = test::load_npy_tensor(ours + "/features_0.npy");
  f.grid_height = f.grid_width = 7;
  const at::Tensor expected = test::load_npy_tensor(ours + "/output_0.npy");
  const at::Tensor got = projector.project(f, {Modality::Cfp, Modality::Cfp}, {Eye::OD, Eye::OD});
  CHECK((got - expected).abs().max().item<double>() > 100 * kTolerance * expected.abs().max().item<double>());
}

TEST_CASE("the configuration is read from __metadata__ and a bare LLaVA file from its names and shapes") {
  const FeatureProjector mlp = FeatureProjector::load(reference(kMlpArgs) + "/projector.safetensors");
  CHECK(mlp.config().kind == ProjectorKind::MlpGelu);
  CHECK(mlp.config().vision_channels == 32);
  CHECK(mlp.config().embedding_dim == 24);
  CHECK(mlp.config().pool_side == 3);
  CHECK(mlp.config().output_tokens(49) == 9);
  const FeatureProjector bare =
      FeatureProjector::load(reference("--kind mlp2x_gelu --channels 24 --dim 8 --seed 5 --bare --prefix model. --inputs 2x3x3") +
                             "/projector.safetensors");
  CHECK(bare.config().vision_channels == 24);
  CHECK(bare.config().embedding_dim == 8);
  CHECK(bare.config().pool_side == 0);
  CHECK(bare.named_parameters().back().second.abs().max().item<float>() == 0.0f);  // eye embedding absent → zero
}

TEST_CASE("save writes LLaVA names under the prefix and the config; load gives back the same projector") {
  ProjectorConfig config;
  config.kind = ProjectorKind::MlpGelu;
  config.vision_channels = 12;
  config.embedding_dim = 10;
  config.pool_side = 2;
  const FeatureProjector original = FeatureProjector::random(config, 7);
  const std::string path = scratch("saved.safetensors");
  original.save(path, "model.");
  const SafetensorsFile file = SafetensorsFile::open(path);
  for (const char* name : {"model.mm_projector.0.weight", "model.mm_projector.0.bias", "model.mm_projector.2.weight",
                           "model.mm_projector.2.bias", "model.mm_projector.modality_embedding",
                           "model.mm_projector.eye_embedding"}) {
    INFO("tensor ", name);
    REQUIRE(file.find(name) != nullptr);
    CHECK(file.find(name)->dtype == "F32");
  }
  CHECK(file.find("model.mm_projector.0.weight")->shape == std::vector<int64_t>{10, 12});
  CHECK(file.find("model.mm_projector.modality_embedding")->shape == std::vector<int64_t>{3, 10});
  CHECK(file.metadata().at("mm_projector_type") == "mlp2x_gelu");
  CHECK(file.metadata().at("ophtha_pool_side") == "2");
  const FeatureProjector loaded = FeatureProjector::load(path);
  CHECK(loaded.fingerprint() == original.fingerprint());
  const VisionFeatures f = grid_features(2, 5, 5, 12);
  CHECK(at::equal(loaded.project(f, {Modality::Oct, Modality::Osa}, {Eye::OS, Eye::OD}),
                  original.project(f, {Modality::Oct, Modality::Osa}, {Eye::OS, Eye::OD})));
}

TEST_CASE("random initialisation is seeded, nn.Linear-bounded, and different seeds differ") {
  ProjectorConfig config;
  config.vision_channels = 64;
  config.embedding_dim = 16;
  const FeatureProjector a = FeatureProjector::random(config, 1), b = FeatureProjector::random(config, 1),
                         c = FeatureProjector::random(config, 2);
  CHECK(a.fingerprint() == b.fingerprint());
  CHECK(a.fingerprint() != c.fingerprint());
  const auto& p = a.named_parameters();
  REQUIRE(p.size() == 6);
  CHECK(p[0].first == "mm_projector.0.weight");
  CHECK(p[0].second.abs().max().item<double>() <= 1.0 / 8.0);   // 1/√C
  CHECK(p[0].second.abs().max().item<double>() > 0.9 / 8.0);
  CHECK(p[2].second.abs().max().item<double>() <= 1.0 / 4.0);   // 1/√d
  CHECK(p[4].second.std().item<double>() == doctest::Approx(0.02).epsilon(0.3));
}

TEST_CASE("project is differentiable in the parameters: gradients reach every one") {
  ProjectorConfig config;
  config.vision_channels = 8;
  config.embedding_dim = 6;
  config.pool_side = 2;
  const FeatureProjector projector = FeatureProjector::random(config, 3);
  for (const auto& [name, t] : projector.named_parameters()) t.set_requires_grad(true);
  const VisionFeatures f = grid_features(3, 4, 4, 8);
  projector.project(f, {Modality::Cfp, Modality::Cfp, Modality::Oct}, {Eye::OD, Eye::OS, Eye::OS}).sum().backward();
  const auto& p = projector.named_parameters();
  for (const auto& [name, t] : p) {
    INFO("parameter ", name);
    REQUIRE(t.grad().defined());
  }
  // d(sum)/d(last bias) = B · N' = 3 · 4 per element; modality rows: cfp twice, oct once, osa never.
  CHECK(at::allclose(p[3].second.grad(), at::full({6}, 12.0)));
  CHECK(at::allclose(p[4].second.grad().sum(1), at::tensor({2 * 4 * 6.0, 1 * 4 * 6.0, 0.0}, at::kFloat)));
  CHECK(at::allclose(p[5].second.grad().sum(1), at::tensor({1 * 4 * 6.0, 2 * 4 * 6.0}, at::kFloat)));
}

TEST_CASE("check_projector_fits names the projector's sizes, the encoder's channels and the LLM's dim") {
  ProjectorConfig config;
  config.vision_channels = 512;
  config.embedding_dim = 64;
  const FeatureProjector projector = FeatureProjector::random(config, 1);
  CHECK_NOTHROW(check_projector_fits(projector, 512, 64));
  check_message(error_from([&] { check_projector_fits(projector, 2048, 64); }), ErrorCode::InvalidArgument,
                "C = 512 channels to d = 64, but the vision encoder gives C = 2048 channels and the LLM's embedding size is d = 64");
  check_message(error_from([&] { check_projector_fits(projector, 512, 4096); }), ErrorCode::InvalidArgument,
                "embedding size is d = 4096");
}

TEST_CASE("bad inputs to project are refused, naming what was got and expected") {
  ProjectorConfig config;
  config.vision_channels = 8;
  config.embedding_dim = 4;
  config.pool_side = 2;
  const FeatureProjector projector = FeatureProjector::random(config, 1);
  check_message(error_from([&] { projector.project(grid_features(1, 3, 3, 16), {Modality::Cfp}, {Eye::OD}); }),
                ErrorCode::InvalidArgument, "shape [1, 9, 16], expected [B, N, 8]");
  VisionFeatures f = grid_features(1, 3, 3, 8);
  f.grid_width = 4;
  check_message(error_from([&] { projector.project(f, {Modality::Cfp}, {Eye::OD}); }), ErrorCode::InvalidArgument,
                "grid 3 x 4 does not hold the 9 tokens");
  check_message(error_from([&] { projector.project(grid_features(2, 3, 3, 8), {Modality::Cfp}, {Eye::OD}); }),
                ErrorCode::InvalidArgument, "2 images in the batch, but 1 modalities and 1 eyes");
  VisionFeatures doubles = grid_features(1, 3, 3, 8);
  doubles.tokens = doubles.tokens.to(at::kDouble);
  check_message(error_from([&] { projector.project(doubles, {Modality::Cfp}, {Eye::OD}); }), ErrorCode::InvalidArgument,
                "expected float32");
  check_message(error_from([&] { projector.project(VisionFeatures{}, {}, {}); }), ErrorCode::InvalidArgument,
                "undefined");
  config.pool_side = 65;
  check_message(error_from([&] { FeatureProjector::random(config, 1); }), ErrorCode::InvalidArgument, "pool_side is 65");
}

TEST_CASE("broken projector files are refused, naming the file, the tensor and both shapes") {
  const SafetensorsFile file = SafetensorsFile::open(reference(kMlpArgs) + "/projector.safetensors");
  const auto metadata = file.metadata();
  auto edit = [&](const std::string& name, auto change, std::map<std::string, std::string> meta) {
    auto tensors = file_tensors(file);
    change(tensors);
    const std::string path = scratch(name + ".safetensors");
    write_safetensors(path, tensors, meta);
    return path;
  };
  auto erase = [](const std::string& which) {
    return [which](std::vector<SafetensorsTensorData>& ts) {
      ts.erase(std::remove_if(ts.begin(), ts.end(), [&](const auto& t) { return t.name == which; }), ts.end());
    };
  };
  SUBCASE("a missing tensor") {
    const std::string path = edit("missing", erase("mm_projector.2.bias"), metadata);
    check_message(error_from([&] { FeatureProjector::load(path); }), ErrorCode::InvalidFormat,
                  path + ": tensor 'mm_projector.2.bias' [24] of the mlp2x_gelu projector 32 -> 24 is missing");
  }
  SUBCASE("a missing embedding in Ophtha's format") {
    const std::string path = edit("no_eye", erase("mm_projector.eye_embedding"), metadata);
    check_message(error_from([&] { FeatureProjector::load(path); }), ErrorCode::InvalidFormat,
                  "'mm_projector.eye_embedding' [2, 24]");
  }
  SUBCASE("a wrong shape") {
    auto meta = metadata;
    meta["hidden_size"] = "30";
    const std::string path = edit("wrong_shape", [](auto&) {}, meta);
    check_message(error_from([&] { FeatureProjector::load(path); }), ErrorCode::InvalidFormat,
                  "tensor 'mm_projector.0.weight' has shape [24, 32], expected [30, 32]");
  }
  SUBCASE("an extra tensor") {
    const std::string path = edit("extra", [](auto& ts) { ts.push_back({"vision_tower.x", "F32", {1}, std::vector<uint8_t>(4)}); },
                                  metadata);
    check_message(error_from([&] { FeatureProjector::load(path); }), ErrorCode::InvalidFormat,
                  "1 tensor(s) the mlp2x_gelu projector does not have: 'vision_tower.x'");
  }
  SUBCASE("bad metadata") {
    auto meta = metadata;
    meta["ophtha_pool_side"] = "three";
    const std::string path = edit("bad_meta", [](auto&) {}, meta);
    check_message(error_from([&] { FeatureProjector::load(path); }), ErrorCode::InvalidFormat,
                  "'ophtha_pool_side' is 'three', expected an integer in [0, 64]");
  }
  SUBCASE("a dtype other than F32/F16/BF16") {
    const std::string path = edit("int_dtype", [](auto& ts) {
      for (auto& t : ts) if (t.name == "mm_projector.0.bias") t.dtype = "I32";
    }, metadata);
    check_message(error_from([&] { FeatureProjector::load(path); }), ErrorCode::Unsupported,
                  "'mm_projector.0.bias' has dtype I32");
  }
  SUBCASE("a non-finite value") {
    const std::string path = edit("nan", [](auto& ts) {
      for (auto& t : ts) if (t.name == "mm_projector.0.bias") {
        const float nan = std::numeric_limits<float>::quiet_NaN();
        std::memcpy(t.bytes.data(), &nan, 4);
      }
    }, metadata);
    check_message(error_from([&] { FeatureProjector::load(path); }), ErrorCode::InvalidFormat, "not finite");
  }
  SUBCASE("no projector at all") {
    const std::string path = edit("none", [](auto& ts) { ts = {{"conv1.weight", "F32", {1}, std::vector<uint8_t>(4)}}; }, {});
    check_message(error_from([&] { FeatureProjector::load(path); }), ErrorCode::InvalidFormat, "not a projector file");
  }
  SUBCASE("two prefixes") {
    const std::string path = edit("two_prefixes", [](auto& ts) {
      auto copy = ts;
      for (auto& t : copy) { t.name = "model." + t.name; ts.push_back(t); }
    }, metadata);
    check_message(error_from([&] { FeatureProjector::load(path); }), ErrorCode::InvalidFormat, "several prefixes");
  }
}

TEST_CASE("mutated projector files load or are refused with ophtha::Error, never crash") {
  const std::string source = reference(kMlpArgs) + "/projector.safetensors";
  std::ifstream in(source, std::ios::binary);
  const std::vector<char> original((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  REQUIRE(original.size() > 64);
  uint64_t header_size = 0;
  std::memcpy(&header_size, original.data(), 8);
  const std::string path = scratch("mutated.safetensors");
  uint64_t state = 12345;
  auto next = [&] { return state = state * 6364136223846793005ull + 1442695040888963407ull, state >> 33; };
  int refused = 0;
  for (int round = 0; round < 300; ++round) {
    std::vector<char> bytes = original;
    // Mutate the JSON header mostly (names, shapes, metadata values), sometimes the data.
    for (int k = 0; k < 1 + static_cast<int>(next() % 3); ++k) {
      const uint64_t span = next() % 4 == 0 ? bytes.size() : 8 + header_size;
      bytes[next() % span] = static_cast<char>(next() % 4 == 0 ? '9' : next());
    }
    {
      std::ofstream out(path, std::ios::binary | std::ios::trunc);
      out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    }
    if (!test::error_message_or_empty([&] { FeatureProjector::load(path); }).empty()) ++refused;
  }
  CHECK(refused > 100);  // most mutations of the header break it
}
