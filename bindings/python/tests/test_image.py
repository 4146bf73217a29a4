"""ophtha.Image from numpy arrays (any strides), files and bytes; to_array; errors for bad arrays."""
import io
import sys
import tracemalloc

import numpy as np
import pytest
from PIL import Image as PILImage

import ophtha

RNG = np.random.default_rng(2024)


def random_pixels(shape, dtype):
    return RNG.integers(0, np.iinfo(dtype).max, size=shape, endpoint=True, dtype=dtype)


@pytest.mark.parametrize("shape, dtype, fmt", [
    ((37, 53), np.uint8, ophtha.PixelFormat.GRAY8),
    ((37, 53, 1), np.uint8, ophtha.PixelFormat.GRAY8),
    ((37, 53, 3), np.uint8, ophtha.PixelFormat.RGB8),
    ((37, 53, 4), np.uint8, ophtha.PixelFormat.RGBA8),
    ((37, 53), np.uint16, ophtha.PixelFormat.GRAY16),
    ((37, 53, 3), np.uint16, ophtha.PixelFormat.RGB16),
    ((37, 53, 4), np.uint16, ophtha.PixelFormat.RGBA16),
    ((1, 1, 3), np.uint8, ophtha.PixelFormat.RGB8),
])
def test_a_contiguous_array_reads_back_equal(shape, dtype, fmt):
    pixels = random_pixels(shape, dtype)
    image = ophtha.Image.from_array(pixels, ophtha.Modality.OCT, ophtha.Eye.OS)
    assert (image.width, image.height, image.format) == (shape[1], shape[0], fmt)
    assert (image.modality, image.eye) == (ophtha.Modality.OCT, ophtha.Eye.OS)
    back = image.to_array()
    assert back.dtype == dtype and back.shape == image.shape
    np.testing.assert_array_equal(back, pixels.reshape(image.shape))


BASE = random_pixels((64, 80, 4), np.uint8)
BASE16 = random_pixels((64, 80, 3), np.uint16)


@pytest.mark.parametrize("view", [
    BASE[:, ::2],              # every other column: pixels not contiguous → copied
    BASE[::3],                 # every third row: rows contiguous, row stride 3 rows → read in place
    BASE[10:50, 7:61],         # a window: row stride larger than the row
    BASE[::-1],                # rows in reverse: negative row stride
    BASE[:, ::-1],             # mirrored columns
    BASE[:, :, :3],            # RGB out of RGBA: channels not packed
    BASE[:, :, 1],             # one channel: a strided grey image
    BASE.transpose(1, 0, 2),   # transposed
    np.asfortranarray(BASE[:, :, :3]),
    BASE16[5:40:2, 3:70],      # uint16 window with a row step
    BASE16[:, :, ::-1],        # BGR from RGB
], ids=["cols-step-2", "rows-step-3", "window", "rows-reversed", "cols-reversed", "rgb-of-rgba", "one-channel",
        "transposed", "fortran-order", "uint16-window", "uint16-bgr"])
def test_a_strided_view_reads_back_equal(view):
    image = ophtha.Image.from_array(view, "cfp", "od")
    np.testing.assert_array_equal(image.to_array(), view)


@pytest.mark.parametrize("rows_contiguous, view", [
    (True, lambda a: a),
    (True, lambda a: a[::2]),
    (True, lambda a: a[100:700, 50:550]),
    (False, lambda a: a[:, ::2]),
    (False, lambda a: a[::-1]),
], ids=["contiguous", "rows-step-2", "window", "cols-step-2", "rows-reversed"])
def test_numpy_copies_the_array_only_when_its_rows_are_not_contiguous(rows_contiguous, view):
    # numpy reports its buffers to tracemalloc; the image's own pixels are not numpy's.
    pixels = view(np.zeros((800, 600, 3), np.uint8))
    tracemalloc.start()
    try:
        ophtha.Image.from_array(pixels, "cfp", "od")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    if rows_contiguous:
        assert peak < pixels.nbytes / 100, f"{peak} bytes allocated for a {pixels.nbytes}-byte array read in place"
    else:
        assert peak >= pixels.nbytes, f"expected one contiguous copy of {pixels.nbytes} bytes, saw {peak}"


def test_the_image_is_a_copy_not_a_reference_to_the_array():
    pixels = random_pixels((8, 9), np.uint8)
    image = ophtha.Image.from_array(pixels[2:6], ophtha.Modality.CFP, ophtha.Eye.OD)
    expected = pixels[2:6].copy()
    pixels[:] = 0
    np.testing.assert_array_equal(image.to_array(), expected)


