"""A self-hosted server installs only requirements.txt: the server starts and
scores with every package that requirements/build.txt, requirements/test.txt
and training/requirements.txt add made unimportable."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# distributions whose import name differs from their name
IMPORT_NAMES = {"scikit-learn": "sklearn", "websocket-client": "websocket", "setuptools": "pkg_resources"}


def added_packages() -> list[str]:
    """Import names of what the non-server requirement files add."""
    names = []
    for path in ("requirements/build.txt", "requirements/test.txt", "training/requirements.txt"):
        for line in (REPO / path).read_text().splitlines():
            line = line.split("#")[0].strip()
            if line and not line.startswith("-"):
                dist = re.split(r"[<>=~!\[ ]", line, maxsplit=1)[0]
                names.append(IMPORT_NAMES.get(dist, dist.replace("-", "_")))
    return names


SERVE_ONE_IMAGE = """
import sys
blocked = set(sys.argv[1:])
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in blocked:
            raise ModuleNotFoundError(f"{name} is not in requirements.txt", name=name)
sys.meta_path.insert(0, Block())
from backend import create_app
client = create_app({"TESTING": True, "REPORTS_DB": "sqlite://"}).test_client()
with open("tests/fixtures/photos/portrait_grace_hopper.jpg", "rb") as f:
    answer = client.post("/api/v1/score", data=f.read(), content_type="image/jpeg")
print(answer.status_code, answer.get_json()["verdict"])
"""


@pytest.mark.slow
def test_the_server_scores_with_requirements_txt_alone():
    blocked = added_packages()
    assert {"tensorflowjs", "pytest", "torch"} <= set(blocked)
    done = subprocess.run([sys.executable, "-c", SERVE_ONE_IMAGE, *blocked], cwd=REPO,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split()[-2] == "200"
