"""Build a segmentation network from an architecture and a backbone found in the plugin registry.

The encoder contract lives here: :func:`check_compatible` says whether an architecture can use
a backbone (strides it offers, dilation it can do), :func:`build_encoder` builds the encoder an
architecture asked for and :func:`encoder_channels` tells its channels per stride.
"""

from __future__ import annotations

from typing import Any

from flax import nnx

from mia_core.engine.config import SIZE_MULTIPLE

__all__ = [
    "SIZE_MULTIPLE", "build_encoder", "build_model", "check_compatible", "check_input_size",
    "encoder_channels", "incompatibility",
]


def _offered_strides(backbone: Any) -> tuple[int, ...]:
    """The feature strides a backbone component declares (its ``feature_channels`` keys)."""
    channels = getattr(backbone, "feature_channels", None)
    if channels is not None:
        return tuple(sorted(int(s) for s in channels))
    return tuple(getattr(backbone, "strides", ()))


def incompatibility(architecture: Any, backbone: Any) -> str | None:
    """Why ``architecture`` cannot use ``backbone`` (one sentence naming both), or None if it can."""
    arch_name, backbone_name = getattr(architecture, "name", "?"), getattr(backbone, "name", "?")
    required = tuple(getattr(architecture, "required_strides", ()))
    offered = _offered_strides(backbone)
    missing = sorted(set(required) - set(offered))
    if missing:
        return (
            f"architecture {arch_name!r} cannot use backbone {backbone_name!r}: it needs feature "
            f"strides {list(required)}, the backbone offers {list(offered)}"
        )
    output_stride = int(getattr(architecture, "output_stride", 32))
    if output_stride != 32 and not getattr(backbone, "can_dilate", False):
        return (
            f"architecture {arch_name!r} cannot use backbone {backbone_name!r}: it needs an encoder "
            f"dilated to output stride {output_stride}, and {backbone_name!r} cannot dilate "
            f"(its down-sampling is not a strided convolution); choose a backbone that can"
        )
    return None


def check_compatible(architecture: Any, backbone: Any) -> None:
    """Raise ValueError naming both parts and the reason when the architecture cannot use the backbone."""
    reason = incompatibility(architecture, backbone)
    if reason:
        raise ValueError(reason)


def encoder_channels(backbone: Any, encoder: Any, in_channels: int) -> dict[int, int]:
    """The encoder's channels per stride: what the component (or the built module) declares or,
    for a third-party encoder that declares none, read from an abstract (shape-only) forward."""
    for source in (backbone, encoder):
        known = getattr(source, "feature_channels", None)
        if known is not None:
            return {int(k): int(v) for k, v in dict(known).items()}
    import jax
    import jax.numpy as jnp

    graphdef, state = nnx.split(encoder)

    def shapes(state: Any, x: Any) -> Any:
        return nnx.merge(graphdef, state)(x)

    x = jax.ShapeDtypeStruct((1, 2 * SIZE_MULTIPLE, 2 * SIZE_MULTIPLE, in_channels), jnp.float32)
    out = jax.eval_shape(shapes, state, x)
    return {int(stride): int(f.shape[-1]) for stride, f in out.items()}


def build_encoder(architecture: Any, backbone: Any, in_channels: int, rngs: Any) -> tuple[Any, dict[int, int]]:
    """Check the pair, build the encoder at the architecture's output stride, return it with its
    channels per stride (what every architecture's ``build`` starts with)."""
    check_compatible(architecture, backbone)
    output_stride = int(getattr(architecture, "output_stride", 32))
    if output_stride == 32:
        encoder = backbone.build(in_channels, rngs)
    else:
        encoder = backbone.build(in_channels, rngs, output_stride=output_stride)
    return encoder, encoder_channels(backbone, encoder, in_channels)


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
    the backbone raises ``ValueError`` naming both and the reason.
    """
    if num_classes < 1:
        raise ValueError(f"num_classes must be at least 1, got {num_classes}")
    if in_channels < 1:
        raise ValueError(f"in_channels must be at least 1, got {in_channels}")
    arch = registry.get("architectures", architecture)
    encoder = registry.get("backbones", backbone)
    check_compatible(arch, encoder)
    return arch.build(encoder, in_channels, num_classes, nnx.Rngs(seed))


def check_input_size(height: int, width: int, multiple: int = SIZE_MULTIPLE) -> None:
    """Raise ValueError unless a (height, width) input fits the network's grid (``multiple``)."""
    if height % multiple or width % multiple or height <= 0 or width <= 0:
        raise ValueError(
            f"network input height and width must be positive multiples of {multiple}, "
            f"got {height}x{width}"
        )
