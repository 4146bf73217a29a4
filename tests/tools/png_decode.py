"""Decodes PNG files with PIL, the reference decoder for the chart tests (tests/unit/eval/test_plot.cpp):

    /usr/bin/python3 tests/tools/png_decode.py A.png [B.png ...]

For each X.png writes X.png.rgb (the pixels as 8-bit RGB, rows top to bottom) and prints one JSON
line {"path", "format", "mode", "width", "height"} describing the file as PIL read it.
"""
import json
import sys

from PIL import Image


def main():
    for path in sys.argv[1:]:
        with Image.open(path) as image:
            image.load()
            described = {"path": path, "format": image.format, "mode": image.mode,
                         "width": image.width, "height": image.height}
            with open(path + ".rgb", "wb") as f:
                f.write(image.convert("RGB").tobytes())
        print(json.dumps(described))


if __name__ == "__main__":
    main()
