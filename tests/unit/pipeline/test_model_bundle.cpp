// The model bundle manifest (model_bundle.hpp): written and read back field for field; a broken
// manifest is refused with every problem listed, each naming its field.
#include "support/doctest_with_aten.hpp"

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "ophtha/error.hpp"
#include "ophtha/model_bundle.hpp"
#include "support/expect_error.hpp"

using namespace ophtha;
using ophtha::test::error_from;

namespace {

std::string fresh_bundle(const std::string& name) {
  const std::string dir = std::string(OPHTHA_TEST_WORK_DIR) + "/test_model_bundle/" + name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  for (const char* file : {"llm.gguf", "encoder.safetensors", "projector.safetensors", "heads.safetensors"})
    std::ofstream(dir + "/" + file) << "x";
  return dir;
}

ModelBundle example(const std::string& dir) {
  ModelBundle b;
  b.folder = dir;
  b.name = "test-bundle";
  b.description = "for tests";
  b.disclaimer = "Trained on synthetic images only.";
  b.llm = "llm.gguf";
  b.encoder_arch = "resnet18";
  b.encoder = "encoder.safetensors";
  b.projector = "projector.safetensors";
  b.heads = "heads.safetensors";
  for (Modality m : {Modality::Cfp, Modality::Oct, Modality::Osa}) b.preprocessing[m] = PreprocessOptions{};
  b.preprocessing[Modality::Oct].size = 160;
  b.preprocessing[Modality::Oct].mean = {0.5f, 0.5f, 0.5f};
  b.prompt = default_bundle_prompt();
  b.prompt.heads_findings = true;
  b.languages = {"zh", "en"};
  b.generation.max_tokens = 200;
  b.generation.temperature = 0.7f;
  b.generation.candidates = 12;
  b.generation.candidate_temperature = 0.6f;
  b.generation.evidence_weight = 1.5f;
  b.generation.line_drafts = 16;
  b.generation.sentence_insertions = 3;
  b.generation.guided_drafts = 2;
  b.generation.drop_unsupported_findings = true;
  return b;
}

void write_text(const std::string& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }

std::string manifest_text(const std::string& dir) {
  std::ifstream in(dir + "/" + kBundleManifestName, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Writes `b`'s manifest with `entry` ("key": {...}, ) inserted as its first member after the
// prologue: a field the writer would never write.
void write_with_entry(const ModelBundle& b, const std::string& entry) {
  write_bundle_manifest(b);
  std::string text = manifest_text(b.folder);
  const size_t at = text.find("\"encoder\"");
  REQUIRE(at != std::string::npos);
  write_text(b.folder + "/" + kBundleManifestName, text.insert(at, entry));
}

// A ResNet-18 reader of `region` with these weight files, reading `findings`.
BundleRegionReader region_reader(const std::string& encoder, const std::string& heads, PreprocessRegion region,
                                 std::vector<Finding> findings) {
  BundleRegionReader r;
  r.encoder_arch = "resnet18";
  r.encoder = encoder;
  r.heads = heads;
  r.preprocessing.region = region;
  r.findings = std::move(findings);
  return r;
}

}  // namespace

TEST_CASE("a bundle manifest written by write_bundle_manifest reads back field for field") {
  const std::string dir = fresh_bundle("round-trip");
  const ModelBundle written = example(dir);
  write_bundle_manifest(written);
  for (const std::string& path : {dir, dir + "/" + kBundleManifestName}) {
    const ModelBundle read = read_bundle_manifest(path);
    CHECK(read.folder == dir);
    CHECK(read.name == written.name);
    CHECK(read.disclaimer == written.disclaimer);
    CHECK(read.llm == "llm.gguf");
    CHECK(read.encoder_arch == "resnet18");
    CHECK(read.heads == "heads.safetensors");
    CHECK(read.preprocessing.at(Modality::Oct).size == 160);
    CHECK(read.preprocessing.at(Modality::Oct).mean[1] == doctest::Approx(0.5));
    CHECK(read.preprocessing.at(Modality::Cfp).std[2] == doctest::Approx(0.225));
    CHECK(read.prompt.templates == written.prompt.templates);
    CHECK(read.prompt.no_findings == written.prompt.no_findings);
    CHECK(read.prompt.heads_findings == written.prompt.heads_findings);
    CHECK(read.languages == written.languages);
    CHECK(read.generation.max_tokens == 200);
    CHECK(read.generation.temperature == doctest::Approx(0.7));
    CHECK(read.generation.candidates == 12);
    CHECK(read.generation.candidate_temperature == doctest::Approx(0.6));
    CHECK(read.generation.evidence_weight == doctest::Approx(1.5));
    CHECK(read.generation.line_drafts == 16);
    CHECK(read.generation.sentence_insertions == 3);
    CHECK(read.generation.guided_drafts == 2);
    CHECK(read.generation.drop_unsupported_findings);
    CHECK(read.path_of(read.llm) == dir + "/llm.gguf");
  }
}

TEST_CASE("a broken bundle manifest is refused with every problem named by its field") {
  const std::string dir = fresh_bundle("broken");
  write_text(dir + "/" + kBundleManifestName, R"({
    "format": "ophtha-bundle", "version": 1, "name": "b", "disclaimer": "synthetic",
    "llm": {"path": "missing.gguf"},
    "encoder": {"arch": "vgg16", "path": "../outside.safetensors"},
    "projector": {"path": "/abs/projector.safetensors"},
    "preprocessing": {"cfp": {"size": 224}, "oct": {"size": 0}, "osa": {"size": 224, "std": [1, 0, 1]}},
    "prompt": {"image_line": "{modality}: no marker here\n"},
    "languages": ["en", "fr"],
    "colour": "blue"
  })");
  const Error e = error_from([&] { read_bundle_manifest(dir); });
  CHECK(e.code() == ErrorCode::InvalidFormat);
  const std::string message = e.what();
  INFO(message);
  for (const char* fragment : {"ophtha-bundle.json", "llm.path: 'missing.gguf' does not exist",
                               "encoder.arch: is 'vgg16'", "encoder.path: '../outside.safetensors' leaves the bundle",
                               "projector.path: '/abs/projector.safetensors' leaves the bundle",
                               "preprocessing.oct.size: is 0", "preprocessing.osa.std", "prompt.image_line",
                               "languages[1]: is \"fr\"", "colour: unknown key"})
    CHECK_MESSAGE(message.find(fragment) != std::string::npos, "missing: ", fragment);
}

TEST_CASE("prompt.heads_findings must be a boolean and needs heads") {
  const std::string dir = fresh_bundle("heads-findings");
  ModelBundle b = example(dir);
  b.heads.clear();
  write_bundle_manifest(b);
  std::string message = error_from([&] { read_bundle_manifest(dir); }).what();
  CHECK_MESSAGE(message.find("prompt.heads_findings: is true but the bundle has no \"heads\"") != std::string::npos, message);
  b.prompt.heads_findings = false;
  write_bundle_manifest(b);
  CHECK_FALSE(read_bundle_manifest(dir).prompt.heads_findings);
  std::string text = manifest_text(dir);
  CHECK(text.find("heads_findings") == std::string::npos);  // written only when true
  const size_t at = text.find("\"image_marker\"");
  REQUIRE(at != std::string::npos);
  write_text(dir + "/" + kBundleManifestName, text.insert(at, "\"heads_findings\": \"yes\", "));
  message = error_from([&] { read_bundle_manifest(dir); }).what();
  CHECK_MESSAGE(message.find("prompt.heads_findings: is \"yes\", expected true or false") != std::string::npos, message);
}

TEST_CASE("generation.candidates and evidence_weight: 1 and 0 unless given, in range, written only when not") {
  const std::string dir = fresh_bundle("candidates");
  ModelBundle b = example(dir);
  b.generation.candidates = 1;
  b.generation.evidence_weight = 0.0f;
  b.generation.line_drafts = 0;
  b.generation.sentence_insertions = 0;
  b.generation.guided_drafts = 0;
  b.generation.drop_unsupported_findings = false;
  write_bundle_manifest(b);
  CHECK(read_bundle_manifest(dir).generation.candidates == 1);
  CHECK(read_bundle_manifest(dir).generation.evidence_weight == 0.0f);
  std::string text = manifest_text(dir);
  CHECK(text.find("candidates") == std::string::npos);
  CHECK(text.find("evidence_weight") == std::string::npos);
  CHECK(text.find("line_drafts") == std::string::npos);
  CHECK(text.find("sentence_insertions") == std::string::npos);
  CHECK(text.find("guided_drafts") == std::string::npos);
  CHECK(text.find("drop_unsupported_findings") == std::string::npos);
  CHECK_FALSE(read_bundle_manifest(dir).generation.drop_unsupported_findings);
  CHECK(read_bundle_manifest(dir).generation.guided_drafts == 0);
  CHECK(read_bundle_manifest(dir).generation.sentence_insertions == 0);
  CHECK(read_bundle_manifest(dir).generation.line_drafts == 0);
  const size_t at = text.find("\"max_tokens\"");
  REQUIRE(at != std::string::npos);
  write_text(dir + "/" + kBundleManifestName, std::string(text).insert(at, "\"candidates\": 129, \"candidate_temperature\": -1, \"evidence_weight\": 101, "));
  const std::string message = error_from([&] { read_bundle_manifest(dir); }).what();
  CHECK_MESSAGE(message.find("generation.candidates: is 129, expected a number in [1, 128]") != std::string::npos, message);
  CHECK_MESSAGE(message.find("generation.candidate_temperature: is -1") != std::string::npos, message);
  CHECK_MESSAGE(message.find("generation.evidence_weight: is 101, expected a number in [0, 100]") != std::string::npos, message);
  // Drafts sampled at temperature 0 would all be the greedy one: refused when there are several.
  write_text(dir + "/" + kBundleManifestName, std::string(text).insert(at, "\"candidates\": 4, \"candidate_temperature\": 0, "));
  const std::string zero = error_from([&] { read_bundle_manifest(dir); }).what();
  CHECK_MESSAGE(zero.find("generation.candidate_temperature: is 0, expected > 0: the 4 drafts") != std::string::npos, zero);
  write_text(dir + "/" + kBundleManifestName, std::string(text).insert(at, "\"candidates\": 1, \"candidate_temperature\": 0, "));
  CHECK(read_bundle_manifest(dir).generation.candidates == 1);  // one draft: no sampling, any temperature
  // Line drafts are sampled too; at most 128, and whole.
  write_text(dir + "/" + kBundleManifestName,
             std::string(text).insert(at, "\"line_drafts\": 2, \"candidate_temperature\": 0, "));
  const std::string lines = error_from([&] { read_bundle_manifest(dir); }).what();
  CHECK_MESSAGE(lines.find("generation.candidate_temperature: is 0, expected > 0: the 2 line drafts") != std::string::npos, lines);
  write_text(dir + "/" + kBundleManifestName, std::string(text).insert(at, "\"line_drafts\": 129, "));
  const std::string many = error_from([&] { read_bundle_manifest(dir); }).what();
  CHECK_MESSAGE(many.find("generation.line_drafts: is 129, expected a number in [0, 128]") != std::string::npos, many);
  write_text(dir + "/" + kBundleManifestName, std::string(text).insert(at, "\"sentence_insertions\": 17, "));
  const std::string inserted = error_from([&] { read_bundle_manifest(dir); }).what();
  CHECK_MESSAGE(inserted.find("generation.sentence_insertions: is 17, expected a number in [0, 16]") != std::string::npos, inserted);
  write_text(dir + "/" + kBundleManifestName, std::string(text).insert(at, "\"guided_drafts\": -1, "));
  const std::string guided = error_from([&] { read_bundle_manifest(dir); }).what();
  CHECK_MESSAGE(guided.find("generation.guided_drafts: is -1, expected a number in [0, 16]") != std::string::npos, guided);
  write_text(dir + "/" + kBundleManifestName, std::string(text).insert(at, "\"drop_unsupported_findings\": 1, "));
  const std::string dropping = error_from([&] { read_bundle_manifest(dir); }).what();
  CHECK_MESSAGE(dropping.find("generation.drop_unsupported_findings: is 1, expected true or false") != std::string::npos,
                dropping);
}

TEST_CASE("a bundle manifest with the wrong version, bad JSON or no file says so") {
  const std::string dir = fresh_bundle("versions");
  ModelBundle b = example(dir);
  write_bundle_manifest(b);
  std::string text = manifest_text(dir);
  const size_t at = text.find("\"version\": 1");
  REQUIRE(at != std::string::npos);
  write_text(dir + "/" + kBundleManifestName, text.substr(0, at) + "\"version\": 9" + text.substr(at + 12));
  test::check_message(error_from([&] { read_bundle_manifest(dir); }), ErrorCode::InvalidFormat,
                      "version: is 9, expected 1");
  write_text(dir + "/" + kBundleManifestName, "{ not json");
  test::check_message(error_from([&] { read_bundle_manifest(dir); }), ErrorCode::InvalidFormat, "not valid JSON");
  test::check_message(error_from([&] { read_bundle_manifest(dir + "/nowhere"); }), ErrorCode::Io,
                      "is '" + dir + "/nowhere' a model bundle folder?");
}

TEST_CASE("a template without {findings} for a listed language is refused") {
  const std::string dir = fresh_bundle("template");
  ModelBundle b = example(dir);
  b.prompt.templates["zh"] = "{images} 报告：";
  write_bundle_manifest(b);
  test::check_message(error_from([&] { read_bundle_manifest(dir); }), ErrorCode::InvalidFormat,
                      "prompt.templates.zh: must hold {images} and {findings} once each");
  b.prompt.templates.erase("zh");
  write_bundle_manifest(b);
  test::check_message(error_from([&] { read_bundle_manifest(dir); }), ErrorCode::InvalidFormat,
                      "has no template for language 'zh'");
}

TEST_CASE("a disc reader reads back field for field and is written only when the bundle has one") {
  const std::string dir = fresh_bundle("disc-reader");
  for (const char* file : {"disc-encoder.safetensors", "disc-heads.safetensors"}) std::ofstream(dir + "/" + file) << "x";
  ModelBundle b = example(dir);
  write_bundle_manifest(b);
  CHECK_FALSE(read_bundle_manifest(dir).disc_reader.has_value());
  BundleRegionReader r = region_reader("disc-encoder.safetensors", "disc-heads.safetensors", PreprocessRegion::OpticDisc,
                                       {Finding::DiscHaemorrhage, Finding::RimThinning});
  r.preprocessing.size = 160;
  r.preprocessing.disc_side = 0.3;
  b.disc_reader = r;
  write_bundle_manifest(b);
  const ModelBundle read = read_bundle_manifest(dir);
  REQUIRE(read.disc_reader.has_value());
  CHECK(read.disc_reader->encoder_arch == "resnet18");
  CHECK(read.disc_reader->encoder == "disc-encoder.safetensors");
  CHECK(read.disc_reader->heads == "disc-heads.safetensors");
  CHECK(read.disc_reader->preprocessing.size == 160);
  CHECK(read.disc_reader->preprocessing.region == PreprocessRegion::OpticDisc);
  CHECK(read.disc_reader->preprocessing.disc_side == doctest::Approx(0.3));
  CHECK((read.disc_reader->findings == r.findings));
  CHECK(read.preprocessing.at(Modality::Cfp).region == PreprocessRegion::FieldOfView);
}

TEST_CASE("a broken disc reader is refused naming each field") {
  const std::string dir = fresh_bundle("disc-reader-broken");
  ModelBundle b = example(dir);
  write_with_entry(b, R"("disc_reader": {"encoder": {"arch": "torchscript", "path": "none.pt"},
                 "heads": {"path": "heads.safetensors"},
                 "preprocessing": {"size": 160, "region": "macula"},
                 "findings": ["disc_haemorrhage", "drusen_everywhere", "subretinal_fluid", "disc_haemorrhage"]}, )");
  const std::string message = error_from([&] { read_bundle_manifest(dir); }).what();
  INFO(message);
  for (const char* fragment : {"disc_reader.encoder.arch: is 'torchscript', expected resnet18, resnet34 or resnet50",
                               "disc_reader.encoder.path: 'none.pt' does not exist",
                               "disc_reader.preprocessing.region: is 'macula'",
                               "disc_reader.findings[1]: unknown finding 'drusen_everywhere'",
                               "disc_reader.findings[2]: 'subretinal_fluid' is a finding of OCT images, expected a CFP finding",
                               "disc_reader.findings[3]: 'disc_haemorrhage' is repeated"})
    CHECK_MESSAGE(message.find(fragment) != std::string::npos, "missing: ", fragment);
  // Without main heads there is nothing for the reader to stand beside; OCT preprocessing has no region.
  b.heads.clear();
  b.prompt.heads_findings = false;
  b.disc_reader = region_reader("encoder.safetensors", "encoder.safetensors", PreprocessRegion::OpticDisc,
                                {Finding::DiscHaemorrhage});
  b.preprocessing[Modality::Oct].region = PreprocessRegion::OpticDisc;
  write_bundle_manifest(b);
  const std::string second = error_from([&] { read_bundle_manifest(dir); }).what();
  CHECK_MESSAGE(second.find("disc_reader: is given but the bundle has no \"heads\"") != std::string::npos, second);
  CHECK_MESSAGE(second.find("preprocessing.oct.region: unknown key") != std::string::npos, second);
}

