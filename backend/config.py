"""Every setting of the scoring server, in one place.

Each setting is an environment variable `DFD_<KEY>` with a safe default and
the reason for it. create_app() layers them: these defaults (or the
environment), then instance/config.py, then test overrides. The settings
table in docs/server.md lists the same rows.

This module imports nothing heavy: gunicorn's master process reads it, and
TensorFlow must not be loaded before the workers fork.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable

from scoring.model_config import SHIPPED_MODEL_DIR

ENV_PREFIX = "DFD_"


def parse_bool(text: str) -> bool:
    value = text.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise ValueError("use 1 or 0")


def parse_positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError("use a whole number of 1 or more")
    return value


def parse_positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise ValueError("use a number above 0")
    return value


@dataclass(frozen=True)
class Setting:
    key: str  # the Flask config key; the environment variable is DFD_<key>
    default: object
    parse: Callable[[str], object]
    meaning: str

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.key


SETTINGS = (
    Setting("MODEL_DIR", str(SHIPPED_MODEL_DIR), str,
            "folder with deepfake_classifier.keras and config.json; the shipped model by default"),
    Setting("HOST", "127.0.0.1", str,
            "address to listen on; loopback only until you choose to expose the server"),
    Setting("PORT", 8000, parse_positive_int, "port to listen on"),
    Setting("API_TOKEN", "", str,
            "when set, every /api/v1 call needs `Authorization: Bearer <token>`; empty means no token"),
    Setting("CORS_ORIGINS", "chrome-extension://*", str,
            "comma-separated browser origins that may call the API, `*` matching one name or id; "
            "the upload page is same-origin and needs no entry"),
    Setting("MAX_UPLOAD_MB", 20.0, parse_positive_float,
            "largest upload accepted; bigger ones get 413 (a phone photo is 2-10 MB)"),
    Setting("VIDEO_MAX_UPLOAD_MB", 100.0, parse_positive_float,
            "largest video /api/v1/score-video accepts; bigger ones get 413 (a minute of 1080p phone video "
            "is 100-130 MB); the upload is held in memory, never on disk, so this bounds each worker's memory"),
    Setting("VIDEO_MAX_SECONDS", 600.0, parse_positive_float,
            "longest video scored, read from its header before decoding; longer ones get 413 "
            "(decoding every frame of a long video would outlast gunicorn's 120 s request timeout)"),
    Setting("VIDEO_MAX_PIXELS", 3840 * 2160, parse_positive_int,
            "largest frame (width x height) decoded, read from the header; 4K UHD by default, "
            "8K and absurd sizes get 422 before a frame is decoded (one 8K frame is 100 MB as RGB)"),
    Setting("VIDEO_SAMPLE_FPS", 2.0, parse_positive_float,
            "frames scored per second of video; a face on screen half a second is seen, "
            "and a minute of video costs 120 face searches"),
    Setting("VIDEO_MAX_FRAMES", 300, parse_positive_int,
            "most frames scored in one video; past VIDEO_MAX_FRAMES / VIDEO_SAMPLE_FPS seconds "
            "the samples spread out evenly, so a long video costs no more than 300 face searches"),
    Setting("VIDEO_TRACK_IOU", 0.3, parse_positive_float,
            "box overlap (intersection over union) above which a face in the next sample is the same face; "
            "a head moving at walking pace between samples half a second apart keeps more than this"),
    Setting("VIDEO_TRACK_GAP_S", 1.5, parse_positive_float,
            "seconds a face may go unseen (a turned head, a missed detection) and still continue its track"),
    Setting("VIDEO_THUMBNAILS", 4, int,
            "most suspicious frames returned with a thumbnail and a heatmap of their face; "
            "each costs a heatmap computation and ~40 KB of answer"),
    Setting("ALLOW_PRIVATE_URLS", False, parse_bool,
            "1 lets URL mode fetch loopback and private addresses, for a lab install; "
            "cloud-metadata addresses stay refused"),
    Setting("FETCH_TIMEOUT_S", 10.0, parse_positive_float,
            "longest a URL fetch may take, redirects included"),
    Setting("FETCH_MAX_MB", 20.0, parse_positive_float,
            "largest image URL mode downloads; bigger ones get 413"),
    Setting("C2PA_TRUST_ANCHORS", "", str,
            "PEM file of the C2PA signing roots to trust (e.g. the C2PA trust list); empty: Content Credentials "
            "whose signature checks out are reported as signed by an untrusted signer"),
    Setting("WORKERS", 2, parse_positive_int,
            "gunicorn worker processes; each loads its own copy of the model and needs about 1 GB of memory"),
    Setting("TF_THREADS", 0, int,
            "threads per process for TensorFlow (face detection) and XNNPACK (classification); "
            "0 shares the cores out between the workers "
            "so they do not fight over them"),
    Setting("REPORTS_DB", "", str,
            "where reports and kept game answers are stored: a file path (SQLite) or any database URL "
            "SQLAlchemy takes, so several servers can share one; empty: instance/reports.sqlite3"),
    Setting("REPORTS_RATE_LIMIT", "10 per minute;200 per day", str,
            "reports one client address may send (Flask-Limiter notation); "
            "a person sends a few a minute, a script flooding the database gets 429"),
    Setting("GAME_RATE_LIMIT", "60 per minute", str,
            "game answers one client address may send; a quick player answers a face every few seconds, "
            "and each answer costs the server a scoring with heatmap"),
    Setting("RATE_LIMIT_STORAGE", "memory://", str,
            "where the rate limiter counts: memory:// counts per worker process; "
            "a shared store (redis://host:6379, needs the redis package) counts across workers and servers"),
    Setting("REPORT_IMAGE_MAX_MB", 10.0, parse_positive_float,
            "largest image a report may carry; bigger ones get 413 (the database keeps every one)"),
    Setting("GAME_DIR", "", str,
            "folder with real/ and fake/ face images (or a data folder's manifest.csv: its test split) "
            "for the spot-the-fake game at /game; "
            "empty: the game page says how to set one"),
    Setting("GAME_KEEP_ANSWERS", False, parse_bool,
            "1 keeps each game answer (face, guess, truth, model score; nothing about the player) "
            "in the reports database"),
)


def from_env(environ=None) -> dict:
    """The settings from DFD_* environment variables, defaults for the rest."""
    environ = os.environ if environ is None else environ
    values = {}
    for setting in SETTINGS:
        raw = environ.get(setting.env)
        if raw is None:
            values[setting.key] = setting.default
            continue
        try:
            values[setting.key] = setting.parse(raw)
        except ValueError as e:
            raise ValueError(f"{setting.env}={raw!r} is not valid: {e}.") from None
    return values


def tf_threads(config) -> int:
    """Threads for one process (TensorFlow and XNNPACK): the setting, or its share of the cores."""
    if config["TF_THREADS"] > 0:
        return config["TF_THREADS"]
    return max(1, (os.cpu_count() or 1) // config["WORKERS"])
