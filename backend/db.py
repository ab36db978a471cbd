"""The reports database: wrong-verdict reports and kept game answers, with SQLAlchemy.

SQLite in instance/reports.sqlite3 by default; DFD_REPORTS_DB takes a file
path or any database URL SQLAlchemy takes (PostgreSQL for several servers).
Each process opens its own engine when the app is built (after gunicorn forks).
"""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

from flask import current_app, g
from sqlalchemy import Boolean, DateTime, Float, Integer, LargeBinary, String, Text, create_engine, exc
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

DEFAULT_FILE = "reports.sqlite3"  # under the app's instance folder
CREATE_ATTEMPTS = 3  # gunicorn workers start together; a second may find a table the first just made


class Base(DeclarativeBase):
    pass


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


class Report(Base):
    """A user's "this verdict is wrong", with the image only when they chose to send it."""

    __tablename__ = "reports"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utc_now, index=True)
    url: Mapped[str | None] = mapped_column(String(2048))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    verdict: Mapped[str] = mapped_column(String(16))
    score: Mapped[float | None] = mapped_column(Float)
    model_version: Mapped[str] = mapped_column(String(64), default="")
    label: Mapped[str] = mapped_column(String(16), index=True)
    note: Mapped[str] = mapped_column(Text, default="")
    image: Mapped[bytes | None] = mapped_column(LargeBinary)
    image_format: Mapped[str | None] = mapped_column(String(16))  # Pillow's name: JPEG, PNG, ...


class GameAnswer(Base):
    """One face answered in the game: nothing about who played."""

    __tablename__ = "game_answers"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utc_now)
    face: Mapped[str] = mapped_column(String(1024), index=True)  # path inside DFD_GAME_DIR
    truth: Mapped[str] = mapped_column(String(8))
    guess: Mapped[str] = mapped_column(String(8))
    model_score: Mapped[float | None] = mapped_column(Float)
    person_right: Mapped[bool] = mapped_column(Boolean)
    model_right: Mapped[bool] = mapped_column(Boolean)


def database_url(setting: str, instance_path: str | Path) -> str:
    """DFD_REPORTS_DB as a SQLAlchemy URL: a URL as it is, a path as SQLite, empty as the default file."""
    setting = setting.strip()
    if "://" in setting:
        return setting
    path = Path(setting) if setting else Path(instance_path) / DEFAULT_FILE
    return f"sqlite:///{path.resolve()}"


def open_engine(url: str) -> Engine:
    """An engine on url (nothing opened yet); raises ValueError naming the setting when it cannot be."""
    try:
        return create_engine(url, pool_pre_ping=True)
    except (exc.ArgumentError, exc.NoSuchModuleError, ImportError) as e:
        raise ValueError(f"DFD_REPORTS_DB={url!r} is not a database SQLAlchemy can open: {e}.") from None


def create_tables(engine: Engine) -> None:
    """Make the tables that are missing (and SQLite's folder): the file appears with the first report."""
    if engine.url.get_backend_name() == "sqlite" and engine.url.database:
        Path(engine.url.database).parent.mkdir(parents=True, exist_ok=True)
    for attempt in range(1, CREATE_ATTEMPTS + 1):
        try:
            Base.metadata.create_all(engine)
            return
        except (exc.OperationalError, exc.ProgrammingError, exc.IntegrityError):
            if attempt == CREATE_ATTEMPTS:
                raise


_ready: set[str] = set()  # engines whose tables this process has made
_lock = threading.Lock()


def get_db() -> Session:
    """A session for this request, closed when the request ends; the tables are made on first use."""
    if "db" not in g:
        engine = current_app.extensions["dfd_db"]
        key = str(engine.url)
        if key not in _ready:
            with _lock:
                create_tables(engine)
                _ready.add(key)
        g.db = Session(engine)
    return g.db


def close_db(e=None) -> None:
    db = g.pop("db", None)
    if db is not None:
        db.close()


def init_app(app) -> None:
    """Point this app at the reports database (opened on the first report) and close each request's session."""
    app.extensions["dfd_db"] = open_engine(database_url(app.config["REPORTS_DB"], app.instance_path))
    app.teardown_appcontext(close_db)
