"""Messages of the engine speak command line ("use --patch 544 or smaller"); in the app they must
name the control instead. Every text the status bar or the training window shows passes here.

Each rule rewrites one phrasing the engine uses; ``CONTROLS`` names the controls the rules refer
to, so a test can check they still exist in the app.
"""

from __future__ import annotations

import re

#: The app's controls named by the rules (labels of the training window and the menus).
CONTROLS = ("Patch size", "Resume", "Replace the model in this folder", "Model folder", "Pretrained",
            "Validation share", "Validation folder", "Model > Train…")
#: The mask dialogs' controls the mask rules name (File > Import masks…, Export masks…).
MASK_CONTROLS = ("Replace existing", "Mask name suffix")

_RULES: tuple[tuple[re.Pattern[str], str], ...] = tuple((re.compile(p), r) for p, r in (
    (r"use --patch (\d+) or smaller", r"set Patch size to \1 or smaller"),
    (r"resume it \(--resume\), replace it \(--overwrite\) or choose another --out",
     "press Resume to continue it, tick “Replace the model in this folder”, or choose another Model folder"),
    (r"\(it comes from --weights\)", "(it comes with the Pretrained weights)"),
    (r"set val_fraction above 0 or give --val FOLDER",
     "set Validation share above 0 or choose a Validation folder"),
    (r"\(mia train FOLDER --out MODEL_DIR, or Model > Train in the app\)", "(Model > Train…)"),
    (r"\(mia labels import-masks --instances\)",
     "(import the masks again as objects: the instances option of mia labels import-masks)"),
    # the mask import / export dialogs (File > Import masks…, Export masks…)
    (r"(?m)^mia labels (?:import|export)-masks: ", ""),
    (r"\(--force replaces it\)", "(tick “Replace existing …” to replace it)"),
    (r"; --force replaces them\)", "; tick “Replace existing …” to replace them)"),
    (r"(?m)try --mask-suffix (\S+?)(?: \(given: --mask-suffix '[^']*'\))?$", r"set Mask name suffix to \1"),
    (r"; --skip-empty leaves them unlabelled\)", ")"),
    (r"\(--skip-empty\)", "(empty masks are skipped)"),
    (r"--masks folder", "masks folder"),
))


def speak_gui(text: str) -> str:
    """``text`` with the command-line advice it holds replaced by the app's controls."""
    for pattern, replacement in _RULES:
        text = pattern.sub(replacement, text)
    return text
