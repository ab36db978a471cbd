"""Write a benchmark's JSON and Markdown table, and the index of tables in results/README.md."""

import json
import os
import platform
import re
from datetime import datetime, timezone
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
INDEX = RESULTS / "README.md"  # the project README links here
BEGIN, END = "<!-- benchmarks:begin -->", "<!-- benchmarks:end -->"


def machine() -> str:
    """What the figures were measured on, in one line."""
    cpu = platform.processor() or "cpu"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kb / 2**20:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    return f"{cpu}, {os.cpu_count()} cores{mem}, no GPU, {platform.system()} {platform.release()}"


def markdown_table(rows: list[dict]) -> str:
    if not rows:
        return "(no rows)\n"
    cols = list(rows[0])
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        lines.append("| " + " | ".join(_fmt(r.get(c)) for c in cols) + " |")
    return "\n".join(lines) + "\n"


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return "" if v is None else str(v)


def write(name: str, title: str, rows: list[dict], notes: str = "", extra: dict | None = None):
    """Save results/<name>.json and results/<name>.md, then refresh the index."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    payload = {"name": name, "title": title, "measured": stamp, "machine": machine(), "rows": rows, "notes": notes}
    payload.update(extra or {})
    (RESULTS / f"{name}.json").write_text(json.dumps(payload, indent=2) + "\n")
    md = f"### {title}\n\nMeasured {stamp} on {payload['machine']}.\n\n{markdown_table(rows)}"
    if notes:
        md += f"\n{notes}\n"
    (RESULTS / f"{name}.md").write_text(md)
    refresh_index()


def refresh_index():
    """List every results/<name>.md, with its title and date, between the index's markers."""
    entries = []
    for path in sorted(RESULTS.glob("*.json")):
        result = json.loads(path.read_text())
        entries.append(f"- [{result['title']}]({path.stem}.md), measured {result['measured']}")
    body = "\n".join(entries) if entries else "No benchmark has been run yet."
    text = INDEX.read_text() if INDEX.is_file() else f"# Benchmarks\n\n{BEGIN}\n{END}\n"
    block = f"{BEGIN}\n{body}\n{END}"
    INDEX.write_text(re.sub(re.escape(BEGIN) + ".*?" + re.escape(END), lambda _: block, text, flags=re.S))
