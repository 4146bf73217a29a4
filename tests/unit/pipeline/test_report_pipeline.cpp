// The report pipeline (report_pipeline.hpp) end to end on a bundle of seeded random weights
// (tests/tools/make_random_bundle.py): the plumbing, not the medicine — the text is meaningless,
// but it must be exactly what the parts compute, streamed as generated, reproducible, and every
// misuse must be refused with a clear error.
#include "support/doctest_with_aten.hpp"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include "ophtha/error.hpp"
#include "ophtha/generate.hpp"
#include "ophtha/heads_findings.hpp"
#include "ophtha/image_embedder.hpp"
#include "ophtha/line_refinement.hpp"
#include "ophtha/multimodal_prompt.hpp"
#include "ophtha/report_consensus.hpp"
#include "ophtha/report_extractor.hpp"
#include "ophtha/report_pipeline.hpp"
#include "ophtha/report_pruning.hpp"
#include "support/expect_error.hpp"
#include "support/test_models.hpp"

using namespace ophtha;

namespace {

std::string bundle_dir(const std::string& args = "--seed 3") {
  return test::cached_script_output("tests/tools/make_random_bundle.py", "random-bundle", args, "", "ophtha-bundle.json");
}

std::shared_ptr<const ReportModel> model() {
  static const std::shared_ptr<const ReportModel> m = ReportModel::load(bundle_dir());
  return m;
}

Image pattern(int width, int height, int channels, Modality modality, Eye eye, int seed) {
  std::vector<uint8_t> pixels(static_cast<size_t>(width) * height * channels);
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<uint8_t>((i * (7 + seed) + seed * 31) % 251);
  return Image::from_pixels(pixels.data(), width, height, static_cast<size_t>(width) * channels, channels, 8, modality,
                            eye);
}

std::vector<Image> study() {
  return {pattern(96, 80, 3, Modality::Cfp, Eye::OD, 1), pattern(120, 50, 1, Modality::Oct, Eye::OS, 2)};
}

ReportOptions greedy(const std::string& lang = "en") {
  ReportOptions o;
  o.lang = lang;
  o.max_tokens = 12;
  o.temperature = 0;
  o.check_images = false;
  return o;
}

// The report drops the dummy-prefix space a generation's first piece carries, as SentencePiece's
// decoder does at the start of a text (and only that one space).
std::string without_dummy_prefix(const std::string& text) {
  REQUIRE(!text.empty());
  return text.front() == ' ' ? text.substr(1) : text;
}

// What the engine writes greedily (12 tokens) after the bundle's prompt for `images` (their
// embeddings given) with `findings` in it: what a report must be.
GenerateResult greedy_after_prompt(const ReportModel& model, const std::vector<Image>& images,
                                   const std::vector<at::Tensor>& embeddings, const std::string& findings) {
  const std::string text = report_prompt_text(model.bundle(), images, findings, "en");
  const MultimodalPrompt prompt = assemble_multimodal_prompt(*model.llm(), text, findings, embeddings);
  LlamaSession llm(model.llm(), LlamaSessionOptions{1, 0});
  GenerateOptions g;
  g.max_tokens = 12;
  g.sampling.temperature = 0;
  return generate_from_embeddings(llm, prompt.embeddings, g);
}

}  // namespace

TEST_CASE("the report is what the parts compute: embeddings spliced into the bundle's prompt, greedy") {
  ReportSession session(model(), 1);
  const std::vector<Image> images = study();
  ReportOptions options = greedy();
  options.findings = "IOP 18 mmHg OD";
  const Report report = session.generate(images, options);

  // The same by hand: the per-modality embedders, the bundle's prompt text, the engine.
  std::vector<at::Tensor> embeddings;
  for (const Image& image : images) embeddings.push_back(model()->embedder(image.modality()).embed({image})[0]);
  const std::string text = report_prompt_text(model()->bundle(), images, options.findings, "en");
  CHECK(text.find("CFP OD: <image>\nOCT OS: <image>\n") != std::string::npos);
  const MultimodalPrompt prompt = assemble_multimodal_prompt(*model()->llm(), text, options.findings, embeddings);
  LlamaSession llm(model()->llm(), LlamaSessionOptions{1, 0});
  GenerateOptions g;
  g.max_tokens = 12;
  g.sampling.temperature = 0;
  const GenerateResult expected = generate_from_embeddings(llm, prompt.embeddings, g);
  CHECK(report.text == without_dummy_prefix(expected.text));
  CHECK(report.prompt_tokens == expected.prompt_tokens);
  CHECK(report.generated_tokens == static_cast<int64_t>(expected.tokens.size()));
  CHECK(report.structured["disclaimer"] == model()->bundle().disclaimer);
  CHECK(report.structured["model"] == model()->bundle().name);
  CHECK(report.structured["language"] == "en");
}

