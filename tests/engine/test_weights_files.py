"""Reading PyTorch state-dict files without torch and without unpickling arbitrary objects."""

from __future__ import annotations

import io
import os
import pickle
import struct
import sys
import types
import zipfile
from collections import OrderedDict

import numpy as np
import pytest

from mia_core.engine.weights_files import WeightsFileError, read_pth, read_safetensors, read_state_dict


class _FakeTorch:
    """Stand-ins pickled under torch's own global names, so files look exactly like torch's."""

    def __init__(self, monkeypatch):
        torch = types.ModuleType("torch")
        utils = types.ModuleType("torch._utils")

        class FloatStorage:  # noqa: D401 - a name carrier only
            pass

        class LongStorage:
            pass

        def _rebuild_tensor_v2(*args):  # pragma: no cover - never called when writing
            raise AssertionError

        FloatStorage.__module__ = LongStorage.__module__ = "torch"
        _rebuild_tensor_v2.__module__ = "torch._utils"
        FloatStorage.__qualname__, LongStorage.__qualname__ = "FloatStorage", "LongStorage"
        _rebuild_tensor_v2.__qualname__ = "_rebuild_tensor_v2"
        torch.FloatStorage, torch.LongStorage, torch._utils = FloatStorage, LongStorage, utils
        utils._rebuild_tensor_v2 = _rebuild_tensor_v2
        monkeypatch.setitem(sys.modules, "torch", torch)
        monkeypatch.setitem(sys.modules, "torch._utils", utils)
        self.torch, self.utils = torch, utils


class _Tensor:
    """A tensor to write: storage key, storage array, and the view (offset, size, stride)."""

    def __init__(self, key, storage, offset, size, stride):
        self.key, self.storage, self.offset, self.size, self.stride = key, storage, offset, size, stride

    def __reduce__(self):
        fake = sys.modules["torch"]
        return (fake._utils._rebuild_tensor_v2, (_StorageRef(self), self.offset, self.size, self.stride, False, OrderedDict()))


class _StorageRef:
    def __init__(self, tensor):
        self.tensor = tensor


class _Pickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, _StorageRef):
            t = obj.tensor
            cls = sys.modules["torch"].LongStorage if t.storage.dtype == np.int64 else sys.modules["torch"].FloatStorage
            return ("storage", cls, t.key, "cpu", t.storage.size)
        return None


def _state():
    """A weight, its transpose (a strided view of the same storage), a bias and a counter."""
    w = np.arange(12, dtype=np.float32).reshape(3, 4)
    b = np.array([0.5, -1.5, 2.25], np.float32)
    count = np.array([7], np.int64)
    tensors = OrderedDict(
        [("conv.weight", _Tensor("0", w.ravel(), 0, (3, 4), (4, 1))),
         ("conv.weight_t", _Tensor("0", w.ravel(), 0, (4, 3), (1, 4))),
         ("conv.bias", _Tensor("1", b, 1, (2,), (1,))),
         ("bn.num_batches_tracked", _Tensor("2", count, 0, (), ()))]
    )
    expected = {"conv.weight": w, "conv.weight_t": w.T, "conv.bias": b[1:], "bn.num_batches_tracked": count.reshape(())}
    storages = {"0": w.ravel(), "1": b, "2": count}
    return tensors, expected, storages


def _dumps(obj) -> bytes:
    buf = io.BytesIO()
    _Pickler(buf, protocol=2).dump(obj)
    return buf.getvalue()


def _write_zip(path, monkeypatch, wrap=False):
    _FakeTorch(monkeypatch)
    tensors, expected, storages = _state()
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("archive/data.pkl", _dumps({"state_dict": tensors} if wrap else tensors))
        for key, arr in storages.items():
            z.writestr(f"archive/data/{key}", arr.astype(arr.dtype.newbyteorder("<")).tobytes())
        z.writestr("archive/version", "3\n")
    return expected


def _write_legacy(path, monkeypatch):
    _FakeTorch(monkeypatch)
    tensors, expected, storages = _state()
    with open(path, "wb") as f:
        pickle.dump(0x1950A86A20F9469CFC6C, f, protocol=2)
        pickle.dump(1001, f, protocol=2)
        pickle.dump({"protocol_version": 1001, "little_endian": True}, f, protocol=2)
        f.write(_dumps(tensors))
        pickle.dump(list(storages), f, protocol=2)
        for arr in storages.values():
            f.write(struct.pack("<q", arr.size))
            f.write(arr.tobytes())
    return expected


@pytest.mark.parametrize("layout", ["zip", "legacy"])
def test_both_torch_layouts_are_read_with_views_and_offsets(tmp_path, monkeypatch, layout):
    path = tmp_path / "w.pth"
    expected = (_write_zip if layout == "zip" else _write_legacy)(path, monkeypatch)
    got = read_pth(path, use_torch=False)
    assert set(got) == set(expected)
    for key, value in expected.items():
        assert got[key].dtype == value.dtype and np.array_equal(got[key], value), key


def test_a_state_dict_wrapper_is_unwrapped(tmp_path, monkeypatch):
    path = tmp_path / "w.pth"
    expected = _write_zip(path, monkeypatch, wrap=True)
    assert set(read_pth(path, use_torch=False)) == set(expected)


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


def test_pickled_code_is_refused_by_name_and_never_run(tmp_path, monkeypatch):
    path = tmp_path / "evil.pth"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("archive/data.pkl", pickle.dumps({"w": _Evil()}, protocol=2))
    calls = []
    monkeypatch.setattr(os, "system", lambda *a: calls.append(a))
    with pytest.raises(WeightsFileError, match=r"evil.pth: refusing to load (posix|nt|os)\.system"):
        read_pth(path, use_torch=False)
    assert not calls


def test_files_that_are_not_weights_are_refused_with_their_name(tmp_path):
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"hello world, not a pickle")
    with pytest.raises(WeightsFileError, match="junk.pth"):
        read_pth(junk, use_torch=False)
    with pytest.raises(WeightsFileError, match="no such file"):
        read_state_dict(tmp_path / "absent.pth")


def test_safetensors_written_by_the_safetensors_package_are_read(tmp_path):
    st = pytest.importorskip("safetensors.numpy")
    rng = np.random.default_rng(0)
    arrays = {"a.weight": rng.standard_normal((4, 3, 3, 3)).astype(np.float32),
              "a.bias": rng.standard_normal(4).astype(np.float16),
              "n": np.array([3], np.int64)}
    path = tmp_path / "m.safetensors"
    st.save_file(arrays, str(path))
    got = read_state_dict(path)
    assert set(got) == set(arrays)
    for key, value in arrays.items():
        assert got[key].dtype == value.dtype and np.array_equal(got[key], value)


def test_a_truncated_safetensors_file_is_refused(tmp_path):
    path = tmp_path / "bad.safetensors"
    header = b'{"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}'
    path.write_bytes(struct.pack("<Q", len(header)) + header + b"\0" * 8)
    with pytest.raises(WeightsFileError, match="bad.safetensors: tensor 'w'"):
        read_safetensors(path)
