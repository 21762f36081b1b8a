"""cortexlens.load / Model / load_image: predictions against the CLI, errors, memory, the GIL."""

import os
import sys
import threading
import time

import numpy as np
import pytest

import cortexlens
from conftest import DEMO_CLM, DEMO_KERAS, ROOT, dot_image, run_cli, write_bmp


def cli_predictions(cli, model, images, isa=None):
    """The CLI's `predict` table as float32 (its 9 significant digits read back as the same float32)."""
    out = run_cli(cli, "predict", model, *images, "--threads", "1", isa=isa).stdout.decode().splitlines()
    return np.array([[np.float32(v) for v in line.split(",")[1:]] for line in out[1:]], np.float32)


def test_info_and_shapes():
    model = cortexlens.load(DEMO_KERAS)
    info = model.info()
    assert info["input"] == (112, 112, 3)
    assert info["outputs"] == model.output_names and len(info["outputs"]) == 1
    assert info["layers"] and info["params"] > 0
    batch = np.stack([dot_image(i) for i in range(5)])
    assert model.predict(batch).shape == (5, 1)
    assert model.predict(batch[0]).shape == (1,)
    assert model.predict(np.zeros((0, 112, 112, 3), np.uint8)).shape == (0, 1)
    assert cortexlens.load(DEMO_CLM).info()["input"] == (112, 112, 3)


def test_uint8_and_float_inputs_agree():
    model = cortexlens.load(DEMO_KERAS)
    batch = np.stack([dot_image(i) for i in range(4)])
    recentred = batch.astype(np.float32) - np.array([116.222, 109.270, 100.381], np.float32)
    assert np.array_equal(model.predict(batch), model.predict(recentred))
    # float64 input is converted to float32
    assert np.array_equal(model.predict(batch), model.predict(recentred.astype(np.float64)))


def test_demo_predictions_equal_cli(cli, tmp_path):
    paths = []
    for i in range(6):
        path = tmp_path / f"img{i}.bmp"
        write_bmp(path, dot_image(i, 112 if i % 2 else 160))
        paths.append(path)
    for model_path in (DEMO_KERAS, DEMO_CLM):
        model = cortexlens.load(model_path)
        ours = np.stack([model.predict(cortexlens.load_image(p)) for p in paths])
        assert np.array_equal(ours, cli_predictions(cli, model_path, paths)), model_path
        # bytes in, and a batch of decoded pixels of any size, give the same
        assert np.array_equal(ours[0], model.predict(cortexlens.load_image(paths[0].read_bytes())))
        pixels = np.stack([dot_image(i, 160) for i in (0, 2, 4)])  # the 160x160 ones: centred crop, resized
        assert np.array_equal(model.predict(pixels), ours[[0, 2, 4]])


def test_crop_equals_cli(cli, tmp_path):
    path = tmp_path / "wide.bmp"
    write_bmp(path, np.ascontiguousarray(np.tile(dot_image(7, 120), (1, 2, 1))))
    model = cortexlens.load(DEMO_KERAS)
    ours = model.predict(cortexlens.load_image(path, crop=(100, 0, 120)))
    out = run_cli(cli, "predict", DEMO_KERAS, path, "--crop", "100,0,120").stdout.decode().splitlines()
    assert ours[0] == np.float32(out[1].split(",")[1])


GOLDEN_MODELS = ["compact_model_190923_neuron0", "compact_model_201025_neuron51", "compact_model_211022_neuron27"]


@pytest.mark.parametrize("isa", [None, "sse"])
def test_golden_images_equal_cli_bit_for_bit(data, cli, golden_images, isa, default_isa):
    """Python and the CLI on the same ISA give the same bits; both within the JPEG decoders' 0.005 of golden."""
    golden, paths = golden_images
    if isa:
        cortexlens.set_isa(isa)
    inputs = np.stack([cortexlens.load_image(p) for p in paths])
    for name in GOLDEN_MODELS:
        path = data / "compact_models" / f"{name}.keras"
        ours = cortexlens.load(path).predict(inputs)
        assert np.array_equal(ours, cli_predictions(cli, path, paths, isa=isa)), name
        assert np.max(np.abs(ours[:, 0] - np.array(golden["responses"][name]))) < 0.006, name
    shared = data / "shared_compact_models" / "from_ensemble_model" / "shared_compact_model_100filters.keras"
    ours = cortexlens.load(shared).predict(inputs)
    assert np.array_equal(ours, cli_predictions(cli, shared, paths, isa=isa))


