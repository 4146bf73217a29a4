// _ophtha.Image (ophtha_image): decoded files and numpy frames in, numpy views out.
#include <pybind11/numpy.h>

#include <memory>
#include <string>

#include "bindings.hpp"

namespace ophtha_python {
namespace {

struct PixelLayout {
  int channels;
  int bytes_per_sample;
};

PixelLayout layout_of(ophtha_pixel_format format) {
  switch (format) {
    case OPHTHA_PIXEL_GRAY8: return {1, 1};
    case OPHTHA_PIXEL_GRAY16: return {1, 2};
    case OPHTHA_PIXEL_RGB8: return {3, 1};
    case OPHTHA_PIXEL_RGBA8: return {4, 1};
    case OPHTHA_PIXEL_RGB16: return {3, 2};
    case OPHTHA_PIXEL_RGBA16: return {4, 2};
    default: return {0, 0};
  }
}

ophtha_pixel_format format_of(int channels, int bytes_per_sample) {
  switch (channels) {
    case 1: return bytes_per_sample == 1 ? OPHTHA_PIXEL_GRAY8 : OPHTHA_PIXEL_GRAY16;
    case 3: return bytes_per_sample == 1 ? OPHTHA_PIXEL_RGB8 : OPHTHA_PIXEL_RGB16;
    default: return bytes_per_sample == 1 ? OPHTHA_PIXEL_RGBA8 : OPHTHA_PIXEL_RGBA16;
  }
}

[[noreturn]] void invalid(const std::string& message) {
  raise_status(OPHTHA_STATUS_INVALID_ARGUMENT, "Image.from_array: " + message);
}

std::string shape_of(const py::array& a) {
  std::string s = "(";
  for (py::ssize_t i = 0; i < a.ndim(); ++i) s += (i ? ", " : "") + std::to_string(a.shape(i));
  return s + (a.ndim() == 1 ? ",)" : ")");
}

// An immutable image; the pixels are shared with every numpy view to_array() handed out, so
// they outlive close() as long as a view does.
class Image {
 public:
  explicit Image(ophtha_image* handle) : handle_(handle, ophtha_image_free) {}

  static Image from_file(const std::string& path, ophtha_modality modality, ophtha_eye eye) {
    require_no_nul(path, "path");
    return made([&](ophtha_image** out) {
      return ophtha_image_load_file(path.c_str(), modality, eye, out);
    });
  }

  static Image from_bytes(const py::object& data, ophtha_modality modality, ophtha_eye eye) {
    Py_buffer view;
    if (PyObject_GetBuffer(data.ptr(), &view, PyBUF_SIMPLE) != 0) {
      PyErr_Clear();
      raise_status(OPHTHA_STATUS_INVALID_ARGUMENT,
                   "Image.from_bytes: expected a contiguous bytes-like object (bytes, bytearray, memoryview), got " +
                       py::str(py::type::of(data).attr("__name__")).cast<std::string>());
    }
    std::unique_ptr<Py_buffer, void (*)(Py_buffer*)> release_view(&view, PyBuffer_Release);
    return made([&](ophtha_image** out) {
      return ophtha_image_load_memory(view.buf, static_cast<size_t>(view.len), modality, eye, out);
    });
  }

