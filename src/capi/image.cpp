// ophtha_image: decoded or copied pixels with their modality and eye.
#include "capi/boundary.hpp"
#include "capi/handles.hpp"

namespace ophtha::capi {
namespace {

struct PixelLayout {
  int channels;
  int bit_depth;
};

PixelLayout layout_of(ophtha_pixel_format format) {
  switch (format) {
    case OPHTHA_PIXEL_GRAY8: return {1, 8};
    case OPHTHA_PIXEL_GRAY16: return {1, 16};
    case OPHTHA_PIXEL_RGB8: return {3, 8};
    case OPHTHA_PIXEL_RGBA8: return {4, 8};
    case OPHTHA_PIXEL_RGB16: return {3, 16};
    case OPHTHA_PIXEL_RGBA16: return {4, 16};
    default:
      fail(ErrorCode::InvalidArgument,
           "format is {}, expected an OPHTHA_PIXEL_* value: GRAY8 1, GRAY16 2, RGB8 3, RGBA8 4, RGB16 5, RGBA16 6",
           format);
  }
}

ophtha_pixel_format format_of(const Image& image) {
  const bool wide = image.bit_depth() == 16;
  switch (image.channels()) {
    case 1: return wide ? OPHTHA_PIXEL_GRAY16 : OPHTHA_PIXEL_GRAY8;
    case 3: return wide ? OPHTHA_PIXEL_RGB16 : OPHTHA_PIXEL_RGB8;
    default: return wide ? OPHTHA_PIXEL_RGBA16 : OPHTHA_PIXEL_RGBA8;
  }
}

Modality modality_of(ophtha_modality modality) {
  switch (modality) {
    case OPHTHA_MODALITY_CFP: return Modality::Cfp;
    case OPHTHA_MODALITY_OCT: return Modality::Oct;
    case OPHTHA_MODALITY_OSA: return Modality::Osa;
    default:
      fail(ErrorCode::InvalidArgument, "modality is {}, expected OPHTHA_MODALITY_CFP 1, OCT 2 or OSA 3", modality);
  }
}

Eye eye_of(ophtha_eye eye) {
  switch (eye) {
    case OPHTHA_EYE_OD: return Eye::OD;
    case OPHTHA_EYE_OS: return Eye::OS;
    default: fail(ErrorCode::InvalidArgument, "eye is {}, expected OPHTHA_EYE_OD 1 or OPHTHA_EYE_OS 2", eye);
  }
}

void hand_out(Image image, ophtha_image** out_image) {
  *out_image = new ophtha_image{std::move(image)};
}

}  // namespace
}  // namespace ophtha::capi

using namespace ophtha;
using namespace ophtha::capi;

extern "C" {

ophtha_status ophtha_image_load_file(const char* path, ophtha_modality modality, ophtha_eye eye,
                                     ophtha_image** out_image) {
  return guarded("ophtha_image_load_file", [&] {
    require(path, "path");
    require(out_image, "out_image");
    hand_out(Image::decode_file(path, modality_of(modality), eye_of(eye)), out_image);
  });
}

ophtha_status ophtha_image_load_memory(const void* bytes, size_t size, ophtha_modality modality, ophtha_eye eye,
                                       ophtha_image** out_image) {
  return guarded("ophtha_image_load_memory", [&] {
    require(bytes, "bytes");
    require(out_image, "out_image");
    hand_out(Image::decode_memory(bytes, size, modality_of(modality), eye_of(eye)), out_image);
  });
}

ophtha_status ophtha_image_from_pixels(const void* pixels, int32_t width, int32_t height, size_t row_stride,
                                       ophtha_pixel_format format, ophtha_modality modality, ophtha_eye eye,
                                       ophtha_image** out_image) {
  return guarded("ophtha_image_from_pixels", [&] {
    require(pixels, "pixels");
    require(out_image, "out_image");
    const PixelLayout layout = layout_of(format);
    hand_out(Image::from_pixels(pixels, width, height, row_stride, layout.channels, layout.bit_depth,
                                modality_of(modality), eye_of(eye)),
             out_image);
  });
}

void ophtha_image_free(ophtha_image* image) { delete image; }

int32_t ophtha_image_width(const ophtha_image* image) { return image ? image->image.width() : 0; }

int32_t ophtha_image_height(const ophtha_image* image) { return image ? image->image.height() : 0; }

ophtha_pixel_format ophtha_image_format(const ophtha_image* image) { return image ? format_of(image->image) : 0; }

ophtha_modality ophtha_image_modality(const ophtha_image* image) {
  if (!image) return 0;
  switch (image->image.modality()) {
    case Modality::Cfp: return OPHTHA_MODALITY_CFP;
    case Modality::Oct: return OPHTHA_MODALITY_OCT;
    case Modality::Osa: return OPHTHA_MODALITY_OSA;
  }
  return 0;
}

ophtha_eye ophtha_image_eye(const ophtha_image* image) {
  if (!image) return 0;
  return image->image.eye() == Eye::OD ? OPHTHA_EYE_OD : OPHTHA_EYE_OS;
}

const void* ophtha_image_pixels(const ophtha_image* image) {
  if (!image) return nullptr;
  const Image& i = image->image;
  return i.bit_depth() == 16 ? static_cast<const void*>(i.pixels16()) : static_cast<const void*>(i.pixels8());
}

}  // extern "C"
