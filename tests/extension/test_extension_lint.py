"""The extension's sources pass ESLint (no eval, no undeclared globals) and Prettier."""

import shutil
import subprocess
from pathlib import Path

EXTENSION = Path(__file__).resolve().parents[2] / "extension"


def test_extension_sources_pass_lint():
    npm = shutil.which("npm")
    assert npm, "npm is not installed; run `bash scripts/install.sh`"
    done = subprocess.run([npm, "run", "lint", "--silent"], cwd=EXTENSION, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
