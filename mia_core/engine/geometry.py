"""Channel widths and stride/dilation plans of encoders, without JAX.

Backbone registration modules use these to declare ``feature_channels`` at their configured width
and to plan a dilated encoder, before (and without) importing their network module.
"""

from __future__ import annotations

from typing import Sequence

#: Output strides an encoder can be asked for (32: none of its stages dilated).
OUTPUT_STRIDES = (8, 16, 32)


def scale_channels(channels: int, width: float, divisor: int = 1) -> int:
    """``channels * width`` rounded to a multiple of ``divisor`` (at least ``divisor``), so width
    multipliers shrink networks for tests and small machines without breaking channel groups."""
    scaled = max(divisor, int(channels * width + divisor / 2) // divisor * divisor)
    if scaled < 0.9 * channels * width:  # never round down by more than 10 %
        scaled += divisor
    return scaled


def dilated_strides(strides: Sequence[int], output_stride: int = 32) -> list[tuple[int, int]]:
    """(stride, dilation) of each layer whose nominal stride is ``strides[i]`` so the encoder
    stops down-sampling at ``output_stride``: a layer that would go past it runs at stride 1 and
    it and every later layer are dilated by what was skipped (as smp's ``make_dilated``: the
    stage at stride 32 gets dilation 2 for output stride 16; 16 and 32 get 2 and 4 for 8)."""
    if output_stride not in OUTPUT_STRIDES:
        raise ValueError(f"output_stride must be one of {list(OUTPUT_STRIDES)}, got {output_stride!r}")
    plan, reached, dilation = [], 1, 1
    for stride in strides:
        if reached * stride > output_stride:
            dilation *= stride
            plan.append((1, dilation))
        else:
            reached *= stride
            plan.append((stride, dilation))
    return plan


def refuse_dilation(name: str, output_stride: int) -> None:
    """Raise ValueError for an encoder that cannot dilate asked for ``output_stride`` != 32."""
    if output_stride != 32:
        raise ValueError(
            f"backbone {name!r} cannot dilate (output stride {output_stride} asked, it only runs "
            f"at 32): its down-sampling is not a strided convolution"
        )
