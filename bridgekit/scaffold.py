"""``bridgekit new-plugin NAME``: write a new channel plugin that already works.

The plugin is a minimal webhook messenger built on the channel toolkit, with its sandbox, a
demo stand-in and the conformance suite, as an installable distribution. The files are the
templates under ``bridgekit/scaffold_template/`` (``*.tmpl``, rendered with
:class:`string.Template`; ``NAME`` in a path becomes the plugin's name).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from string import Template

from bridgekit.exceptions import BridgekitError

TEMPLATE_SUFFIX = ".tmpl"
_NAME = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*")
_NAME_MAX = 32


class ScaffoldError(BridgekitError):
    """The plugin cannot be written: a bad name or an occupied folder."""


@dataclass(frozen=True, slots=True)
class PluginNames:
    """Every spelling of one plugin's name the templates use."""

    name: str  # channel, entry point and integration name: "acme_chat"
    dist: str  # "bridgekit-acme-chat"
    title: str  # "Acme Chat"
    cls: str  # class-name prefix: "AcmeChat"
    mark: str  # the badge on the channel's chats: "A"

    @classmethod
    def of(cls, name: str) -> PluginNames:
        if not _NAME.fullmatch(name) or len(name) > _NAME_MAX:
            raise ScaffoldError(
                f"plugin name {name!r}: use lower-case letters, digits and single underscores, "
                f"starting with a letter, at most {_NAME_MAX} characters (e.g. acme_chat)"
            )
        words = name.split("_")
        return cls(
            name=name,
            dist="bridgekit-" + name.replace("_", "-"),
            title=" ".join(w.capitalize() for w in words),
            cls="".join(w.capitalize() for w in words),
            mark=name[0].upper(),
        )


def _templates(root: Traversable, relative: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], str]]:
    """(path parts, text) of every template file under ``root``, sorted."""
    found: list[tuple[tuple[str, ...], str]] = []
    for entry in sorted(root.iterdir(), key=lambda e: e.name):
        parts = (*relative, entry.name)
        if entry.is_dir():
            found.extend(_templates(entry, parts))
        elif entry.name.endswith(TEMPLATE_SUFFIX):
            found.append((parts, entry.read_text(encoding="utf-8")))
    return found


def render(names: PluginNames) -> dict[Path, str]:
    """The plugin's files, relative to its folder, with their contents."""
    values = {
        "name": names.name,
        "dist": names.dist,
        "title": names.title,
        "cls": names.cls,
        "mark": names.mark,
    }
    rendered: dict[Path, str] = {}
    for parts, text in _templates(resources.files("bridgekit") / "scaffold_template"):
        path = Path(*(part.replace("NAME", names.name) for part in parts))
        rendered[path.with_name(path.name.removesuffix(TEMPLATE_SUFFIX))] = Template(text).substitute(values)
    return rendered


def new_plugin(name: str, directory: Path | None = None) -> Path:
    """Write plugin ``name`` into ``directory`` (default ``plugins/<name>``); return it.

    Refuses a folder that exists and is not empty: nothing of the author's is overwritten.
    """
    names = PluginNames.of(name)
    target = directory if directory is not None else Path("plugins") / name
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ScaffoldError(f"{target} already exists and is not empty: choose another --dir")
    files = render(names)
    for relative, text in files.items():
        path = target / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return target
