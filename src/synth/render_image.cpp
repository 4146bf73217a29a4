// The renderer of an image's modality.
#include "ophtha/error.hpp"
#include "ophtha/synth.hpp"

namespace ophtha {

Image render_image(const EyeLabels& labels, Eye eye, Modality modality, Random& random,
                   std::vector<LesionMark>* lesions) {
  switch (modality) {
    case Modality::Cfp: return render_cfp(labels, eye, random, lesions);
    case Modality::Oct: return render_oct(labels, eye, random);
    case Modality::Osa: return render_osa(labels, eye, random);
  }
  fail(ErrorCode::InvalidArgument, "render_image: unknown modality {}", static_cast<int>(modality));
}

}  // namespace ophtha
