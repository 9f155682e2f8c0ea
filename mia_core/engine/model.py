"""Build a segmentation network from an architecture and a backbone found in the plugin registry."""

from __future__ import annotations

from typing import Any

from flax import nnx

#: Input height and width must be multiples of this (backbones go down to stride 32).
SIZE_MULTIPLE = 32


def build_model(
    registry: Any,
    architecture: str,
    backbone: str,
    num_classes: int,
    in_channels: int,
    seed: int = 0,
) -> nnx.Module:
    """Create an untrained (B, H, W, in_channels) -> (B, H, W, num_classes) logits network.

    The core never names a plugin: both parts come from ``registry.get`` (an unknown name raises
    the registry's ``UnknownComponentError`` listing what exists); an architecture that cannot use
    the backbone raises ``ValueError`` naming both.
    """
    if num_classes < 1:
        raise ValueError(f"num_classes must be at least 1, got {num_classes}")
    if in_channels < 1:
        raise ValueError(f"in_channels must be at least 1, got {in_channels}")
    arch = registry.get("architectures", architecture)
    encoder = registry.get("backbones", backbone)
    return arch.build(encoder, in_channels, num_classes, nnx.Rngs(seed))


def check_input_size(height: int, width: int) -> None:
    """Raise ValueError unless a (height, width) input fits the network's stride-32 grid."""
    if height % SIZE_MULTIPLE or width % SIZE_MULTIPLE or height <= 0 or width <= 0:
        raise ValueError(
            f"network input height and width must be positive multiples of {SIZE_MULTIPLE}, "
            f"got {height}x{width}"
        )
