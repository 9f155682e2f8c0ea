"""DEXTR (Maninis et al. 2018): the object from its 4 extreme points, as MIA does it.

The crop around the points (50 px padding, zero-padded where it leaves the image, so an object
always fills the same share of the crop) is resized to the model's input size; a Gaussian
heat-map (sigma 10 at 512 px) of the points, normalised like the colour channels, is the fourth
input channel; an encoder-decoder from the registry (MobileNetV2 + U-Net) gives one logit per
pixel; sigmoid, threshold 0.8, the crop's mask pasted back into the image. No DEXTR
weights exist offline, so mia trains DEXTR on the user's own contours with simulated, jittered
extreme points (:func:`train_dextr`, ``mia dextr train``). A model folder holds ``dextr.json`` and
``weights.msgpack`` (flax msgpack, never pickle).
"""

from __future__ import annotations

import dataclasses
import functools
import json
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import cv2
import numpy as np

from mia_core.api import AssistantError, AssistantSession
from mia_core.assist import display_uint8
from mia_core.hooks import hookimpl

PADDING = 50
INPUT_SIZE = 512
SIGMA = 10.0  # at INPUT_SIZE; scaled with the input size
THRESHOLD = 0.8
CONFIG_FILE = "dextr.json"
WEIGHTS_FILE = "weights.msgpack"
FORMAT = "mia-dextr"
VERSION = 2  # 2: zero-padded crops and a normalised heat-map channel (version 1 inputs differ)
#: ImageNet mean/std of the RGB channels (the encoder's convention).
MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)
HEAT_MEAN, HEAT_STD = float(MEAN.mean()), float(STD.mean())

Progress = Callable[[int, int, float], None]


class DextrModelMissing(AssistantError):
    """No DEXTR model folder: the message says how to train one."""


def how_to_train(where: str | None = None) -> str:
    """One line telling the user how to get a DEXTR model."""
    at = f" at {where}" if where else ""
    return (f"No DEXTR model{at}: train one on your labelled images with `mia dextr train FOLDER --out MODEL` "
            "or Assist > Train DEXTR in the app")


@dataclasses.dataclass
class DextrConfig:
    """The settings a DEXTR model folder records (JSON)."""

    input_size: int = INPUT_SIZE
    backbone: str = "mobilenetv2"
    width: float = 1.0
    architecture: str = "unet"
    decoder_channels: tuple[int, ...] = (256, 128, 64, 32, 16)
    padding: int = PADDING
    sigma: float = SIGMA
    threshold: float = THRESHOLD
    pretrained: str | None = None  # name of the encoder weights it started from, None = scratch
    steps: int = 0
    format: str = FORMAT
    version: int = VERSION

    @property
    def heat_sigma(self) -> float:
        """The heat-map sigma in input pixels (10 at 512, as MIA)."""
        return self.sigma * self.input_size / INPUT_SIZE