TEST_CASE("streamed pieces add up to the report; the same seed gives the same report on any session") {
  ReportSession session(model(), 1);
  ReportOptions options = greedy("zh");
  options.temperature = 0.9f;
  options.seed = 42;
  std::string streamed;
  options.on_text = [&](std::string_view piece) {
    streamed += piece;
    return true;
  };
  const Report first = session.generate(study(), options);
  CHECK(streamed == first.text);
  options.on_text = nullptr;
  CHECK(session.generate(study(), options).text == first.text);  // each call starts afresh
  ReportSession other(model(), 2);
  CHECK(other.generate(study(), options).text == first.text);
  options.seed = 43;
  CHECK(other.generate(study(), options).text != first.text);
}

TEST_CASE("with N candidates every draft is what the engine writes after the prompt, and the report is their consensus") {
  ReportSession session(model(), 1);
  const std::vector<Image> images = study();
  ReportOptions options = greedy();
  options.candidates = 4;
  options.candidate_temperature = 1.3f;
  options.seed = 7;
  std::vector<std::string> pieces;
  options.on_text = [&](std::string_view piece) {
    pieces.emplace_back(piece);
    return true;
  };
  const Report report = session.generate(images, options);
  REQUIRE(report.drafts.size() == 4);
  CHECK(report.candidates == 4);

  // Each draft by hand, from a fresh prefill: the first greedy, the others sampled at the
  // candidate temperature with seeds seed + 1, seed + 2, seed + 3.
  std::vector<at::Tensor> embeddings;
  for (const Image& image : images) embeddings.push_back(model()->embedder(image.modality()).embed({image})[0]);
  const std::string text = report_prompt_text(model()->bundle(), images, "", "en");
  const MultimodalPrompt prompt = assemble_multimodal_prompt(*model()->llm(), text, "", embeddings);
  LlamaSession llm(model()->llm(), LlamaSessionOptions{1, 0});
  for (int i = 0; i < 4; ++i) {
    GenerateOptions g;
    g.max_tokens = options.max_tokens;
    g.sampling.temperature = i == 0 ? 0.0f : 1.3f;
    g.sampling.top_k = model()->bundle().generation.top_k;
    g.sampling.top_p = model()->bundle().generation.top_p;
    g.sampling.min_p = 0.0f;
    g.sampling.seed = 7 + static_cast<uint64_t>(i);
    llm.rewind(0);
    const std::string draft = without_dummy_prefix(generate_from_embeddings(llm, prompt.embeddings, g).text);
    CHECK(report.drafts[static_cast<size_t>(i)] == draft);
  }
  CHECK(report.drafts[1] != report.drafts[2]);  // sampled with different seeds
  // The drafts weighed as choose_draft weighs them (its own tests pin how: report_consensus).
  CHECK(report.chosen == choose_draft(report.drafts, "en").chosen);
  // With its title, or none, the one most drafts have (central_title).
  CHECK(report.text == drop_repeated_mentions(central_title(report.drafts[report.chosen], report.drafts, "en"), "en"));
  ReportOptions own_title = options;
  own_title.central_wording = false;
  own_title.on_text = nullptr;
  const Report as_drafted = session.generate(images, own_title);
  CHECK(as_drafted.drafts == report.drafts);
  CHECK(as_drafted.text == drop_repeated_mentions(report.drafts[report.chosen], "en"));
  // The chosen report streams whole, once chosen; the structured report is read from it.
  CHECK(pieces == std::vector<std::string>{report.text});
  CHECK(report.structured["text"] == report.text);

  options.candidates = -1;
  test::check_message(test::error_from([&] { session.generate(images, options); }), ErrorCode::InvalidArgument,
                      "candidates is -1, expected 0 (the bundle's) or more");
  options.candidates = kMaxReportCandidates + 1;
  test::check_message(test::error_from([&] { session.generate(images, options); }), ErrorCode::InvalidArgument,
                      "candidates is 129, expected at most 128");
  options.candidates = 2;
  options.candidate_temperature = 0.0f;
  test::check_message(test::error_from([&] { session.generate(images, options); }), ErrorCode::InvalidArgument,
                      "candidate_temperature is 0, expected > 0 when 2 drafts are sampled");
  options.candidate_temperature = 1.0f;
  options.evidence_weight = kMaxEvidenceWeight * 2;
  test::check_message(test::error_from([&] { session.generate(images, options); }), ErrorCode::InvalidArgument,
                      "evidence_weight is 200, expected at most 100");
  options.evidence_weight = std::nanf("");
  test::check_message(test::error_from([&] { session.generate(images, options); }), ErrorCode::InvalidArgument,
                      "evidence_weight is nan");
}

