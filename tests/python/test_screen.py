"""cortexlens.screen against `cortexlens screen`, resumption, and cortexlens.dask.screen against one process."""

import numpy as np
import pytest

import cortexlens
from conftest import DEMO_CLM, DEMO_KERAS, run_cli

MODELS = [DEMO_CLM, DEMO_KERAS]


def image_paths(folder):
    return [folder / "images", folder / "more.zip"]


@pytest.mark.parametrize("suffix", ["csv", "json"])
def test_screen_writes_the_cli_bytes(cli, demo_images, tmp_path, suffix):
    images = image_paths(demo_images)
    theirs, ours = tmp_path / f"cli.{suffix}", tmp_path / f"py.{suffix}"
    run_cli(cli, "screen", *images, "--models", ",".join(map(str, MODELS)), "--top", "4", "--threads", "2",
            "--out", theirs)
    seen = []
    result = cortexlens.screen(images, MODELS, top=4, threads=1, chunk=7, out=ours,
                               progress=lambda done, total: seen.append((done, total)))
    assert ours.read_bytes() == theirs.read_bytes()
    assert not (tmp_path / f"py.{suffix}.resume").exists()
    assert seen[-1] == (32, 32) and len(seen) == 5
    assert len(result.images) == 32
    assert [result.images[i] for i, _ in result.failures] == [str(demo_images / "images" / "broken.bmp")]
    assert result.failures[0][1] in theirs.read_text()
    assert result.counts.tolist() == [31, 31]
    assert result.responses.shape == (32, 2) and np.isnan(result.responses[result.failures[0][0]]).all()


def test_screen_result_matches_predict(demo_images, capsys):
    result = cortexlens.screen(image_paths(demo_images), [DEMO_KERAS], top=3, threads=2, progress=True)
    assert "screen: 32/32 images" in capsys.readouterr().err
    model = cortexlens.load(DEMO_KERAS)
    column = result.column("demo_dot_detector.keras")
    for name, response in result.top(column) + result.bottom(column):
        path = name if ".zip/" not in name else None
        if path:
            assert model.predict(cortexlens.load_image(path))[0] == np.float32(response)
    order = np.argsort(-np.nan_to_num(result.responses[:, 0], nan=-np.inf), kind="stable")
    assert result.top_index[0].tolist() == order[:3].tolist()


def test_interrupted_screen_resumes_to_the_same_bytes(cli, demo_images, tmp_path):
    images = image_paths(demo_images)
    clean = tmp_path / "clean.csv"
    cortexlens.screen(images, MODELS, top=3, chunk=5, out=clean)
    out = tmp_path / "run.csv"

    def interrupt(done, total):
        if done >= 10:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        cortexlens.screen(images, MODELS, top=3, chunk=5, out=out, progress=interrupt)
    assert (tmp_path / "run.csv.resume").exists() and not out.exists()
    with pytest.raises(ValueError, match="holds an unfinished run .10 of 32 images done.: pass --resume"):
        cortexlens.screen(images, MODELS, top=3, chunk=5, out=out)
    with pytest.raises(ValueError, match="is of another run"):
        cortexlens.screen(images, [DEMO_KERAS], top=3, chunk=5, out=out, resume=True)
    result = cortexlens.screen(images, MODELS, top=3, chunk=8, out=out, resume=True)
    assert out.read_bytes() == clean.read_bytes()
    assert not (tmp_path / "run.csv.resume").exists()
    assert len(result.images) == 32
    # The CLI resumes a checkpoint Python wrote, and the other way round.
    cli_out = tmp_path / "cli.csv"
    run_cli(cli, "screen", *images, "--models", ",".join(map(str, MODELS)), "--top", "3", "--chunk", "5",
            "--out", cli_out, "--stop-after", "2", check=False)
    assert (tmp_path / "cli.csv.resume").exists()
    cortexlens.screen(images, MODELS, top=3, out=cli_out, resume=True)
    assert cli_out.read_bytes() == clean.read_bytes()


def test_screen_errors():
    with pytest.raises(OSError, match="'/nonexistent/models': no such model file or folder"):
        cortexlens.screen(["/tmp"], ["/nonexistent/models"])
    with pytest.raises(OSError, match="/nonexistent/images"):
        cortexlens.screen(["/nonexistent/images"], [DEMO_KERAS])
    with pytest.raises(ValueError, match="has float weights, expected an int8 .clm file"):
        cortexlens.screen(["/tmp"], [DEMO_KERAS], precision="int8")
    with pytest.raises(ValueError, match="resume needs out"):
        cortexlens.screen(["/tmp"], [DEMO_KERAS], resume=True)


def assert_same_result(a, b):
    assert a.images == b.images
    assert a.columns == b.columns
    assert a.failures == b.failures
    assert np.array_equal(a.counts, b.counts)
    for name in ["top_index", "top_response", "bottom_index", "bottom_response", "quantiles", "responses"]:
        assert np.array_equal(getattr(a, name), getattr(b, name), equal_nan=True), name


@pytest.fixture(scope="module")
def dask_client():
    distributed = pytest.importorskip("distributed", reason="Debian's python3-distributed is not installed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        with distributed.Client(cluster) as client:
            yield client


def test_dask_equals_one_process_on_demo(dask_client, demo_images):
    import cortexlens.dask
    images = image_paths(demo_images)
    single = cortexlens.screen(images, MODELS, top=4, threads=1)
    for shard_size in [3, 7, 31]:
        merged = cortexlens.dask.screen(images, MODELS, top=4, client=dask_client, shard_size=shard_size)
        assert_same_result(merged, single)
    lists_only = cortexlens.dask.screen(images, MODELS, top=4, client=dask_client, shard_size=5,
                                        keep_responses=False)
    assert lists_only.quantiles is None and lists_only.responses is None
    assert np.array_equal(lists_only.top_index, single.top_index)
    assert np.array_equal(lists_only.bottom_response, single.bottom_response, equal_nan=True)


def test_dask_equals_one_process_on_a_session(dask_client, data):
    """All 1,200 images of session 190923 through its 33 neurons' models: exactly the single-process result."""
    import cortexlens.dask
    images = [data / "sessions" / "images_190923.zip"]
    models = sorted((data / "compact_models").glob("compact_model_190923_neuron*.keras"))
    assert len(models) == 33
    single = cortexlens.screen(images, models, top=10, threads=2)
    merged = cortexlens.dask.screen(images, models, top=10, client=dask_client, shard_size=100)
    assert_same_result(merged, single)