# --- inputs ------------------------------------------------------------------------------------
def check_points(points: Any, shape: tuple[int, int]) -> np.ndarray:
    """The 4 extreme points as a (4, 2) x, y float array, or AssistantError saying what is wrong."""
    pts = np.asarray(points, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[1] != 2 or len(pts) < 4:
        n = 0 if pts.size == 0 else (len(pts) if pts.ndim == 2 else 1)
        raise AssistantError(f"DEXTR needs 4 extreme points (top, left, right, bottom), got {n}")
    pts = pts[:4]
    if not np.all(np.isfinite(pts)):
        raise AssistantError("DEXTR points must be finite numbers")
    h, w = shape
    if (pts[:, 0] < -0.5).any() or (pts[:, 1] < -0.5).any() or (pts[:, 0] > w - 0.5).any() or (pts[:, 1] > h - 0.5).any():
        raise AssistantError(f"DEXTR points must lie on the image ({w}×{h}); click inside it")
    span = pts.max(axis=0) - pts.min(axis=0)
    if span.max() < 3:
        raise AssistantError("DEXTR points are all on one spot: click the top, left, right and bottom of the object")
    return pts


def crop_box(points: np.ndarray, padding: int = PADDING) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) around the points with ``padding`` pixels; it may leave the image (the
    crop is zero-padded there, as DEXTR does, so the padding is the same on every side)."""
    x0 = int(np.floor(points[:, 0].min())) - padding
    y0 = int(np.floor(points[:, 1].min())) - padding
    x1 = int(np.ceil(points[:, 0].max())) + padding + 1
    y1 = int(np.ceil(points[:, 1].max())) + padding + 1
    return x0, y0, x1, y1


def padded_crop(array: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """``array[y0:y1, x0:x1]`` with zeros where the box leaves the array."""
    x0, y0, x1, y1 = box
    h, w = array.shape[:2]
    out = np.zeros((y1 - y0, x1 - x0) + array.shape[2:], array.dtype)
    sx0, sy0, sx1, sy1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if sx1 > sx0 and sy1 > sy0:
        out[sy0 - y0:sy1 - y0, sx0 - x0:sx1 - x0] = array[sy0:sy1, sx0:sx1]
    return out


def heat_map(points: np.ndarray, size: int, sigma: float) -> np.ndarray:
    """(size, size) float32: the maximum of one Gaussian per point (1 at the point)."""
    yy, xx = np.mgrid[:size, :size].astype(np.float32)
    out = np.zeros((size, size), np.float32)
    for x, y in points:
        out = np.maximum(out, np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * sigma**2)))
    return out


def make_input(picture: np.ndarray, points: np.ndarray, config: DextrConfig) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """(size, size, 4) network input of an 8-bit RGB picture and the crop box it came from."""
    box = crop_box(points, config.padding)
    x0, y0, x1, y1 = box
    size = config.input_size
    crop = cv2.resize(padded_crop(picture, box), (size, size), interpolation=cv2.INTER_AREA)
    rgb = (crop.astype(np.float32) / 255.0 - MEAN) / STD
    local = (points - (x0, y0)) * (size / (x1 - x0), size / (y1 - y0))
    heat = heat_map(local, size, config.heat_sigma)
    # normalised like a grey pixel of the same value, as DEXTR scales the heat-map to the image's range
    heat = (heat - HEAT_MEAN) / HEAT_STD
    return np.concatenate([rgb, heat[..., None]], axis=2), box


def extreme_points(mask: np.ndarray) -> np.ndarray:
    """Top, left, right, bottom points (x, y) of a mask: the middle pixel of each extreme run."""
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        raise ValueError("empty mask has no extreme points")
    out = []
    for coord, other, pick in ((ys, xs, ys.min()), (xs, ys, xs.min()), (xs, ys, xs.max()), (ys, xs, ys.max())):
        sel = coord == pick
        mid = np.sort(other[sel])[int(sel.sum()) // 2]
        out.append((mid, pick) if coord is ys else (pick, mid))
    return np.asarray(out, np.float64)


def jittered_points(mask: np.ndarray, rng: np.random.Generator, jitter: float = 5.0) -> np.ndarray:
    """Extreme points as a user clicks them: each taken among the pixels within ``jitter`` of the extreme."""
    ys, xs = np.nonzero(mask)
    out = []
    for vals, sign in ((ys, 1), (xs, 1), (xs, -1), (ys, -1)):
        ext = vals.min() if sign == 1 else vals.max()
        near = np.abs(vals - ext) <= jitter
        i = rng.choice(np.nonzero(near)[0])
        out.append((xs[i], ys[i]))
    return np.asarray(out, np.float64) + rng.uniform(-1, 1, (4, 2))


# --- the network -------------------------------------------------------------------------------
def build_network(config: DextrConfig, registry: Any = None, seed: int = 0) -> Any:
    """The encoder-decoder, 4 channels in, 1 logit out, both parts taken from the plugin registry."""
    from flax import nnx

    if registry is None:
        from mia_core.plugins import load_plugins

        registry = load_plugins()
    backbone = registry.get("backbones", config.backbone)
    arch = registry.get("architectures", config.architecture)
    if dataclasses.is_dataclass(backbone) and hasattr(backbone, "width"):
        backbone = dataclasses.replace(backbone, width=float(config.width))
    if dataclasses.is_dataclass(arch) and hasattr(arch, "decoder_channels"):
        arch = dataclasses.replace(arch, decoder_channels=tuple(int(c) for c in config.decoder_channels))
    return arch.build(backbone, 4, 1, nnx.Rngs(seed))


def pretrained_encoder(model: Any, config: DextrConfig, weights: str | None, registry: Any = None) -> str | None:
    """Start the encoder from the weights registry's cached weights: ``weights`` is a name or tag
    (``imagenet``), ``"auto"`` (ImageNet when fetched and the width is 1.0, else none) or None.

    Returns the name used, or None when training starts from scratch. Named weights that are
    missing or do not fit raise AssistantError saying how to fetch them.
    """
    if weights is None or weights == "none":
        return None
    from mia_core import weights as store
    from mia_core.engine.pretrained import apply_encoder_weights

    if registry is None:
        from mia_core.plugins import load_plugins

        registry = load_plugins()
    wanted = "imagenet" if weights == "auto" else weights
    try:
        name = store.resolve(registry, config.backbone, wanted)
        if weights == "auto" and (config.width != 1.0 or not store.is_cached(name)):
            return None
        arrays, _meta = store.load(name)
        apply_encoder_weights(model.encoder, arrays, f"weights {name!r}")
    except (store.WeightsError, ValueError, AttributeError) as exc:
        if weights == "auto":
            return None
        raise AssistantError(f"DEXTR cannot start from weights {weights!r}: {exc}") from exc
    return name


def save_dextr(folder: str | Path, model: Any, config: DextrConfig) -> None:
    """Write the model folder (JSON settings + msgpack weights), each file atomically."""
    from mia_core.atomic import atomic_write_bytes
    from mia_core.engine.checkpoint import state_bytes

    root = Path(folder)
    root.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(root / WEIGHTS_FILE, state_bytes(model))
    atomic_write_bytes(root / CONFIG_FILE, json.dumps(dataclasses.asdict(config), indent=2).encode())


def read_config(folder: str | Path) -> DextrConfig:
    """The settings of a DEXTR model folder; DextrModelMissing / AssistantError name the folder."""
    root = Path(folder)
    path = root / CONFIG_FILE
    if not root.is_dir() or not path.is_file():
        raise DextrModelMissing(how_to_train(str(root)))
    try:
        data = json.loads(path.read_text("utf-8"))
        if data.get("format") != FORMAT:
            raise ValueError(f"format is {data.get('format')!r}, not {FORMAT!r}")
        if int(data.get("version", 0)) > VERSION:
            raise ValueError(f"written by a newer mia (version {data.get('version')})")
        if int(data.get("version", 0)) < VERSION:
            raise ValueError(f"written by an earlier mia (version {data.get('version')}) whose inputs differ")
        names = {f.name for f in dataclasses.fields(DextrConfig)}
        config = DextrConfig(**{k: v for k, v in data.items() if k in names})
        config.decoder_channels = tuple(int(c) for c in config.decoder_channels)
        if int(config.input_size) % 32 or int(config.input_size) <= 0:
            raise ValueError(f"input_size {config.input_size} is not a positive multiple of 32")
    except (OSError, ValueError, TypeError, AttributeError) as exc:
        raise AssistantError(f"DEXTR model folder {root} is damaged ({path.name}: {exc}); train it again") from exc
    return config


def load_dextr(folder: str | Path, registry: Any = None) -> tuple[Any, DextrConfig]:
    """Rebuild a saved DEXTR model in eval mode; damaged folders raise AssistantError naming them."""
    from mia_core.engine.checkpoint import restore_state
    from mia_core.engine.checkpoint_files import ModelLoadError

    root = Path(folder)
    config = read_config(root)
    weights = root / WEIGHTS_FILE
    if not weights.is_file():
        raise AssistantError(f"DEXTR model folder {root} is damaged (no {WEIGHTS_FILE}); train it again")
    try:
        model = build_network(config, registry)
        restore_state(model, weights.read_bytes(), weights)
    except (ModelLoadError, KeyError, ValueError) as exc:
        raise AssistantError(f"DEXTR model folder {root} is damaged ({exc}); train it again") from exc
    model.eval()
    return model, config


def _forward(model: Any, batch: np.ndarray) -> np.ndarray:
    """Probabilities (B, H, W) of a batch of inputs (B, H, W, 4)."""
    import jax
    import jax.numpy as jnp

    logits = model(jnp.asarray(batch))
    return np.asarray(jax.nn.sigmoid(logits[..., 0]))


def segment(model: Any, config: DextrConfig, picture: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Bool mask (H, W) of an 8-bit RGB picture from 4 checked points."""
    x, box = make_input(picture, points, config)
    prob = _forward(model, x[None])[0]
    x0, y0, x1, y1 = box
    prob = cv2.resize(prob, (x1 - x0, y1 - y0), interpolation=cv2.INTER_LINEAR)
    h, w = picture.shape[:2]
    out = np.zeros((h, w), bool)
    sx0, sy0, sx1, sy1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    out[sy0:sy1, sx0:sx1] = prob[sy0 - y0:sy1 - y0, sx0 - x0:sx1 - x0] > config.threshold
    return out


