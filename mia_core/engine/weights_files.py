"""Read PyTorch state-dict files (``.pth``/``.pt``, ``.safetensors``) into numpy arrays, safely.

A ``.pth`` file is a pickle; unpickling an arbitrary one runs arbitrary code.  With torch installed
we use ``torch.load(weights_only=True)``; without it (the default install) a restricted unpickler
admits only what a state dict of tensors needs (``OrderedDict``, tensor and parameter rebuilds,
the storage types) and refuses every other object by name.  Both of torch's layouts are read: the
zip archive (``*/data.pkl`` plus one raw file per storage, torch >= 1.6) and the legacy
stream (magic number, protocol, system info, the pickle, the storage keys, then each storage
as an int64 element count followed by its raw little-endian bytes).  ``.safetensors`` is a JSON
header followed by raw data; it is parsed here directly (no pickle at all).

This module imports only numpy (no JAX), so it is cheap to use from the command line.
"""

from __future__ import annotations

import io
import json
import pickle
import struct
import zipfile
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

#: torch storage class name -> numpy dtype of its elements.
_STORAGE_DTYPES: dict[str, np.dtype] = {
    "DoubleStorage": np.dtype("<f8"),
    "FloatStorage": np.dtype("<f4"),
    "HalfStorage": np.dtype("<f2"),
    "BFloat16Storage": np.dtype("<u2"),  # widened to float32 after reading
    "LongStorage": np.dtype("<i8"),
    "IntStorage": np.dtype("<i4"),
    "ShortStorage": np.dtype("<i2"),
    "CharStorage": np.dtype("i1"),
    "ByteStorage": np.dtype("u1"),
    "BoolStorage": np.dtype("?"),
}

#: safetensors dtype name -> numpy dtype.
_SAFETENSORS_DTYPES: dict[str, np.dtype] = {
    "F64": np.dtype("<f8"),
    "F32": np.dtype("<f4"),
    "F16": np.dtype("<f2"),
    "BF16": np.dtype("<u2"),
    "I64": np.dtype("<i8"),
    "I32": np.dtype("<i4"),
    "I16": np.dtype("<i2"),
    "I8": np.dtype("i1"),
    "U8": np.dtype("u1"),
    "BOOL": np.dtype("?"),
}

_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_LEGACY_PROTOCOL = 1001


class WeightsFileError(ValueError):
    """A weights file that cannot be read (the message names the file and what is wrong)."""


def read_state_dict(path: str | Path) -> dict[str, np.ndarray]:
    """The name -> array mapping stored in a ``.pth``/``.pt``/``.bin`` or ``.safetensors`` file."""
    path = Path(path)
    if not path.is_file():
        raise WeightsFileError(f"{path}: no such file")
    if path.suffix.lower() == ".safetensors":
        return read_safetensors(path)
    return read_pth(path)


def read_pth(path: str | Path, *, use_torch: bool | None = None) -> dict[str, np.ndarray]:
    """Tensors of a PyTorch checkpoint; a ``{"state_dict": ...}`` or ``{"model": ...}`` wrapper is unwrapped.

    ``use_torch`` None uses torch when it is importable; False forces the restricted reader.
    """
    path = Path(path)
    if use_torch is None:
        try:
            import torch  # noqa: F401
        except ImportError:
            use_torch = False
        else:
            use_torch = True
    if use_torch:
        obj = _torch_load(path)
    elif zipfile.is_zipfile(path):
        obj = _read_zip(path)
    else:
        obj = _read_legacy(path)
    return _flatten_state_dict(path, obj)


def read_safetensors(path: str | Path) -> dict[str, np.ndarray]:
    """Arrays of a ``.safetensors`` file (8-byte header length, JSON header, raw little-endian data)."""
    path = Path(path)
    data = path.read_bytes()
    if len(data) < 8:
        raise WeightsFileError(f"{path}: too short to be a safetensors file")
    (header_len,) = struct.unpack("<Q", data[:8])
    if header_len > len(data) - 8:
        raise WeightsFileError(f"{path}: header length {header_len} exceeds the file size {len(data)}")
    try:
        header = json.loads(data[8 : 8 + header_len])
    except ValueError as exc:
        raise WeightsFileError(f"{path}: the safetensors header is not valid JSON ({exc})") from None
    body = memoryview(data)[8 + header_len :]
    out: dict[str, np.ndarray] = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        try:
            dtype = _SAFETENSORS_DTYPES[info["dtype"]]
            shape = tuple(int(s) for s in info["shape"])
            begin, end = (int(v) for v in info["data_offsets"])
        except (KeyError, TypeError, ValueError):
            raise WeightsFileError(f"{path}: tensor {name!r} has an unreadable entry {info!r}") from None
        count = int(np.prod(shape, dtype=np.int64))
        if end - begin != count * dtype.itemsize or end > len(body) or begin < 0:
            raise WeightsFileError(
                f"{path}: tensor {name!r} needs {count * dtype.itemsize} bytes, its offsets give {end - begin}"
            )
        array = np.frombuffer(body[begin:end], dtype=dtype).reshape(shape)
        out[name] = _widen(array, info["dtype"] == "BF16")
    return out


