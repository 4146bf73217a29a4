// The images a vision run trains on (train/train_images.hpp): lesion marks go to the grid cell of
// their place in the preprocessed square, a lesion map is supervised exactly where it is known, and
// a tile reader's tile targets come from the marks inside the tile.
#include "support/doctest_with_aten.hpp"

#include <filesystem>

#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb_image_write.h>

#include "ophtha/manifest.hpp"
#include "support/expect_error.hpp"
#include "train/train_images.hpp"

using namespace ophtha;

namespace {

// One study, one 200 × 100 grey OCT of OD whose eye holds subretinal fluid (marked at `marks`) and
// intraretinal fluid (unmarked); written to a fresh folder as manifest.jsonl + a.png.
Manifest oct_study(const std::string& name, std::optional<std::vector<LesionMark>> marks) {
  const std::string dir = std::string(OPHTHA_TEST_WORK_DIR) + "/train-images-" + name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::vector<uint8_t> grey(200 * 100, 90);
  REQUIRE(stbi_write_png((dir + "/a.png").c_str(), 200, 100, 1, grey.data(), 200) != 0);
  Study study;
  study.id = "s1";
  study.images = {{"a.png", Modality::Oct, Eye::OD, "", std::move(marks)}};
  EyeLabels& eye = study.labels.eyes[Eye::OD];
  eye.findings = {Finding::SubretinalFluid, Finding::IntraretinalFluid};
  eye.imaged = {Modality::Oct};
  eye.grades = {{GradeScale::OctClass, 2}, {GradeScale::OctAmd, 0}};
  eye.referral = referral_for(eye);
  study.reports = {{"en", "DME."}};
  ManifestWriter writer(dir + "/manifest.jsonl");
  writer.append(study);
  writer.commit();
  return read_manifest(dir + "/manifest.jsonl");
}

}  // namespace

TEST_CASE("a lesion mark lies in the grid cell of its place in the preprocessed square") {
  // The 200 × 100 OCT is centred in a 200-px square: rows −50 … 150. A mark at (150, 75) is at
  // u = 0.75, v = (75 + 50) / 200 = 0.625: on a 4 × 4 grid, column 3 of row 2 (token 11).
  // One at (10, 2) is at u = 0.05, v = 0.26: column 0 of row 1 (token 4).
  const Manifest manifest = oct_study("cells", std::vector<LesionMark>{{Finding::SubretinalFluid, 150, 75, 4},
                                                                       {Finding::SubretinalFluid, 10, 2, 1}});
  std::vector<train::TrainImage> images = train::images_of(manifest, train::studies_in(manifest, {Split::Train}));
  REQUIRE(images.size() == 1);
  std::vector<train::LesionPoints> points;
  train::preprocess_images(images, train::training_preprocess(32), 1, at::kFloat, &points);
  REQUIRE(points.size() == 1);
  CHECK(points[0].annotated);
  const LesionTargets t = train::lesion_targets(images, points, {0, 0}, 4, 4);
  REQUIRE(t.cells.sizes() == at::IntArrayRef({2, 16, kFindingCount}));
  const auto srf = static_cast<int64_t>(Finding::SubretinalFluid), irf = static_cast<int64_t>(Finding::IntraretinalFluid);
  const at::Tensor map = t.cells[1].select(1, srf);
  CHECK(map.sum().item<float>() == 2);
  CHECK(map[11].item<float>() == 1);
  CHECK(map[4].item<float>() == 1);
  CHECK(t.cells.sum().item<float>() == 4);  // both batch entries, nothing else
  // Supervised: the marked finding, and the OCT findings the eye lacks; not the unmarked
  // intraretinal fluid (present, place unknown), nor any finding of another modality.
  CHECK(t.supervised[0][srf].item<float>() == 1);
  CHECK(t.supervised[0][irf].item<float>() == 0);
  CHECK(t.supervised[0][static_cast<int64_t>(Finding::OctDrusen)].item<float>() == 1);
  CHECK(t.supervised[0][static_cast<int64_t>(Finding::Microaneurysms)].item<float>() == 0);
  CHECK(t.supervised.sum().item<float>() == 2 * 4);  // 5 OCT findings less the unmarked one, twice
}

