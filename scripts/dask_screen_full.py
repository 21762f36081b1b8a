"""The full scale-out check (not part of CI: ~35 minutes on a busy 2-core machine): the 3,600 session images
through all 219 published models, on a Dask LocalCluster of 2 single-threaded workers, then in one process on
2 threads and on 1 thread; the three results must be identical, and the images/s of each are printed.

    /usr/bin/python3 scripts/dask_screen_full.py [--workers 2] [--top 10]

Needs the published data (CORTEXLENS_DATA_DIR, default ../shared/data/v4) and the package (`pip install .`).
"""

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

import cortexlens
import cortexlens.dask


def same(a, b) -> bool:
    arrays = ["counts", "top_index", "top_response", "bottom_index", "bottom_response", "quantiles", "responses"]
    return (a.images == b.images and a.columns == b.columns and a.failures == b.failures and
            all(np.array_equal(getattr(a, n), getattr(b, n), equal_nan=True) for n in arrays))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--top", type=int, default=10)
    args = parser.parse_args()
    root = Path(__file__).resolve().parents[1]
    data = Path(os.environ.get("CORTEXLENS_DATA_DIR") or root.parent / "shared" / "data" / "v4")
    if not (data / "compact_models").is_dir():
        print(f"the published data is not at {data}: set CORTEXLENS_DATA_DIR", file=sys.stderr)
        return 2
    images = sorted((data / "sessions").glob("images_*.zip"))
    models = [data / "compact_models"]
    print(f"cortexlens {cortexlens.isa()}: {len(images)} archives, models from {models[0]}", flush=True)

    # The cluster first, then one process: each result is compared with the first as soon as it is there.
    runs = [
        (f"Dask LocalCluster, {args.workers} workers x 1 thread", lambda: dask_run(images, models, args)),
        ("1 process, 2 threads", lambda: cortexlens.screen(images, models, top=args.top, threads=2)),
        ("1 process, 1 thread", lambda: cortexlens.screen(images, models, top=args.top, threads=1)),
    ]
    reference = None
    ok = True
    for label, run in runs:
        start = time.perf_counter()
        result = run()
        seconds = time.perf_counter() - start
        n = len(result.images)
        identical = reference is None or same(reference, result)
        ok = ok and identical
        reference = reference or result
        print(f"{label}: {n} images x {len(result.columns)} outputs in {seconds:.1f} s: {n / seconds:.2f} images/s"
              + ("" if label == runs[0][0] else ", identical to the cluster's result" if identical else
                 ", DIFFERENT from the cluster's result"), flush=True)
    return 0 if ok else 1


def dask_run(images, models, args):
    from distributed import Client, LocalCluster
    with LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        return cortexlens.dask.screen(images, models, top=args.top, client=client)


if __name__ == "__main__":
    sys.exit(main())
