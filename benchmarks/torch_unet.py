"""The benchmark's reference: the same U-Net-ResNet as mia's (plugins unet + resnet) in PyTorch.

Same layers, widths, BatchNorm momentum (torch 0.1 = flax 0.9), nearest up-sampling, bias-free
convolutions before BatchNorm and a 3x3 head with bias, so both frameworks do the same work.
Needs the optional extra ``reference``.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


def _conv_bn_relu(cin: int, cout: int, kernel: int = 3, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, kernel, stride, padding=kernel // 2, bias=False),
        nn.BatchNorm2d(cout, momentum=0.1),
        nn.ReLU(inplace=True),
    )


class BasicBlock(nn.Module):
    """ResNet basic block (as torchvision's)."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + (x if self.downsample is None else self.downsample(x)))


class ResNetEncoder(nn.Module):
    """ResNet with basic blocks returning features at strides 2, 4, 8, 16, 32."""

    def __init__(self, in_channels: int, blocks: tuple[int, ...] = (3, 4, 6, 3)) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        stages, cin = [], 64
        for index, (count, cout) in enumerate(zip(blocks, (64, 128, 256, 512))):
            layers = []
            for b in range(count):
                layers.append(BasicBlock(cin, cout, 2 if index and b == 0 else 1))
                cin = cout
            stages.append(nn.Sequential(*layers))
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.channels = (64, 64, 128, 256, 512)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        f2 = F.relu(self.bn1(self.conv1(x)))
        f4 = self.layer1(F.max_pool2d(f2, 3, 2, 1))
        f8 = self.layer2(f4)
        f16 = self.layer3(f8)
        return [f2, f4, f8, f16, self.layer4(f16)]


class UNet(nn.Module):
    """U-Net decoder (segmentation_models layout) over a ResNet encoder."""

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        blocks: tuple[int, ...] = (3, 4, 6, 3),
        decoder_channels: tuple[int, ...] = (256, 128, 64, 32, 16),
    ) -> None:
        super().__init__()
        self.encoder = ResNetEncoder(in_channels, blocks)
        skips = list(reversed(self.encoder.channels[:-1])) + [0]
        cin = self.encoder.channels[-1]
        decoder = []
        for skip, cout in zip(skips, decoder_channels):
            decoder.append(nn.Sequential(_conv_bn_relu(cin + skip, cout), _conv_bn_relu(cout, cout)))
            cin = cout
        self.decoder = nn.ModuleList(decoder)
        self.head = nn.Conv2d(cin, num_classes, 3, padding=1)
        for module in self.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.momentum = 0.1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.encoder(x)
        y = features[-1]
        skips = list(reversed(features[:-1])) + [None]
        for block, skip in zip(self.decoder, skips):
            y = F.interpolate(y, scale_factor=2, mode="nearest")
            if skip is not None:
                y = torch.cat([y, skip], dim=1)
            y = block(y)
        return self.head(y)