TEST_CASE("returning false from on_text stops the report; should_abort aborts with Error(Aborted)") {
  ReportSession session(model(), 1);
  ReportOptions options = greedy();
  int pieces = 0;
  options.on_text = [&](std::string_view) { return ++pieces < 3; };
  const Report stopped = session.generate(study(), options);
  CHECK(pieces == 3);
  CHECK(stopped.generated_tokens <= 3);
  options.on_text = nullptr;
  options.should_abort = [] { return true; };
  CHECK(test::error_from([&] { session.generate(study(), options); }).code() == ErrorCode::Aborted);
}

TEST_CASE("the text-only route writes a report from the findings alone; nothing at all is refused") {
  ReportSession session(model(), 1);
  ReportOptions options = greedy();
  options.findings = "CFP OD: microaneurysms; C/D 0.4";
  const Report report = session.generate({}, options);
  CHECK(report.generated_tokens > 0);
  CHECK(report.image_checks.empty());
  options.findings.clear();
  test::check_message(test::error_from([&] { session.generate({}, options); }), ErrorCode::InvalidArgument,
                      "no images and no findings");
  options.lang = "fr";
  options.findings = "x";
  test::check_message(test::error_from([&] { session.generate({}, options); }), ErrorCode::InvalidArgument,
                      "writes reports in zh and en, not in 'fr'");
}

TEST_CASE("image checks: an image that looks like another modality is left out of the prompt") {
  ReportSession session(model(), 1);
  ReportOptions options = greedy();
  options.check_images = true;
  options.modality_threshold = 0.0f;  // every disagreement counts
  const std::vector<Image> images = study();
  const Report report = session.generate(images, options);
  REQUIRE(report.image_checks.size() == images.size());
  std::vector<Image> kept;
  for (size_t i = 0; i < images.size(); ++i) {
    const ImageCheck& c = report.image_checks[i];
    CHECK(c.given == images[i].modality());
    CHECK(c.used == (c.looks_like == c.given));
    CHECK(c.gradable_probability >= 0.0f);
    CHECK(c.gradable_probability <= 1.0f);
    if (c.used) kept.push_back(images[i]);
  }
  CHECK(report.structured["image_checks"].size() == images.size());
  if (!kept.empty()) {
    ReportOptions plain = greedy();
    CHECK(session.generate(kept, plain).text == report.text);  // the left-out image played no part
  }
}

TEST_CASE("with prompt.heads_findings the heads' reading of each image follows the findings in the prompt") {
  const std::string dir = test::work_dir() + "/random-bundle-heads-findings";
  std::filesystem::remove_all(dir);
  std::filesystem::copy(bundle_dir(), dir);
  nlohmann::json manifest;
  {
    std::ifstream in(dir + "/ophtha-bundle.json");
    manifest = nlohmann::json::parse(in);
  }
  manifest["prompt"]["heads_findings"] = true;
  std::ofstream(dir + "/ophtha-bundle.json") << manifest.dump(2);
  const std::shared_ptr<const ReportModel> guided = ReportModel::load(dir);
  REQUIRE(guided->bundle().prompt.heads_findings);

  ReportSession session(guided, 1);
  const std::vector<Image> images = study();
  ReportOptions options = greedy();  // image checks off: the heads still read the images for the prompt
  options.findings = "IOP 18 mmHg OD";
  const Report report = session.generate(images, options);

  std::vector<at::Tensor> embeddings, pooled;
  for (const Image& image : images) {
    const ImageEmbedding e = guided->embedder(image.modality()).embed_images({image})[0];
    embeddings.push_back(e.embedding);
    pooled.push_back(e.pooled);
  }
  const std::vector<HeadPrediction> read = guided->heads()->predict(guided->heads()->forward(at::stack(pooled)));
  const std::string findings =
      with_heads_findings(options.findings, read, {{Modality::Cfp, Eye::OD}, {Modality::Oct, Eye::OS}}, "en");
  CHECK(findings.find("IOP 18 mmHg OD\nimage reading: CFP OD: ") == 0);
  CHECK(findings.find("\nimage reading: OCT OS: ") != std::string::npos);
  const GenerateResult expected = greedy_after_prompt(*guided, images, embeddings, findings);
  CHECK(report.prompt_tokens == expected.prompt_tokens);
  CHECK(report.text == without_dummy_prefix(expected.text));
  ReportSession plain(model(), 1);
  CHECK(report.prompt_tokens > plain.generate(images, options).prompt_tokens);
}

