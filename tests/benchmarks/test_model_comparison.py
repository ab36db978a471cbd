"""The model comparison's row for the shipped model says how it was trained, from its own records."""

import pytest

from benchmarks.model_comparison import shipped_schedule

CASES = [
    # (train_config, training_run, steps, label)
    pytest.param(
        {"epochs": 9, "polish_epochs": 6, "steps_per_epoch": 400, "batch_size": 32}, None,
        6000, "full schedule, batch 32", id="1.2.0: two Keras CPU cycles",
    ),
    pytest.param(
        {"batch_size": 32},
        {"args": {"samples_per_epoch": 21000, "batch_size": 128, "init": None, "teachers": ["f", "h", "i", "j"]},
         "history": [{}] * 40},
        40 * 164, "from ImageNet weights, 40 epochs of 21000 faces, batch 128, distilled from 4 runs",
        id="1.4.0: distilled, arguments kept apart",
    ),
    pytest.param(
        {"samples_per_epoch": 10240, "batch_size": 32, "init": "runs/shipped_1.4.0.pt", "teachers": []},
        {"history": [{}] * 3},
        3 * 320, "fine-tuned from shipped_1.4.0, 3 epochs of 10240 faces, batch 32",
        id="1.5.0: a fine-tune, no teachers",
    ),
]


@pytest.mark.parametrize(("trained", "run", "steps", "label"), CASES)
def test_the_shipped_row_says_what_its_record_says(trained, run, steps, label):
    assert shipped_schedule(trained, run) == (steps, label)
