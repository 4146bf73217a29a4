"""`ophtha encode` against torchvision: the feature grid [N, C] it writes equals torchvision's
ResNet on the same preprocessed input, and with --projector the projection equals PyTorch's
nn.Sequential(Linear, GELU, Linear) after adaptive_avg_pool2d (tests/tools/make_projector.py).

    ophtha encode --encoder PATH --arch resnet18|resnet34|resnet50|torchscript --image PATH
                  --modality cfp|oct|osa [--eye OD|OS] [--size S] [--projector P] --out F.npy

Success: exit status 0, one line naming the shape written. Failure: non-zero, one line on stderr.
"""
import json
import struct
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import torchvision
import torchvision.transforms.functional as TF
from PIL import Image

from conftest import REPO, describe

sys.path.insert(0, str(REPO / "tests" / "tools"))
import torchvision_encoder_reference as encoder_reference  # noqa: E402  (write_safetensors, randomise_batch_norms)

TOLERANCE = 1e-4  # max |ours − torchvision| / max |torchvision|
IMAGENET_MEAN, IMAGENET_STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]


def relative_error(got, expected):
    return float(np.abs(got - expected).max() / np.abs(expected).max())


@pytest.fixture(scope="module")
def folder(work_dir):
    path = work_dir / "encode-cli"
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture(scope="module")
def resnet18(folder):
    """A torchvision ResNet-18 with seeded weights and random BatchNorm statistics, in eval mode,
    and its state_dict written as safetensors under the prefix 'backbone.'."""
    torch.manual_seed(31)
    model = torchvision.models.resnet18(weights=None)
    encoder_reference.randomise_batch_norms(model, torch.Generator().manual_seed(32))
    model.eval()
    path = folder / "resnet18.safetensors"
    encoder_reference.write_safetensors(str(path), {"backbone." + n: t for n, t in model.state_dict().items()})
    return model, path


def torchvision_grid(model, x):
    """(1, 3, S, S) → the last stage's grid as tokens (N, C)."""
    trunk = torch.nn.Sequential(*list(model.children())[:-2])
    with torch.inference_mode():
        return trunk(x)[0].flatten(1).t().numpy()


@pytest.fixture(scope="module")
def oct_png(folder):
    """A grey 8-bit OCT-like B-scan, wider than tall (so it is padded to a square)."""
    y, x = np.mgrid[0:150, 0:260]
    pixels = (127 + 100 * np.sin(x / 9.0) * np.cos(y / 13.0) + (x % 17)).clip(0, 255).astype(np.uint8)
    path = folder / "oct.png"
    Image.fromarray(pixels, mode="L").save(path)
    return path, pixels


def torchvision_oct_input(pixels, size):
    """Ophtha's OCT preprocessing written with torchvision: pad to a centred square with 0 (the odd
    pixel right/down), /255, antialiased bilinear resize, grey replicated to 3 channels, normalised."""
    h, w = pixels.shape
    side = max(h, w)
    top, left = (side - h) // 2, (side - w) // 2
    grey = torch.zeros(1, side, side)
    grey[0, top:top + h, left:left + w] = torch.from_numpy(pixels).float() / 255
    grey = TF.resize(grey, [size, size], interpolation=TF.InterpolationMode.BILINEAR, antialias=True)
    return TF.normalize(grey.expand(3, size, size), IMAGENET_MEAN, IMAGENET_STD).unsqueeze(0)