TEST_CASE("recognise_modality picks the modality the heads find most likely under its own preprocessing") {
  const Image image = pattern(100, 60, 1, Modality::Cfp, Eye::OD, 5);
  const Modality got = model()->recognise_modality(image);
  float best = -1;
  Modality expected = Modality::Cfp;
  for (Modality m : {Modality::Cfp, Modality::Oct, Modality::Osa}) {
    Image as_m = image;
    as_m.set_modality(m);
    const at::Tensor pooled = model()->embedder(m).embed_images({as_m})[0].pooled;
    const float p = at::softmax(model()->heads()->forward(pooled.unsqueeze(0)).modality, 1)[0][static_cast<int>(m)]
                        .item<float>();
    if (p > best) best = p, expected = m;
  }
  CHECK(got == expected);
}

TEST_CASE("a bundle whose parts do not fit together is refused, naming the sizes") {
  const std::string source = bundle_dir();
  const std::string broken = test::work_dir() + "/random-bundle-misfit";
  std::filesystem::remove_all(broken);
  std::filesystem::copy(source, broken);
  const std::string other_llm = test::test_model(
      "bundle-misfit-llm", "--format gguf --type f32 --dim 32 --layers 1 --heads 4 --kv-heads 2 --ffn 64 --seed 1");
  std::filesystem::copy_file(other_llm, broken + "/llm.gguf", std::filesystem::copy_options::overwrite_existing);
  const Error e = test::error_from([&] { ReportModel::load(broken); });
  CHECK(e.code() == ErrorCode::InvalidArgument);
  INFO(e.what());
  CHECK(std::string(e.what()).find("32") != std::string::npos);
  CHECK(std::string(e.what()).find("64") != std::string::npos);
}

namespace {

// A copy of the random bundle with a disc reader: the bundle's own encoder, and heads of their
// own whose disc-haemorrhage logit is +20 whatever the image (and rim thinning −20), so that the
// reader's reading is known.
std::string bundle_with_disc_reader() {
  const std::string dir = test::work_dir() + "/random-bundle-disc-reader";
  std::filesystem::remove_all(dir);
  std::filesystem::copy(bundle_dir(), dir);
  std::filesystem::copy_file(dir + "/encoder.safetensors", dir + "/disc-encoder.safetensors");
  AuxiliaryHeads heads = AuxiliaryHeads::random(model()->encoder().channels(), 11);
  {
    at::NoGradGuard no_grad;
    for (const auto& [name, t] : heads.named_parameters()) {
      if (name == "heads.findings.weight") t.zero_();
      if (name == "heads.findings.bias") {
        t[static_cast<int64_t>(Finding::DiscHaemorrhage)].fill_(20.0f);
        t[static_cast<int64_t>(Finding::RimThinning)].fill_(-20.0f);
      }
    }
  }
  heads.save(dir + "/disc-heads.safetensors");
  ModelBundle b = read_bundle_manifest(dir);
  BundleRegionReader r;
  r.encoder_arch = b.encoder_arch;
  r.encoder = "disc-encoder.safetensors";
  r.heads = "disc-heads.safetensors";
  r.preprocessing.size = 48;
  r.preprocessing.region = PreprocessRegion::OpticDisc;
  r.findings = {Finding::DiscHaemorrhage, Finding::RimThinning};
  b.disc_reader = r;
  b.prompt.heads_findings = true;
  write_bundle_manifest(b);
  return dir;
}

}  // namespace