def test_to_array_is_a_read_only_view_that_outlives_close():
    pixels = random_pixels((20, 30, 3), np.uint8)
    image = ophtha.Image.from_array(pixels, ophtha.Modality.CFP, ophtha.Eye.OD)
    view = image.to_array()
    assert not view.flags.writeable and view.base is not None
    with pytest.raises(ValueError):
        view[0, 0, 0] = 1
    copy = image.to_array(copy=True)
    assert copy.flags.writeable
    image.close()
    del image
    np.testing.assert_array_equal(view, pixels)
    np.testing.assert_array_equal(np.asarray(ophtha.Image.from_array(pixels, "cfp", "od")), pixels)


def test_a_closed_image_refuses_to_answer():
    image = ophtha.Image.from_array(random_pixels((4, 4), np.uint8), "osa", "os")
    image.close()
    assert image.closed
    with pytest.raises(ophtha.InvalidArgumentError, match="closed"):
        image.to_array()


@pytest.mark.parametrize("array, message", [
    (np.zeros((8, 8), np.float32), "uint8 or uint16.*float32"),
    (np.zeros((8, 8), np.int16), "uint8 or uint16.*int16"),
    (np.zeros((8, 8), bool), "uint8 or uint16.*bool"),
    (np.zeros((8, 8), np.uint32), "uint8 or uint16.*uint32"),
    (np.zeros(8, np.uint8), r"shape \(height, width\).*\(8,\)"),
    (np.zeros((2, 8, 8, 3), np.uint8), r"got \(2, 8, 8, 3\) \(4 dimensions\)"),
    (np.zeros((8, 8, 2), np.uint8), r"1 \(grey\), 3 \(RGB\) or 4 \(RGBA\) channels.*\(8, 8, 2\)"),
    (np.zeros((0, 8), np.uint8), "empty"),
    (np.zeros((8, 8), np.dtype(">u2" if sys.byteorder == "little" else "<u2")), "native byte order"),
    ([[1, 2], [3, 4]], "uint8 or uint16.*int64"),
], ids=["float32", "int16", "bool", "uint32", "1-d", "4-d", "two-channels", "empty", "byte-swapped", "list"])
def test_a_wrong_array_raises_invalid_argument_with_what_was_expected(array, message):
    with pytest.raises(ophtha.InvalidArgumentError, match=message) as raised:
        ophtha.Image.from_array(array, ophtha.Modality.CFP, ophtha.Eye.OD)
    assert isinstance(raised.value, ValueError) and raised.value.status == 1


@pytest.mark.parametrize("modality, eye, message", [
    ("fundus", "od", "modality is 'fundus', expected an ophtha.Modality: CFP"),
    (7, "od", "modality is 7"),
    ("cfp", "left", "eye is 'left', expected an ophtha.Eye: OD"),
])
def test_an_unknown_modality_or_eye_is_refused(modality, eye, message):
    with pytest.raises(ophtha.InvalidArgumentError, match=message):
        ophtha.Image.from_array(np.zeros((4, 4), np.uint8), modality, eye)


@pytest.mark.parametrize("mode, shape, dtype", [("L", (21, 34), np.uint8), ("RGB", (21, 34, 3), np.uint8),
                                                ("RGBA", (21, 34, 4), np.uint8), ("I;16", (21, 34), np.uint16)])
def test_a_png_file_and_its_bytes_decode_to_what_pillow_wrote(tmp_path, mode, shape, dtype):
    pixels = random_pixels(shape, dtype)
    path = tmp_path / f"{mode.replace(';', '')}.png"
    PILImage.fromarray(pixels, mode).save(path)
    for image in (ophtha.Image.from_file(path, "cfp", "od"), ophtha.Image.from_bytes(path.read_bytes(), "cfp", "od")):
        np.testing.assert_array_equal(image.to_array(), pixels)
        assert image.dtype == dtype


def test_a_jpeg_decodes_close_to_what_pillow_decodes(tmp_path):
    pixels = random_pixels((16, 24, 3), np.uint8)
    buffer = io.BytesIO()
    PILImage.fromarray(pixels, "RGB").save(buffer, format="JPEG", quality=95)
    reference = np.asarray(PILImage.open(io.BytesIO(buffer.getvalue())).convert("RGB")).astype(int)
    decoded = ophtha.Image.from_bytes(buffer.getvalue(), "cfp", "os").to_array().astype(int)
    assert np.abs(decoded - reference).max() <= 8  # two JPEG decoders differ by rounding only


def test_file_errors_raise_io_and_format_errors(tmp_path):
    missing = tmp_path / "missing.png"
    with pytest.raises(ophtha.IoError, match="missing.png") as raised:
        ophtha.Image.from_file(missing, "cfp", "od")
    assert isinstance(raised.value, OSError)
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 20)
    with pytest.raises((ophtha.InvalidFormatError, ophtha.UnsupportedError)):
        ophtha.Image.from_file(broken, "cfp", "od")
    with pytest.raises(ophtha.InvalidArgumentError, match="bytes-like"):
        ophtha.Image.from_bytes("not bytes", "cfp", "od")
