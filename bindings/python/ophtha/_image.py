"""Ophthalmic images: pixels with their modality and eye (ophtha_image)."""
import enum
import os

import numpy as np

from . import _ophtha
from ._errors import InvalidArgumentError


class Modality(enum.IntEnum):
    """The instrument an image comes from (ophtha_modality)."""
    CFP = _ophtha.MODALITY["CFP"]  #: colour fundus photograph
    OCT = _ophtha.MODALITY["OCT"]  #: optical coherence tomography B-scan
    OSA = _ophtha.MODALITY["OSA"]  #: ocular surface analyser / meibography


class Eye(enum.IntEnum):
    """Which eye (ophtha_eye)."""
    OD = _ophtha.EYE["OD"]  #: right eye (oculus dexter)
    OS = _ophtha.EYE["OS"]  #: left eye (oculus sinister)


class PixelFormat(enum.IntEnum):
    """How an image's pixels are stored (ophtha_pixel_format): rows top to bottom, channels
    interleaved, 16-bit samples in native byte order."""
    GRAY8 = _ophtha.PIXEL_FORMAT["GRAY8"]
    GRAY16 = _ophtha.PIXEL_FORMAT["GRAY16"]
    RGB8 = _ophtha.PIXEL_FORMAT["RGB8"]
    RGBA8 = _ophtha.PIXEL_FORMAT["RGBA8"]
    RGB16 = _ophtha.PIXEL_FORMAT["RGB16"]
    RGBA16 = _ophtha.PIXEL_FORMAT["RGBA16"]

    @property
    def channels(self):
        """Samples per pixel: 1, 3 or 4."""
        return {"GRAY": 1, "RGB": 3, "RGBA": 4}[self.name.rstrip("0123456789")]

    @property
    def dtype(self):
        """numpy.uint8 or numpy.uint16."""
        return np.dtype(np.uint16 if self.name.endswith("16") else np.uint8)


def _member(enum_type, value, what):
    """`value` as a member of `enum_type`: a member, its integer value, or its name in any case."""
    if isinstance(value, enum_type):
        return value
    if isinstance(value, str):
        member = enum_type.__members__.get(value.upper())
        if member is not None:
            return member
    elif isinstance(value, int) and not isinstance(value, bool):
        try:
            return enum_type(value)
        except ValueError:
            pass
    choices = ", ".join(f"{m.name} ({m.value})" for m in enum_type)
    raise InvalidArgumentError(f"{what} is {value!r}, expected an ophtha.{enum_type.__name__}: {choices}")


class Image:
    """An ophthalmic image: pixels (grey, RGB or RGBA; 8 or 16 bits per sample) with their
    modality and eye. Immutable; any number of threads may read it.

    Make one with Image.from_file, Image.from_bytes or Image.from_array. ``to_array()`` (and
    ``numpy.asarray(image)``) gives a read-only view of the pixels. A context manager; close()
    lets go of the pixels early (views already handed out keep them alive).
    """

    def __init__(self, image):
        """Wraps an ``ophtha._ophtha.Image``; use the from_* constructors instead."""
        if not isinstance(image, _ophtha.Image):
            raise TypeError("use Image.from_file, Image.from_bytes or Image.from_array to make an Image")
        self._image = image

    @classmethod
    def from_file(cls, path, modality, eye):
        """Decodes a PNG (8/16-bit), JPEG, BMP or TGA file; grey + alpha becomes RGBA8.

        `modality`: a Modality, its value or its name ("cfp"); `eye`: an Eye, its value or name ("OD").
        Raises IoError, InvalidFormatError (empty, truncated or corrupt), UnsupportedError
        (another format), InvalidArgumentError (more than 100 million pixels, a bad modality or eye).
        """
        return cls(_ophtha.Image.from_file(os.fsencode(path), _member(Modality, modality, "modality"),
                                           _member(Eye, eye, "eye")))

    @classmethod
    def from_bytes(cls, data, modality, eye):
        """As from_file, from the bytes of an encoded file (bytes, bytearray, memoryview; copied)."""
        return cls(_ophtha.Image.from_bytes(data, _member(Modality, modality, "modality"),
                                            _member(Eye, eye, "eye")))

    @classmethod
    def from_array(cls, array, modality, eye):
        """Copies the pixels of a numpy array into a new image.

        `array`: dtype uint8 or uint16 (native byte order), shape (H, W) for grey or (H, W, C)
        with C = 1 (grey), 3 (RGB) or 4 (RGBA), any strides. When each row's pixels are contiguous
        in memory (C-contiguous arrays, row slices such as ``a[10:50, 20:80]`` or ``a[::2]``) the
        library reads the rows straight from the array's buffer; otherwise (``a[:, ::2]``, a
        transposed or reversed array) a contiguous copy is made first. The array is not kept:
        changing it afterwards does not change the image.

        Raises InvalidArgumentError for another dtype, number of dimensions or channels, an empty
        array, or more than 100 million pixels.
        """
        return cls(_ophtha.Image.from_array(np.asarray(array), _member(Modality, modality, "modality"),
                                            _member(Eye, eye, "eye")))

    @property
    def width(self):
        """Pixels per row."""
        return self._image.width

    @property
    def height(self):
        """Rows."""
        return self._image.height

    @property
    def format(self):
        """The PixelFormat."""
        return PixelFormat(self._image.format)

    @property
    def channels(self):
        """Samples per pixel: 1, 3 or 4."""
        return self.format.channels

    @property
    def dtype(self):
        """numpy.uint8 or numpy.uint16."""
        return self.format.dtype

    @property
    def shape(self):
        """The shape of to_array(): (H, W) for grey, (H, W, C) otherwise."""
        return (self.height, self.width) if self.channels == 1 else (self.height, self.width, self.channels)

    @property
    def modality(self):
        """The Modality."""
        return Modality(self._image.modality)

    @property
    def eye(self):
        """The Eye."""
        return Eye(self._image.eye)

    @property
    def closed(self):
        """True once close() has been called."""
        return self._image.closed

    def to_array(self, copy=False):
        """The pixels as a numpy array of shape `shape` and dtype `dtype`: a read-only view of the
        image's own memory (kept alive by the view, also after close()), or a writable copy
        with ``copy=True``."""
        view = self._image.to_array()
        return view.copy() if copy else view

    def __array__(self, dtype=None):
        view = self._image.to_array()
        return view if dtype is None else view.astype(dtype)

    def close(self):
        """Lets go of this object's reference to the pixels; idempotent."""
        self._image.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def __repr__(self):
        if self.closed:
            return "ophtha.Image(closed)"
        return (f"ophtha.Image({self.width}x{self.height} {self.format.name}, modality={self.modality.name}, "
                f"eye={self.eye.name})")
