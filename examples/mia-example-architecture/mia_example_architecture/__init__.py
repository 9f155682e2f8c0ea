"""A light segmentation decoder contributed to mia as a third-party plugin."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mia_core.hooks import hookimpl


@dataclass(frozen=True)
class LightSegArchitecture:
    """Sum of 1x1-projected stride-4..32 features at stride 4, one 3x3 conv, a 1x1 head."""

    name: str = "lightseg"
    channels: int = 64
    required_strides: tuple[int, ...] = (4, 8, 16, 32)
    size_multiple: int = 32
    output_stride: int = 32

    def build(self, backbone: Any, in_channels: int, num_classes: int, rngs: Any) -> Any:
        """Build encoder + decoder; mia refuses a backbone that lacks a stride, naming both."""
        from mia_core.engine.model import build_encoder
        from mia_example_architecture.network import LightSeg

        encoder, channels = build_encoder(self, backbone, in_channels, rngs)
        return LightSeg(encoder, channels, self.channels, num_classes, rngs=rngs)


@hookimpl
def mia_architectures() -> list[LightSegArchitecture]:
    """Register the light decoder."""
    return [LightSegArchitecture()]
