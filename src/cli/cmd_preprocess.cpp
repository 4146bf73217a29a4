// ophtha preprocess --image PATH --modality cfp|oct|osa --out X.npy [--size S] [...]
#include <cstdio>
#include <sstream>
#include <vector>

#include <ATen/ATen.h>
#include <fmt/ranges.h>

#include "cli/commands.hpp"
#include "ophtha/error.hpp"
#include "ophtha/fundus_tiles.hpp"
#include "ophtha/image.hpp"
#include "ophtha/npy.hpp"
#include "ophtha/preprocess.hpp"

namespace ophtha::cli {

static const char* kPreprocessHelp =
    "usage: ophtha preprocess --image PATH --modality cfp|oct|osa --out X.npy [options]\n"
    "  --image PATH        PNG (8/16-bit), JPEG, BMP or TGA\n"
    "  --modality M        cfp: crop to the fundus field of view; oct, osa: grey, padded to square\n"
    "  --out X.npy         the tensor [3, S, S] float32, C order (numpy.load reads it); with\n"
    "                      --region tiles the tiles [G*G, 3, S, S], row by row\n"
    "  --size S            output side in pixels (default 224)\n"
    "  --mean A,B,C        per-channel mean subtracted (default ImageNet 0.485,0.456,0.406)\n"
    "  --std A,B,C         per-channel divisor (default ImageNet 0.229,0.224,0.225)\n"
    "  --pad-value V       fill outside the image, 0..1 before normalising (default 0)\n"
    "  --region R          cfp only: field_of_view (default) or optic_disc (a square of --disc-side x\n"
    "                      the field's side centred on the optic disc, as a disc reader sees it)\n"
    "  --disc-side F       the optic-disc square's side, x the field's side, in (0, 1] (default 0.28)\n"
    "  --region tiles      cfp only: the field's square at S + (G - 1) x STRIDE, cut into G x G tiles\n"
    "                      of S x S, as a tile reader sees it\n"
    "  --tile-grid G       tiles per row and column, 1..8 (default 3)\n"
    "  --tile-stride N     pixels between tiles' origins, 1..S (default S: tiles abut)\n"
    "  --max-pixels N      refuse images with more pixels (default 100000000)\n"
    "The steps are described in docs/vision.md.\n";

// "a,b,c" → three finite numbers.
static std::array<float, 3> parse_triple(const Args& args, const std::string& name, std::array<float, 3> fallback) {
  if (!args.has(name)) return fallback;
  const std::string text = args.str(name);
  std::array<float, 3> out{};
  std::istringstream in(text);
  char comma = 0;
  for (int i = 0; i < 3; ++i) {
    if ((i > 0 && !(in >> comma && comma == ',')) || !(in >> out[i]))
      fail(ErrorCode::InvalidArgument, "option {} expects three comma-separated numbers, got '{}'", name, text);
  }
  if (!(in >> std::ws).eof())
    fail(ErrorCode::InvalidArgument, "option {} expects three comma-separated numbers, got '{}'", name, text);
  return out;
}

int run_preprocess(const Args& raw) {
  Args args = raw;
  args.parse({"--image", "--modality", "--out", "--size", "--mean", "--std", "--pad-value", "--region", "--disc-side",
              "--tile-grid", "--tile-stride", "--max-pixels"},
             {});
  if (args.wants_help()) {
    std::fputs(kPreprocessHelp, stdout);
    return 0;
  }
  const std::string image_path = args.str("--image"), out_path = args.str("--out");
  const Modality modality = parse_modality(args.str("--modality"));
  PreprocessOptions options;
  options.size = static_cast<int>(args.integer_or("--size", options.size, 1, 8192));
  options.mean = parse_triple(args, "--mean", options.mean);
  options.std = parse_triple(args, "--std", options.std);
  options.pad_value = static_cast<float>(args.number_or("--pad-value", options.pad_value, 0.0, 1.0));
  if (args.has("--region")) {
    const std::string region = args.str("--region");
    if (region == "optic_disc")
      options.region = PreprocessRegion::OpticDisc;
    else if (region == "tiles")
      options.region = PreprocessRegion::Tiles;
    else if (region != "field_of_view")
      fail(ErrorCode::InvalidArgument, "option --region expects field_of_view, optic_disc or tiles, got '{}'", region);
  }
  options.disc_side = args.number_or("--disc-side", options.disc_side, 1e-3, 1.0);
  options.tile_grid = static_cast<int>(args.integer_or("--tile-grid", options.tile_grid, 1, 8));
  options.tile_stride = static_cast<int>(args.integer_or("--tile-stride", options.size, 1, options.size));
  ImageLimits limits;
  limits.max_pixels = args.integer_or("--max-pixels", limits.max_pixels, 1, int64_t{1} << 40);

  const Image image = Image::decode_file(image_path, modality, Eye::OD, limits);
  const SquareRegion square = preprocess_region(image, options);
  at::Tensor tensor = preprocess(image, options);
  if (options.region == PreprocessRegion::Tiles) tensor = cut_tiles(tensor, options);
  std::vector<int64_t> shape(tensor.sizes().begin(), tensor.sizes().end());
  write_npy(out_path, tensor.data_ptr<float>(), shape);
  std::printf("%s: %dx%d %s -> square %d at (%d, %d) -> [%s] float32 in %s\n", image_path.c_str(), image.width(),
              image.height(), modality_name(modality), square.side, square.x0, square.y0,
              fmt::format("{}", fmt::join(shape, ", ")).c_str(), out_path.c_str());
  return 0;
}

}  // namespace ophtha::cli