TEST_CASE("an image without lesion marks supervises no map; a mark outside its image is refused by name") {
  const Manifest plain = oct_study("plain", std::nullopt);
  std::vector<train::TrainImage> images = train::images_of(plain, train::studies_in(plain, {Split::Train}));
  std::vector<train::LesionPoints> points;
  train::preprocess_images(images, train::training_preprocess(32), 1, at::kFloat, &points);
  CHECK_FALSE(points[0].annotated);
  CHECK(train::lesion_targets(images, points, {0}, 2, 2).supervised.sum().item<float>() == 0);

  const Manifest outside = oct_study("outside", std::vector<LesionMark>{{Finding::SubretinalFluid, 10, 120, 2}});
  images = train::images_of(outside, train::studies_in(outside, {Split::Train}));
  test::check_message(
      test::error_from([&] { train::preprocess_images(images, train::training_preprocess(32), 1, at::kFloat, &points); }),
      ErrorCode::InvalidFormat, "study s1 image 0 (");
  test::check_message(
      test::error_from([&] { train::preprocess_images(images, train::training_preprocess(32), 1, at::kFloat, &points); }),
      ErrorCode::InvalidFormat, "lesions[0] at (10, 120) lies outside the 200 × 100 image");
}

TEST_CASE("a tile's target of a reader finding comes from where its marks lie, unknown where it has none") {
  PreprocessOptions tiles;
  tiles.size = 64;
  tiles.region = PreprocessRegion::Tiles;
  tiles.tile_grid = 2;
  tiles.tile_stride = 32;  // T = 96: tile 0 covers u, v in [0, 2/3), tile 3 [1/3, 1)
  ImageTargets image;
  image.modality = static_cast<int>(Modality::Cfp);
  image.findings.fill(0);
  image.grades.fill(1);
  image.findings[static_cast<size_t>(Finding::FlameHaemorrhages)] = 1;  // marked at the top left
  image.findings[static_cast<size_t>(Finding::Irma)] = 1;               // shown, never marked
  image.findings[static_cast<size_t>(Finding::Microaneurysms)] = 1;     // marked, not the reader's
  image.findings[static_cast<size_t>(Finding::HardExudates)] = -1;      // not applicable
  train::LesionPoints points;
  points.annotated = true;
  points.points = {{Finding::FlameHaemorrhages, {0.1f, 0.2f}}, {Finding::Microaneurysms, {0.9f, 0.9f}}};
  const std::vector<Finding> reader = {Finding::FlameHaemorrhages, Finding::Irma, Finding::CottonWoolSpots,
                                       Finding::HardExudates};
  const auto target = [](const train::TileTargets& t, Finding f) { return t.targets.findings[static_cast<size_t>(f)]; };

  const train::TileTargets top_left = train::tile_targets(image, points, tile_bounds(tiles, 0), reader);
  CHECK(target(top_left, Finding::FlameHaemorrhages) == 1);
  CHECK(target(top_left, Finding::Irma) == -1);           // present, but where is unknown
  CHECK(target(top_left, Finding::CottonWoolSpots) == 0);  // absent from the photograph
  CHECK(target(top_left, Finding::HardExudates) == -1);
  CHECK(target(top_left, Finding::Microaneurysms) == -1);  // not the reader's: no loss
  CHECK(top_left.targets.grades[0] == -1);
  CHECK(top_left.targets.modality == image.modality);
  REQUIRE(top_left.points.points.size() == 1);  // the flame mark, in the tile's own fractions
  CHECK(top_left.points.points[0].second[0] == doctest::Approx(0.1 * 96 / 64));
  CHECK(top_left.points.points[0].second[1] == doctest::Approx(0.2 * 96 / 64));

  const train::TileTargets bottom_right = train::tile_targets(image, points, tile_bounds(tiles, 3), reader);
  CHECK(target(bottom_right, Finding::FlameHaemorrhages) == 0);  // marked only elsewhere
  REQUIRE(bottom_right.points.points.size() == 1);              // the microaneurysm, at (0.9·96 − 32) / 64
  CHECK(bottom_right.points.points[0].second[0] == doctest::Approx((0.9 * 96 - 32) / 64));

  // An image without marks: every present finding unknown.
  train::LesionPoints none;
  CHECK(target(train::tile_targets(image, none, tile_bounds(tiles, 0), reader), Finding::FlameHaemorrhages) == -1);

  // The tiles a marked tile is drawn from: those holding a present reader finding's mark.
  CHECK((train::tiles_with_marks(image, points, tiles, reader) == std::vector<int>{0}));
  CHECK((train::tiles_with_marks(image, points, tiles, {Finding::Microaneurysms}) == std::vector<int>{3}));
  image.findings[static_cast<size_t>(Finding::FlameHaemorrhages)] = 0;  // a mark of an absent finding holds nothing
  CHECK(train::tiles_with_marks(image, points, tiles, reader).empty());
}
