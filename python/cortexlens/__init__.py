"""Cortex Lens: the compact CNN models of macaque V4 neurons (Cowley et al., Nature 2026) from Python.

The engine is the project's C++ core (no TensorFlow); this package is a thin layer over its bindings
(``cortexlens._native``). Errors raise ``ValueError`` (bad input: a malformed model, an image that does not
decode, a wrong shape) or ``OSError`` (a file that cannot be read), with the engine's own message.

    import cortexlens
    model = cortexlens.load("compact_model_190923_neuron0.keras")   # or a .clm file
    x = cortexlens.load_image("image0601.jpg")                      # (112, 112, 3) float32, recentred
    model.predict(x)                                                # (outputs,) float32
    model.predict(batch_uint8)                                      # (N, H, W, 3) uint8 -> (N, outputs)
    result = cortexlens.screen(["images.zip"], ["compact_models/"], top=10)

``cortexlens.dask.screen`` spreads a screen over a Dask cluster.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from typing import Callable, List, Optional, Sequence, Tuple, Union

import numpy as np

from . import _native
from ._native import Model, Screener, isa, set_isa, supported_isas

__all__ = [
    "Model",
    "ScreenResult",
    "Screener",
    "isa",
    "load",
    "load_image",
    "percentiles",
    "screen",
    "set_isa",
    "supported_isas",
]

PathLike = Union[str, "os.PathLike[str]"]

#: The percentiles a screen reports per output (NumPy's default, linear interpolation).
percentiles: Tuple[float, ...] = tuple(_native.percentiles)


def load(path: PathLike) -> Model:
    """Loads a model file: Keras 3 ``.keras`` or Cortex Lens ``.clm`` (float or int8)."""
    return _native.load(os.fspath(path))


def load_image(source: Union[PathLike, bytes, bytearray, memoryview],
               crop: Optional[Tuple[int, int, int]] = None) -> np.ndarray:
    """Decodes an image file (a path or its bytes) into the model input.

    The page's and the CLI's decoder (stb_image, EXIF orientation applied), then the square ``crop``
    ``(x, y, side)`` (default: the largest centred square), resized to 112x112 and recentred: a
    (112, 112, 3) float32 array, pixel values minus the RGB means the models subtract.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        return _native.load_image(bytes(source), crop)
    return _native.load_image(os.fspath(source), crop)


@dataclass
class ScreenResult:
    """What a screen reports per model output ("column"), as ``cortexlens screen`` does.

    Columns are every output of every model, in model order. Image indices refer to ``images``.
    ``top_index``/``top_response`` hold the strongest images per column (strongest first; ties keep
    image order), ``bottom_*`` the weakest (weakest first), both (columns, top), padded with -1 / NaN
    when a column has fewer images. ``quantiles`` is (columns, len(percentiles)); ``responses``
    (images, columns) float32 with NaN for images that failed, or None when not kept.
    """

    images: List[str]
    columns: List[Tuple[str, str, str]]  # (model file name, output name, precision)
    failures: List[Tuple[int, str]]
    counts: np.ndarray
    top_index: np.ndarray
    top_response: np.ndarray
    bottom_index: np.ndarray
    bottom_response: np.ndarray
    quantiles: Optional[np.ndarray]
    responses: Optional[np.ndarray] = None
    csv: Optional[bytes] = field(default=None, repr=False)
    json: Optional[bytes] = field(default=None, repr=False)

    def top(self, column: int) -> List[Tuple[str, float]]:
        """The strongest images of a column as (image name, response), strongest first."""
        return [(self.images[i], float(r))
                for i, r in zip(self.top_index[column], self.top_response[column]) if i >= 0]

    def bottom(self, column: int) -> List[Tuple[str, float]]:
        """The weakest images of a column as (image name, response), weakest first."""
        return [(self.images[i], float(r))
                for i, r in zip(self.bottom_index[column], self.bottom_response[column]) if i >= 0]

    def column(self, model: str, output: Optional[str] = None) -> int:
        """The column of a model file name (and output name, for models with several outputs)."""
        for i, (name, out, _) in enumerate(self.columns):
            if name == model and (output is None or out == output):
                return i
        raise KeyError(f"no column for model {model!r}" + (f" output {output!r}" if output else ""))


def _result(native: dict, columns: list) -> ScreenResult:
    return ScreenResult(
        images=list(native["images"]),
        columns=[tuple(c) for c in columns],
        failures=[tuple(f) for f in native["failures"]],
        counts=native["counts"],
        top_index=native["top_index"],
        top_response=native["top_response"],
        bottom_index=native["bottom_index"],
        bottom_response=native["bottom_response"],
        quantiles=native["quantiles"],
        responses=native["responses"],
        csv=native.get("csv"),
        json=native.get("json"),
    )


class _ProgressLine:
    """The CLI's progress line on stderr, drawn after each chunk."""

    def __init__(self) -> None:
        import time
        self._time = time.monotonic
        self._start = self._time()

    def __call__(self, done: int, total: int) -> None:
        seconds = max(1e-9, self._time() - self._start)
        rate = done / seconds
        left = (total - done) / rate if rate > 0 else float("nan")
        sys.stderr.write(f"\rscreen: {done}/{total} images, {rate:.1f} images/s, {left:.0f} s left\033[K")
        if done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()


def _note(message: str) -> None:
    sys.stderr.write(message + "\n")


def screen(images: Sequence[PathLike], models: Union[Sequence[PathLike], Screener], *, top: int = 10,
           threads: Optional[int] = None, precision: Optional[str] = None, out: Optional[PathLike] = None,
           resume: bool = False, chunk: int = 256, progress: Union[bool, Callable[[int, int], None]] = False,
           keep_responses: bool = True, start: int = 0, stop: Optional[int] = None) -> ScreenResult:
    """Runs every model over every image: ``cortexlens screen`` from Python, the same code and results.

    images: image files, folders (recursively), zip or tar archives. models: model files or folders of
    them, or a Screener (models loaded once). ``out`` (FILE.csv or FILE.json) writes the CLI's output
    file, with the checkpoint FILE.resume rewritten after every chunk; ``resume=True`` continues an
    interrupted run (Ctrl-C included) from it. ``progress``: True draws the CLI's progress line on
    stderr, a callable receives (images done, total) after every chunk. ``start``/``stop`` screen a
    range of the images (a shard); indices in the result are then relative to ``start``.
    """
    if isinstance(images, (str, os.PathLike)) or isinstance(models, (str, os.PathLike)):
        raise TypeError("images and models: expected lists of paths, found a single path")
    screener = models if isinstance(models, Screener) else Screener([os.fspath(m) for m in models], precision)
    paths = [os.fspath(p) for p in images]
    out_path = os.fspath(out) if out is not None else None
    if resume and out_path is None:
        raise ValueError("resume needs out=FILE (the checkpoint FILE.resume lives beside it)")
    callback = _ProgressLine() if progress is True else (progress or None)
    count = None if stop is None else max(0, stop - start)
    native = screener.run(paths, first=start, count=count, top=top, threads=threads, chunk=chunk,
                          checkpoint=(out_path + ".resume") if out_path else "", resume=resume,
                          progress=callback, note=_note, keep_responses=keep_responses,
                          text=out_path is not None)
    if out_path is not None:
        text = native["json"] if out_path.lower().endswith(".json") else native["csv"]
        with open(out_path, "wb") as f:
            f.write(text)
        try:
            os.remove(out_path + ".resume")
        except FileNotFoundError:
            pass
    return _result(native, screener.columns())
