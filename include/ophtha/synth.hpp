// Synthetic ophthalmic images and datasets. Ophtha cannot ship real patient images, so tests,
// examples and training smoke runs use pictures drawn from an eye's ground-truth labels
// (ophtha/study.hpp): what the labels say is what the image shows. The data are synthetic and
// carry no clinical validity. What is drawn and how: docs/synthetic.md.
//
//   CFP  1024 × 1024 RGB: circular field of view on a dark border, optic disc nasal (right of the
//        image for OD, left for OS) with its cup at the labelled vertical CDR, macula and fovea,
//        arteries and veins, the labelled DR / AMD / disc lesions; blur and under-exposure when
//        CFP is ungradable.
//   OCT  1024 × 496 grey: a horizontal B-scan through the fovea (retinal layers, foveal pit,
//        speckle) with the labelled drusen, PED, subretinal and intraretinal fluid, CNV; weak
//        signal and heavy noise when ungradable.
//   OSA  1280 × 640 grey infrared meibography: the everted upper lid in the top half, the everted
//        lower lid in the bottom half (kOsaLidHalves), each with its glands; the gland-area loss of
//        each lid lies inside the band of its meiboscore.
//
// Randomness comes only from the Random passed in, so a seed names the pixels. Each renderer draws
// with cheap primitives (soft discs, capsules, separable blurs) and takes ~10–30 ms per image.
//
// Thread safety: every function is reentrant; the Random belongs to the caller's thread.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "ophtha/export.h"
#include "ophtha/image.hpp"
#include "ophtha/random.hpp"
#include "ophtha/study.hpp"