def test_golden_pattern(data, golden_images, default_isa):
    """The pattern needs no decoding: equal to the independent reference to its 6 printed decimals."""
    golden, _ = golden_images
    h, w, c = np.meshgrid(np.arange(112), np.arange(112), np.arange(3), indexing="ij")
    pattern = (100 * np.sin(0.1 * h + 0.2 * w + 1.0 * c)).astype(np.float32)
    expected = golden["pattern"]["responses"]
    for isa in cortexlens.supported_isas():
        cortexlens.set_isa(isa)
        for name in GOLDEN_MODELS:
            value = cortexlens.load(data / "compact_models" / f"{name}.keras").predict(pattern)[0]
            assert abs(value - expected[name]) < 2e-5 * max(1.0, abs(expected[name])), (isa, name)
        shared = data / "shared_compact_models" / "from_ensemble_model" / "shared_compact_model_100filters.keras"
        values = cortexlens.load(shared).predict(pattern)[[0, 36, 218]]
        assert np.allclose(values, expected["shared_compact_model_100filters (outputs 0, 36, 218)"], atol=2e-5)


def test_int8_precision():
    model = cortexlens.load(DEMO_CLM)
    assert model.info()["int8"]
    batch = np.stack([dot_image(i) for i in range(8)])
    int8, float32 = model.predict(batch), model.predict(batch, precision="float32")
    assert np.array_equal(int8, model.predict(batch, precision="int8"))
    # the int8 kernels, not the float ones (the CLI comparison above covers their exact values)
    assert not np.array_equal(int8, float32)
    assert np.max(np.abs(int8 - float32)) <= 0.1 * max(1e-3, float(np.ptp(float32)))
    with pytest.raises(ValueError, match="precision 'half': expected"):
        model.predict(batch, precision="half")


def test_errors_carry_the_engine_messages(cli):
    with pytest.raises(OSError, match="cannot open '/nonexistent/model.keras'"):
        cortexlens.load("/nonexistent/model.keras")
    for bad in ["bad_magic.clm", "truncated.clm", "not_a_zip.keras", "nan_weights.keras"]:
        path = ROOT / "tests" / "bad_models" / bad
        message = run_cli(cli, "info", path, check=False).stderr.decode().strip()
        with pytest.raises(ValueError) as error:
            cortexlens.load(path)
        assert str(error.value) in message, (bad, message)
    for bad in ["empty.jpg", "jpeg_claims_30000x30000.jpg", "truncated_bmp_half.bmp", "html_named.jpg"]:
        path = ROOT / "tests" / "bad_inputs" / bad
        message = run_cli(cli, "predict", DEMO_KERAS, path, check=False).stderr.decode().strip()
        with pytest.raises(ValueError) as error:
            cortexlens.load_image(path)
        assert str(error.value) in message, (bad, message)
    with pytest.raises(OSError):
        cortexlens.load_image("/nonexistent/image.jpg")
    model = cortexlens.load(DEMO_KERAS)
    with pytest.raises(ValueError, match=r"float input has shape \(100, 112, 3\), expected \(112, 112, 3\)"):
        model.predict(np.zeros((100, 112, 3), np.float32))
    with pytest.raises(ValueError, match="expected uint8 RGB pixels or recentred float32 values, found dtype int64"):
        model.predict(np.zeros((1, 112, 112, 3), np.int64))
    with pytest.raises(ValueError, match="uint8 images must be RGB"):
        model.predict(np.zeros((2, 112, 112, 4), np.uint8))
    with pytest.raises(ValueError, match="unknown instruction set 'mmx', expected"):
        cortexlens.set_isa("mmx")


def test_crop_outside_image_is_refused(tmp_path):
    path = tmp_path / "small.bmp"
    write_bmp(path, dot_image(1, 112))
    with pytest.raises(ValueError, match="crop"):
        cortexlens.load_image(path, crop=(50, 50, 112))