  // `array`: uint8 or uint16 (native byte order), (H, W) or (H, W, C) with C in {1, 3, 4}, any
  // strides. Its rows go straight to the library when each row's pixels are contiguous (any
  // row stride >= the row's bytes); otherwise a C-contiguous copy is made first.
  static Image from_array(py::array array, ophtha_modality modality, ophtha_eye eye) {
    const py::dtype dtype = array.dtype();
    int bytes_per_sample = 0;
    if (py::isinstance<py::array_t<uint8_t>>(array))
      bytes_per_sample = 1;
    else if (py::isinstance<py::array_t<uint16_t>>(array))
      bytes_per_sample = 2;
    else if (dtype.kind() == 'u' && dtype.itemsize() == 2)
      invalid("the uint16 array is not in native byte order; convert it with array.astype(numpy.uint16)");
    else
      invalid("expected a uint8 or uint16 array, got dtype " + py::cast<std::string>(dtype.attr("name")) +
              "; convert it with array.astype(numpy.uint8) or numpy.uint16");
    if (array.ndim() != 2 && array.ndim() != 3)
      invalid("expected shape (height, width) or (height, width, channels), got " + shape_of(array) + " (" +
              std::to_string(array.ndim()) + " dimensions)");
    const py::ssize_t height = array.shape(0), width = array.shape(1);
    const int channels = array.ndim() == 3 ? static_cast<int>(array.shape(2)) : 1;
    if (channels != 1 && channels != 3 && channels != 4)
      invalid("expected 1 (grey), 3 (RGB) or 4 (RGBA) channels, got shape " + shape_of(array));
    if (height <= 0 || width <= 0) invalid("the array is empty, shape " + shape_of(array));
    if (height > INT32_MAX || width > INT32_MAX) invalid("the array is too large, shape " + shape_of(array));

    const py::ssize_t sample = bytes_per_sample, pixel = sample * channels, row = pixel * width;
    // Strides of length-1 axes carry no meaning in numpy, so they are not checked.
    const bool samples_packed = channels == 1 || array.strides(2) == sample;
    const bool pixels_packed = width == 1 || array.strides(1) == pixel;
    const bool rows_apart = height == 1 || array.strides(0) >= row;
    if (!(samples_packed && pixels_packed && rows_apart))
      array = py::array::ensure(array, py::array::c_style);
    const size_t row_stride = height == 1 || array.strides(0) < row ? static_cast<size_t>(row)
                                                                    : static_cast<size_t>(array.strides(0));
    const void* pixels = array.data();
    const ophtha_pixel_format format = format_of(channels, bytes_per_sample);
    return made([&](ophtha_image** out) {
      return ophtha_image_from_pixels(pixels, static_cast<int32_t>(width), static_cast<int32_t>(height), row_stride,
                                      format, modality, eye, out);
    });
  }

  void close() { handle_.reset(); }
  bool closed() const { return !handle_; }
  int32_t width() const { return ophtha_image_width(get()); }
  int32_t height() const { return ophtha_image_height(get()); }
  ophtha_pixel_format format() const { return ophtha_image_format(get()); }
  ophtha_modality modality() const { return ophtha_image_modality(get()); }
  ophtha_eye eye() const { return ophtha_image_eye(get()); }

  // A read-only view of the image's own pixels: (H, W) for grey, (H, W, C) otherwise. The view
  // holds the pixels alive (a capsule with a reference to them), also after close().
  py::array to_array() const {
    const ophtha_image* image = get();
    const PixelLayout layout = layout_of(ophtha_image_format(image));
    const py::ssize_t h = ophtha_image_height(image), w = ophtha_image_width(image), c = layout.channels;
    const py::ssize_t s = layout.bytes_per_sample;
    std::vector<py::ssize_t> shape = {h, w}, strides = {w * c * s, c * s};
    if (c != 1) {
      shape.push_back(c);
      strides.push_back(s);
    }
    auto* owner = new std::shared_ptr<ophtha_image>(handle_);
    py::capsule keep_alive(owner, [](void* p) { delete static_cast<std::shared_ptr<ophtha_image>*>(p); });
    const py::dtype dtype = s == 1 ? py::dtype::of<uint8_t>() : py::dtype::of<uint16_t>();
    py::array view(dtype, shape, strides, ophtha_image_pixels(image), keep_alive);
    view.attr("setflags")(py::arg("write") = false);
    return view;
  }

  // The handle, kept alive by the returned pointer; raises for a closed image.
  std::shared_ptr<ophtha_image> shared() const {
    get();
    return handle_;
  }

