"""Every test here exercises the trainers: marked `training` (they need torch and
the ImageNet weights, scripts/install_training.sh)."""

from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config, items):
    # a conftest's hook sees the whole session's items: mark only this folder's
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.training)