TEST_CASE("a disc reader's reading of its findings replaces the main heads' for each CFP image, the rest stays") {
  const std::shared_ptr<const ReportModel> reader = ReportModel::load(bundle_with_disc_reader());
  REQUIRE(reader->disc_heads() != nullptr);
  const std::vector<Image> images = {pattern(96, 80, 3, Modality::Cfp, Eye::OD, 1),
                                     pattern(120, 50, 1, Modality::Oct, Eye::OS, 2),
                                     pattern(90, 90, 3, Modality::Cfp, Eye::OS, 3)};
  std::vector<at::Tensor> pooled;
  for (const Image& image : images) pooled.push_back(reader->embedder(image.modality()).embed_images({image})[0].pooled);
  const std::vector<HeadPrediction> main = reader->heads()->predict(reader->heads()->forward(at::stack(pooled)));
  std::vector<HeadPrediction> applied = main;
  reader->apply_region_readers(images, applied);

  // What the reader's encoder and heads make of the disc crop, computed here from the parts.
  const std::unique_ptr<VisionEncoder> disc_encoder = load_vision_encoder(
      reader->bundle().path_of("disc-encoder.safetensors"), parse_encoder_arch(reader->bundle().encoder_arch));
  for (size_t i : {size_t{0}, size_t{2}}) {
    const at::Tensor crop = preprocess(images[i], reader->bundle().disc_reader->preprocessing);
    const HeadPrediction own =
        reader->disc_heads()->predict(reader->disc_heads()->forward(disc_encoder->encode(crop.unsqueeze(0)).pooled))[0];
    for (Finding f : {Finding::DiscHaemorrhage, Finding::RimThinning}) {
      const auto j = static_cast<size_t>(f);
      CHECK(applied[i].finding_probability[j] == doctest::Approx(own.finding_probability[j]));
      CHECK(applied[i].finding_threshold[j] == own.finding_threshold[j]);
    }
    CHECK(applied[i].finding_present(Finding::DiscHaemorrhage));
    CHECK_FALSE(applied[i].finding_present(Finding::RimThinning));
    for (Finding f : {Finding::Microaneurysms, Finding::EnlargedCup, Finding::HardExudates})
      CHECK(applied[i].finding_probability[static_cast<size_t>(f)] == main[i].finding_probability[static_cast<size_t>(f)]);
    CHECK((applied[i].grade == main[i].grade));
    CHECK(applied[i].gradable_probability == main[i].gradable_probability);
  }
  CHECK((applied[1].finding_probability == main[1].finding_probability));  // the OCT image is not the reader's

  // The report's prompt carries the reader's reading (prompt.heads_findings).
  const std::vector<HeadsFindingsImage> described = {
      {Modality::Cfp, Eye::OD}, {Modality::Oct, Eye::OS}, {Modality::Cfp, Eye::OS}};
  const std::string findings = with_heads_findings("", applied, described, "en");
  CHECK(findings != with_heads_findings("", main, described, "en"));
  std::vector<at::Tensor> embeddings;
  for (const Image& image : images) embeddings.push_back(reader->embedder(image.modality()).embed_images({image})[0].embedding);
  const GenerateResult expected = greedy_after_prompt(*reader, images, embeddings, findings);
  ReportSession session(reader, 1);
  const Report report = session.generate(images, greedy());
  CHECK(report.prompt_tokens == expected.prompt_tokens);
  CHECK(report.text == without_dummy_prefix(expected.text));

  std::vector<HeadPrediction> too_few(1);
  const Error e = test::error_from([&] { reader->apply_region_readers(images, too_few); });
  CHECK(e.code() == ErrorCode::InvalidArgument);
  CHECK_MESSAGE(std::string(e.what()).find("1 predictions for 3 images") != std::string::npos, e.what());
}

