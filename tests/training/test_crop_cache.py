"""The crop caches know which face pipeline cropped them: a network never trains on
crops the product's detector would not make."""

import shutil
import sys

import numpy as np
import pytest

from harness import FIXTURES
from training.crops import cached_pipeline, face_pipeline, load_split


def copy_with_pipeline(src, dest, pipeline):
    """A copy of an .npz cache recording `pipeline` (None: from before caches recorded one)."""
    with np.load(src) as data:
        arrays = {k: data[k] for k in data.files if k != "pipeline"}
    if pipeline is not None:
        arrays["pipeline"] = np.array(pipeline)
    np.savez(dest, **arrays)
    return dest


def test_a_fresh_cache_records_this_checkouts_face_pipeline(fixture_cache):
    assert cached_pipeline(fixture_cache) == face_pipeline()
    assert len(load_split(fixture_cache, "train").labels) > 0


@pytest.mark.parametrize("pipeline", ["0123456789abcdef", None], ids=["another pipeline", "not recorded"])
def test_crops_from_another_face_pipeline_are_refused(tmp_path, fixture_cache, pipeline):
    stale = copy_with_pipeline(fixture_cache, tmp_path / fixture_cache.name, pipeline)
    with pytest.raises(SystemExit, match="another face pipeline.*training.prepare"):
        load_split(stale, "train")


def test_prepare_crops_a_stale_cache_again_and_keeps_a_current_one(tmp_path, monkeypatch, fixture_cache, capsys):
    from training import prepare

    stale = copy_with_pipeline(fixture_cache, tmp_path / fixture_cache.name, "0123456789abcdef")
    argv = ["prepare", "--manifest", str(FIXTURES / "faces" / "manifest.csv"), "--cache-dir", str(tmp_path)]
    monkeypatch.setattr(sys, "argv", argv)
    prepare.main()
    assert "cropping again" in capsys.readouterr().out
    assert cached_pipeline(stale) == face_pipeline()
    prepare.main()
    assert "crops kept" in capsys.readouterr().out


def test_reconstructions_of_other_crops_are_made_again(tmp_path, fixture_cache, capsys):
    from training import synthesize

    cache = shutil.copy(fixture_cache, tmp_path / fixture_cache.name)
    copy_with_pipeline(synthesize.synthetic_path(fixture_cache), synthesize.synthetic_path(cache), "0123456789abcdef")
    args = ["--cache", str(cache), "--taef2-share", "0", "--autoencoder-steps", "3", "--train", "6", "--val", "3"]
    synthesize.main(args)
    assert "making them again" in capsys.readouterr().out
    assert cached_pipeline(synthesize.synthetic_path(cache)) == cached_pipeline(cache)
    synthesize.main(args)
    assert "reconstructions kept" in capsys.readouterr().out


def test_training_refuses_reconstructions_of_other_crops(tmp_path, fixture_cache):
    from training import synthesize, train

    cache = shutil.copy(fixture_cache, tmp_path / fixture_cache.name)
    copy_with_pipeline(synthesize.synthetic_path(fixture_cache), synthesize.synthetic_path(cache), "0123456789abcdef")
    with pytest.raises(SystemExit, match="made from other face crops.*run python -m training.synthesize"):
        train.main(["--cache-dir", str(tmp_path), "--weights", "random", "--out", str(tmp_path / "net.pt"),
                    "--epochs", "1", "--samples-per-epoch", "8", "--batch-size", "8", "--workers", "0"])
