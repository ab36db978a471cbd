"""One scanning worker: loads the model once, turns an image (file or URL) into a results row."""

from __future__ import annotations

import os
from dataclasses import dataclass

from scan.inputs import Item


@dataclass(frozen=True)
class ScanSettings:
    """What every worker needs, local or on a Ray node; the limits are the scoring server's (backend/config.py)."""

    model_dir: str
    allow_private_urls: bool
    fetch_timeout_s: float
    fetch_max_bytes: int
    file_max_bytes: int  # the server's upload limit, so a file scores here exactly when the server would take it
    c2pa_trust_anchors: str = ""  # PEM file of trusted Content Credentials signers (DFD_C2PA_TRUST_ANCHORS)


class ReadError(Exception):
    """The file or URL gave no bytes to score; the message says why."""


def read_file(path: str, max_bytes: int) -> bytes:
    """The file's bytes, or ReadError with a sentence for the results."""
    try:
        size = os.path.getsize(path)
        if size > max_bytes:
            raise ReadError(f"The file is {size / 1e6:.1f} MB, over the {max_bytes / 1e6:g} MB limit (DFD_MAX_UPLOAD_MB).")
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        raise ReadError("The file does not exist (any more).") from None
    except IsADirectoryError:
        raise ReadError("This is a folder, not an image file.") from None
    except PermissionError:
        raise ReadError("The file cannot be read: permission denied.") from None
    except OSError as e:
        raise ReadError(f"The file cannot be read ({e.strerror or e}).") from None


def error_row(item: Item, message: str) -> dict:
    """The row of an image that could not be scored: no verdict, the reason in error."""
    return {item.field: item.name, "verdict": None, "score": None, "faces": [], "error": message}


class Scorer:
    """The shipped model in this process, and the rules for reading and fetching images."""

    def __init__(self, settings: ScanSettings, threads: int, classifier=None):
        from scoring.answer import configure_tensorflow, warm_up
        from scoring.classifier import Classifier

        self.settings = settings
        if classifier is None:
            configure_tensorflow(threads)
            classifier = Classifier(settings.model_dir, threads=threads)
            warm_up(classifier)
        self.classifier = classifier

    def fetch(self, item: Item) -> bytes:
        """The image's bytes: the file read here, or the URL fetched with the server's SSRF-safe fetcher."""
        s = self.settings
        if item.field == "path":
            return read_file(item.location, s.file_max_bytes)
        from backend import fetch

        try:
            return fetch.fetch_image(item.location, allow_private=s.allow_private_urls,
                                     timeout_s=s.fetch_timeout_s, max_bytes=s.fetch_max_bytes)
        except fetch.FetchError as e:
            raise ReadError(str(e)) from None

    def row(self, item: Item, data: bytes | None = None) -> dict:
        """The results row for one image; every failure becomes an error row, never an exception."""
        from backend import provenance
        from scoring.answer import answer
        from scoring.faces import ImageError

        try:
            if data is None:
                data = self.fetch(item)
            _, _, out = answer(self.classifier, data)
            # what the file declares, read beside the pixel verdict as the API does
            out["provenance"] = provenance.read(data, provenance.trust_anchors(self.settings.c2pa_trust_anchors))
        except (ReadError, ImageError) as e:
            return error_row(item, str(e))
        except Exception as e:  # noqa: BLE001 - one odd image must not stop a scan of millions
            return error_row(item, f"Scoring failed ({type(e).__name__}: {e}); please report this image.")
        return {item.field: item.name, **out, "error": None}

    def rows(self, chunk: list[tuple[Item, bytes | None]]) -> list[dict]:
        return [self.row(item, data) for item, data in chunk]
