// The imaging modality and the eye that travel with every image, report and label.
// A light header (no LibTorch): the study, report and evaluation code use it too.
#pragma once
#include <string>

#include "ophtha/export.h"

namespace ophtha {

// The three instruments of the Ophtha-LLaMA2 study.
enum class Modality {
  Cfp,  // colour fundus photograph: a circular field of view on a dark border
  Oct,  // optical coherence tomography B-scan: grey, usually wider than tall
  Osa,  // ocular surface analyser / meibography: grey infrared image of the everted eyelid
};

enum class Eye {
  OD,  // oculus dexter, right eye
  OS,  // oculus sinister, left eye
};

// "cfp" / "oct" / "osa" and "OD" / "OS"; the parsers accept either case and throw
// Error(InvalidArgument) naming the text and the accepted values.
OPHTHA_API const char* modality_name(Modality modality);
OPHTHA_API Modality parse_modality(const std::string& text);
OPHTHA_API const char* eye_name(Eye eye);
OPHTHA_API Eye parse_eye(const std::string& text);

}  // namespace ophtha
