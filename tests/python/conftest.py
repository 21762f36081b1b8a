"""Shared fixtures of the Python package's tests (run: /usr/bin/python3 -m pytest tests/python).

`cortexlens` must be importable: installed (`pip install .`, what scripts/test.sh does in build/py-venv) or
from python/ with the module built there. Tests needing the published data or the CLI skip with a reason
when those are absent; everything else runs on the committed demo model.
"""

import os
import struct
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pytest

import cortexlens

ROOT = Path(__file__).resolve().parents[2]
DEMO_KERAS = ROOT / "models" / "demo" / "demo_dot_detector.keras"
DEMO_CLM = ROOT / "models" / "demo" / "demo_dot_detector.clm"


def data_dir() -> Path:
    return Path(os.environ.get("CORTEXLENS_DATA_DIR") or ROOT.parent / "shared" / "data" / "v4").resolve()


def cli_path() -> Path:
    return Path(os.environ.get("CORTEXLENS_CLI") or ROOT / "build" / "release" / "native" / "cortexlens")


@pytest.fixture(scope="session")
def data() -> Path:
    path = data_dir()
    if not (path / "compact_models").is_dir():
        pytest.skip(f"the published V4 data is not at {path} (set CORTEXLENS_DATA_DIR)")
    return path


@pytest.fixture(scope="session")
def cli() -> Path:
    path = cli_path()
    if not os.access(path, os.X_OK):
        pytest.skip(f"the cortexlens CLI is not built at {path} (cmake --build --preset release, or CORTEXLENS_CLI)")
    return path


def run_cli(cli: Path, *args, check=True, isa=None) -> subprocess.CompletedProcess:
    command = [str(cli), *map(str, args)] + (["--isa", isa] if isa else [])
    result = subprocess.run(command, capture_output=True)
    if check and result.returncode != 0:
        raise AssertionError(f"{command} failed: {result.stderr.decode()}")
    return result


def write_bmp(path: Path, pixels: np.ndarray) -> None:
    """A 24-bit BMP of (H, W, 3) uint8 RGB, so the tests need no image library."""
    h, w, _ = pixels.shape
    row = (w * 3 + 3) // 4 * 4
    body = bytearray()
    for y in range(h - 1, -1, -1):
        line = pixels[y, :, ::-1].tobytes()
        body += line + b"\0" * (row - len(line))
    header = struct.pack("<2sIHHI", b"BM", 54 + len(body), 0, 0, 54)
    info = struct.pack("<IiiHHIIiiII", 40, w, h, 1, 24, 0, len(body), 2835, 2835, 0, 0)
    path.write_bytes(header + info + bytes(body))


def dot_image(seed: int, side: int = 112) -> np.ndarray:
    """A grey image with a few coloured dots: something the demo dot detector responds to."""
    rng = np.random.default_rng(seed)
    image = np.full((side, side, 3), 110, np.uint8)
    yy, xx = np.mgrid[0:side, 0:side]
    for _ in range(1 + seed % 4):
        cy, cx = rng.integers(10, side - 10, 2)
        radius = rng.integers(3, 12)
        image[(yy - cy) ** 2 + (xx - cx) ** 2 < radius ** 2] = rng.integers(0, 256, 3)
    return image


@pytest.fixture(scope="session")
def demo_images(tmp_path_factory) -> Path:
    """A folder of 24 BMP images (some not square, one 300x200), one broken file, and a zip of 6 more."""
    folder = tmp_path_factory.mktemp("demo_images")
    images = folder / "images"
    images.mkdir()
    for i in range(24):
        side = 112 if i % 5 else 150
        write_bmp(images / f"dot{i:02d}.bmp", dot_image(i, side))
    write_bmp(images / "wide.bmp", np.ascontiguousarray(np.tile(dot_image(99, 200), (1, 2, 1))[:200, :300]))
    (images / "broken.bmp").write_bytes(b"BM not really")
    with zipfile.ZipFile(folder / "more.zip", "w") as archive:
        for i in range(6):
            path = folder / f"z{i}.bmp"
            write_bmp(path, dot_image(100 + i))
            archive.write(path, f"more/z{i}.bmp")
            path.unlink()
    return folder


@pytest.fixture(scope="session")
def golden_images(data, tmp_path_factory):
    """The golden responses file and its five JPEGs extracted to a temporary folder."""
    import json
    golden = json.loads((data / "golden_responses.json").read_text())
    folder = tmp_path_factory.mktemp("golden")
    paths = []
    with zipfile.ZipFile(data / "sessions" / "images_190923.zip") as archive:
        for name in golden["images"]:
            target = folder / Path(name).name
            target.write_bytes(archive.read(name))
            paths.append(target)
    return golden, paths


@pytest.fixture()
def default_isa():
    """Restores the engine's instruction set after a test that changes it."""
    before = cortexlens.isa()
    yield before
    cortexlens.set_isa(before)
