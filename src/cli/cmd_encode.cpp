// ophtha encode --encoder PATH --arch A --image PATH --modality M --out F.npy [--projector P] [...]
#include <cstdio>
#include <optional>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include "cli/commands.hpp"
#include "ophtha/error.hpp"
#include "ophtha/image.hpp"
#include "ophtha/npy.hpp"
#include "ophtha/preprocess.hpp"
#include "ophtha/projector.hpp"
#include "ophtha/vision_encoder.hpp"

namespace ophtha::cli {

static const char* kEncodeHelp =
    "usage: ophtha encode --encoder PATH --arch A --image PATH --modality cfp|oct|osa --out F.npy [options]\n"
    "  --encoder PATH      ResNet weights (.safetensors, torchvision names) or a TorchScript file\n"
    "  --arch A            resnet18, resnet34, resnet50 or torchscript\n"
    "  --image PATH        PNG (8/16-bit), JPEG, BMP or TGA\n"
    "  --modality M        cfp, oct or osa (selects the preprocessing, see ophtha preprocess)\n"
    "  --eye E             OD or OS (default OD; used by the projector's eye embedding)\n"
    "  --size S            preprocessed side in pixels (default 224)\n"
    "  --projector P       a projector .safetensors: write the projected [N', d] instead of the features\n"
    "  --threads N         LibTorch intra-op threads (default: LibTorch's)\n"
    "  --out F.npy         the encoder's feature grid [N, C] float32 (N = h*w, row-major cells),\n"
    "                      or with --projector the embeddings [N', d] float32\n"
    "Prints one line with the shape written.\n";

int run_encode(const Args& raw) {
  Args args = raw;
  args.parse({"--encoder", "--arch", "--image", "--modality", "--eye", "--size", "--projector", "--threads", "--out"},
             {});
  if (args.wants_help()) {
    std::fputs(kEncodeHelp, stdout);
    return 0;
  }
  const std::string encoder_path = args.str("--encoder"), image_path = args.str("--image"),
                    out_path = args.str("--out");
  const EncoderArch arch = parse_encoder_arch(args.str("--arch"));
  const Modality modality = parse_modality(args.str("--modality"));
  const Eye eye = parse_eye(args.str_or("--eye", "OD"));
  PreprocessOptions options;
  options.size = static_cast<int>(args.integer_or("--size", options.size, 1, 8192));
  if (args.has("--threads")) at::set_num_threads(static_cast<int>(args.integer_or("--threads", 1, 1, 1024)));

  // Every input is checked before the slow steps: the projector before the encoder runs.
  std::optional<FeatureProjector> projector;
  if (args.has("--projector")) projector = FeatureProjector::load(args.str("--projector"));
  const auto encoder = load_vision_encoder(encoder_path, arch);
  if (projector && projector->config().vision_channels != encoder->channels())
    fail(ErrorCode::InvalidArgument, "{}: the projector takes C = {} channels but the {} encoder {} gives C = {}",
         args.str("--projector"), projector->config().vision_channels, encoder_arch_name(arch), encoder_path,
         encoder->channels());
  const Image image = Image::decode_file(image_path, modality, eye);

  at::NoGradGuard no_grad;
  const VisionFeatures features = encoder->encode(preprocess(image, options).unsqueeze(0));
  const at::Tensor out = projector ? projector->project(features, {modality}, {eye})[0].contiguous()
                                   : features.tokens[0].contiguous();
  write_npy(out_path, out.data_ptr<float>(), out.sizes().vec());
  std::printf("%s: [%lld, %lld] float32 (%s of %s, %s %s, %d x %d", out_path.c_str(),
              static_cast<long long>(out.size(0)), static_cast<long long>(out.size(1)),
              projector ? "projected embeddings" : "feature grid", image_path.c_str(), modality_name(modality),
              eye_name(eye), options.size, options.size);
  if (features.grid_height > 0)
    std::printf(" -> grid %lld x %lld", static_cast<long long>(features.grid_height),
                static_cast<long long>(features.grid_width));
  std::printf(")\n");
  return 0;
}

}  // namespace ophtha::cli
