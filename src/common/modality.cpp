// Modality and eye names.
#include <cctype>

#include "ophtha/error.hpp"
#include "ophtha/modality.hpp"

namespace ophtha {

const char* modality_name(Modality modality) {
  switch (modality) {
    case Modality::Cfp: return "cfp";
    case Modality::Oct: return "oct";
    case Modality::Osa: return "osa";
  }
  return "?";
}

static std::string lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

Modality parse_modality(const std::string& text) {
  const std::string key = lower(text);
  if (key == "cfp") return Modality::Cfp;
  if (key == "oct") return Modality::Oct;
  if (key == "osa") return Modality::Osa;
  fail(ErrorCode::InvalidArgument, "unknown modality '{}', expected cfp, oct or osa", text);
}

const char* eye_name(Eye eye) { return eye == Eye::OD ? "OD" : "OS"; }

Eye parse_eye(const std::string& text) {
  const std::string key = lower(text);
  if (key == "od") return Eye::OD;
  if (key == "os") return Eye::OS;
  fail(ErrorCode::InvalidArgument, "unknown eye '{}', expected OD or OS", text);
}

}  // namespace ophtha