 private:
  template <class Make>
  static Image made(Make&& make) {
    ophtha_image* out = nullptr;
    ophtha_status status;
    {
      py::gil_scoped_release release;
      status = make(&out);
    }
    if (status != OPHTHA_STATUS_OK) raise_last_error(status);
    return Image(out);
  }

  const ophtha_image* get() const {
    if (!handle_) raise_status(OPHTHA_STATUS_INVALID_ARGUMENT, "the image is closed");
    return handle_.get();
  }

  std::shared_ptr<ophtha_image> handle_;
};

}  // namespace

std::shared_ptr<ophtha_image> image_handle(const py::handle& image, const std::string& what) {
  if (!py::isinstance<Image>(image))
    raise_status(OPHTHA_STATUS_INVALID_ARGUMENT,
                 what + " is a " + py::str(py::type::of(image).attr("__name__")).cast<std::string>() +
                     ", expected an ophtha._ophtha.Image");
  return image.cast<const Image&>().shared();
}

void bind_image(py::module_& m) {
  py::dict formats, modalities, eyes;
  formats["GRAY8"] = py::int_(int32_t{OPHTHA_PIXEL_GRAY8});
  formats["GRAY16"] = py::int_(int32_t{OPHTHA_PIXEL_GRAY16});
  formats["RGB8"] = py::int_(int32_t{OPHTHA_PIXEL_RGB8});
  formats["RGBA8"] = py::int_(int32_t{OPHTHA_PIXEL_RGBA8});
  formats["RGB16"] = py::int_(int32_t{OPHTHA_PIXEL_RGB16});
  formats["RGBA16"] = py::int_(int32_t{OPHTHA_PIXEL_RGBA16});
  modalities["CFP"] = py::int_(int32_t{OPHTHA_MODALITY_CFP});
  modalities["OCT"] = py::int_(int32_t{OPHTHA_MODALITY_OCT});
  modalities["OSA"] = py::int_(int32_t{OPHTHA_MODALITY_OSA});
  eyes["OD"] = py::int_(int32_t{OPHTHA_EYE_OD});
  eyes["OS"] = py::int_(int32_t{OPHTHA_EYE_OS});
  m.attr("PIXEL_FORMAT") = formats;
  m.attr("MODALITY") = modalities;
  m.attr("EYE") = eyes;

  py::class_<Image>(m, "Image", "ophtha_image: immutable pixels with their modality and eye.")
      .def_static("from_file", &Image::from_file, py::arg("path"), py::arg("modality"), py::arg("eye"),
                  "ophtha_image_load_file: decodes a PNG (8/16-bit), JPEG, BMP or TGA file.")
      .def_static("from_bytes", &Image::from_bytes, py::arg("data"), py::arg("modality"), py::arg("eye"),
                  "ophtha_image_load_memory: decodes an encoded file held in a bytes-like object.")
      .def_static("from_array", &Image::from_array, py::arg("array"), py::arg("modality"), py::arg("eye"),
                  "ophtha_image_from_pixels: copies a uint8/uint16 (H, W) or (H, W, 1|3|4) array; rows are "
                  "read in place when each row's pixels are contiguous, otherwise a contiguous copy is made first.")
      .def("close", &Image::close, "Drops this object's reference to the pixels (views keep theirs).")
      .def_property_readonly("closed", &Image::closed, "True once close() has been called.")
      .def_property_readonly("width", &Image::width, "ophtha_image_width.")
      .def_property_readonly("height", &Image::height, "ophtha_image_height.")
      .def_property_readonly("format", &Image::format, "ophtha_image_format: a PIXEL_FORMAT value.")
      .def_property_readonly("modality", &Image::modality, "ophtha_image_modality: a MODALITY value.")
      .def_property_readonly("eye", &Image::eye, "ophtha_image_eye: an EYE value.")
      .def("to_array", &Image::to_array,
           "A read-only numpy view of the pixels, (H, W) or (H, W, C), uint8 or uint16; it keeps the pixels alive.");
}

}  // namespace ophtha_python