@pytest.mark.parametrize("size", [224, 160])
def test_oct_feature_grid_equals_torchvision_on_torchvision_preprocessing(ophtha, resnet18, oct_png, folder, size):
    model, weights = resnet18
    png, pixels = oct_png
    out = folder / f"oct-{size}.npy"
    result = ophtha.ok("encode", "--encoder", weights, "--arch", "resnet18", "--image", png, "--modality", "oct",
                       "--size", size, "--out", out, "--threads", 1)
    cells = (size // 32) ** 2
    assert result.stdout.count("\n") == 1 and f"[{cells}, 512] float32" in result.stdout, describe(result)
    got = np.load(out)
    assert got.shape == (cells, 512) and got.dtype == np.float32
    expected = torchvision_grid(model, torchvision_oct_input(pixels, size))
    assert relative_error(got, expected) < TOLERANCE, f"size {size}: {relative_error(got, expected)}"


def test_cfp_feature_grid_equals_torchvision_on_the_preprocessed_tensor(ophtha, resnet18, folder):
    """CFP cropping (field of view) has no torchvision equivalent: the input is `ophtha preprocess`'s
    tensor (itself checked against torchvision), the encoder is compared on it."""
    model, weights = resnet18
    yy, xx = np.mgrid[0:300, 0:360]
    disc = ((xx - 185) ** 2 + (yy - 150) ** 2) < 135 ** 2
    rgb = np.stack([disc * (150 + 60 * np.sin(xx / 7.0)), disc * (80 + 30 * np.cos(yy / 5.0)), disc * 40.0], -1)
    png = folder / "cfp.png"
    Image.fromarray(rgb.clip(0, 255).astype(np.uint8), mode="RGB").save(png)
    tensor, features = folder / "cfp-input.npy", folder / "cfp-features.npy"
    ophtha.ok("preprocess", "--image", png, "--modality", "cfp", "--out", tensor)
    ophtha.ok("encode", "--encoder", weights, "--arch", "resnet18", "--image", png, "--modality", "cfp",
              "--out", features, "--threads", 1)
    expected = torchvision_grid(model, torch.from_numpy(np.load(tensor)).unsqueeze(0))
    got = np.load(features)
    assert got.shape == (49, 512)
    assert relative_error(got, expected) < TOLERANCE


def read_safetensors(path):
    data = path.read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        begin, end = entry["data_offsets"]
        assert entry["dtype"] == "F32"
        raw = np.frombuffer(data[8 + n + begin:8 + n + end], dtype="<f4").reshape(entry["shape"])
        tensors[name] = torch.from_numpy(raw.copy())
    return tensors


@pytest.mark.parametrize("eye", ["OD", "OS"])
def test_projected_embeddings_equal_pytorch_projector_on_torchvision_features(ophtha, resnet18, oct_png, folder, eye):
    model, weights = resnet18
    png, pixels = oct_png
    made = folder / "projector-512-24-pool2"
    if not made.exists():
        subprocess.run([sys.executable, str(REPO / "tests" / "tools" / "make_projector.py"), "--out", str(made),
                        "--channels", "512", "--dim", "24", "--pool", "2", "--seed", "8", "--prefix", "model.",
                        "--inputs", "1x2x2"], check=True, capture_output=True, timeout=120)
    p = read_safetensors(made / "projector.safetensors")
    mlp = torch.nn.Sequential(torch.nn.Linear(512, 24), torch.nn.GELU(), torch.nn.Linear(24, 24))
    mlp.load_state_dict({k: p["model.mm_projector." + k] for k in ("0.weight", "0.bias", "2.weight", "2.bias")})

    out = folder / f"projected-{eye}.npy"
    result = ophtha.ok("encode", "--encoder", weights, "--arch", "resnet18", "--image", png, "--modality", "oct",
                       "--eye", eye, "--projector", made / "projector.safetensors", "--out", out, "--threads", 1)
    assert "[4, 24] float32" in result.stdout, describe(result)
    grid = torchvision_grid(model, torchvision_oct_input(pixels, 224))  # (49, 512)
    planes = torch.from_numpy(grid).t().reshape(1, 512, 7, 7)
    with torch.no_grad():
        expected = mlp(F.adaptive_avg_pool2d(planes, (2, 2)).flatten(2).transpose(1, 2))[0]
        expected += p["model.mm_projector.modality_embedding"][1] + p["model.mm_projector.eye_embedding"][
            ["OD", "OS"].index(eye)]
    got = np.load(out)
    assert got.shape == (4, 24)
    assert relative_error(got, expected.numpy()) < TOLERANCE


def check_one_line_error(result, *fragments):
    assert result.returncode != 0, describe(result)
    assert result.stdout == "", describe(result)
    assert result.stderr.startswith("ophtha encode: error: ") and result.stderr.count("\n") == 1, describe(result)
    for fragment in fragments:
        assert fragment in result.stderr, f"expected {fragment!r} in the error\n{describe(result)}"


def test_bad_arguments_give_one_line_errors(ophtha, resnet18, oct_png, folder):
    _, weights = resnet18
    png, _ = oct_png
    out = folder / "never.npy"
    options = {"--encoder": weights, "--arch": "resnet18", "--image": png, "--modality": "oct", "--out": out}

    def encode(extra=(), **changed):
        """encode with the valid options, some replaced ('--' + key: value) or left out (None)."""
        chosen = dict(options, **{"--" + k: v for k, v in changed.items()})
        return ["encode"] + [x for k, v in chosen.items() if v is not None for x in (k, v)] + list(extra)

    wrong_c = folder / "projector-2048"
    if not wrong_c.exists():
        subprocess.run([sys.executable, str(REPO / "tests" / "tools" / "make_projector.py"), "--out", str(wrong_c),
                        "--channels", "2048", "--dim", "8", "--inputs", "1x1x1"], check=True, capture_output=True,
                       timeout=120)
    cases = [
        (encode(encoder=None), ["--encoder is required"]),
        (encode(arch="vit"), ["unknown encoder architecture 'vit'"]),
        (encode(modality="xray"), ["xray"]),
        (encode(image=folder / "missing.png"), ["missing.png"]),
        (encode(["--size", "0"]), ["--size", "[1, 8192]"]),
        (encode(["--eye", "left"]), ["left"]),
        (encode(["--colour"]), ["unknown option '--colour'"]),
        (encode(encoder=folder / "missing.safetensors"), ["missing.safetensors"]),
        (encode(arch="resnet50"), ["resnet50"]),
        (encode(["--projector", wrong_c / "projector.safetensors"]), ["C = 2048", "gives C = 512"]),
        (encode(["--projector", png]), [str(png)]),
    ]
    results = ophtha.many([args for args, _ in cases])
    for (args, fragments), result in zip(cases, results):
        check_one_line_error(result, *fragments)
    assert not out.exists()
