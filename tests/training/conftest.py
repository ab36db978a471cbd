"""Every test here exercises the trainers: marked `training` (they need torch and
the ImageNet weights, scripts/install_training.sh). The fixture faces' crop
cache is made once for every test that trains."""

from pathlib import Path

import pytest

from harness import FIXTURES

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config, items):
    # a conftest's hook sees the whole session's items: mark only this folder's
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.training)


@pytest.fixture(scope="session")
def fixture_cache(tmp_path_factory):
    """The fixture faces' crops, and reconstructions of their reals by briefly trained small autoencoders."""
    pytest.importorskip("torch", reason="training extra: bash scripts/install_training.sh installs torch")
    from training import synthesize
    from training.config import TrainConfig
    from training.prepare import cache_path, prepare

    cfg, cache_dir = TrainConfig(), tmp_path_factory.mktemp("cache")
    prepare(str(FIXTURES / "faces" / "manifest.csv"), str(cache_dir), cfg.image_size, cfg.margin)
    cache = cache_path(cache_dir, cfg.image_size, cfg.margin)
    synthesize.main(["--cache", str(cache), "--taef2-share", "0", "--autoencoder-steps", "3",
                     "--train", "6", "--val", "3"])
    return cache
