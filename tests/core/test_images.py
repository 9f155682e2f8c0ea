"""Image reading, display scaling and folder listing, on files each test writes itself."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import tifffile
from PIL import Image
from skimage import exposure

from mia_core.images import (
    IMAGE_SUFFIXES,
    ImageReadError,
    image_shape,
    list_images,
    read_image,
    to_display,
)

RNG = np.random.default_rng(1234)


def _grey8() -> np.ndarray:
    return RNG.integers(0, 256, (37, 53), dtype=np.uint8)


def _grey16() -> np.ndarray:
    image = RNG.integers(0, 65536, (37, 53), dtype=np.uint16)
    image[3, 4] = 65535
    return image


def _rgb8() -> np.ndarray:
    return RNG.integers(0, 256, (37, 53, 3), dtype=np.uint8)


def _smooth_rgb8() -> np.ndarray:
    """A smooth image that JPEG keeps close to the original."""
    yy, xx = np.mgrid[0:48, 0:64]
    return np.stack([xx * 3, yy * 4, (xx + yy) * 2], axis=-1).astype(np.uint8)


def _write_cv2(path: Path, rgb_or_grey: np.ndarray) -> Path:
    """Write with OpenCV, which expects BGR channel order."""
    data = rgb_or_grey[..., ::-1] if rgb_or_grey.ndim == 3 else rgb_or_grey
    assert cv2.imwrite(str(path), np.ascontiguousarray(data))
    return path


# --- reading: every layout comes back (frames, H, W[, 3]) with the written values and dtype ---------


@pytest.mark.parametrize("suffix", [".png", ".bmp", ".tif"])
def test_grey8_round_trip(tmp_path: Path, suffix: str) -> None:
    written = _grey8()
    path = tmp_path / f"grey{suffix}"
    if suffix == ".tif":
        tifffile.imwrite(path, written)
    else:
        _write_cv2(path, written)
    image = read_image(path)
    assert image.shape == (1, *written.shape)
    assert image.dtype == np.uint8
    np.testing.assert_array_equal(image[0], written)


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_grey16_round_trip(tmp_path: Path, suffix: str) -> None:
    written = _grey16()
    path = tmp_path / f"grey16{suffix}"
    if suffix == ".tif":
        tifffile.imwrite(path, written)
    else:
        _write_cv2(path, written)
    image = read_image(path)
    assert image.dtype == np.uint16
    np.testing.assert_array_equal(image[0], written)


@pytest.mark.parametrize("suffix", [".png", ".bmp", ".tif"])
def test_rgb8_round_trip_is_rgb_not_bgr(tmp_path: Path, suffix: str) -> None:
    written = _rgb8()
    path = tmp_path / f"rgb{suffix}"
    if suffix == ".tif":
        tifffile.imwrite(path, written, photometric="rgb")
    else:
        _write_cv2(path, written)
    image = read_image(path)
    assert image.shape == (1, 37, 53, 3)
    np.testing.assert_array_equal(image[0], written)
    # An independent decoder agrees on the channel order.
    np.testing.assert_array_equal(image[0], np.asarray(Image.open(path).convert("RGB")))


def test_rgb16_png_keeps_16_bits(tmp_path: Path) -> None:
    written = RNG.integers(0, 65536, (21, 19, 3), dtype=np.uint16)
    image = read_image(_write_cv2(tmp_path / "rgb16.png", written))
    assert image.dtype == np.uint16
    np.testing.assert_array_equal(image[0], written)


def test_rgba_png_drops_alpha(tmp_path: Path) -> None:
    rgba = RNG.integers(0, 256, (20, 30, 4), dtype=np.uint8)
    Image.fromarray(rgba, "RGBA").save(tmp_path / "rgba.png")
    image = read_image(tmp_path / "rgba.png")
    assert image.shape == (1, 20, 30, 3)
    np.testing.assert_array_equal(image[0], rgba[..., :3])


def test_rgba_tif_drops_alpha(tmp_path: Path) -> None:
    rgba = RNG.integers(0, 256, (20, 30, 4), dtype=np.uint8)
    tifffile.imwrite(tmp_path / "rgba.tif", rgba, photometric="rgb", extrasamples=["unassalpha"])
    np.testing.assert_array_equal(read_image(tmp_path / "rgba.tif")[0], rgba[..., :3])


def test_planar_rgb_tif_is_channel_last(tmp_path: Path) -> None:
    planes = RNG.integers(0, 256, (3, 20, 30), dtype=np.uint8)
    tifffile.imwrite(tmp_path / "planar.tif", planes, photometric="rgb", planarconfig="separate")
    np.testing.assert_array_equal(read_image(tmp_path / "planar.tif")[0], np.moveaxis(planes, 0, -1))


def test_float_tif_keeps_dtype_and_nan(tmp_path: Path) -> None:
    written = RNG.normal(size=(25, 31)).astype(np.float32)
    written[2, 2] = np.nan
    tifffile.imwrite(tmp_path / "float.tiff", written)
    image = read_image(tmp_path / "float.tiff")
    assert image.dtype == np.float32
    np.testing.assert_array_equal(image[0], written)  # NaN positions equal too


def test_five_page_stack(tmp_path: Path) -> None:
    stack = RNG.integers(0, 65536, (5, 24, 28), dtype=np.uint16)
    tifffile.imwrite(tmp_path / "stack.tif", stack)
    image = read_image(tmp_path / "stack.tif")
    assert image.shape == (5, 24, 28)
    np.testing.assert_array_equal(image, stack)


def test_stack_written_page_by_page_reads_as_one_stack(tmp_path: Path) -> None:
    stack = RNG.integers(0, 256, (4, 16, 18), dtype=np.uint8)
    with tifffile.TiffWriter(tmp_path / "pages.tif") as writer:
        for frame in stack:
            writer.write(frame, contiguous=False)
    np.testing.assert_array_equal(read_image(tmp_path / "pages.tif"), stack)


def test_stack_written_by_pillow(tmp_path: Path) -> None:
    stack = RNG.integers(0, 256, (3, 16, 18), dtype=np.uint8)
    frames = [Image.fromarray(f) for f in stack]
    frames[0].save(tmp_path / "pil.tif", save_all=True, append_images=frames[1:])
    np.testing.assert_array_equal(read_image(tmp_path / "pil.tif"), stack)


def test_rgb_stack(tmp_path: Path) -> None:
    stack = RNG.integers(0, 256, (3, 16, 18, 3), dtype=np.uint8)
    tifffile.imwrite(tmp_path / "rgbstack.tif", stack, photometric="rgb")
    image = read_image(tmp_path / "rgbstack.tif")
    assert image.shape == (3, 16, 18, 3)
    np.testing.assert_array_equal(image, stack)


def test_jpg_matches_independent_decoder_and_original(tmp_path: Path) -> None:
    written = _smooth_rgb8()
    path = _write_cv2(tmp_path / "photo.JPG", written)
    image = read_image(path)
    assert image.shape == (1, 48, 64, 3) and image.dtype == np.uint8
    reference = np.asarray(Image.open(path).convert("RGB")).astype(int)
    assert np.abs(image[0].astype(int) - reference).max() <= 3  # decoders differ by rounding only
    assert np.abs(image[0].astype(int) - written.astype(int)).mean() < 4  # lossy, yet close


def test_grey_jpg_is_grey(tmp_path: Path) -> None:
    written = _smooth_rgb8()[..., 0]
    image = read_image(_write_cv2(tmp_path / "grey.jpeg", written))
    assert image.shape == (1, 48, 64)
    assert np.abs(image[0].astype(int) - written.astype(int)).mean() < 4


def test_uppercase_suffix_and_str_path(tmp_path: Path) -> None:
    written = _grey8()
    path = _write_cv2(tmp_path / "UPPER.PNG", written)
    np.testing.assert_array_equal(read_image(str(path))[0], written)


# --- image_shape agrees with read_image ------------------------------------------------------------


def _sample_files(folder: Path) -> list[Path]:
    paths = [
        _write_cv2(folder / "g.png", _grey8()),
        _write_cv2(folder / "g16.png", _grey16()),
        _write_cv2(folder / "c.png", _rgb8()),
        _write_cv2(folder / "c.bmp", _rgb8()),
        _write_cv2(folder / "g.bmp", _grey8()),
        _write_cv2(folder / "c.jpg", _smooth_rgb8()),
        _write_cv2(folder / "g.jpg", _smooth_rgb8()[..., 0]),
    ]
    Image.fromarray(RNG.integers(0, 256, (9, 11, 2), dtype=np.uint8), "LA").save(folder / "la.png")
    Image.fromarray(_grey8()).convert("P").save(folder / "palette.png")
    Image.fromarray(_rgb8()).convert("P").save(folder / "palette.bmp")
    tifffile.imwrite(folder / "s.tif", RNG.integers(0, 9, (5, 12, 13), dtype=np.uint16))
    tifffile.imwrite(folder / "c.tiff", _rgb8(), photometric="rgb")
    tifffile.imwrite(folder / "f.tif", RNG.random((7, 8)).astype(np.float32))
    return paths + [folder / n for n in ("la.png", "palette.png", "palette.bmp", "s.tif", "c.tiff", "f.tif")]


def test_image_shape_matches_read_image(tmp_path: Path) -> None:
    for path in _sample_files(tmp_path):
        assert image_shape(path) == read_image(path).shape, path.name


# --- bad input: one error type, naming the file and the reason ---------------------------------------


def _assert_read_error(path: Path, reason_word: str) -> None:
    for reader in (read_image, image_shape):
        with pytest.raises(ImageReadError) as info:
            reader(path)
        assert isinstance(info.value, ValueError)
        assert str(path) in str(info.value)
        assert reason_word in str(info.value).lower()
        assert info.value.path == path


def test_missing_file(tmp_path: Path) -> None:
    _assert_read_error(tmp_path / "nope.png", "not found")


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".tif"])
def test_empty_file(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"empty{suffix}"
    path.write_bytes(b"")
    _assert_read_error(path, "empty")


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".bmp", ".tif"])
def test_text_renamed_as_image(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"notes{suffix}"
    path.write_text("these are my notes, not an image\n" * 20)
    _assert_read_error(path, "not a")


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".bmp"])
def test_truncated_cv2_formats(tmp_path: Path, suffix: str) -> None:
    path = _write_cv2(tmp_path / f"whole{suffix}", _rgb8())
    data = path.read_bytes()
    cut = tmp_path / f"cut{suffix}"
    cut.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(ImageReadError) as info:
        read_image(cut)
    assert str(cut) in str(info.value) and "truncated" in str(info.value)


def test_truncated_tif_inside_pixel_data(tmp_path: Path) -> None:
    path = tmp_path / "stack.tif"
    tifffile.imwrite(path, RNG.integers(0, 65536, (5, 40, 50), dtype=np.uint16))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageReadError) as info:
        read_image(path)
    assert str(path) in str(info.value)


def test_truncated_tif_between_pages_is_not_a_short_stack(tmp_path: Path) -> None:
    """tifffile only logs a lost page; the reader must not return fewer frames silently."""
    path = tmp_path / "pages.tif"
    stack = RNG.integers(0, 256, (5, 40, 50), dtype=np.uint8)
    frames = [Image.fromarray(f) for f in stack]
    frames[0].save(path, save_all=True, append_images=frames[1:])
    with tifffile.TiffFile(path) as tif:
        third_page = tif.pages[2].offset  # the IFD of the third page, written after two pages' data
    path.write_bytes(path.read_bytes()[:third_page])
    with pytest.raises(ImageReadError) as info:
        read_image(path)
    assert str(path) in str(info.value) and "truncated" in str(info.value)


def test_unsupported_suffix_and_folder(tmp_path: Path) -> None:
    gif = tmp_path / "anim.gif"
    gif.write_bytes(b"GIF89a")
    _assert_read_error(gif, "unsupported")
    folder = tmp_path / "looks_like.png"
    folder.mkdir()
    _assert_read_error(folder, "folder")


# --- display scaling -------------------------------------------------------------------------------


def _reference_display(frame: np.ndarray, lo: float, hi: float) -> np.ndarray:
    scaled = exposure.rescale_intensity(frame.astype(np.float64), in_range=(lo, hi), out_range=(0.0, 255.0))
    return np.rint(scaled).astype(np.uint8)


def test_uint16_brightest_pixel_is_white_not_wrapped() -> None:
    frame = _grey16()
    frame[0, 0] = 0
    shown = to_display(frame)
    assert shown.dtype == np.uint8
    assert shown[3, 4] == 255 and shown[0, 0] == 0
    np.testing.assert_array_equal(shown, _reference_display(frame, 0, 65535))


def test_default_levels_are_min_max() -> None:
    frame = RNG.integers(1000, 3000, (30, 40)).astype(np.uint16)
    shown = to_display(frame)
    assert shown.min() == 0 and shown.max() == 255
    np.testing.assert_array_equal(shown, _reference_display(frame, frame.min(), frame.max()))


def test_full_range_uint8_is_unchanged() -> None:
    frame = _grey8()
    frame[0, 0], frame[0, 1] = 0, 255
    np.testing.assert_array_equal(to_display(frame), frame)


def test_explicit_levels_clip_outside_values() -> None:
    frame = np.array([[0, 100, 150, 200, 60000]], dtype=np.uint16)
    shown = to_display(frame, levels=(100, 200))
    np.testing.assert_array_equal(shown, [[0, 0, 128, 255, 255]])
    np.testing.assert_array_equal(shown, _reference_display(frame, 100, 200))


def test_signed_and_wide_integers_do_not_overflow() -> None:
    frame = np.array([[-32768, 0, 32767]], dtype=np.int16)
    np.testing.assert_array_equal(to_display(frame), [[0, 128, 255]])
    wide = np.array([[0, 2**40, 2**41]], dtype=np.int64)
    np.testing.assert_array_equal(to_display(wide), [[0, 128, 255]])


@pytest.mark.parametrize("value", [0, 200, 65535])
def test_constant_integer_frame_shows_its_intensity(value: int) -> None:
    frame = np.full((8, 9), value, dtype=np.uint16)
    shown = to_display(frame)
    expected = round(value / 65535 * 255)
    np.testing.assert_array_equal(shown, np.full((8, 9), expected, np.uint8))


def test_constant_float_frame_does_not_divide_by_zero() -> None:
    with np.errstate(all="raise"):
        np.testing.assert_array_equal(to_display(np.full((4, 4), 0.5)), np.full((4, 4), 128, np.uint8))
        np.testing.assert_array_equal(to_display(np.full((4, 4), 7.0)), np.full((4, 4), 255, np.uint8))


def test_float_nan_and_inf() -> None:
    frame = np.array([[np.nan, 0.0, 0.5, 1.0, np.inf, -np.inf]], dtype=np.float32)
    shown = to_display(frame)
    np.testing.assert_array_equal(shown, [[0, 0, 128, 255, 255, 0]])
    all_nan = np.full((3, 3), np.nan)
    np.testing.assert_array_equal(to_display(all_nan), np.zeros((3, 3), np.uint8))


def test_rgb_frame_scaled_jointly() -> None:
    frame = RNG.integers(0, 4096, (10, 12, 3)).astype(np.uint16)
    shown = to_display(frame)
    assert shown.shape == frame.shape
    np.testing.assert_array_equal(shown, _reference_display(frame, frame.min(), frame.max()))


def test_equal_explicit_levels_threshold_and_bad_levels() -> None:
    frame = np.array([[1.0, 2.0, 3.0, np.nan]])
    np.testing.assert_array_equal(to_display(frame, levels=(2, 2)), [[0, 0, 255, 0]])
    with pytest.raises(ValueError, match="lo <= hi"):
        to_display(frame, levels=(3, 1))
    with pytest.raises(ValueError, match="finite"):
        to_display(frame, levels=(0, np.inf))


# --- folder listing --------------------------------------------------------------------------------


def test_list_images_sorted_case_insensitive_and_skips_labels(tmp_path: Path) -> None:
    names = ["b.TIF", "a.png", "C.jpeg", "d.Bmp", "e.tiff", "f.JPG"]
    for name in names:
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / ".hidden.png").write_bytes(b"x")
    (tmp_path / "folder.png").mkdir()
    labels = tmp_path / "Segmentation_labels"
    labels.mkdir()
    (labels / "a.png").write_bytes(b"x")
    found = list_images(tmp_path)
    assert [p.name for p in found] == sorted(names, key=str.lower)
    assert all(p.parent == tmp_path for p in found)
    assert list_images(labels) == []


def test_list_images_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(ImageReadError, match="nowhere"):
        list_images(tmp_path / "nowhere")


def test_image_suffixes() -> None:
    assert set(IMAGE_SUFFIXES) == {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"}


def test_display_scaling_of_a_large_frame_needs_little_more_than_its_output():
    import tracemalloc

    frame = np.random.default_rng(0).random((3000, 2000), dtype=np.float32) * 1000
    frame[5, 5], frame[2000, 7] = np.nan, np.inf
    tracemalloc.start()
    try:
        shown = to_display(frame)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < shown.nbytes + 32 * 2**20  # no float64 copy of the whole frame (48 MB here)
    lo, hi = float(np.nanmin(frame[np.isfinite(frame)])), float(frame[np.isfinite(frame)].max())
    expect = np.rint(np.clip((frame.astype(np.float64) - lo) / (hi - lo) * 255, 0, 255))
    expect[5, 5], expect[2000, 7] = 0, 255
    np.testing.assert_array_equal(shown, expect.astype(np.uint8))
