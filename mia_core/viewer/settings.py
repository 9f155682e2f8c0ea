"""Settings of the app: the user's (last folder, window layout, tool sizes) and the project's (classes).

Both are small JSON files written atomically, so a crash while saving never leaves half a file.
The user file lives in ``$MIA_CONFIG_DIR`` (tests point it at a temporary folder), else
``$XDG_CONFIG_HOME/mia``, else the platform's config location; the project file is
``<image folder>/Segmentation_labels/classes.json`` so the classes travel with the labels.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from PyQt5.QtCore import QStandardPaths

from mia_core.atomic import atomic_write_text, keep_aside
from mia_core.label_store import LABEL_FOLDER

CONFIG_ENV = "MIA_CONFIG_DIR"
DATA_ENV = "MIA_DATA_DIR"
SETTINGS_FILE = "settings.json"
CLASSES_FILE = "classes.json"

#: Okabe & Ito's colour-blind-safe palette (2008) without its black, which vanishes on dark images:
#: classes 1-7 in order; class 0 (background) is a light grey, drawn dashed and faint.
OKABE_ITO = ("#e69f00", "#56b4e9", "#009e73", "#f0e442", "#0072b2", "#d55e00", "#cc79a7")
BACKGROUND_COLOUR = "#d0d0d0"
PALETTE = (BACKGROUND_COLOUR, *OKABE_ITO)
_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")


class SettingsError(Exception):
    """A settings file that cannot be read or written; the message names the file."""


@dataclass(frozen=True)
class ClassInfo:
    """One semantic class: its display name and colour (``#rrggbb``); the id is its position."""

    name: str
    colour: str


def default_classes() -> list[ClassInfo]:
    """Background plus one foreground class, what a new folder starts with."""
    return [ClassInfo("background", PALETTE[0]), ClassInfo("class 1", PALETTE[1])]


#: What new folders started with before the Okabe-Ito palette (a folder's own classes.json is kept).
_OLD_DEFAULTS = [ClassInfo("background", "#00bfff"), ClassInfo("class 1", "#ff3b30")]


def palette_colour(class_id: int) -> str:
    """The default colour of a new class: the palette, then its seven colours in lighter and darker turns.

    Classes 1-7 take the seven colours; 8-14 the same ones mixed half-way with white, 15-21 a third
    of the way to black; from 22 the cycle starts again (docs/app.md).
    """
    if class_id <= 0:
        return BACKGROUND_COLOUR
    turn, index = divmod(class_id - 1, len(OKABE_ITO))
    base = OKABE_ITO[index]
    rgb = [int(base[i : i + 2], 16) for i in (1, 3, 5)]
    if turn % 3 == 1:
        rgb = [round(v + (255 - v) / 2) for v in rgb]
    elif turn % 3 == 2:
        rgb = [round(v * 2 / 3) for v in rgb]
    return "#" + "".join(f"{v:02x}" for v in rgb)


def config_dir() -> Path:
    """Folder of the user settings file."""
    return _user_dir(CONFIG_ENV, "XDG_CONFIG_HOME", QStandardPaths.GenericConfigLocation, Path(".config"))


def data_dir() -> Path:
    """Folder for data the app makes itself (the sample folder)."""
    return _user_dir(DATA_ENV, "XDG_DATA_HOME", QStandardPaths.GenericDataLocation, Path(".local", "share"))


def _user_dir(own_env: str, xdg_env: str, location: int, home_fallback: Path) -> Path:
    """mia's own variable first (tests), then the XDG variable, then the platform's location."""
    env = os.environ.get(own_env)
    if env:
        return Path(env)
    xdg = os.environ.get(xdg_env)
    if xdg:
        return Path(xdg) / "mia"
    loc = QStandardPaths.writableLocation(location)
    return Path(loc or Path.home() / home_fallback) / "mia"


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON through a temporary file in the same folder and a rename."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, json.dumps(data, indent=2) + "\n")
    except OSError as exc:
        raise SettingsError(f"cannot write settings file {path}: {exc.strerror or exc}") from exc


def read_json(path: Path) -> Any:
    """Read a JSON file; None when it does not exist, SettingsError naming it when it is broken."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise SettingsError(f"cannot read settings file {path}: {exc.strerror or exc}") from exc
    try:
        return json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SettingsError(f"settings file {path} is not valid JSON ({exc}); it was kept aside") from exc


@dataclass
class UserSettings:
    """What the app remembers between sessions for this user."""

    last_folder: str | None = None
    last_images: dict[str, str] = field(default_factory=dict)  # folder -> image name
    geometry: str = ""  # base64 of QMainWindow.saveGeometry()
    window_state: str = ""  # base64 of QMainWindow.saveState()
    default_classes: list[ClassInfo] = field(default_factory=default_classes)
    tool_sizes: dict[str, int] = field(default_factory=dict)
    inner_contours: bool = True
    tta: bool = False  # Model > Test-time flips
    path: Path | None = field(default=None, compare=False, repr=False)
    #: True when no settings file was found: the app's first start for this user (never saved).
    first_start: bool = field(default=False, compare=False, repr=False)

    @classmethod
    def load(cls, path: Path | None = None) -> tuple["UserSettings", str | None]:
        """Settings from ``path`` (default: the config dir) and a warning when the file was bad."""
        path = path or config_dir() / SETTINGS_FILE
        settings = cls(path=path)
        try:
            raw = read_json(path)
        except SettingsError as exc:
            keep_aside(path)
            return settings, str(exc)
        if raw is None:
            settings.first_start = True
            return settings, None
        if not isinstance(raw, dict):
            keep_aside(path)
            return settings, f"settings file {path} does not hold a JSON object; defaults are used"
        bad = settings._apply(raw)
        warning = f"settings file {path}: ignored bad value(s) for {', '.join(bad)}" if bad else None
        return settings, warning

    def _apply(self, raw: dict[str, Any]) -> list[str]:
        """Take every well-typed value from ``raw``; return the keys that were not."""
        bad: list[str] = []
        checks = {
            "last_folder": lambda v: v is None or isinstance(v, str),
            "last_images": lambda v: isinstance(v, dict) and all(isinstance(x, str) for x in v.values()),
            "geometry": lambda v: isinstance(v, str),
            "window_state": lambda v: isinstance(v, str),
            "tool_sizes": lambda v: isinstance(v, dict)
            and all(isinstance(x, int) and not isinstance(x, bool) for x in v.values()),
            "inner_contours": lambda v: isinstance(v, bool),
            "tta": lambda v: isinstance(v, bool),
        }
        for key, ok in checks.items():
            if key in raw:
                if ok(raw[key]):
                    setattr(self, key, raw[key])
                else:
                    bad.append(key)
        if "default_classes" in raw:
            try:
                self.default_classes = parse_classes(raw["default_classes"])
            except ValueError:
                bad.append("default_classes")
            if self.default_classes == _OLD_DEFAULTS:  # never changed: new folders get the new palette
                self.default_classes = default_classes()
        return bad

    def save(self) -> None:
        """Write the settings atomically (SettingsError when the folder is not writable)."""
        data = asdict(self)
        data.pop("path")
        data.pop("first_start")
        data["default_classes"] = [asdict(c) for c in self.default_classes]
        write_json_atomic(self.path or config_dir() / SETTINGS_FILE, data)


def parse_classes(raw: Any) -> list[ClassInfo]:
    """Classes from their JSON form (a list of {name, colour}); ValueError saying what is wrong."""
    if not isinstance(raw, list) or not raw:
        raise ValueError("'classes' must be a non-empty list")
    out = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            raise ValueError(f"class {i} is not an object")
        name, colour = item.get("name"), item.get("colour")
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"class {i} has no name")
        if not isinstance(colour, str) or not _COLOUR.match(colour):
            raise ValueError(f"class {i} ({name}) has colour {colour!r}, expected #rrggbb")
        out.append(ClassInfo(name.strip(), colour.lower()))
    return out


def classes_path(folder: Path) -> Path:
    """Where a folder's classes are kept."""
    return Path(folder) / LABEL_FOLDER / CLASSES_FILE


def load_classes(folder: Path) -> tuple[list[ClassInfo] | None, str | None]:
    """A folder's classes (None when it has none yet) and a warning when its file was bad."""
    path = classes_path(folder)
    try:
        raw = read_json(path)
    except SettingsError as exc:
        keep_aside(path)
        return None, str(exc)
    if raw is None:
        return None, None
    try:
        if not isinstance(raw, dict):
            raise ValueError("expected a JSON object")
        return parse_classes(raw.get("classes")), None
    except ValueError as exc:
        keep_aside(path)
        return None, f"classes file {path}: {exc}; it was kept aside and defaults are used"


def save_classes(folder: Path, classes: list[ClassInfo]) -> None:
    """Write a folder's classes atomically (SettingsError naming the file when it cannot)."""
    data = {"version": 1, "classes": [{"id": i, **asdict(c)} for i, c in enumerate(classes)]}
    write_json_atomic(classes_path(folder), data)
