"""training.evaluate's report: what each source's figures are measured against."""

import numpy as np
import pytest

from training.evaluate import VARIANTS, summarise

# (label, source, score): two sources with both classes, one with fakes only
ITEMS = [
    (0, "dfdc", 0.1), (0, "dfdc", 0.3), (1, "dfdc", 0.2), (1, "dfdc", 0.9),
    (0, "ffhq", 0.6), (1, "ffhq", 0.7),
    (1, "sdfd", 0.35), (1, "sdfd", 0.65),
]


@pytest.mark.parametrize(
    "source, auc",
    [
        ("dfdc", 0.75),  # its own reals only: 3 of 4 pairs ranked right
        ("ffhq", 1.0),
        # a fake-only source against the split's 3 reals: 0.35 beats 0.1 and 0.3, 0.65 beats all three
        ("sdfd", 5 / 6),
    ],
)
def test_each_source_auc_is_against_the_reals_it_can_be_told_from(source, auc):
    items = [{"label": label, "source": src} for label, src, _ in ITEMS]
    scores = {v: np.array([score for *_, score in ITEMS]) for v in VARIANTS}
    report = summarise(items, scores, threshold=0.5)
    assert report["per_source"][source]["auc"] == pytest.approx(auc)
    assert report["per_source"][source]["n"] == sum(src == source for _, src, _ in ITEMS)
