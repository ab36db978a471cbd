"""Ship a packaged candidate: copy it into shipped_model/ (the one command that does).

    python -m training.promote runs/candidates/NAME
    python -m converter                      # then the extension's TF.js copy

Copies the candidate's network, config.json, metrics.json and ROC plot over
the shipped ones and refreshes the figures of shipped_model/MODEL_CARD.md
(its prose is edited by hand). Refuses a candidate without test metrics, one
whose network does not match its config's sha256, and one whose version is
the version already shipped: a version names one network.
"""

import argparse
import shutil
from pathlib import Path

from scoring.model_config import CONFIG_FILE, MODEL_FILE, SHIPPED_MODEL_DIR, ModelConfig

FILES = (MODEL_FILE, CONFIG_FILE, "metrics.json", "metrics.roc.png")


def promote(candidate, target=None) -> Path:
    """Copy candidate's files into target (default shipped_model/); return target."""
    from training.model_card import refresh
    from training.package import sha256

    candidate, target = Path(candidate), Path(target or SHIPPED_MODEL_DIR)
    missing = [name for name in FILES if not (candidate / name).is_file()]
    if missing:
        raise SystemExit(f"{candidate} lacks {', '.join(missing)}: package it with "
                         "`python -m training.package RUN.pt --version X` (without --skip-test).")
    config = ModelConfig.load(candidate)
    if sha256(candidate / FILES[0]) != config.sha256:
        raise SystemExit(f"{candidate / FILES[0]} is not the network its config.json describes: package it again.")
    if (target / CONFIG_FILE).is_file() and ModelConfig.load(target).version == config.version:
        raise SystemExit(f"{target} already ships version {config.version}: package the candidate "
                         "again with a new --version.")
    target.mkdir(parents=True, exist_ok=True)
    for name in FILES:
        shutil.copy2(candidate / name, target / name)
    if (target / "MODEL_CARD.md").is_file():
        refresh(target)
    elif (candidate / "MODEL_CARD.md").is_file():
        shutil.copy2(candidate / "MODEL_CARD.md", target / "MODEL_CARD.md")
    print(f"{config.name} {config.version} promoted to {target}; update the prose of "
          f"{target / 'MODEL_CARD.md'} and run `python -m converter` for the extension's copy")
    return target


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("candidate", help="a folder written by training.package")
    p.add_argument("--to", default=None, help="model folder to replace (default: shipped_model)")
    a = p.parse_args(argv)
    promote(a.candidate, a.to)


if __name__ == "__main__":
    main()
