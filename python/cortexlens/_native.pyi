"""Type stubs of the native module (python/src/module.cpp)."""

from os import PathLike
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import numpy.typing as npt

percentiles: List[float]

class Model:
    """A loaded model. Every method releases the GIL while the engine computes; several threads may predict
    with one Model at once."""

    @property
    def name(self) -> str: ...
    @property
    def output_names(self) -> List[str]: ...
    def predict(self, images: npt.ArrayLike, precision: Optional[str] = None) -> npt.NDArray[np.float32]:
        """(N, H, W, 3) uint8 RGB (any size: centred square crop, resized to 112x112) or (N, 112, 112, 3)
        recentred float32 -> (N, outputs) float32; a single image without the N axis -> (outputs,).
        precision: 'float32' or 'int8' (default: the model file's own)."""
    def activations(self, image: npt.ArrayLike, precision: Optional[str] = None) -> Dict[str, npt.NDArray[np.float32]]:
        """Every layer's output (H, W, C) for one image, by layer name, in layer order."""
    def input_gradient(self, image: npt.ArrayLike, output: int = 0, layer: Optional[int] = None,
                       y: Optional[int] = None, x: Optional[int] = None) -> Tuple[float, npt.NDArray[np.float32]]:
        """(value, d value / d input (112, 112, 3)) of output `output`, or with `layer` of that layer's channel
        `output` (at (y, x), or its mean over positions)."""
    def synthesize(self, output: int = 0, layer: Optional[int] = None, steps: int = 1000, seed: int = 1,
                   minimize: bool = False, recipe: str = "authors", grayscale: bool = False) -> Dict[str, Any]:
        """The preferred image: {'image': (112, 112, 3) uint8, 'input': recentred float32, 'response': float,
        'steps': int, 'trace': float32 responses per step}; the same pixels as the CLI's for the same seed."""
    def info(self) -> Dict[str, Any]: ...

class Screener:
    """Models loaded once for many screening runs."""

    def __init__(self, models: Sequence[str], precision: Optional[str] = None) -> None: ...
    def columns(self) -> List[Tuple[str, str, str]]: ...
    def run(self, images: Sequence[str], first: int = 0, count: Optional[int] = None, top: int = 10,
            threads: Optional[int] = None, chunk: int = 256, checkpoint: str = "", resume: bool = False,
            stop_after: int = 0, progress: Optional[Callable[[int, int], None]] = None,
            note: Optional[Callable[[str], None]] = None, keep_responses: bool = True,
            text: bool = False) -> Dict[str, Any]: ...

def load(path: Union[str, PathLike[str]]) -> Model: ...
def load_image(source: Union[str, bytes], crop: Optional[Tuple[int, int, int]] = None) -> npt.NDArray[np.float32]: ...
def list_images(paths: Sequence[str]) -> List[str]: ...
def summarize(responses: npt.ArrayLike, k: int) -> Tuple[int, npt.NDArray[np.float64]]: ...
def isa() -> str: ...
def supported_isas() -> List[str]: ...
def set_isa(name: str) -> None: ...
def default_threads() -> int: ...