def _torch_load(path: Path) -> Any:
    """``torch.load`` with pickled code refused; tensors come back as numpy arrays."""
    import torch

    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises UnpicklingError, RuntimeError ...
        raise WeightsFileError(f"{path}: torch could not read it safely ({exc})") from None

    def convert(value: Any) -> Any:
        if isinstance(value, torch.Tensor):
            return value.detach().cpu().float().numpy() if value.dtype == torch.bfloat16 else value.detach().cpu().numpy()
        if isinstance(value, dict):
            return {k: convert(v) for k, v in value.items()}
        return value

    return convert(obj)


class _Storage:
    """A storage named in the pickle; its bytes are attached once they have been read."""

    def __init__(self, type_name: str, key: str, numel: int) -> None:
        self.type_name = type_name
        self.dtype = _STORAGE_DTYPES[type_name]
        self.key = key
        self.numel = numel
        self.data: np.ndarray | None = None


class _TensorRef:
    """A tensor view of a storage (offset, size, stride), materialised after the storages are read."""

    def __init__(self, storage: _Storage, offset: int, size: tuple[int, ...], stride: tuple[int, ...]) -> None:
        self.storage, self.offset, self.size, self.stride = storage, offset, tuple(size), tuple(stride)

    def array(self, path: Path) -> np.ndarray:
        """The tensor's values as a fresh C-contiguous array."""
        data = self.storage.data
        if data is None:
            raise WeightsFileError(f"{path}: storage {self.storage.key!r} has no data")
        itemsize = data.dtype.itemsize
        if self.size:
            last = self.offset + sum((n - 1) * s for n, s in zip(self.size, self.stride) if n > 0)
            if min(self.size) > 0 and last >= data.size:
                raise WeightsFileError(f"{path}: a tensor reaches past the end of storage {self.storage.key!r}")
        view = np.lib.stride_tricks.as_strided(
            data[self.offset :], shape=self.size, strides=tuple(s * itemsize for s in self.stride)
        )
        return _widen(np.array(view), self.storage.type_name == "BFloat16Storage")


def _rebuild_tensor_v2(storage: _Storage, offset: int, size: Any, stride: Any, *_: Any, **__: Any) -> _TensorRef:
    """Stand-in for ``torch._utils._rebuild_tensor_v2``: records the view."""
    if not isinstance(storage, _Storage):
        raise pickle.UnpicklingError("a tensor rebuild without a storage")
    return _TensorRef(storage, int(offset), tuple(size), tuple(stride))


def _rebuild_parameter(data: _TensorRef, *_: Any, **__: Any) -> _TensorRef:
    """Stand-in for ``torch._utils._rebuild_parameter``: a parameter is its tensor."""
    return data


class _StorageType:
    """Stand-in for a ``torch.<Type>Storage`` class referenced in a persistent id."""

    def __init__(self, name: str) -> None:
        self.name = name


class _RestrictedUnpickler(pickle.Unpickler):
    """Admits only the globals of a tensor state dict; anything else is refused by name."""

    def __init__(self, file: BinaryIO, storages: dict[str, _Storage], path: Path) -> None:
        super().__init__(file)
        self.storages = storages
        self.path = path

    def find_class(self, module: str, name: str) -> Any:
        if module == "collections" and name == "OrderedDict":
            import collections

            return collections.OrderedDict
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return _rebuild_tensor_v2
        if module == "torch._utils" and name == "_rebuild_parameter":
            return _rebuild_parameter
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        raise pickle.UnpicklingError(
            f"{self.path}: refusing to load {module}.{name} (only tensors and dicts are read from weights files)"
        )

    def persistent_load(self, pid: Any) -> Any:
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"):
            raise pickle.UnpicklingError(f"{self.path}: unsupported persistent id {pid!r:.80}")
        storage_type, key, _location, numel = pid[1], str(pid[2]), pid[3], int(pid[4])
        if not isinstance(storage_type, _StorageType):
            raise pickle.UnpicklingError(f"{self.path}: storage {key!r} has no known storage type")
        if key not in self.storages:
            self.storages[key] = _Storage(storage_type.name, key, numel)
        return self.storages[key]


