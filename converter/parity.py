"""Do the browser and Python score an image the same? The rule and its message.

The extension's scores must be the backend's scores: the same faces (each box
within BOX_TOLERANCE of the image size) and P(fake) within SCORE_TOLERANCE.
check_parity() compares one image's two results and raises ParityError
naming the image, both values and what to look at.
"""

from __future__ import annotations

from dataclasses import dataclass

BOX_TOLERANCE = 0.03  # of the image's width (x, w) or height (y, h): the same face
SCORE_TOLERANCE = 0.01  # P(fake); a verdict 0.01 from the threshold may flip, no more


class ParityError(AssertionError):
    """The browser and Python disagree on an image; the message says where to look."""


@dataclass(frozen=True)
class Result:
    """One image scored by one pipeline: its decoded size and its faces."""

    width: int
    height: int
    faces: list[tuple[tuple[float, float, float, float], float]]  # (box x, y, w, h), P(fake)


def _iou(a, b) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    iw = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    ih = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    union = aw * ah + bw * bh - iw * ih
    return iw * ih / union if union > 0 else 0.0


def _pair(python_faces, browser_faces):
    """Each Python face with the browser face that overlaps it most (greedy, surest first)."""
    left = list(range(len(browser_faces)))
    pairs = []
    for face in python_faces:
        j = max(left, key=lambda k: _iou(face[0], browser_faces[k][0]))
        left.remove(j)
        pairs.append((face, browser_faces[j]))
    return pairs


def _fmt_box(box) -> str:
    return "[" + ", ".join(f"{v:.1f}" for v in box) + "]"


def parity_problems(python: Result, browser: Result) -> list[str]:
    """What differs between the two results, one line each; [] when they agree."""
    if (python.width, python.height) != (browser.width, browser.height):
        return [
            f"decoded size differs: Python {python.width}x{python.height}, browser {browser.width}x{browser.height}; "
            "check EXIF orientation (decodeImage's imageOrientation vs ImageOps.exif_transpose)"
        ]
    if len(python.faces) != len(browser.faces):
        return [
            f"face count differs: Python {len(python.faces)} {[_fmt_box(b) for b, _ in python.faces]}, "
            f"browser {len(browser.faces)} {[_fmt_box(b) for b, _ in browser.faces]}; check the detection passes, "
            "the letterbox and resize (faces.js vs scoring/faces.py) and whether a detector score sits on a pass's "
            "min_score"
        ]
    problems = []
    limits = (python.width, python.height, python.width, python.height)
    for i, ((pbox, pscore), (bbox, bscore)) in enumerate(_pair(python.faces, browser.faces)):
        worst = max(abs(p - b) / limit for p, b, limit in zip(pbox, bbox, limits))
        if worst > BOX_TOLERANCE:
            problems.append(
                f"face {i} box differs by {worst:.1%} of the image (limit {BOX_TOLERANCE:.0%}): "
                f"Python {_fmt_box(pbox)}, browser {_fmt_box(bbox)}; check the anchors, the box decoding and NMS"
            )
        if abs(pscore - bscore) > SCORE_TOLERANCE:
            problems.append(
                f"face {i} score differs by {abs(pscore - bscore):.4f} (limit {SCORE_TOLERANCE}): "
                f"Python {pscore:.4f}, browser {bscore:.4f}; check the crop (margin, rounding, padding), the "
                "resize, the decoded pixels (alpha, colour profile) and the quantization in model-info.json"
            )
    return problems


def check_parity(name: str, python: Result, browser: Result) -> None:
    """Raise ParityError naming the image when the two results differ."""
    problems = parity_problems(python, browser)
    if problems:
        raise ParityError(f"{name}: browser and Python disagree:\n  " + "\n  ".join(problems))
