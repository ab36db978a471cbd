"""Choose the decision threshold and the uncertain band on validation scores."""

import numpy as np

TARGET_PRECISION = 0.95  # outside the band, a verdict is right at least this often on val
MAX_BAND_SHARE = 0.15  # the band never swallows more than this share of val images
# ...except to keep false alarms rare: outside the band, at most this share of
# any one source's real val faces is called "fake". A real photo called fake is
# the costliest mistake a fact-checker can be shown; "uncertain" is honest.
MAX_REAL_CALLED_FAKE = 0.05
# Black-and-white faces (val faces turned grey; every training face was in
# colour) may be uncertain more often: at 0.4 the real ones outside the band
# get "fake" as rarely as colour ones do (model 1.4.0: 5.7% against 5.6%; at
# the colour band, 12.8%). An honest "uncertain" beats a false alarm on an old photo.
GREY_MAX_BAND_SHARE = 0.4
# ITU-R 601 luma, as Pillow's "L" mode turns a photo grey
LUMA = np.array([0.299, 0.587, 0.114], np.float32)


def auc_by_source(labels: np.ndarray, scores: np.ndarray, sources: np.ndarray) -> dict:
    """ROC AUC overall (`auc`) and per source (`auc_<source>`), as training logs it.

    A source with fakes only (sdfd, genphotos) is scored against all the real faces given;
    one with reals only is skipped.
    """
    from sklearn.metrics import roc_auc_score

    metrics = {"auc": float(roc_auc_score(labels, scores))}
    for source in sorted(set(sources.tolist())):
        m = sources == source
        if not labels[m].any():  # reals only (their fakes left out): nothing to rank
            continue
        if labels[m].all():  # a fake-only source is ranked against every real face
            m = m | (labels == 0)
        metrics[f"auc_{source}"] = float(roc_auc_score(labels[m], scores[m]))
    return metrics


def choose_threshold(labels: np.ndarray, scores: np.ndarray) -> float:
    """The threshold with the best balanced accuracy (mean of both class recalls).

    Balanced accuracy weighs a false alarm on a real photo as heavily as a
    missed fake, whatever the class mix of the validation set.
    """
    labels = np.asarray(labels).astype(bool)
    candidates = np.unique(np.round(scores, 4))
    best, best_t = -1.0, 0.5
    for t in candidates:
        pred = scores >= t
        bal = (pred[labels].mean() + (~pred[~labels]).mean()) / 2
        if bal > best:
            best, best_t = bal, round(float(t), 4)
    return best_t


def greyscale_copies(images: np.ndarray) -> np.ndarray:
    """N x S x S x 3 face crops turned black-and-white (still 3 channels, 0..255 levels)."""
    grey = np.round(images.astype(np.float32) @ LUMA)
    return np.repeat(grey[..., None], 3, axis=-1)


def false_alarm_floor(labels: np.ndarray, scores: np.ndarray, sources: np.ndarray) -> float:
    """The lowest score at or above which no source has over MAX_REAL_CALLED_FAKE of its reals."""
    floor, real = 0.0, ~np.asarray(labels).astype(bool)
    for source in np.unique(sources[real]):
        descending = np.sort(scores[real & (sources == source)])[::-1]
        allowed = int(np.floor(MAX_REAL_CALLED_FAKE * len(descending)))  # reals that may stay at or above
        if allowed < len(descending):
            # just above the first real that must fall under the band's top
            floor = max(floor, float(np.nextafter(np.float32(descending[allowed]), np.float32(np.inf))))
    return floor


def choose_band(
    labels: np.ndarray, scores: np.ndarray, threshold: float, max_share: float = MAX_BAND_SHARE,
    sources: np.ndarray | None = None,
) -> tuple[float, float]:
    """[low, high) around the threshold: outside it, verdicts reach TARGET_PRECISION.

    low is the highest score below which reals make up TARGET_PRECISION of the
    images; high the lowest score above which fakes do. If that band would
    hold more than max_share of the images, it is narrowed symmetrically
    (in rank) around the threshold. With `sources`, high is then raised, past
    max_share if need be, until no source has more than MAX_REAL_CALLED_FAKE
    of its real faces at or above it.
    """
    labels = np.asarray(labels).astype(bool)
    order = np.argsort(scores)
    s, y = scores[order], labels[order]
    n = len(s)
    # real share among scores < s[i] and fake share among scores >= s[i]
    real_below = np.cumsum(~y) / np.arange(1, n + 1)
    fake_above = (np.cumsum(y[::-1]) / np.arange(1, n + 1))[::-1]
    t_idx = int(np.searchsorted(s, threshold))
    ok_low = [i for i in range(1, t_idx + 1) if real_below[i - 1] >= TARGET_PRECISION]
    ok_high = [i for i in range(t_idx, n) if fake_above[i] >= TARGET_PRECISION]
    lo_idx = max(ok_low) if ok_low else t_idx
    hi_idx = min(ok_high) if ok_high else t_idx
    max_half = int(max_share * n / 2)
    lo_idx = max(lo_idx, t_idx - max_half)
    hi_idx = min(hi_idx, t_idx + max_half)
    low = float(s[lo_idx]) if lo_idx < n else threshold
    high = float(s[hi_idx]) if hi_idx < n else 1.0
    if sources is not None:
        high = max(high, false_alarm_floor(labels, scores, sources))
    # rounded for config.json (high upwards: no real face slips over it), then
    # clamped so the band always holds the threshold
    return min(round(low, 4), threshold), max(float(np.ceil(high * 1e4) / 1e4), threshold)