# --- training ----------------------------------------------------------------------------------
@dataclasses.dataclass
class Sample:
    """One labelled object: the 8-bit RGB picture it is in and its mask."""

    picture: np.ndarray
    mask: np.ndarray


@functools.lru_cache(maxsize=1)
def _make_step() -> Callable[..., Any]:
    """A jitted class-balanced BCE step (the paper's loss) on (B, H, W, 4) inputs, (B, H, W) targets
    (one per process: a second training of the same network reuses the compiled step)."""
    import jax.numpy as jnp
    import optax
    from flax import nnx

    from mia_core.engine.steps import _Static, cpu_jit

    def pure(graphdef: Any, state: Any, x: Any, y: Any) -> Any:
        model, optimizer = nnx.merge(graphdef.graphdef, state)

        def loss_fn(m: Any) -> Any:
            logits = m(x)[..., 0].astype(jnp.float32)
            pos = jnp.mean(y)
            w = jnp.where(y > 0.5, 1.0 - pos, pos)
            bce = optax.sigmoid_binary_cross_entropy(logits, y)
            return jnp.sum(w * bce) / jnp.maximum(jnp.sum(w), 1e-6)

        loss, grads = nnx.value_and_grad(loss_fn)(model)
        optimizer.update(model, grads)
        return loss, nnx.state((model, optimizer))

    compiled = cpu_jit(pure, static_argnums=(0,))

    def step(model: Any, optimizer: Any, x: np.ndarray, y: np.ndarray) -> float:
        graphdef, state = nnx.split((model, optimizer))
        loss, new = compiled(_Static(graphdef), state, jnp.asarray(x), jnp.asarray(y))
        nnx.update((model, optimizer), new)
        return float(loss)

    return step


