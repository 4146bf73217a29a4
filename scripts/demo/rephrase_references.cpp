// Measures the ROUGE-L a perfect model can expect: every study's reference report re-written from
// the very same labels with another phrasing seed (report_writer.hpp), as a predictions file for
// `ophtha eval`. The references pick their wording at random, so even exact labels do not give
// ROUGE-L 1 (docs/training.md, "The demo model"). Measurement only; not part of the library.
//
//   g++ -std=c++17 -O1 -Iinclude -Ibuild/include scripts/demo/rephrase_references.cpp \
//       -Lbuild -lophtha -Wl,-rpath,$PWD/build -o build/rephrase_references
//   build/rephrase_references DATA/manifest.jsonl > rephrased.jsonl
//   build/ophtha eval --manifest DATA/manifest.jsonl --predictions rephrased.jsonl --out eval-rephrased
#include <cstdio>
#include <exception>

#include <nlohmann/json.hpp>

#include "ophtha/manifest.hpp"
#include "ophtha/random.hpp"
#include "ophtha/report_writer.hpp"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s MANIFEST.jsonl > PREDICTIONS.jsonl\n", argv[0]);
    return 2;
  }
  try {
    const ophtha::Manifest manifest = ophtha::read_manifest(argv[1]);
    uint64_t k = 0;
    for (const ophtha::Study& study : manifest.studies)
      for (const char* lang : {"zh", "en"}) {
        ophtha::Random rng(987654321ull + k++);  // any seed the synthesiser did not use
        const nlohmann::json line = {{"id", study.id}, {"lang", lang}, {"report", ophtha::write_report(study.labels, lang, rng)}};
        std::printf("%s\n", line.dump().c_str());
      }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  return 0;
}
