// ophtha preprocess --image PATH --modality cfp|oct|osa --out X.npy [--size S] [...]
#include <cstdio>
#include <sstream>

#include <ATen/ATen.h>

#include "cli/commands.hpp"
#include "ophtha/error.hpp"
#include "ophtha/image.hpp"
#include "ophtha/npy.hpp"
#include "ophtha/preprocess.hpp"

namespace ophtha::cli {

static const char* kPreprocessHelp =
    "usage: ophtha preprocess --image PATH --modality cfp|oct|osa --out X.npy [options]\n"
    "  --image PATH        PNG (8/16-bit), JPEG, BMP or TGA\n"
    "  --modality M        cfp: crop to the fundus field of view; oct, osa: grey, padded to square\n"
    "  --out X.npy         the tensor [3, S, S] float32, C order (numpy.load reads it)\n"
    "  --size S            output side in pixels (default 224)\n"
    "  --mean A,B,C        per-channel mean subtracted (default ImageNet 0.485,0.456,0.406)\n"
    "  --std A,B,C         per-channel divisor (default ImageNet 0.229,0.224,0.225)\n"
    "  --pad-value V       fill outside the image, 0..1 before normalising (default 0)\n"
    "  --region R          cfp only: field_of_view (default) or optic_disc (a square of --disc-side x\n"
    "                      the field's side centred on the optic disc, as a disc reader sees it)\n"
    "  --disc-side F       the optic-disc square's side, x the field's side, in (0, 1] (default 0.28)\n"
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
              "--max-pixels"},
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
    else if (region != "field_of_view")
      fail(ErrorCode::InvalidArgument, "option --region expects field_of_view or optic_disc, got '{}'", region);
  }
  options.disc_side = args.number_or("--disc-side", options.disc_side, 1e-3, 1.0);
  ImageLimits limits;
  limits.max_pixels = args.integer_or("--max-pixels", limits.max_pixels, 1, int64_t{1} << 40);

  const Image image = Image::decode_file(image_path, modality, Eye::OD, limits);
  const SquareRegion square = preprocess_region(image, options);
  const at::Tensor tensor = preprocess(image, options);
  write_npy(out_path, tensor.data_ptr<float>(), {3, options.size, options.size});
  std::printf("%s: %dx%d %s -> square %d at (%d, %d) -> [3, %d, %d] float32 in %s\n", image_path.c_str(),
              image.width(), image.height(), modality_name(modality), square.side, square.x0, square.y0,
              options.size, options.size, out_path.c_str());
  return 0;
}

}  // namespace ophtha::cli
