"""U-Net: a decoder with skip connections from a backbone's stride-2..32 features.

Each decoder block up-samples 2x (nearest), concatenates the backbone's feature map of that
stride, and applies two 3x3 conv/BN/ReLU layers; a fifth block returns to input resolution
without a skip, and a 3x3 conv gives per-pixel logits (the layout of segmentation_models' U-Net).
The first convolution of a block runs on the low-resolution input
(``layers.upsample_concat_conv``): the same function with fewer operations.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from mia_core.hooks import hookimpl

#: Input height and width must be multiples of this (the deepest feature map has stride 32).
SIZE_MULTIPLE = 32


@dataclass(frozen=True)
class UNetArchitecture:
    """U-Net factory; ``decoder_channels`` are the widths of the blocks at strides 16, 8, 4, 2, 1."""

    name: str = "unet"
    decoder_channels: tuple[int, int, int, int, int] = (256, 128, 64, 32, 16)
    required_strides: tuple[int, ...] = (2, 4, 8, 16, 32)

    def build(self, backbone: Any, in_channels: int, num_classes: int, rngs: Any) -> Any:
        """Build encoder + decoder; raises ValueError when the backbone lacks a needed stride."""
        offered = tuple(getattr(backbone, "strides", ()))
        missing = sorted(set(self.required_strides) - set(offered))
        if missing:
            raise ValueError(
                f"architecture {self.name!r} cannot use backbone {backbone.name!r}: it needs feature "
                f"strides {list(self.required_strides)}, the backbone offers {list(offered)}"
            )
        encoder = backbone.build(in_channels, rngs)
        channels = _feature_channels(encoder, in_channels)
        return _network_class()(encoder, channels, self.decoder_channels, num_classes, rngs=rngs)


def _feature_channels(encoder: Any, in_channels: int) -> dict[int, int]:
    """The encoder's channels per stride: its ``feature_channels`` or, for a third-party
    encoder without one, read from an abstract (shape-only) forward pass."""
    known = getattr(encoder, "feature_channels", None)
    if known is not None:
        return dict(known)
    import jax
    import jax.numpy as jnp
    from flax import nnx

    graphdef, state = nnx.split(encoder)

    def shapes(state: Any, x: Any) -> Any:
        return nnx.merge(graphdef, state)(x)

    x = jax.ShapeDtypeStruct((1, 2 * SIZE_MULTIPLE, 2 * SIZE_MULTIPLE, in_channels), jnp.float32)
    out = jax.eval_shape(shapes, state, x)
    return {int(stride): int(f.shape[-1]) for stride, f in out.items()}


@functools.cache
def _network_class() -> type:
    """Define the NNX modules on first use (keeps JAX/Flax out of plugin import)."""
    import jax
    import jax.numpy as jnp
    from flax import nnx

    from mia_core.engine.layers import Conv2d, ConvBNReLU, upsample_concat_conv

    class DecoderBlock(nnx.Module):
        """Up-sample 2x, concatenate the skip (if any), two conv/BN/ReLU."""

        def __init__(self, cin: int, skip: int, cout: int, *, rngs: nnx.Rngs) -> None:
            self.conv1 = ConvBNReLU(cin + skip, cout, 3, rngs=rngs)
            self.conv2 = ConvBNReLU(cout, cout, 3, rngs=rngs)

        def __call__(self, x: jax.Array, skip: jax.Array | None) -> jax.Array:
            y = upsample_concat_conv(self.conv1.conv, x, skip)
            return self.conv2(self.conv1.normalise(y))

    class UNet(nnx.Module):
        """Encoder + U-Net decoder mapping (B, H, W, C) images to (B, H, W, K) logits."""

        def __init__(
            self,
            encoder: nnx.Module,
            channels: dict[int, int],
            decoder_channels: tuple[int, ...],
            num_classes: int,
            *,
            rngs: nnx.Rngs,
        ) -> None:
            self.encoder = encoder
            cin = channels[32]
            blocks = []
            for skip_stride, cout in zip((16, 8, 4, 2, None), decoder_channels):
                skip = channels[skip_stride] if skip_stride else 0
                blocks.append(DecoderBlock(cin, skip, cout, rngs=rngs))
                cin = cout
            self.decoder = nnx.List(blocks)
            self.head = Conv2d(cin, num_classes, 3, rngs=rngs)
            self.num_classes = num_classes

        def __call__(self, x: jax.Array) -> jax.Array:
            h, w = x.shape[1:3]
            if h % SIZE_MULTIPLE or w % SIZE_MULTIPLE:
                raise ValueError(
                    f"unet input height and width must be multiples of {SIZE_MULTIPLE}, got {h}x{w}"
                )
            features = self.encoder(x)
            y = features[32]
            for skip_stride, block in zip((16, 8, 4, 2, None), self.decoder):
                y = block(y, features[skip_stride] if skip_stride else None)
            return self.head(y).astype(jnp.float32)

    return UNet


@hookimpl
def mia_architectures() -> list[UNetArchitecture]:
    """Register U-Net."""
    return [UNetArchitecture()]
