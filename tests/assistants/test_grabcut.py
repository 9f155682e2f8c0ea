"""GrabCut assistant and Smart mode, without a display: hints in, class contours in the view out."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from mia_core.api import AssistantError, AssistantSession, ToolContext, PointerEvent
from mia_core.assist import AssistantSessions, SmartMode, points_hints
from mia_core.document import LabelDocument
from mia_core.labels import LabelSet
from mia_core.raster import brush_mask
from mia_plugins.assistants.grabcut import GrabCutAssistant, initial_mask, work_scale
from mia_plugins.tools.draw import DrawTool
from mia_plugins.tools.expand import ExpandTool


def disc_image(h: int = 200, w: int = 240, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A bright ellipse on a dark noisy field, and its mask."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:h, :w]
    obj = ((yy - 100) / 50.0) ** 2 + ((xx - 110) / 70.0) ** 2 < 1
    img = rng.normal(50, 12, (h, w))
    img[obj] += 120
    return np.clip(img, 0, 255).astype(np.uint8), obj


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


def test_one_stroke_finds_the_object_and_keeps_models_in_the_session() -> None:
    img, obj = disc_image()
    fg = brush_mask(np.array([[80, 100], [140, 100]]), 4, img.shape)
    session = AssistantSession()
    mask = GrabCutAssistant().predict(img, {"foreground": fg}, session=session)
    assert mask.shape == img.shape and mask.dtype == bool
    assert iou(mask, obj) > 0.9
    bgd, fgd = session.state["models"]
    assert bgd.shape == (1, 65) and fgd.shape == (1, 65) and np.abs(fgd).sum() > 0


def test_matches_opencv_grabcut_run_directly() -> None:
    """Same hints, one iteration: the assistant agrees with cv2.grabCut on the raw 8-bit image
    (GrabCut's k-means start is random, so agreement, not identity)."""
    img, _ = disc_image()
    fg = brush_mask(np.array([[80, 100], [140, 100]]), 4, img.shape)
    ref_mask = np.full(img.shape, cv2.GC_PR_BGD, np.uint8)
    ref_mask[fg] = cv2.GC_FGD
    cv2.grabCut(np.repeat(img[..., None], 3, 2), ref_mask, None, np.zeros((1, 65)), np.zeros((1, 65)), 1,
                cv2.GC_INIT_WITH_MASK)
    ref = (ref_mask == cv2.GC_FGD) | (ref_mask == cv2.GC_PR_FGD)
    ours = GrabCutAssistant().predict(img, {"foreground": fg})
    assert iou(ours, ref) > 0.98


def test_large_views_are_downscaled_and_scaled_back() -> None:
    img, obj = disc_image()
    big = cv2.resize(img, (1200, 1000), interpolation=cv2.INTER_LINEAR)
    big_obj = cv2.resize(obj.astype(np.uint8), (1200, 1000), interpolation=cv2.INTER_NEAREST).astype(bool)
    assert work_scale(1000, 1200) ** 2 * 1000 * 1200 <= 500_000
    fg = brush_mask(np.array([[400, 500], [700, 500]]), 10, big.shape)
    mask = GrabCutAssistant().predict(big, {"foreground": fg})
    assert mask.shape == big.shape
    assert iou(mask, big_obj) > 0.9


def test_frozen_models_are_evaluated_unchanged() -> None:
    img, obj = disc_image()
    fg = brush_mask(np.array([[80, 100], [140, 100]]), 4, img.shape)
    session = AssistantSession()
    g = GrabCutAssistant()
    g.predict(img, {"foreground": fg}, session=session)
    before = [m.copy() for m in session.state["models"]]
    # a moved view: no hints there, the kept models decide
    view = img[40:200, 30:240]
    mask = g.predict(view, {"frozen": True}, session=session)
    assert all(np.array_equal(a, b) for a, b in zip(before, session.state["models"]))
    assert iou(mask, obj[40:200, 30:240]) > 0.85


@pytest.mark.parametrize("image", [np.zeros((60, 60), np.uint8), np.full((60, 60), 77, np.uint16)])
def test_constant_images_are_refused(image: np.ndarray) -> None:
    fg = np.zeros(image.shape, bool)
    fg[20:30, 20:30] = True
    with pytest.raises(AssistantError, match="contrast|uniform"):
        GrabCutAssistant().predict(image, {"foreground": fg})


def test_sixteen_bit_single_bright_pixel_is_refused() -> None:
    image = np.zeros((80, 80), np.uint16)
    image[40, 40] = 65535
    fg = np.zeros(image.shape, bool)
    fg[38:43, 38:43] = True
    with pytest.raises(AssistantError, match="contrast"):
        GrabCutAssistant().predict(image, {"foreground": fg})


def test_no_foreground_hint_is_refused() -> None:
    img, _ = disc_image()
    with pytest.raises(AssistantError, match="foreground"):
        GrabCutAssistant().predict(img, {"background": np.ones(img.shape, bool)})


def test_hint_shape_mismatch_names_the_hint() -> None:
    with pytest.raises(AssistantError, match="foreground"):
        initial_mask({"foreground": np.ones((3, 3), bool)}, (4, 4))


def test_sessions_change_with_image_or_class() -> None:
    sessions = AssistantSessions()
    a = sessions.get(("a.png", 0, 1))
    a.state["models"] = 1
    assert sessions.get(("a.png", 0, 1)) is a
    assert sessions.get(("a.png", 0, 2)) is not a
    assert "models" not in sessions.get(("b.png", 0, 2)).state
    sessions.reset()
    assert sessions.current is None


def test_points_hints_mark_box_and_points() -> None:
    pts = np.array([[50, 20], [20, 50], [80, 50], [50, 80]], float)
    hints = points_hints(pts, (100, 100))
    assert hints["background"][5, 5] and not hints["background"][50, 50]
    assert hints["foreground"][20, 50] and not hints["foreground"][50, 50]
    assert hints["probable_foreground"][50, 50]


# --- Smart mode: tools' strokes become hints ------------------------------------------------------
def smart_setup(tmp_path, labels: LabelSet | None = None):
    img, obj = disc_image()
    doc = LabelDocument(tmp_path / "img.png", img.shape, initial=labels or LabelSet((), img.shape))
    smart = SmartMode(GrabCutAssistant())
    return img, obj, doc, smart


def stroke(tool, ctx, points) -> None:
    tool.press(ctx, PointerEvent(*points[0]))
    for p in points[1:]:
        tool.move(ctx, PointerEvent(*p))
    tool.release(ctx, PointerEvent(*points[-1]))


def test_strokes_become_hints_and_the_result_is_one_undo_step_in_the_view(tmp_path) -> None:
    outside = np.array([[2, 2], [20, 2], [20, 20], [2, 20]], float)
    start = LabelSet((), (200, 240)).add_polygon(outside, 1).add_polygon(outside + (200, 160), 2)
    img, obj, doc, smart = smart_setup(tmp_path, start)
    key = ("img.png", 0, 1)
    strokes: list[int] = []
    recorder = smart.recorder(doc, img.shape, key, lambda: strokes.append(1))
    ctx = ToolContext(document=recorder, active_class=1, image=img)
    draw = DrawTool()
    stroke(draw, ctx, [(90, 95), (130, 95), (130, 105), (90, 105)])
    assert strokes == [1]
    assert doc.labels.same_as(start)  # a hint, not an edit
    view = (30, 0, 240, 200)  # the class-1 square at (2..20) lies outside the view
    req = smart.request(img, doc.labels, 1, view, key)
    mask = smart.run(req)
    assert smart.apply(doc, req, mask)
    result = doc.labels.to_class_map((200, 240))
    assert iou(result[:, 30:] == 1, obj[:, 30:]) > 0.9
    assert (result[2:20, 2:20] == 1).all()  # outside the view: untouched
    assert (result[162:180, 202:220] == 2).all()  # another class: untouched
    doc.undo()
    assert doc.labels.same_as(start)


def test_erase_strokes_are_sure_background(tmp_path) -> None:
    img, obj, doc, smart = smart_setup(tmp_path)
    key = ("img.png", 0, 1)
    recorder = smart.recorder(doc, img.shape, key, lambda: None)
    ctx = ToolContext(document=recorder, active_class=1, image=img)
    brush = ExpandTool()
    brush.set_size(5)
    stroke(brush, ctx, [(90, 100), (130, 100)])
    brush.toggle_mode()  # erase
    stroke(brush, ctx, [(100, 60), (100, 140)])
    req = smart.request(img, doc.labels, 1, None, key)
    mask = smart.run(req)
    assert not mask[60:141, 100].any()
    assert mask[100, 120]


def test_no_hints_in_view_is_refused_and_labels_unchanged(tmp_path) -> None:
    img, _, doc, smart = smart_setup(tmp_path)
    with pytest.raises(AssistantError, match="no hints"):
        smart.request(img, doc.labels, 1, None, ("img.png", 0, 1))
    assert doc.labels.is_empty


def test_view_off_the_image_is_refused(tmp_path) -> None:
    img, _, doc, smart = smart_setup(tmp_path)
    with pytest.raises(AssistantError, match="field of view"):
        smart.request(img, doc.labels, 1, (500, 500, 600, 600), ("img.png", 0, 1))
