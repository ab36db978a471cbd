"""The leave-one-source-out report: how two runs are scored as one, and what it says of a run it cannot read."""

import numpy as np
import pytest

pytest.importorskip("torch", reason="training extra: bash scripts/install_training.sh installs torch")
from training.leave_one_out import ensemble_run, ensemble_scores  # noqa: E402


@pytest.mark.parametrize("members, expected", [
    ([[0.5], [0.5]], [0.5]),  # both unsure: unsure
    ([[0.9], [0.1]], [0.5]),  # opposite and equally sure: they cancel
    ([[0.5], [0.9]], [0.75]),  # logits 0 and 2.197 average to 1.099
    ([[0.99], [0.9]], [0.9676]),  # the surer member pulls harder than a mean of probabilities (0.945)
    ([[1.0], [0.0]], [0.5]),  # certain and opposite: clipped, not NaN
    ([[0.2, 0.8], [0.2, 0.8], [0.2, 0.8]], [0.2, 0.8]),  # identical members: the member
])
def test_an_ensemble_scores_the_mean_of_its_members_logits(members, expected):
    np.testing.assert_allclose(ensemble_scores([np.array(m) for m in members]), expected, atol=1e-4)


@pytest.mark.parametrize("left_outs, held_out", [
    ((["sdfd"], ["sdfd"]), ["sdfd"]),
    ((["stylegan_ffhq", "genphotos"], ["stylegan_ffhq"]), ["stylegan_ffhq"]),  # the second saw genphotos
    ((["sdfd"], ["stylegan_ffhq", "genphotos"]), []),  # no source neither saw
])
def test_an_ensemble_holds_out_only_what_every_member_left_out(left_outs, held_out):
    members = [(f"run{i}", lo, {"best_val_auc": 0.9}, lambda crops, i=i: np.full(len(crops), 0.2 + 0.6 * i))
               for i, lo in enumerate(left_outs)]
    name, left_out, _, score = ensemble_run(members)
    assert name == "run0+run1" and left_out == held_out
    np.testing.assert_allclose(score(np.zeros(3)), [0.5, 0.5, 0.5], atol=1e-6)  # 0.2 and 0.8 cancel


def test_weights_without_their_run_record_say_what_to_pass(tmp_path):
    from training.leave_one_out import torch_run

    weights = tmp_path / "net.pt"
    weights.write_bytes(b"")
    with pytest.raises(SystemExit, match="No .*net.json beside .*net.pt: pass a run written by training.train"):
        torch_run(weights)