def test_activations_gradient_synthesis():
    model = cortexlens.load(DEMO_KERAS)
    image = dot_image(3)
    layers = model.activations(image)
    assert list(layers) == [layer["name"] for layer in model.info()["layers"]]
    last = list(layers.values())[-1]
    assert np.float32(last.reshape(-1)[0]) == model.predict(image)[0]
    value, gradient = model.input_gradient(image)
    assert gradient.shape == (112, 112, 3) and np.isfinite(gradient).all()
    assert np.float32(value) == model.predict(image)[0]
    with pytest.raises(ValueError):
        model.input_gradient(image, output=5)
    first = model.synthesize(steps=20, seed=3)
    again = model.synthesize(steps=20, seed=3)
    assert first["image"].shape == (112, 112, 3) and first["image"].dtype == np.uint8
    assert np.array_equal(first["image"], again["image"]) and first["response"] == again["response"]
    assert len(first["trace"]) == 20
    with pytest.raises(ValueError, match="recipe"):
        model.synthesize(steps=5, recipe="dream")


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


def test_no_memory_growth_over_10000_predictions():
    model = cortexlens.load(DEMO_KERAS)
    image = dot_image(5)
    for _ in range(500):  # warm-up: runner pool, allocator arenas
        model.predict(image)
    before = rss_bytes()
    for _ in range(10_000):
        model.predict(image)
    growth = rss_bytes() - before
    print(f"RSS growth over 10,000 predictions after warm-up: {growth / 1024:.0f} KiB")
    assert growth < 4 << 20  # 4 MiB; a leak of one 150 KB input per call would be 1.5 GB


def test_gil_released_two_threads_faster_than_one():
    """Each thread predicts a batch; with the GIL released during compute, two batches on two threads take
    clearly less wall time than one after the other (best of several rounds, the machine may be busy)."""
    model = cortexlens.load(DEMO_KERAS)
    batch = np.stack([dot_image(i) for i in range(160)])
    model.predict(batch)

    def sequential():
        model.predict(batch)
        model.predict(batch)

    def concurrent():
        threads = [threading.Thread(target=model.predict, args=(batch,)) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    def seconds(run):
        start = time.perf_counter()
        run()
        return time.perf_counter() - start

    if (os.cpu_count() or 1) < 2:
        pytest.skip("one core: two threads cannot be faster than one")
    rounds = [(seconds(sequential), seconds(concurrent)) for _ in range(7)]
    one, two = min(r[0] for r in rounds), min(r[1] for r in rounds)
    print(f"two batches sequentially {one * 1000:.1f} ms, on two threads {two * 1000:.1f} ms: ratio {two / one:.2f}")
    # 0.51 on this 2-core machine idle, 0.86 with a fuzzer and browser tests beside it; the test below proves the
    # release itself without timing.
    assert two < 0.95 * one


def test_gil_released_python_runs_during_predict():
    """Another Python thread counts while this one is inside predict. With the GIL held it could count only in the
    switch intervals (5 ms) before the call began; released, it counts through the call, whatever the load."""
    model = cortexlens.load(DEMO_KERAS)
    batch = np.stack([dot_image(i % 50) for i in range(1000)])
    model.predict(batch[:1])
    count = [0]
    stop = threading.Event()

    def counter():
        while not stop.is_set():
            count[0] += 1

    thread = threading.Thread(target=counter)
    thread.start()
    try:
        while count[0] == 0:
            time.sleep(0.001)
        alone = count[0]
        time.sleep(0.2)
        rate = (count[0] - alone) / 0.2  # counts a second with the GIL all its own
        before, started = count[0], time.perf_counter()
        model.predict(batch)
        during, seconds = count[0] - before, time.perf_counter() - started
    finally:
        stop.set()
        thread.join()
    interval = sys.getswitchinterval()
    print(f"predict {seconds * 1000:.0f} ms; the other thread counted {during} ({during / rate * 1000:.0f} ms worth)")
    assert seconds > 40 * interval, "the batch is too small for the test to mean anything"
    assert during > 20 * interval * rate
