// `ophtha preprocess` (build/ophtha, target ophtha_cli): the .npy it writes equals preprocess()
// in-process, and every failure exits non-zero with exactly one line on stderr.
#include "support/doctest_with_aten.hpp"

#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "ophtha/fundus_tiles.hpp"
#include "ophtha/image.hpp"
#include "ophtha/npy.hpp"
#include "ophtha/preprocess.hpp"

#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include "stb_image_write.h"

using namespace ophtha;
namespace fs = std::filesystem;

namespace {

const fs::path kWork = fs::path(OPHTHA_TEST_WORK_DIR) / "vision-cli";
const fs::path kBinary = fs::path(OPHTHA_TEST_WORK_DIR).parent_path() / "ophtha";

struct Run {
  int status;
  std::string err;
};

Run run_cli(const std::string& arguments) {
  REQUIRE_MESSAGE(fs::exists(kBinary), kBinary.string() << " is missing: build the ophtha_cli target");
  const fs::path err = kWork / "stderr.txt";
  const int raw = std::system((kBinary.string() + " " + arguments + " > /dev/null 2> " + err.string()).c_str());
  std::ifstream in(err);
  return {WIFEXITED(raw) ? WEXITSTATUS(raw) : -1, std::string(std::istreambuf_iterator<char>(in), {})};
}

}  // namespace

TEST_CASE("ophtha preprocess writes the tensor preprocess() computes") {
  fs::create_directories(kWork);
  const int w = 120, h = 90;
  std::vector<uint8_t> rgb(static_cast<size_t>(w) * h * 3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < 3; ++c) {
        const double dx = x - 60, dy = y - 45;
        rgb[(static_cast<size_t>(y) * w + x) * 3 + c] =
            dx * dx + dy * dy < 40 * 40 ? static_cast<uint8_t>(120 + x - c * 30) : static_cast<uint8_t>(2);
      }
  const fs::path png = kWork / "disc.png", npy = kWork / "disc.npy";
  REQUIRE(stbi_write_png(png.string().c_str(), w, h, 3, rgb.data(), w * 3));
  for (const char* modality : {"cfp", "oct", "osa"}) {
    CAPTURE(std::string(modality));
    const Run run = run_cli("preprocess --image " + png.string() + " --modality " + modality + " --size 48 --out " +
                           npy.string());
    REQUIRE_MESSAGE(run.status == 0, run.err);
    const NpyArray written = read_npy(npy.string());
    REQUIRE(written.shape == std::vector<int64_t>{3, 48, 48});
    PreprocessOptions options;
    options.size = 48;
    const at::Tensor expected = preprocess(Image::decode_file(png.string(), parse_modality(modality), Eye::OD), options);
    CHECK(std::memcmp(written.f32.data(), expected.data_ptr<float>(), written.f32.size() * sizeof(float)) == 0);
  }
  // The optic disc's square, as a disc reader sees it.
  const Run run = run_cli("preprocess --image " + png.string() + " --modality cfp --size 32 --region optic_disc " +
                          "--disc-side 0.4 --out " + npy.string());
  REQUIRE_MESSAGE(run.status == 0, run.err);
  PreprocessOptions options;
  options.size = 32;
  options.region = PreprocessRegion::OpticDisc;
  options.disc_side = 0.4;
  const at::Tensor expected = preprocess(Image::decode_file(png.string(), Modality::Cfp, Eye::OD), options);
  const NpyArray written = read_npy(npy.string());
  REQUIRE(written.shape == std::vector<int64_t>{3, 32, 32});
  CHECK(std::memcmp(written.f32.data(), expected.data_ptr<float>(), written.f32.size() * sizeof(float)) == 0);
  // The tiles, as a tile reader sees them.
  const Run tiles = run_cli("preprocess --image " + png.string() + " --modality cfp --size 24 --region tiles " +
                            "--tile-grid 2 --tile-stride 16 --out " + npy.string());
  REQUIRE_MESSAGE(tiles.status == 0, tiles.err);
  PreprocessOptions tiled;
  tiled.size = 24;
  tiled.region = PreprocessRegion::Tiles;
  tiled.tile_grid = 2;
  tiled.tile_stride = 16;
  const at::Tensor cut = cut_tiles(preprocess(Image::decode_file(png.string(), Modality::Cfp, Eye::OD), tiled), tiled);
  const NpyArray written_tiles = read_npy(npy.string());
  REQUIRE(written_tiles.shape == std::vector<int64_t>{4, 3, 24, 24});
  CHECK(std::memcmp(written_tiles.f32.data(), cut.data_ptr<float>(), written_tiles.f32.size() * sizeof(float)) == 0);
}

TEST_CASE("ophtha preprocess fails with a non-zero status and one line on stderr") {
  fs::create_directories(kWork);
  std::ofstream(kWork / "broken.png") << "\x89PNG\r\n\x1a\nnot really";
  const std::string out = " --out " + (kWork / "never.npy").string();
  const std::string broken = (kWork / "broken.png").string();
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"preprocess --modality cfp" + out, "--image is required"},
      {"preprocess --image " + (kWork / "absent.png").string() + " --modality cfp" + out, "absent.png"},
      {"preprocess --image " + broken + " --modality cfp" + out, "invalid PNG header"},
      {"preprocess --image " + broken + " --modality ffa" + out, "expected cfp, oct or osa"},
      {"preprocess --image " + broken + " --modality oct --size 0" + out, "--size"},
      {"preprocess --image " + broken + " --modality oct --mean 1,2" + out, "--mean"},
      {"preprocess --image " + broken + " --modality oct --bogus 1" + out, "unknown option '--bogus'"},
      {"preprocess --image " + broken + " --modality cfp --region macula" + out, "--region expects field_of_view, optic_disc or tiles"},
      {"preprocess --image " + broken + " --modality cfp --region tiles --size 16 --tile-stride 20" + out, "--tile-stride"},
      {"preprocess --image " + broken + " --modality cfp --region tiles --tile-grid 0" + out, "--tile-grid"},
      {"preprocess --image " + broken + " --modality cfp --disc-side 2" + out, "--disc-side"},
  };
  for (const auto& [arguments, needle] : cases) {
    CAPTURE(arguments);
    const Run run = run_cli(arguments);
    CHECK(run.status != 0);
    CHECK_MESSAGE(run.err.find(needle) != std::string::npos, "expected '" << needle << "' in: " << run.err);
    CHECK_MESSAGE(std::count(run.err.begin(), run.err.end(), '\n') == 1, "expected one line, got: " << run.err);
  }
  CHECK_FALSE(fs::exists(kWork / "never.npy"));
}
