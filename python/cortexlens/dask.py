"""Screening on a Dask cluster: the image list split into shards, the partial results merged exactly.

    from dask.distributed import Client, LocalCluster
    import cortexlens.dask
    with LocalCluster(n_workers=2, threads_per_worker=1) as cluster, Client(cluster) as client:
        result = cortexlens.dask.screen(["images.zip"], ["compact_models/"], top=10, client=client)

Each shard is a range of the images (in the order ``cortexlens screen`` lists them: files, folders and
archive members alike), screened on a worker by ``cortexlens.screen(..., start=, stop=)``. A worker loads the
models once (a ``Screener`` kept per worker process) and reuses them for every shard it gets. The paths
must be readable on every worker (a shared file system); only results travel through the scheduler.

Merging is exact: a shard's K strongest and K weakest images per output are a superset of its share of
the overall K, so sorting the union by (response, image index) and keeping K gives what one process gives,
ties included (the earlier image first). Quantiles need every response: with ``keep_responses=True``
(default) the shards send their (images, outputs) float32 responses and the quantiles are computed from
them by the engine's own routine; with False only the lists and counts travel (for millions of images)
and ``quantiles`` is None.

Any Dask cluster works: ``dask_jobqueue.SLURMCluster`` or ``dask_kubernetes`` give a ``client`` like the
LocalCluster above (see the README's "Python" section); this module needs only ``dask.distributed``.
"""

from __future__ import annotations

import math
import os
import threading
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from . import PathLike, ScreenResult, Screener, _native
from . import screen as _screen_local

__all__ = ["screen", "merge"]

_screeners: Dict[Tuple[Tuple[str, ...], Optional[str]], Screener] = {}
_screeners_lock = threading.Lock()


def _screener(models: Tuple[str, ...], precision: Optional[str]) -> Screener:
    """This worker process's Screener for these models: loaded on the first shard, reused after."""
    key = (models, precision)
    with _screeners_lock:
        if key not in _screeners:
            _screeners[key] = Screener(list(models), precision)
        return _screeners[key]


def _worker_threads() -> int:
    try:
        from distributed import get_worker
        worker = get_worker()
        state = getattr(worker, "state", None)
        return int(getattr(state, "nthreads", None) or getattr(worker, "nthreads", 1) or 1)
    except (ImportError, ValueError):
        return 1


def _screen_shard(paths: List[str], models: Tuple[str, ...], precision: Optional[str], start: int,
                  stop: int, top: int, threads: Optional[int], chunk: int, keep_responses: bool) -> dict:
    """One shard on a worker; indices in the answer are of the whole image list."""
    screener = _screener(models, precision)
    # One native thread per Dask thread by default: a worker with n threads runs n shards at once.
    part = _screen_local(paths, screener, top=top, threads=threads or 1, chunk=chunk,
                         keep_responses=keep_responses, start=start, stop=stop)
    shift = lambda index: np.where(index >= 0, index + start, -1)  # noqa: E731
    return {
        "start": start,
        "images": part.images,
        "columns": screener.columns(),
        "failures": [(i + start, message) for i, message in part.failures],
        "counts": part.counts,
        "top_index": shift(part.top_index),
        "top_response": part.top_response,
        "bottom_index": shift(part.bottom_index),
        "bottom_response": part.bottom_response,
        "responses": part.responses,
    }


def _best(index: np.ndarray, response: np.ndarray, k: int, strongest: bool) -> Tuple[np.ndarray, np.ndarray]:
    """Per row, the k best of the candidates: by response (descending for strongest), then image index.

    Padding (index -1, response NaN) sorts after every real candidate (lexsort puts NaN last).
    """
    key = -response if strongest else response
    order = np.lexsort((index, key), axis=-1)[:, :k]
    return np.take_along_axis(index, order, axis=-1), np.take_along_axis(response, order, axis=-1)


def merge(parts: Sequence[dict], top: int) -> ScreenResult:
    """The exact merge of shard results (in any order) into the result of one run over all images."""
    parts = sorted(parts, key=lambda part: part["start"])
    images = [name for part in parts for name in part["images"]]
    top_index, top_response = _best(np.concatenate([p["top_index"] for p in parts], axis=1),
                                    np.concatenate([p["top_response"] for p in parts], axis=1), top, True)
    bottom_index, bottom_response = _best(np.concatenate([p["bottom_index"] for p in parts], axis=1),
                                          np.concatenate([p["bottom_response"] for p in parts], axis=1), top,
                                          False)
    responses = quantiles = None
    if all(p["responses"] is not None for p in parts):
        responses = np.concatenate([p["responses"] for p in parts], axis=0)
        quantiles = np.stack([_native.summarize(np.ascontiguousarray(responses[:, c]), top)[1]
                              for c in range(responses.shape[1])])
    return ScreenResult(
        images=images,
        columns=[tuple(c) for c in parts[0]["columns"]],
        failures=[f for p in parts for f in p["failures"]],
        counts=np.sum([p["counts"] for p in parts], axis=0),
        top_index=top_index,
        top_response=top_response,
        bottom_index=bottom_index,
        bottom_response=bottom_response,
        quantiles=quantiles,
        responses=responses,
    )


def screen(paths: Sequence[PathLike], models: Sequence[PathLike], top: int = 10, client=None, *,
           shard_size: Optional[int] = None, precision: Optional[str] = None, threads: Optional[int] = None,
           chunk: int = 256, keep_responses: bool = True) -> ScreenResult:
    """``cortexlens.screen`` over a Dask cluster, with exactly its result.

    paths: image files, folders or archives (readable on every worker); models: model files or folders.
    client: a ``dask.distributed.Client`` (default: the current one). shard_size: images per task
    (default: about four tasks per worker thread, at most 5,000 images). threads: native threads per shard
    (default 1: a worker with n Dask threads screens n shards at once).
    """
    from distributed import default_client

    client = client or default_client()
    paths = [os.fspath(p) for p in paths]
    model_paths = tuple(os.fspath(m) for m in models)
    total = len(_native.list_images(paths))
    if shard_size is None:
        slots = max(1, sum(client.nthreads().values()))
        shard_size = max(1, min(5000, math.ceil(total / (4 * slots))))
    if shard_size < 1:
        raise ValueError(f"shard_size: expected at least 1, found {shard_size}")
    futures = [client.submit(_screen_shard, paths, model_paths, precision, start, min(total, start + shard_size),
                             top, threads, chunk, keep_responses, pure=False)
               for start in range(0, total, shard_size)]
    return merge(client.gather(futures), top)
