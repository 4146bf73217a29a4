// The vendor program of examples/c/report.c in C++17 through the header-only wrapper
// (ophtha/ophtha.hpp): RAII handles, exceptions carrying the status and the library's message.
// Load the bundle once, read a study of both eyes from image files, stream the report, print its
// structured JSON and the shape of one image's embeddings.
//
//   ophtha_example_report_cpp MODEL_BUNDLE_DIR IMAGES_DIR [max_tokens]
//
// IMAGES_DIR holds syn-000033_{OD,OS}_{cfp.jpg,oct.png,osa.png} (examples/images).
// Needs only libophtha.so and its C headers:
//   c++ -std=c++17 report.cpp $(pkg-config --cflags --libs ophtha)
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include "ophtha/ophtha.hpp"

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: " << argv[0] << " MODEL_BUNDLE_DIR IMAGES_DIR [max_tokens]\n";
    return 2;
  }
  try {
    ophtha::api::check_abi_version();
    const ophtha::api::Model model = ophtha::api::Model::load(argv[1]);
    if (!model.has_vision()) {
      std::cerr << argv[1] << " is a plain language model, not a model bundle: it cannot write reports\n";
      return 1;
    }
    ophtha::api::Session session(model);

    struct Capture {
      const char* file;
      ophtha_modality modality;
      ophtha_eye eye;
    };
    const Capture captures[] = {
        {"syn-000033_OD_cfp.jpg", OPHTHA_MODALITY_CFP, OPHTHA_EYE_OD},
        {"syn-000033_OD_oct.png", OPHTHA_MODALITY_OCT, OPHTHA_EYE_OD},
        {"syn-000033_OD_osa.png", OPHTHA_MODALITY_OSA, OPHTHA_EYE_OD},
        {"syn-000033_OS_cfp.jpg", OPHTHA_MODALITY_CFP, OPHTHA_EYE_OS},
        {"syn-000033_OS_oct.png", OPHTHA_MODALITY_OCT, OPHTHA_EYE_OS},
        {"syn-000033_OS_osa.png", OPHTHA_MODALITY_OSA, OPHTHA_EYE_OS},
    };
    std::vector<ophtha::api::Image> images;
    for (const Capture& c : captures)
      images.push_back(ophtha::api::Image::load_file(std::string(argv[2]) + "/" + c.file, c.modality, c.eye));

    ophtha::api::ReportOptions options;
    options.lang = "en";
    options.findings = "IOP 16 mmHg OU; BCVA 0.8 OD, 0.6 OS";
    options.params.max_tokens = argc > 3 ? std::atoi(argv[3]) : 0;
    options.params.temperature = 0.0f;  // greedy: the same study gives the same report
    options.on_text = [](std::string_view piece) {
      std::cout << piece << std::flush;
      return true;  // false would stop the report here
    };
    std::cout << "--- report ---\n";
    const ophtha::api::Report report = session.report(images, options);
    std::cout << "\n--- structured ---\n" << report.json << "\n";

    // What the language model reads in the <image> slot of the first image.
    const ophtha::api::Embedding embedding = ophtha::api::embed(model, images.front());
    std::cout << "embedding of " << captures[0].file << ": " << embedding.n_tokens << " tokens x " << embedding.dim
              << "\n";
    return 0;
  } catch (const ophtha::api::Error& e) {
    std::cerr << "ophtha error: " << ophtha_status_string(e.status()) << " (" << e.status() << "): " << e.what()
              << "\n";
    return 1;
  }
}
