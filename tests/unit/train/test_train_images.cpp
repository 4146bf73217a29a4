// The images a vision run trains on (train/train_images.hpp): lesion marks go to the grid cell of
// their place in the preprocessed square, and a lesion map is supervised exactly where it is known.
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