namespace ophtha {

// ---- one image ----------------------------------------------------------------------------

inline constexpr int kCfpSize = 1024;                       // CFP width = height
inline constexpr int kOctWidth = 1024, kOctHeight = 496;    // B-scan
inline constexpr int kOsaWidth = 1280, kOsaHeight = 640;    // meibography, both lids
// OSA layout: rows [0, kOsaHeight/2) show the upper lid, rows [kOsaHeight/2, kOsaHeight) the lower.
inline constexpr int kOsaLidHalves = 2;

// The gland-area loss (fraction of the tarsal plate without glands) drawn for a meiboscore:
// uniform inside [lo, hi], which keeps clear of the Arita band edges 0, 1/3 and 2/3.
struct GlandLossRange {
  double lo, hi;
};
OPHTHA_API GlandLossRange gland_loss_range(int meiboscore);  // meiboscore 0..3, else InvalidArgument

// Each renderer draws `eye`'s image of its modality from `labels`: the findings say which lesions
// appear, the grades how many or how much (ICDR 3: 4-2-1 haemorrhages; meiboscores: gland loss),
// vertical_cdr the cup. What the labels lack (an ungradable image has no grades) is drawn from
// `random`: vertical CDR 0.2–0.45, meiboscores 0–3. A modality in labels.ungradable is spoilt
// (CFP blur / under-exposure, OCT weak signal, OSA faint blurred glands under glare).
// Returns an 8-bit Image (RGB for CFP, grey for OCT and OSA) labelled with the modality and eye.
// `lesions` (CFP; may be null) is replaced by one LesionMark per lesion drawn: each microaneurysm,
// haemorrhage, exudate, cotton-wool spot, druse and pigment spot, each IRMA and new-vessel tangle,
// the geographic atrophy, the preretinal haemorrhage, the disc haemorrhage, and a point every
// 28 px along beaded veins. The cup (enlarged_cup, rim_thinning) has no marks. Marking draws no
// random number: the pixels are the same with or without it.
// Errors: Error(InvalidArgument) for a vertical CDR outside [0.05, 0.95] or a grade out of range.
OPHTHA_API Image render_cfp(const EyeLabels& labels, Eye eye, Random& random,
                            std::vector<LesionMark>* lesions = nullptr);
OPHTHA_API Image render_oct(const EyeLabels& labels, Eye eye, Random& random);
OPHTHA_API Image render_osa(const EyeLabels& labels, Eye eye, Random& random);
// Dispatches on `modality`; `lesions` is passed to render_cfp and left alone for OCT and OSA.
OPHTHA_API Image render_image(const EyeLabels& labels, Eye eye, Modality modality, Random& random,
                              std::vector<LesionMark>* lesions = nullptr);

// ---- encoding -------------------------------------------------------------------------------

// JPEG (baseline, 4:4:4) of an 8-bit grey or RGB image; quality 1..100.
OPHTHA_API std::vector<uint8_t> encode_jpeg(const Image& image, int quality = 92);
// PNG of an 8-bit grey, RGB or RGBA image (stb_image_write, per-row filter chosen by stb),
// deflated by zlib at a low level (kPngZlibLevel): the images carry speckle and grain, so higher
// levels cost time and save little.
// Errors (both): Error(InvalidArgument) for a 16-bit image or an out-of-range quality.
inline constexpr int kPngZlibLevel = 1;
OPHTHA_API std::vector<uint8_t> encode_png(const Image& image);

// ---- a dataset ------------------------------------------------------------------------------

struct SynthOptions {
  std::string out_dir;                        // created when missing; images go to out_dir/images/
  int64_t studies = 100;                      // 1 .. 999'999
  uint64_t seed = 0;
  std::vector<std::string> languages = {"zh", "en"};  // reference reports written per study
  double split[3] = {0.8, 0.1, 0.1};          // train, val, test fractions (sum 1)
  int threads = 2;                            // rendering threads; the output does not depend on it
  bool force = false;                         // allow a non-empty out_dir (our files are overwritten)
  // Polled between studies (may be null): once true, the workers finish the studies they are
  // building and synthesize_dataset throws Error(Aborted) without committing the manifest
  // (images already written stay). For a signal handler (Ctrl-C).
  const std::atomic<bool>* stop_requested = nullptr;
};

struct SynthProgress {
  int64_t studies_done = 0, studies_total = 0;
  int64_t images_written = 0;
  uint64_t bytes_written = 0;
  double seconds = 0;
};

struct SynthSummary {
  SynthProgress totals;
  int64_t split_counts[3] = {0, 0, 0};  // train, val, test
  std::string manifest_path;            // out_dir/manifest.jsonl
};

// Writes `options.studies` synthetic studies: study i (id "syn-" + six-digit i+1) samples its labels
// (sample_study_labels), renders one image per (eye, modality) it has to
// out_dir/images/<id>_<EYE>_<modality>.jpg (CFP, JPEG quality 90, 4:2:0) or .png (OCT, OSA),
// the lesion marks of each CFP (StudyImage::lesions; OCT and OSA images are not annotated),
// writes the instrument findings text of each image (in Chinese when `languages` has "zh", else
// English), the reference reports in `languages`, its split (its own uniform draw against
// options.split) and, last, out_dir/manifest.jsonl (ManifestWriter).
// Study i uses only Random(seed).fork(i), so the bytes written depend on the seed alone, not on
// `threads`. Every file is written atomically (temporary file + rename); the images are flushed
// to disk (one syncfs) before the manifest is committed, so a manifest never names a missing
// image. Files not named above are never touched, nor deleted. `progress` (may be empty) is called from the calling thread at most ~4 times a second
// and once at the end.
// Errors: Error(InvalidArgument) for out-of-range options (naming the option), for a non-empty
// out_dir without `force`; Error(Io) from the file system; Error(Aborted) when stop_requested.
OPHTHA_API SynthSummary synthesize_dataset(const SynthOptions& options,
                                           const std::function<void(const SynthProgress&)>& progress = {});

// The image file name of one study image (relative to out_dir): "images/<id>_<EYE>_<modality>.<ext>".
OPHTHA_API std::string synth_image_path(std::string_view study_id, Eye eye, Modality modality);

}  // namespace ophtha
