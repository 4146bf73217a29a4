// Choosing and joining written forms (wording.hpp).
#include "report/wording.hpp"

namespace ophtha::report_detail {

const std::string& choose(const std::vector<std::string>& forms, Random* rng) {
  if (rng == nullptr || forms.size() == 1) return forms.front();
  return forms[static_cast<size_t>(rng->integer(0, static_cast<int64_t>(forms.size()) - 1))];
}

std::string join_list(const std::vector<std::string>& items, Lang lang, const char* conjunction) {
  const std::string last = conjunction ? conjunction : (lang == Lang::En ? "and" : "及");
  const std::string comma = lang == Lang::En ? ", " : "、";
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += i + 1 == items.size() ? (lang == Lang::En ? " " + last + " " : last) : comma;
    out += items[i];
  }
  return out;
}

std::string capitalised(std::string text) {
  if (!text.empty() && text[0] >= 'a' && text[0] <= 'z') text[0] = static_cast<char>(text[0] - 'a' + 'A');
  return text;
}

std::string modality_in_text(Modality modality, Lang lang, Random* rng) {
  std::string name = choose(modality_phrases(modality)[lang].written, rng);
  // "Colour fundus photograph" → "colour fundus photograph"; acronyms ("OCT", "CFP") stay.
  if (name.size() > 1 && name[0] >= 'A' && name[0] <= 'Z' && name[1] >= 'a' && name[1] <= 'z')
    name[0] = static_cast<char>(name[0] - 'A' + 'a');
  return name;
}

}  // namespace ophtha::report_detail
