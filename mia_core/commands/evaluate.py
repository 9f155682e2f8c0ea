"""``mia evaluate``: score labels, or a model's predictions, against ground-truth masks."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, TextIO

from mia_core.commands.predict import check_postprocessing_options, postprocessing_plan
from mia_core.images import ImageReadError
from mia_core.scoring import (  # noqa: F401 - held_out_score and the error are part of this module's API
    EvaluationInputError,
    _label_prediction,
    _postprocessed,
    _postprocessing,
    _predict,
    _print_table,
    _score,
    _summary,
    _truth_frames,
    _truth_label_frames,
    _write_csv,
    _write_labels,
    held_out_score,
)

_EPILOG = """\
definitions (mia_core/evaluation.py):
  IoU_k = |P_k & T_k| / |P_k | T_k| and Dice_k = 2|P_k & T_k| / (|P_k| + |T_k|) per class k; the
  overall row pools the pixel counts of every image. Objects are the truth instances (with
  --truth-classes, the 8-connected components of each class; with --truth-labels, each contour) and
  the 8-connected components of each predicted class (with --separate, the parts the separate
  postprocessor splits them into; --min-size leaves out the smaller ones). With MODEL_DIR the
  predictions are postprocessed as mia predict does by default (the model's training objects set
  --min-size and --separate per class), so the score is that of the labels mia predict writes. At IoU threshold
  t predicted and true objects are matched one to one (Hungarian assignment) to give the most pairs
  with IoU >= t: TP = those pairs, FP = unmatched predictions, FN = unmatched truth.
  precision = TP/(TP+FP), recall = TP/(TP+FN), F1 = 2TP/(2TP+FP+FN) (at t=0.5),
  AP(t) = TP/(TP+FP+FN), mAP = mean AP over t = 0.5, 0.55, ..., 0.95. fp_pixels: the share of the
  pixels of images whose truth holds no object that are predicted as foreground.

examples:
  mia evaluate MODEL_DIR images --truth masks                # predict (as mia predict would), score
  mia evaluate MODEL_DIR images --truth masks --min-size 0 --no-separate   # the raw prediction
  mia evaluate predicted --truth-labels corrected            # labels of one folder against another's

exit status: 0 scored, 2 bad input (nothing written).
"""


def register(subparsers: Any) -> None:
    """Add the ``evaluate`` sub-command."""
    from mia_core import cli

    p = subparsers.add_parser(
        "evaluate",
        help="score labels or a model against ground-truth masks",
        description="mia evaluate FOLDER --truth MASKS scores the label files of FOLDER; "
        "mia evaluate MODEL_DIR FOLDER --truth MASKS predicts every image of FOLDER in memory "
        "(nothing is written unless --write) and scores the predictions. A mask in MASKS is "
        "matched to the image with the same stem (+ --mask-suffix). With --truth-labels DIR the truth "
        "is the mia labels of DIR's images of the same names instead of masks.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="FOLDER, or MODEL_DIR FOLDER")
    truth = p.add_mutually_exclusive_group(required=True)
    truth.add_argument("--truth", metavar="DIR", help="folder of ground-truth masks named like the images")
    truth.add_argument("--truth-labels", metavar="DIR",
                       help="ground truth is the mia labels of the images of DIR named like FOLDER's images "
                       "(each contour one object; unlabelled pixels are background in an image without "
                       "background contours, else left out)")
    p.add_argument("--mask-suffix", default="", metavar="TEXT", help="with --truth: mask stems are image stem + TEXT")
    p.add_argument("--truth-classes", action="store_true",
                   help="with --truth: masks hold class ids (0 = background), not object numbers")
    p.add_argument("--separate", action=argparse.BooleanOptionalAction, default=None,
                   help="predicted objects are the parts the separate postprocessor splits touching objects "
                   "into, in every foreground class (as mia predict --separate); with MODEL_DIR the default "
                   "is the model's, as mia predict: only classes whose training labels hold touching objects")
    p.add_argument("--min-distance", type=int, default=None, metavar="N",
                   help="with separation: the least distance in pixels between two object centres (with "
                   "MODEL_DIR default the model's, as mia predict; else 20)")
    p.add_argument("--min-size", type=int, default=None, metavar="N",
                   help="leave out predicted objects under N pixels, in every foreground class (with MODEL_DIR "
                   "default the model's, as mia predict; else 0)")
    p.add_argument("--csv", metavar="PATH", help="also write the table as CSV to PATH")
    p.add_argument("--write", action="store_true", help="with MODEL_DIR: write the predictions as label files")
    p.add_argument("--force", action="store_true", help="with --write: replace existing label files")
    p.add_argument("--tta", action="store_true", help="with MODEL_DIR: average over flips")
    cli.add_disable_option(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Score and print; 2 on bad input with nothing written."""
    out, err = out or sys.stdout, err or sys.stderr
    try:
        return _run(args, out, err)
    except (EvaluationInputError, ImageReadError) as exc:
        print(f"mia evaluate: {exc}", file=err)
        return 2


def _run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    if len(args.paths) > 2:
        raise EvaluationInputError("give FOLDER, or MODEL_DIR FOLDER")
    model_dir = Path(args.paths[0]) if len(args.paths) == 2 else None
    folder = Path(args.paths[-1])
    if (args.write or args.force) and model_dir is None:
        raise EvaluationInputError("--write and --force need MODEL_DIR (FOLDER's labels are scored as they are)")
    if args.truth_labels and (args.truth_classes or args.mask_suffix):
        raise EvaluationInputError("--truth-classes and --mask-suffix go with --truth masks, not --truth-labels")
    bad = check_postprocessing_options(args)
    if bad:
        raise EvaluationInputError(bad)
    if args.truth_labels:
        frames = _truth_label_frames(folder, Path(args.truth_labels))
    else:
        frames = _truth_frames(folder, Path(args.truth), args.mask_suffix, args.truth_classes)
    truth_top = max(int(f.classes.max()) for f in frames)
    instances = not args.truth_classes and not args.truth_labels
    if model_dir is not None:
        preds, num_classes, info = _predict(model_dir, frames, truth_top, instances, args, err)
    else:
        preds, info = [_label_prediction(f) for f in frames], None
        num_classes = max(truth_top, max(int(p.max()) for p in preds), 1) + 1
    post = _postprocessing(args, info, num_classes)
    if info is not None:
        print(f"mia evaluate: {postprocessing_plan(args, info)[1]}", file=err)
    objects = None if post is None else [_postprocessed(p, post, num_classes) for p in preds]
    if objects is not None:
        preds = [o[0] for o in objects]
    rows, pooled = _score(frames, preds, num_classes, None if objects is None else [o[1] for o in objects])
    if args.csv:
        _write_csv(Path(args.csv), rows)
    if args.write:
        _write_labels(frames, preds, args.force)
    _print_table(rows, out)
    print(_summary(pooled, len(frames), len({f.image for f in frames})), file=out)
    return 0