def augment(picture: np.ndarray, mask: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A random flip / quarter turn, a scale of 0.75-1.25 (the paper's) and a contrast and gamma
    change of the picture: what differs between the user's objects and the next ones."""
    if rng.random() < 0.5:
        picture, mask = picture[:, ::-1], mask[:, ::-1]
    if rng.random() < 0.5:
        picture, mask = picture[::-1], mask[::-1]
    turns = int(rng.integers(0, 4))
    picture, mask = np.rot90(picture, turns), np.rot90(mask, turns)
    picture, mask = np.ascontiguousarray(picture), np.ascontiguousarray(mask)
    scale = float(rng.uniform(0.75, 1.25))
    h, w = mask.shape
    size = (max(int(round(w * scale)), 8), max(int(round(h * scale)), 8))
    scaled = cv2.resize(mask.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST_EXACT) > 0
    if scaled.any():  # (a sliver could vanish when shrunk: then it keeps its size)
        picture, mask = cv2.resize(picture, size, interpolation=cv2.INTER_LINEAR), scaled
    return augment_intensity(picture, rng), mask


def augment_intensity(picture: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The picture with a random gamma (0.7-1.4) and contrast (0.8-1.2), as 8-bit."""
    x = picture.astype(np.float32) / 255.0
    x = np.clip(x, 0, 1) ** float(rng.uniform(0.7, 1.4))
    x = (x - 0.5) * float(rng.uniform(0.8, 1.2)) + 0.5 + float(rng.uniform(-0.08, 0.08))
    return (np.clip(x, 0, 1) * 255).astype(np.uint8)


def training_batch(samples: Sequence[Sample], config: DextrConfig, rng: np.random.Generator,
                   batch: int, jitter: float = 5.0) -> tuple[np.ndarray, np.ndarray]:
    """Inputs and targets for one step: random objects, augmented (:func:`augment`), with
    jittered extreme points (the paper's 5 px) and the padding used at prediction time."""
    xs, ys = [], []
    size = config.input_size
    for i in rng.integers(0, len(samples), batch):
        s = samples[int(i)]
        picture, mask = augment(s.picture, s.mask, rng)
        pts = jittered_points(mask, rng, jitter)
        x, box = make_input(picture, pts, config)
        crop = padded_crop(mask.astype(np.uint8), box)
        y = cv2.resize(crop, (size, size), interpolation=cv2.INTER_NEAREST_EXACT)
        xs.append(x)
        ys.append(y.astype(np.float32))
    return np.stack(xs), np.stack(ys)


def train_dextr(samples: Sequence[Sample], config: DextrConfig | None = None, steps: int = 2000,
                batch: int = 4, learning_rate: float = 1e-3, seed: int = 0, registry: Any = None,
                progress: Progress | None = None, out: str | Path | None = None,
                weights: str | None = None) -> Any:
    """Train DEXTR on labelled objects; returns (model, config) (saved to ``out`` when given).

    ``progress(step, steps, loss)`` is called after every step; raising inside it stops training
    (a cancel), and nothing is saved then. ``weights`` picks the encoder's start
    (:func:`pretrained_encoder`); the config records which.
    """
    import optax
    from flax import nnx

    if not samples:
        raise AssistantError("no labelled objects to train DEXTR on: label some objects first")
    config = dataclasses.replace(config or DextrConfig())
    model = build_network(config, registry, seed)
    config.pretrained = pretrained_encoder(model, config, weights, registry)
    # a short warm-up (Adam's first steps on a fresh decoder are wild), then cosine decay
    schedule = optax.warmup_cosine_decay_schedule(learning_rate / 10, learning_rate, max(steps // 20, 1),
                                                  max(steps, 2), end_value=learning_rate / 50)
    optimizer = nnx.Optimizer(model, optax.adam(schedule), wrt=nnx.Param)
    step_fn = _make_step()
    rng = np.random.default_rng(seed)
    model.train()
    for i in range(steps):
        x, y = training_batch(samples, config, rng, batch)
        loss = step_fn(model, optimizer, x, y)
        if progress is not None:
            progress(i + 1, steps, loss)
    model.eval()
    config.steps = steps
    if out is not None:
        save_dextr(out, model, config)
    return model, config


def samples_from_labels(picture: np.ndarray, labels: Any, min_pixels: int = 16) -> list[Sample]:
    """One sample per contour of a LabelSet (any foreground class) on an 8-bit RGB picture."""
    from mia_core import raster

    out = []
    shape = picture.shape[:2]
    for c in labels:
        if c.class_id == 0:
            continue
        mask = raster.contour_mask(c, shape)
        if int(mask.sum()) >= min_pixels:
            out.append(Sample(picture, mask))
    return out


# --- the assistant -----------------------------------------------------------------------------
class DextrAssistant:
    """Hints: ``points`` (4, 2) x, y in the crop, ``model`` a DEXTR model folder, optional ``levels``."""

    name = "dextr"
    label = "DEXTR (extreme points)"

    def __init__(self) -> None:
        self._cache: dict[tuple[str, float], tuple[Any, DextrConfig]] = {}

    def model(self, folder: str | Path | None) -> tuple[Any, DextrConfig]:
        """The loaded model of a folder (cached until its weights change)."""
        if folder is None:
            raise DextrModelMissing(how_to_train())
        root = Path(folder)
        weights = root / WEIGHTS_FILE
        if not (root / CONFIG_FILE).is_file():
            raise DextrModelMissing(how_to_train(str(root)))
        key = (str(root.resolve()), weights.stat().st_mtime if weights.is_file() else -1.0)
        if key not in self._cache:
            self._cache.clear()
            self._cache[key] = load_dextr(root)
        return self._cache[key]

    def available(self, folder: str | Path | None) -> bool:
        """True when ``folder`` holds a DEXTR model (it may still turn out damaged)."""
        return folder is not None and (Path(folder) / CONFIG_FILE).is_file()

    def train(self, labelled: Iterable[tuple[np.ndarray, Any]], out: str | Path, steps: int = 2000,
              input_size: int = INPUT_SIZE, width: float = 1.0, batch: int = 4, seed: int = 0,
              progress: Progress | None = None, registry: Any = None, weights: str | None = "auto",
              backbone: str = "mobilenetv2", decoder_channels: Sequence[int] | None = None) -> DextrConfig:
        """Train on every contour of (8-bit RGB picture, LabelSet) pairs and save the model to ``out``
        (the encoder starts from ImageNet MobileNetV2 when ``mia weights fetch`` has cached it)."""
        samples = [s for picture, labels in labelled for s in samples_from_labels(picture, labels)]
        config = DextrConfig(input_size=int(input_size), width=float(width), backbone=backbone)
        if decoder_channels is not None:
            config.decoder_channels = tuple(int(c) for c in decoder_channels)
        _, config = train_dextr(samples, config, steps=steps, batch=batch, seed=seed, registry=registry,
                                progress=progress, out=out, weights=weights)
        self._cache.clear()
        return config

    def predict(self, image: np.ndarray, hints: dict[str, Any], session: AssistantSession | None = None) -> np.ndarray:
        """The object marked by the 4 extreme points, as a bool mask of ``image``."""
        points = check_points(hints.get("points"), image.shape[:2])
        model, config = self.model(hints.get("model"))
        picture = display_uint8(image, hints.get("levels"))
        return segment(model, config, picture, points)


@hookimpl
def mia_assistants() -> list[DextrAssistant]:
    """Register DEXTR."""
    return [DextrAssistant()]