TEST_CASE("a tile reader reads back with its grid beside a disc reader, and a finding read by both is refused") {
  const std::string dir = fresh_bundle("tile-reader");
  for (const char* file : {"tile-encoder.safetensors", "tile-heads.safetensors"}) std::ofstream(dir + "/" + file) << "x";
  ModelBundle b = example(dir);
  const BundleRegionReader disc = region_reader("encoder.safetensors", "encoder.safetensors",
                                                PreprocessRegion::OpticDisc, {Finding::DiscHaemorrhage});
  b.disc_reader = disc;
  BundleRegionReader r = region_reader("tile-encoder.safetensors", "tile-heads.safetensors", PreprocessRegion::Tiles,
                                       {Finding::FlameHaemorrhages, Finding::Irma});
  r.preprocessing.size = 224;
  r.preprocessing.tile_grid = 3;
  r.preprocessing.tile_stride = 176;
  b.tile_reader = r;
  write_bundle_manifest(b);
  const ModelBundle read = read_bundle_manifest(dir);
  REQUIRE(read.tile_reader.has_value());
  CHECK(read.tile_reader->encoder == "tile-encoder.safetensors");
  CHECK(read.tile_reader->heads == "tile-heads.safetensors");
  CHECK(read.tile_reader->preprocessing.region == PreprocessRegion::Tiles);
  CHECK(read.tile_reader->preprocessing.size == 224);
  CHECK(read.tile_reader->preprocessing.tile_grid == 3);
  CHECK(read.tile_reader->preprocessing.tile_stride == 176);
  CHECK(preprocessed_side(read.tile_reader->preprocessing) == 576);
  CHECK((read.tile_reader->findings == r.findings));
  REQUIRE(read.disc_reader.has_value());
  CHECK((read.disc_reader->findings == disc.findings));

  // The same finding from two readers; a tile reader on the disc's region.
  b.tile_reader->findings.push_back(Finding::DiscHaemorrhage);
  write_bundle_manifest(b);
  test::check_message(error_from([&] { read_bundle_manifest(dir); }), ErrorCode::InvalidFormat,
                      "tile_reader.findings: names disc_haemorrhage, which the disc reader reads");
  b.tile_reader->findings = r.findings;
  b.tile_reader->preprocessing.region = PreprocessRegion::OpticDisc;
  write_bundle_manifest(b);
  test::check_message(error_from([&] { read_bundle_manifest(dir); }), ErrorCode::InvalidFormat,
                      "tile_reader.preprocessing.region: is not \"tiles\"");
}

TEST_CASE("a tile reader's grid is refused naming the field when out of range") {
  const std::string dir = fresh_bundle("tile-reader-broken");
  ModelBundle b = example(dir);
  write_with_entry(b, R"("tile_reader": {"encoder": {"arch": "resnet18", "path": "encoder.safetensors"},
                 "heads": {"path": "heads.safetensors"},
                 "preprocessing": {"size": 224, "region": "tiles", "tile_grid": 9, "tile_stride": 300},
                 "findings": ["irma"]}, )");
  const std::string message = error_from([&] { read_bundle_manifest(dir); }).what();
  INFO(message);
  for (const char* fragment : {"tile_reader.preprocessing.tile_grid: is 9, expected a number in [1, 8]",
                               "tile_reader.preprocessing.tile_stride: is 300, expected a number in [1, 224]"})
    CHECK_MESSAGE(message.find(fragment) != std::string::npos, "missing: ", fragment);
}
