"""Cortex Lens from Python, notebook style: run the cells top to bottom (or `python3 session_190923.py`).

Needs the published data (CORTEXLENS_DATA_DIR, default ../shared/data/v4 from the repository root) and the
package (`pip install .`). What it shows:
  1. the 33 compact models of session 190923 predict the recorded neurons: median Pearson r 0.636 on the
     held-out images 601-1200, the paper's figure;
  2. one neuron's strongest natural images among all 3,600 images of the three sessions, by `screen`.
"""

# %% Setup: where the data is, and the package.
import os
import sys
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

import cortexlens

root = Path(__file__).resolve().parents[2]
data = Path(os.environ.get("CORTEXLENS_DATA_DIR") or root.parent / "shared" / "data" / "v4")
if not (data / "compact_models").is_dir():
    sys.exit(f"the published data is not at {data}: set CORTEXLENS_DATA_DIR")
session = "190923"
print(f"cortexlens on {cortexlens.isa()}; data in {data}")

# %% The 33 per-neuron models of the session (neuron i's model predicts row i of the recorded responses).
model_paths = sorted((data / "compact_models").glob(f"compact_model_{session}_neuron*.keras"),
                     key=lambda p: int(p.stem.rsplit("neuron", 1)[1]))
models = [cortexlens.load(p) for p in model_paths]
print(f"{len(models)} models, {models[0].info()['params']:,} parameters in neuron 0's")

# %% The held-out images 601-1200, decoded as the page and the CLI decode them (stb_image, 112x112, recentred).
with zipfile.ZipFile(data / "sessions" / f"images_{session}.zip") as archive:
    inputs = np.stack([cortexlens.load_image(archive.read(f"images_{session}/image{n:04d}.jpg"))
                       for n in range(601, 1201)])
print("inputs", inputs.shape, inputs.dtype)

# %% Predict: one model per task; predict() releases the GIL, so the threads run on every core.
start = time.perf_counter()
with ThreadPoolExecutor() as pool:
    predicted = np.stack(list(pool.map(lambda model: model.predict(inputs)[:, 0], models)))  # (neurons, images)
print(f"{predicted.size:,} predictions in {time.perf_counter() - start:.1f} s")

# %% Compare with the recorded responses (neurons, 1200 images), averaged over repeats.
recorded = np.load(data / "sessions" / f"responses_repeat_averaged_{session}.npy")[:, 600:1200]
r = np.array([np.corrcoef(p, y)[0, 1] for p, y in zip(predicted, recorded)])
print(f"median r over {len(r)} neurons, images 601-1200: {np.median(r):.3f} (the paper: 0.636)")

# %% One neuron's favourite natural images: screen all three sessions' images with its model.
best = int(np.argmax(r))
archives = sorted((data / "sessions").glob("images_*.zip"))
result = cortexlens.screen(archives, [model_paths[best]], top=5)
print(f"neuron {best} (r = {r[best]:.3f}): strongest of {result.counts[0]:,} images")
for rank, (name, response) in enumerate(result.top(0), 1):
    print(f"  {rank}. {os.path.relpath(name, data / 'sessions')}: {response:.3f}")
print("weakest:", ", ".join(f"{Path(name).name} {response:.3f}" for name, response in result.bottom(0)[:3]))