def _unpickle(stream: BinaryIO, storages: dict[str, _Storage], path: Path) -> Any:
    """One pickle from ``stream`` through the restricted unpickler, errors naming the file."""
    try:
        return _RestrictedUnpickler(stream, storages, path).load()
    except pickle.UnpicklingError as exc:
        raise WeightsFileError(str(exc) if str(path) in str(exc) else f"{path}: {exc}") from None
    except (EOFError, ValueError, TypeError, struct.error, IndexError, KeyError) as exc:
        raise WeightsFileError(f"{path}: not a readable PyTorch weights file ({type(exc).__name__}: {exc})") from None


def _read_zip(path: Path) -> Any:
    """torch >= 1.6 layout: ``<root>/data.pkl`` and ``<root>/data/<key>`` raw storages."""
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        pkl = [n for n in names if n.endswith("/data.pkl") or n == "data.pkl"]
        if not pkl:
            raise WeightsFileError(f"{path}: a zip file without data.pkl is not a PyTorch weights file")
        root = pkl[0][: -len("data.pkl")]
        storages: dict[str, _Storage] = {}
        obj = _unpickle(io.BytesIO(archive.read(pkl[0])), storages, path)
        for key, storage in storages.items():
            member = f"{root}data/{key}"
            try:
                raw = archive.read(member)
            except KeyError:
                raise WeightsFileError(f"{path}: storage file {member} is missing") from None
            _attach(path, storage, raw)
    return _materialise(path, obj)


def _read_legacy(path: Path) -> Any:
    """torch < 1.6 stream layout (see the module docstring)."""
    with open(path, "rb") as stream:
        none: dict[str, _Storage] = {}
        magic = _unpickle(stream, none, path)
        if magic != _LEGACY_MAGIC:
            raise WeightsFileError(f"{path}: not a PyTorch weights file (no zip archive, no legacy magic number)")
        protocol = _unpickle(stream, none, path)
        if protocol != _LEGACY_PROTOCOL:
            raise WeightsFileError(f"{path}: legacy protocol {protocol!r}, expected {_LEGACY_PROTOCOL}")
        info = _unpickle(stream, none, path)
        if isinstance(info, dict) and not info.get("little_endian", True):
            raise WeightsFileError(f"{path}: big-endian weights files are not supported")
        storages: dict[str, _Storage] = {}
        obj = _unpickle(stream, storages, path)
        keys = _unpickle(stream, none, path)
        if not isinstance(keys, list):
            raise WeightsFileError(f"{path}: the storage key list is missing")
        for key in keys:
            storage = storages.get(str(key))
            if storage is None:
                raise WeightsFileError(f"{path}: storage {key!r} is listed but never used")
            head = stream.read(8)
            if len(head) != 8:
                raise WeightsFileError(f"{path}: the file ends before storage {key!r}")
            (numel,) = struct.unpack("<q", head)
            raw = stream.read(numel * storage.dtype.itemsize)
            _attach(path, storage, raw, numel)
    return _materialise(path, obj)


def _attach(path: Path, storage: _Storage, raw: bytes, numel: int | None = None) -> None:
    """Give a storage its bytes, checking the element count."""
    count = storage.numel if numel is None else numel
    if len(raw) != count * storage.dtype.itemsize:
        raise WeightsFileError(
            f"{path}: storage {storage.key!r} holds {len(raw)} bytes, expected {count * storage.dtype.itemsize}"
        )
    storage.data = np.frombuffer(raw, dtype=storage.dtype)


def _materialise(path: Path, obj: Any) -> Any:
    """Replace every tensor reference in a (nested) dict by its array."""
    if isinstance(obj, _TensorRef):
        return obj.array(path)
    if isinstance(obj, dict):
        return {k: _materialise(path, v) for k, v in obj.items()}
    return obj


def _flatten_state_dict(path: Path, obj: Any) -> dict[str, np.ndarray]:
    """A flat name -> array dict; unwraps the usual ``state_dict``/``model`` checkpoint wrappers."""
    if isinstance(obj, dict):
        for wrapper in ("state_dict", "model", "model_state_dict"):
            inner = obj.get(wrapper)
            if isinstance(inner, dict) and inner and all(isinstance(v, np.ndarray) for v in inner.values()):
                obj = inner
                break
    if not isinstance(obj, dict):
        raise WeightsFileError(f"{path}: holds a {type(obj).__name__}, expected a state dict of tensors")
    out = {str(k): v for k, v in obj.items() if isinstance(v, np.ndarray)}
    if not out:
        raise WeightsFileError(f"{path}: holds no tensors")
    return out


def _widen(array: np.ndarray, bfloat16: bool) -> np.ndarray:
    """bfloat16 bit patterns (stored as uint16) become float32; anything else is returned as is."""
    if not bfloat16:
        return array
    return (array.astype(np.uint32) << 16).view(np.float32)
