"""The results file (JSON lines, appended as images finish), resuming from it, and its summaries."""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

VERDICTS = ("fake", "uncertain", "real", "no_face", "error")  # the order of the counts table


def key(row: dict) -> str | None:
    """The image a row is about: its path or its URL."""
    return row.get("path") or row.get("url")


class ResultsError(ValueError):
    """The --out file is not a results file this scanner can append to; the message says what to do."""


class Results:
    """results.jsonl: the rows already there (the last row of an image wins) and an appender for new ones."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.rows: dict[str, dict] = {}
        self.unreadable = 0  # lines that are not rows (edited by hand); kept as they are
        if self.path.exists():
            self._read_and_repair()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = self.path.open("a", encoding="utf-8")
        except OSError as e:
            raise ResultsError(f"Cannot write {self.path} ({e.strerror or e}); choose another --out.") from None

    def _read_and_repair(self) -> None:
        if self.path.is_dir():
            raise ResultsError(f"{self.path} is a folder; give --out a file name such as results.jsonl.")
        data = self.path.read_bytes()
        end = data.rfind(b"\n") + 1
        for line in data[:end].splitlines():
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError:
                self.unreadable += 1
                continue
            if isinstance(row, dict) and key(row):
                self.rows[key(row)] = row
            else:
                self.unreadable += 1
        if data.strip() and not self.rows:
            # never cut or append to a file that holds no rows: it may be a photo or someone's notes
            raise ResultsError(f"{self.path} is not a results file of this scanner; choose another --out.")
        if end < len(data):
            # a crash mid-write leaves half a line: cut it, so the next row starts on a line of its own
            with self.path.open("r+b") as f:
                f.truncate(end)

    def done(self, retry_errors: bool = False) -> set[str]:
        """The images a rerun skips: all already there, or only those scored without error."""
        return {k for k, row in self.rows.items() if not (retry_errors and row.get("error"))}

    def append(self, row: dict) -> None:
        """Write one row and flush it: a crash or Ctrl-C loses only images still in flight."""
        self._file.write(json.dumps(row, ensure_ascii=False) + "\n")
        self._file.flush()
        self.rows[key(row)] = row

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def verdict_of(row: dict) -> str:
    return "error" if row.get("error") else row.get("verdict") or "error"


def counts(rows) -> Counter:
    return Counter(verdict_of(r) for r in rows)


def counts_table(rows) -> str:
    """Images per verdict, as a small plain-text table."""
    c = counts(rows)
    total = sum(c.values())
    width = max(len(v) for v in VERDICTS)
    lines = [f"{'verdict':<{width}}  {'images':>8}  {'share':>6}"]
    for v in VERDICTS:
        share = f"{c[v] / total:.1%}" if total else "-"
        lines.append(f"{v:<{width}}  {c[v]:>8}  {share:>6}")
    lines.append(f"{'total':<{width}}  {total:>8}")
    return "\n".join(lines)


def write_csv(rows, path: Path) -> None:
    """One line per image: where it is, verdict, score, number of faces, error."""
    with Path(path).open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["source", "verdict", "score", "faces", "error"])
        for r in rows:
            w.writerow([key(r), verdict_of(r), "" if r.get("score") is None else r["score"],
                        len(r.get("faces") or []), r.get("error") or ""])