TEST_CASE("a tile reader reads its findings as the largest over each CFP image's tiles, beside the disc reader") {
  const std::string dir = test::work_dir() + "/random-bundle-tile-reader";
  std::filesystem::remove_all(dir);
  std::filesystem::copy(bundle_with_disc_reader(), dir);
  std::filesystem::copy_file(dir + "/encoder.safetensors", dir + "/tile-encoder.safetensors");
  // Heads of their own whose findings logits vary with the image (random weights), scaled up so
  // that tiles differ clearly.
  AuxiliaryHeads tile_heads = AuxiliaryHeads::random(model()->encoder().channels(), 12);
  {
    at::NoGradGuard no_grad;
    for (const auto& [name, t] : tile_heads.named_parameters())
      if (name == "heads.findings.weight") t.mul_(3.0f);
  }
  tile_heads.save(dir + "/tile-heads.safetensors");
  ModelBundle b = read_bundle_manifest(dir);
  BundleRegionReader r;
  r.encoder_arch = b.encoder_arch;
  r.encoder = "tile-encoder.safetensors";
  r.heads = "tile-heads.safetensors";
  r.preprocessing.size = 32;
  r.preprocessing.region = PreprocessRegion::Tiles;
  r.preprocessing.tile_grid = 2;
  r.preprocessing.tile_stride = 24;
  r.findings = {Finding::FlameHaemorrhages, Finding::Irma};
  b.tile_reader = r;
  write_bundle_manifest(b);

  const std::shared_ptr<const ReportModel> reader = ReportModel::load(dir);
  REQUIRE(reader->tile_heads() != nullptr);
  REQUIRE(reader->disc_heads() != nullptr);
  const std::vector<Image> images = {pattern(96, 80, 3, Modality::Cfp, Eye::OD, 4),
                                     pattern(120, 50, 1, Modality::Oct, Eye::OS, 5),
                                     pattern(90, 90, 3, Modality::Cfp, Eye::OS, 6)};
  std::vector<at::Tensor> pooled;
  for (const Image& image : images) pooled.push_back(reader->embedder(image.modality()).embed_images({image})[0].pooled);
  const std::vector<HeadPrediction> main = reader->heads()->predict(reader->heads()->forward(at::stack(pooled)));
  std::vector<HeadPrediction> applied = main;
  reader->apply_region_readers(images, applied);

  // Each tile cut here by hand from the 56 × 56 square, read by the reader's parts; the image's
  // probability is the largest sigmoid of the four tiles' logits.
  const std::unique_ptr<VisionEncoder> tile_encoder = load_vision_encoder(
      reader->bundle().path_of("tile-encoder.safetensors"), parse_encoder_arch(reader->bundle().encoder_arch));
  at::NoGradGuard no_grad;
  for (size_t i : {size_t{0}, size_t{2}}) {
    const at::Tensor square = preprocess(images[i], reader->bundle().tile_reader->preprocessing);
    REQUIRE(square.sizes() == at::IntArrayRef({3, 56, 56}));
    std::vector<at::Tensor> tiles;
    for (int64_t y : {0, 24})
      for (int64_t x : {0, 24}) tiles.push_back(square.slice(1, y, y + 32).slice(2, x, x + 32));
    const at::Tensor logits = reader->tile_heads()->forward(tile_encoder->encode(at::stack(tiles)).pooled).findings;
    const at::Tensor largest = std::get<0>(logits.sigmoid().max(0));  // (kFindingCount)
    const at::Tensor smallest = std::get<0>(logits.sigmoid().min(0));
    bool tiles_differ = false;
    for (Finding f : {Finding::FlameHaemorrhages, Finding::Irma}) {
      const auto j = static_cast<int64_t>(f);
      CHECK(applied[i].finding_probability[static_cast<size_t>(j)] == doctest::Approx(largest[j].item<float>()));
      CHECK(applied[i].finding_threshold[static_cast<size_t>(j)] == reader->tile_heads()->finding_thresholds()[static_cast<size_t>(j)]);
      tiles_differ = tiles_differ || largest[j].item<float>() - smallest[j].item<float>() > 1e-3f;
    }
    INFO("largest " << largest << " smallest " << smallest);
    CHECK(tiles_differ);  // the largest is not every tile's
    CHECK(applied[i].finding_present(Finding::DiscHaemorrhage));  // still the disc reader's
    for (Finding f : {Finding::Microaneurysms, Finding::HardExudates, Finding::Neovascularisation})
      CHECK(applied[i].finding_probability[static_cast<size_t>(f)] == main[i].finding_probability[static_cast<size_t>(f)]);
    CHECK((applied[i].grade == main[i].grade));
  }
  CHECK((applied[1].finding_probability == main[1].finding_probability));  // the OCT image is not the reader's
}
