"""Package packaged models as one ensemble: the server's model when it judges better than one network.

    python -m training.ensemble shipped_model runs/candidates/made_cpu --version 1.6.0-server --name server

Each member is a packaged model folder (training.package). The ensemble is one
Keras network: the members side by side on the same face crop, their logits
averaged, then the sigmoid (the mean logit that `training.leave_one_out`
scores `a.pt+b.pt` by). One network and one config.json, so the backend, the
scanner and evaluation load it as they load any model (MODEL_DIR); it is for
the server, not the browser (twice the work a face). Threshold and bands are
chosen on `val` as training.package chooses them; the test split is scored
through the backend's path unless --skip-test.
"""

import argparse
from pathlib import Path

from training.config import TrainConfig
from training.package import CANDIDATES_DIR, save_calibrated

ENSEMBLE_NAME = "deepfake-ensemble"
OUTPUT_LAYER = "fake_probability"  # the members' sigmoid unit; each becomes a logit in the ensemble


def member_prefix(i: int) -> str:
    return f"m{i}_"


def ensemble_network(members: list):
    """One Keras model over a shared input: mean of the members' logits, then the sigmoid.

    Built from Keras' own layers only (a member's sigmoid Dense cloned without
    its activation, Average, Activation), so it loads anywhere Keras does.
    """
    import keras
    from keras import layers

    sizes = {m.input_shape[1:] for m in members}
    if len(sizes) != 1:
        raise SystemExit(f"members take different inputs {sorted(sizes)}: an ensemble scores one face crop")
    image = keras.Input(sizes.pop(), name="image")
    logits = []
    for i, member in enumerate(members):
        prefix = member_prefix(i)

        def renamed(layer, prefix=prefix):
            config = layer.get_config()
            config["name"] = prefix + layer.name
            if layer.name == OUTPUT_LAYER:
                config["activation"] = "linear"
            return layer.__class__.from_config(config)

        clone = keras.models.clone_model(member, input_tensors=image, clone_function=renamed)
        for layer in member.layers:
            if layer.weights:
                clone.get_layer(prefix + layer.name).set_weights(layer.get_weights())
        logits.append(clone.outputs[0])
    mean = layers.Average(name="mean_logit")(logits) if len(logits) > 1 else logits[0]
    return keras.Model(image, layers.Activation("sigmoid", name=OUTPUT_LAYER)(mean), name="deepfake_ensemble")


def package_ensemble(member_dirs: list, version: str, out, cache_dir: str | None = None, test_data=None,
                     skip_test: bool = False, workers: int = 2) -> Path:
    """Write the ensemble's candidate folder `out`; return it.

    test_data: the folder whose test split is scored (default: the first member's data).
    """
    import keras

    from scoring.model_config import MODEL_FILE, SHIPPED_MODEL_DIR, ModelConfig
    from training.crops import load_split
    from training.prepare import cache_path

    out = Path(out)
    if out.resolve() == SHIPPED_MODEL_DIR.resolve():
        raise SystemExit(f"{out} is the browser's model: package the ensemble into its own folder.")
    configs = [ModelConfig.load(d) for d in member_dirs]
    crops = {(c.input_size, c.margin) for c in configs}
    if len(crops) != 1:
        raise SystemExit(f"members crop faces differently (input size, margin: {sorted(crops)}); "
                         "an ensemble scores one crop")
    size, margin = crops.pop()
    cache = cache_path(cache_dir or TrainConfig().cache_dir, size, margin)
    if not cache.is_file():
        raise SystemExit(f"{cache} not found: run python -m training.prepare (or pass --cache-dir).")
    members = [keras.models.load_model(Path(d) / MODEL_FILE, compile=False) for d in member_dirs]
    save_calibrated(
        ensemble_network(members), load_split(cache, "val"), out,
        name=ENSEMBLE_NAME,
        version=version,
        input_size=size,
        margin=margin,
        # Grad-CAM of the ensemble's score through every member's last activation
        heatmap_layer=tuple(member_prefix(i) + name for i, c in enumerate(configs) for name in c.heatmap_layers),
        train_config={"ensemble": [{"folder": str(d), "name": c.name, "version": c.version, "sha256": c.sha256}
                                   for d, c in zip(member_dirs, configs)], "combine": "mean logit"},
    )
    print(f"ensemble {version} of {', '.join(f'{c.name} {c.version}' for c in configs)} in {out}")
    if not skip_test:
        from training.evaluate import evaluate

        data = test_data or Path(configs[0].train_config.get("manifest", TrainConfig().manifest)).parent
        report = evaluate(data, out / "metrics.json", out, workers)
        print(f"test AUC {report['overall']['auc']:.4f}; " + ", ".join(
            f"{s} {m['auc']:.4f}" for s, m in report["per_source"].items() if m["auc"] is not None))
        write_ensemble_card(out)
    return out


def write_ensemble_card(model_dir: Path) -> Path:
    """MODEL_CARD.md of a packaged ensemble: its members, val calibration, test figures."""
    from scoring.model_config import ModelConfig
    from training.model_card import calibration_and_results

    config = ModelConfig.load(model_dir)
    members = "; ".join(f"{m['name']} {m['version']} (`{m['folder']}`)" for m in config.train_config["ensemble"])
    lines = [
        f"# {config.name} {config.version}: the server's model",
        "",
        f"Packaged by `python -m training.ensemble`: {len(config.train_config['ensemble'])} networks on the same "
        f"face crop, their logits averaged. Members: {members}. Each member's card says how it was trained; "
        "training/EXPERIMENTS.md says why two networks judge better than one.",
        "",
        *calibration_and_results(model_dir),
    ]
    card = model_dir / "MODEL_CARD.md"
    card.write_text("\n".join(lines))
    return card


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("members", nargs="+", help="packaged model folders (deepfake_classifier.keras + config.json)")
    p.add_argument("--version", required=True, help="the version config.json records, e.g. 1.6.0-server")
    p.add_argument("--name", default="ensemble", help="candidate folder name")
    p.add_argument("--out", default=None, help=f"candidate folder (default {CANDIDATES_DIR}/NAME)")
    p.add_argument("--cache-dir", default=None, help="face crops to calibrate on (default: the recipe's cache_dir)")
    p.add_argument("--test-data", default=None,
                   help="data folder whose test split is scored (default: the first member's data folder)")
    p.add_argument("--skip-test", action="store_true", help="no metrics.json or card: val calibration only")
    p.add_argument("--workers", type=int, default=2, help="scoring processes for the test split")
    a = p.parse_args(argv)
    package_ensemble(a.members, a.version, a.out or CANDIDATES_DIR / a.name, a.cache_dir, a.test_data,
                     a.skip_test, a.workers)


if __name__ == "__main__":
    main()
