"""What to scan: a folder (recursively), an image, a text list of paths or URLs, or a CSV column of them."""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

# what scoring.faces reads; GIFs are scored on their first frame
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp"})
# a CSV column with one of these names (any case) holds the images, unless --column says otherwise
CSV_COLUMNS = ("path", "url", "image", "file", "filename", "image_url", "src")


class InputError(ValueError):
    """The input cannot be read as a folder, image, list or CSV; the message says what to give instead."""


@dataclass(frozen=True)
class Item:
    """One image to scan: written to the results as {field: name}; read from location."""

    field: str  # "path" or "url"
    name: str  # as the results show it: the path as given (joined to its folder or list) or the URL
    location: str  # an absolute path, or the URL


def _is_url(text: str) -> bool:
    # any scheme counts as a URL: the fetcher then says which ones it accepts
    return "://" in text


def _entry(text: str, base: Path) -> Item:
    """A line or cell of a list: a URL as written, or a path relative to the list's folder."""
    if _is_url(text):
        return Item("url", text, text)
    path = Path(os.path.expanduser(text))
    name = str(path if path.is_absolute() else base / path)
    return Item("path", name, os.path.abspath(name))


def _folder(folder: Path) -> list[Item]:
    items = []
    for root, dirs, files in os.walk(folder):
        dirs.sort()  # the same order on every run and every machine
        for f in sorted(files):
            if Path(f).suffix.lower() in IMAGE_SUFFIXES:
                name = os.path.join(root, f)
                items.append(Item("path", name, os.path.abspath(name)))
    return items


def _text_list(path: Path) -> list[Item]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        raise InputError(f"{path} is not a text list; give a folder, an image, a .txt list of paths or URLs, or a .csv.") from None
    entries = (line.strip() for line in lines)
    return [_entry(e, path.parent) for e in entries if e and not e.startswith("#")]


def _csv_list(path: Path, column: str | None) -> list[Item]:
    with path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        header = reader.fieldnames or []
        if column is None:
            by_lower = {h.strip().lower(): h for h in header}
            column = next((by_lower[c] for c in CSV_COLUMNS if c in by_lower), None)
            if column is None:
                raise InputError(f"{path} has no column named {', '.join(CSV_COLUMNS)}; name the column with --column.")
        elif column not in header:
            raise InputError(f"{path} has no column {column!r}; its columns are {', '.join(header) or 'none'}.")
        cells = (row.get(column) or "" for row in reader)
        return [_entry(c.strip(), path.parent) for c in cells if c.strip()]


def collect(sources: list[str], column: str | None = None) -> list[Item]:
    """Every image the sources name, once each, in a stable order."""
    items: dict[str, Item] = {}
    for source in sources:
        path = Path(source)
        if path.is_dir():
            found = _folder(path)
        elif not path.is_file():
            raise InputError(f"{source} does not exist; give a folder, an image, a .txt list of paths or URLs, or a .csv.")
        elif path.suffix.lower() == ".csv":
            found = _csv_list(path, column)
        elif path.suffix.lower() in IMAGE_SUFFIXES:
            found = [Item("path", source, os.path.abspath(source))]
        else:
            found = _text_list(path)
        for item in found:
            items.setdefault(item.name, item)
    return list(items.values())
