"""The batch scanner: inputs, rows like the API's, bad files as error rows, resuming, URLs, Ray.

The collection is scanned once as a user would (2 worker processes); the other
local runs use --workers 1, which scores in the test process with the model
loaded once. The Ray test starts a 2-CPU Ray instance here and stops it.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pytest

from scan import inputs
from scan.__main__ import Progress, main
from scoring.model_config import CONFIG_FILE, MODEL_FILE, SHIPPED_MODEL_DIR

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
TRUNCATED_BYTES = 3000  # a JPEG cut after its headers: Pillow opens it, decoding fails

# the collection: file in it, where from (None: written by the test), verdict, error message contains
COLLECTION = [
    ("faces/real.jpg", "faces/real/dfdc_ikcxvepgks.jpg", "real", None),
    ("faces/fake.jpg", "faces/fake/dfdc_doanjploai.jpg", "fake", None),
    ("photos/landscape.jpg", "photos/landscape_china.jpg", "no_face", None),
    ("more/deeper/animated.gif", "parity/fake_animated.gif", "fake", None),
    ("more/photo.webp", "parity/real_webp.webp", "real", None),
    ("bad/notes.png", None, None, "not an image we can read"),
    ("bad/empty.jpg", None, None, "empty"),
    ("bad/truncated.jpg", None, None, "damaged or truncated"),
]


def make_collection(root: Path) -> Path:
    for name, source, _, _ in COLLECTION:
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source:
            shutil.copy(FIXTURES / source, target)
    (root / "bad/notes.png").write_text("meeting notes, not a picture\n")
    (root / "bad/empty.jpg").write_bytes(b"")
    (root / "bad/truncated.jpg").write_bytes((FIXTURES / "photos/portrait_grace_hopper.jpg").read_bytes()[:TRUNCATED_BYTES])
    (root / "readme.txt").write_text("not an image: the folder scan skips it\n")
    return root


def read_rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def by_path(rows: list[dict], drop=("elapsed_ms",)) -> dict[str, dict]:
    return {r["path"]: {k: v for k, v in r.items() if k not in drop} for r in rows}


@pytest.fixture(scope="module")
def collection(tmp_path_factory) -> Path:
    return make_collection(tmp_path_factory.mktemp("collection"))


@pytest.fixture(scope="module")
def scanned(collection, tmp_path_factory):
    """One local scan of the collection with 2 worker processes: (results path, CSV path, exit code)."""
    out_dir = tmp_path_factory.mktemp("out")
    out, summary = out_dir / "results.jsonl", out_dir / "summary.csv"
    code = main([str(collection), "--out", str(out), "--csv", str(summary), "--workers", "2", "--chunk", "2"])
    return out, summary, code


# ---- inputs ---------------------------------------------------------------------------------------


def test_a_folder_is_searched_recursively_for_images_only(collection):
    names = [Path(i.name).relative_to(collection).as_posix() for i in inputs.collect([str(collection)])]
    assert sorted(names) == sorted(name for name, *_ in COLLECTION)
    assert "readme.txt" not in names


@pytest.mark.parametrize(
    ("file_name", "text", "column", "expected"),
    [
        ("list.txt", "# my photos\na.jpg\n\nsub/b.png\nhttps://example.com/c.jpg\n", None,
         [("path", "a.jpg"), ("path", "sub/b.png"), ("url", "https://example.com/c.jpg")]),
        ("list.txt", "a.jpg\na.jpg\n", None, [("path", "a.jpg")]),  # once each
        ("images.csv", "id,URL,note\n1,https://example.com/x.jpg,hi\n2,y.webp,\n3,,empty\n", None,
         [("url", "https://example.com/x.jpg"), ("path", "y.webp")]),
        ("images.csv", "id,picture\n1,z.gif\n", "picture", [("path", "z.gif")]),
    ],
)
def test_lists_and_csvs_name_paths_relative_to_themselves_and_urls(tmp_path, file_name, text, column, expected):
    listing = tmp_path / file_name
    listing.write_text(text)
    items = inputs.collect([str(listing)], column)
    assert [(i.field, i.name) for i in items] == [
        (field, name if field == "url" else str(tmp_path / name)) for field, name in expected
    ]
    assert all(Path(i.location).is_absolute() for i in items if i.field == "path")


@pytest.mark.parametrize(
    ("file_name", "content", "column", "message"),
    [
        (None, None, None, "does not exist"),
        ("images.csv", "id,note\n1,x\n", None, "name the column with --column"),
        ("images.csv", "id,path\n1,x.jpg\n", "picture", "its columns are id, path"),
        ("list.txt", b"\xff\xd8\xff\xe0 binary", None, "is not a text list"),
    ],
)
def test_inputs_that_are_not_lists_say_what_to_give(tmp_path, capsys, file_name, content, column, message):
    source = tmp_path / (file_name or "missing-folder")
    if content is not None:
        source.write_bytes(content if isinstance(content, bytes) else content.encode())
    argv = [str(source), "--out", str(tmp_path / "r.jsonl")] + (["--column", column] if column else [])
    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "r.jsonl").exists()


@pytest.mark.parametrize(
    ("existing", "message"),
    [
        ((FIXTURES / "photos/portrait_grace_hopper.jpg").read_bytes(), "is not a results file"),
        (b"my notes\nabout photos", "is not a results file"),
        (None, "is a folder"),
    ],
)
def test_an_out_file_that_holds_no_results_is_left_alone(collection, tmp_path, capsys, existing, message):
    out = tmp_path / "results.jsonl"
    if existing is None:
        out.mkdir()
    else:
        out.write_bytes(existing)
    with pytest.raises(SystemExit) as stop:
        main([str(collection / "faces"), "--out", str(out), "--workers", "1"])
    assert stop.value.code == 2 and message in capsys.readouterr().err
    assert existing is None or out.read_bytes() == existing  # not cut, not appended to


# ---- a local scan ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "source", "verdict", "error"), COLLECTION)
@pytest.mark.slow  # worker processes each load TensorFlow and the model
def test_every_image_gets_one_row_with_its_verdict_or_its_error(scanned, collection, name, source, verdict, error):
    """The verdicts are a regression pin, not accuracy evidence: the fixture faces are ones the
    shipped model scores right (misjudged ones were swapped out, tests/fixtures/README.md)."""
    out, _, code = scanned
    assert code == 0  # bad files never stop a scan
    rows = [r for r in read_rows(out) if r["path"] == str(collection / name)]
    assert len(rows) == 1
    (row,) = rows
    assert row["verdict"] == verdict
    if error:
        assert error in row["error"] and row["faces"] == [] and row["score"] is None
    else:
        assert row["error"] is None
        assert len(row["faces"]) == (0 if verdict == "no_face" else 1)


@pytest.mark.slow  # worker processes each load TensorFlow and the model
def test_rows_carry_the_scoring_servers_answer(scanned):
    from backend import create_app

    client = create_app({"TESTING": True}).test_client()
    for row in read_rows(scanned[0]):
        if row["error"]:
            continue
        answer = client.post("/api/v1/score", data=Path(row["path"]).read_bytes()).get_json()
        drop = ("elapsed_ms", "path", "error")
        assert {k: v for k, v in row.items() if k not in drop} == {k: v for k, v in answer.items() if k not in drop}


@pytest.mark.parametrize(("fixture", "declares_ai"), [("iptc_ai.jpg", True), ("camera_exif.jpg", False)])
def test_rows_say_what_the_file_declares(tmp_path, fixture, declares_ai):
    out = tmp_path / "results.jsonl"
    assert main([str(FIXTURES / "provenance" / fixture), "--out", str(out), "--workers", "1"]) == 0
    (row,) = read_rows(out)
    assert row["error"] is None
    assert row["provenance"]["declares_ai"] is declares_ai


@pytest.mark.slow  # worker processes each load TensorFlow and the model
def test_csv_summary_and_counts_table(scanned, collection, capsys):
    out, summary, _ = scanned
    with summary.open() as f:
        lines = list(csv.DictReader(f))
    assert [r["source"] for r in lines] == [i.name for i in inputs.collect([str(collection)])]
    verdicts = {Path(r["source"]).name: (r["verdict"], r["faces"]) for r in lines}
    assert verdicts["fake.jpg"] == ("fake", "1") and verdicts["empty.jpg"] == ("error", "0")
    # a rerun with nothing left prints the table of the whole results file
    assert main([str(collection), "--out", str(out), "--workers", "1"]) == 0
    table = dict(line.split()[:2] for line in capsys.readouterr().out.splitlines()[1:])
    assert table == {"fake": "2", "uncertain": "0", "real": "2", "no_face": "1", "error": "3", "total": "8"}


@pytest.mark.slow  # worker processes each load TensorFlow and the model
def test_a_rerun_skips_what_is_there_and_repairs_a_half_written_line(scanned, collection, tmp_path, capsys):
    out = tmp_path / "results.jsonl"
    first = scanned[0].read_text().splitlines(keepends=True)
    # as a crash leaves it: three rows, then half of the fourth
    out.write_text("".join(first[:3]) + first[3][: len(first[3]) // 2])
    assert main([str(collection), "--out", str(out), "--workers", "1"]) == 0
    assert "8 images, 3 already in" in capsys.readouterr().err
    rows = read_rows(out)  # every line parses: the half line is gone
    assert len(rows) == len(COLLECTION)
    assert rows[:3] == [json.loads(line) for line in first[:3]]  # kept, not scored again (same elapsed_ms)
    assert by_path(rows) == by_path(read_rows(scanned[0]))


def test_retry_errors_scores_fixed_files_again(tmp_path, capsys):
    folder = make_collection(tmp_path / "c")
    out = tmp_path / "results.jsonl"
    assert main([str(folder / "bad"), "--out", str(out), "--workers", "1"]) == 0
    shutil.copy(FIXTURES / "photos/portrait_grace_hopper.jpg", folder / "bad/truncated.jpg")  # fixed
    assert main([str(folder / "bad"), "--out", str(out), "--workers", "1"]) == 0
    assert "0 to score" in capsys.readouterr().err
    assert main([str(folder / "bad"), "--out", str(out), "--workers", "1", "--retry-errors"]) == 0
    assert "3 to score" in capsys.readouterr().err
    latest = {r["path"]: r for r in read_rows(out)}
    assert latest[str(folder / "bad/truncated.jpg")]["verdict"] == "real"
    assert latest[str(folder / "bad/empty.jpg")]["error"] == "The image is empty."


@pytest.mark.slow  # worker processes each load TensorFlow and the model
def test_workers_that_cannot_load_the_model_stop_the_scan_with_a_message(collection, tmp_path, capsys):
    broken = tmp_path / "model"
    broken.mkdir()
    shutil.copyfile(SHIPPED_MODEL_DIR / CONFIG_FILE, broken / CONFIG_FILE)
    (broken / MODEL_FILE).write_bytes(b"")
    out = tmp_path / "results.jsonl"
    code = main([str(collection / "faces"), "--out", str(out), "--workers", "2", "--model-dir", str(broken)])
    assert code == 1
    assert "scan: stopped:" in capsys.readouterr().err
    assert not out.exists() or out.read_text() == ""


def test_a_model_folder_with_a_bad_config_is_refused_before_any_worker_starts(collection, tmp_path, capsys):
    broken = tmp_path / "model"
    broken.mkdir()
    (broken / CONFIG_FILE).write_text("{not json")
    (broken / MODEL_FILE).write_bytes(b"")
    with pytest.raises(SystemExit) as stop:
        main([str(collection / "faces"), "--out", str(tmp_path / "results.jsonl"), "--model-dir", str(broken)])
    assert stop.value.code == 2 and "is not valid JSON" in capsys.readouterr().err


# ---- URLs -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def image_server():
    from harness.servers import LAB_HOST, ImageServer, serve

    server = ImageServer(LAB_HOST)
    serve(server)
    yield server
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    ("allow_private", "route", "verdict", "error"),
    [
        ("1", "/portrait.jpg", "real", None),
        ("1", "/page.html", None, "returned text/html, not an image"),
        ("1", "/missing.jpg", None, "answered HTTP 404"),
        ("0", "/portrait.jpg", None, "private or local address"),  # the server's SSRF rule holds here too
    ],
)
def test_urls_are_fetched_with_the_servers_fetcher_and_rules(image_server, tmp_path, monkeypatch,
                                                             allow_private, route, verdict, error):
    monkeypatch.setenv("DFD_ALLOW_PRIVATE_URLS", allow_private)
    listing = tmp_path / "urls.txt"
    listing.write_text(image_server.base + route + "\n")
    out = tmp_path / "results.jsonl"
    assert main([str(listing), "--out", str(out), "--workers", "1"]) == 0
    (row,) = read_rows(out)
    assert row["url"] == image_server.base + route
    assert row["verdict"] == verdict
    assert (row["error"] is None) if error is None else (error in row["error"])


# ---- progress -------------------------------------------------------------------------------------


class Terminal(io.StringIO):
    def isatty(self):
        return True


@pytest.mark.parametrize(("stream", "shows"), [(Terminal, "img/s"), (io.StringIO, "scan: 2/2 images")])
def test_progress_is_a_bar_on_a_terminal_and_log_lines_otherwise(stream, shows):
    out = stream()
    progress = Progress(2, out)
    for _ in range(2):
        progress.update({"faces": [{}], "error": None})
    progress.close()
    text = out.getvalue()
    assert shows in text and "faces/s" in text
    assert ("\r" in text) == (stream is Terminal)


# ---- Ray ------------------------------------------------------------------------------------------


@pytest.mark.slow  # worker processes each load TensorFlow and the model
def test_ray_scan_writes_the_same_rows_as_the_local_scan(scanned, collection, tmp_path, capsys, monkeypatch):
    import ray

    monkeypatch.setenv("RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO", "0")  # no accelerators here; silences Ray's notice
    out = tmp_path / "ray.jsonl"
    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING")
    try:
        assert main([str(collection), "--out", str(out), "--ray", "--chunk", "3"]) == 0
    finally:
        ray.shutdown()
    assert "2 Ray actor(s) on 2 CPU slot(s)" in capsys.readouterr().err
    rows = read_rows(out)
    assert len(rows) == len(COLLECTION)
    assert by_path(rows) == by_path(read_rows(scanned[0]))
