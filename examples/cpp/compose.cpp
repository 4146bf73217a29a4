// A researcher's view: the report pipeline composed by hand from the C++ components, reading the
// parts a model bundle names (read_bundle_manifest). Each stage is one call, so any of them can be
// swapped (another encoder, projector or prompt) — src/pipeline/report_pipeline.cpp is the same
// sequence with caching and the auxiliary heads' image checks.
//
//   images ─► preprocess (per modality) ─► VisionEncoder::encode ─► FeatureProjector::project
//          ─► assemble_multimodal_prompt ─► generate_from_embeddings ─► extract_labels_from_text
//          ─► structured_report
//
//   ophtha_example_compose MODEL_BUNDLE_DIR IMAGES_DIR [max_tokens]
//
// Links libophtha.so, which exports the components (their OPHTHA_API classes and functions). The
// component headers include ATen: build against LibTorch (and nlohmann-json, fmt) as the library
// itself is built.
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <ATen/ATen.h>

#include "ophtha/error.hpp"
#include "ophtha/generate.hpp"
#include "ophtha/image.hpp"
#include "ophtha/llama.hpp"
#include "ophtha/model_bundle.hpp"
#include "ophtha/multimodal_prompt.hpp"
#include "ophtha/preprocess.hpp"
#include "ophtha/projector.hpp"
#include "ophtha/report_extractor.hpp"
#include "ophtha/report_pipeline.hpp"
#include "ophtha/structured_report.hpp"
#include "ophtha/vision_encoder.hpp"

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: " << argv[0] << " MODEL_BUNDLE_DIR IMAGES_DIR [max_tokens]\n";
    return 2;
  }
  try {
    // The parts, as the bundle's manifest names them.
    const ophtha::ModelBundle bundle = ophtha::read_bundle_manifest(argv[1]);
    const std::shared_ptr<const ophtha::LlamaModel> llm = ophtha::LlamaModel::load(bundle.path_of(bundle.llm));
    const std::unique_ptr<ophtha::VisionEncoder> encoder =
        ophtha::load_vision_encoder(bundle.path_of(bundle.encoder), ophtha::parse_encoder_arch(bundle.encoder_arch));
    const ophtha::FeatureProjector projector = ophtha::FeatureProjector::load(bundle.path_of(bundle.projector));
    ophtha::check_projector_fits(projector, encoder->channels(), llm->config().dim);

    // One study: both eyes, three modalities.
    std::vector<ophtha::Image> images;
    for (ophtha::Eye eye : {ophtha::Eye::OD, ophtha::Eye::OS}) {
      const std::string prefix = std::string(argv[2]) + "/syn-000033_" + ophtha::eye_name(eye);
      images.push_back(ophtha::Image::decode_file(prefix + "_cfp.jpg", ophtha::Modality::Cfp, eye));
      images.push_back(ophtha::Image::decode_file(prefix + "_oct.png", ophtha::Modality::Oct, eye));
      images.push_back(ophtha::Image::decode_file(prefix + "_osa.png", ophtha::Modality::Osa, eye));
    }

    // Each image: preprocessing of its modality → encoder tokens (1, N, C) → projected (N', dim).
    std::vector<at::Tensor> image_embeddings;
    {
      at::NoGradGuard no_grad;
      for (const ophtha::Image& image : images) {
        const at::Tensor pixels = ophtha::preprocess(image, bundle.preprocessing.at(image.modality()));  // (3, S, S)
        const ophtha::VisionFeatures features = encoder->encode(pixels.unsqueeze(0));
        image_embeddings.push_back(projector.project(features, {image.modality()}, {image.eye()})[0].contiguous());
      }
    }
    std::cout << "image embeddings: " << image_embeddings.size() << " x (" << image_embeddings[0].size(0) << ", "
              << image_embeddings[0].size(1) << ")\n";

    // The prompt: the bundle's English template, one image line per image, then the findings.
    const std::string findings = "IOP 16 mmHg OU; BCVA 0.8 OD, 0.6 OS";
    ophtha::PromptTemplateOptions prompt_options;
    prompt_options.image_marker = bundle.prompt.image_marker;
    const ophtha::MultimodalPrompt prompt = ophtha::assemble_multimodal_prompt(
        *llm, ophtha::report_prompt_text(bundle, images, findings, "en"), findings, image_embeddings, prompt_options);
    std::cout << "prompt: " << prompt.embeddings.size(0) << " rows, " << prompt.images.size() << " image spans\n";

    // Greedy generation after the prompt embeddings, streamed.
    ophtha::LlamaSession session(llm);
    ophtha::GenerateOptions generate_options;
    generate_options.max_tokens = argc > 3 ? std::atoi(argv[3]) : bundle.generation.max_tokens;
    generate_options.sampling.temperature = 0.0f;
    generate_options.on_token = [](std::string_view piece, int32_t) {
      std::cout << piece << std::flush;
      return true;
    };
    std::cout << "--- report ---\n";
    const ophtha::GenerateResult result = ophtha::generate_from_embeddings(session, prompt.embeddings, generate_options);
    std::cout << "\n--- " << result.tokens.size() << " tokens, " << ophtha::stop_reason_name(result.reason)
              << " ---\n";

    // The structured report, read back from the text.
    const nlohmann::json structured =
        ophtha::structured_report(ophtha::extract_labels_from_text(result.text, "en"), "en");
    std::cout << structured.dump() << "\n";
    return 0;
  } catch (const ophtha::Error& e) {
    std::cerr << "ophtha error: " << e.what() << "\n";
    return 1;
  }
}
