// The auxiliary heads' reading of an image, written as a line of findings text for the prompt.
//
// A bundle with "prompt": {"heads_findings": true} (model_bundle.hpp) puts one such line per image
// into the prompt's "{findings}", after any instruments' findings text, and the multimodal stage
// trains with them (docs/training.md, "data.heads_findings"). The language model then reads the
// heads' findings and grades as text besides the projected image tokens — as DeepDR-LLM turns its
// image model's grades into prompt text (../shared/research/paper_and_peers.md).
//
// A line is the instrument line of report_writer.hpp for the labels the heads predict, prefixed
// and followed by the grades the heads give on the modality's scales, e.g.
//   en  "image reading: CFP OD: microaneurysms; dot-blot haemorrhages; quality good; icdr 2; areds 0; cup_disc 1"
//   zh  "图像判读：眼底彩照 右眼：微动脉瘤；点片状出血；图像质量良好；icdr 2；areds 0；cup_disc 1"
// An image the heads find ungradable (gradable probability < 0.5) reads "quality poor, ungradable"
// with no findings and no grades. The heads give the cup-to-disc stage, not the ratio, so the line
// states no C/D ratio.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "ophtha/auxiliary_heads.hpp"
#include "ophtha/export.h"
#include "ophtha/modality.hpp"
#include "ophtha/study.hpp"

namespace ophtha {

// The labels the heads predict for one image of `modality`: findings of that modality the heads
// read as present (HeadPrediction::finding_present), the argmax grade of each of its scales —
// raised, on an ordinal scale, to the level defined (implied_level of label_sampler.hpp) by the
// findings read that are also more likely present than not (score ≥ 0.5; a calibrated threshold
// below 0.5 lists a finding, it does not overrule a grade head): new vessels or vitreous
// haemorrhage are PDR whatever the ICDR head says, IRMA or venous beading (the 4-2-1 features,
// which the labels state only at their extent) at least severe NPDR, large drusen at least
// AREDS 3 — or ungradable.
OPHTHA_API EyeLabels heads_reading(const HeadPrediction& prediction, Modality modality);

// The line above for one image. lang "zh" or "en"; Error(InvalidArgument) otherwise. Deterministic.
OPHTHA_API std::string heads_findings_line(const HeadPrediction& prediction, Modality modality, Eye eye,
                                           std::string_view lang);

struct HeadsFindingsImage {
  Modality modality;
  Eye eye;
};

// `instruments` (may be empty) followed by one heads_findings_line per image, '\n'-separated.
// predictions.size() must equal images.size() (Error(InvalidArgument) otherwise).
OPHTHA_API std::string with_heads_findings(const std::string& instruments, const std::vector<HeadPrediction>& predictions,
                                           const std::vector<HeadsFindingsImage>& images, std::string_view lang);

// A tile reader's reading of one photograph from its tiles' (fundus_tiles.hpp): each finding's
// pooled probability and lesion-map peak are the largest over the tiles — a lesion seen in any
// tile is in the photograph. Everything else (modality, gradability, grades, thresholds and
// sources) is the first tile's: a tile reader reads findings only. Error(InvalidArgument) for no
// tiles.
OPHTHA_API HeadPrediction max_over_tiles(const HeadPrediction* tiles, size_t count);

}  // namespace ophtha
