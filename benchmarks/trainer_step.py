"""One training step of the shipped network, three ways: what chose the trainer (training/README.md).

    nice -n 5 python -m benchmarks.trainer_step torch [--steps 30]
    nice -n 5 python -m benchmarks.trainer_step keras-torch     # Keras 3 on the PyTorch backend
    nice -n 5 python -m benchmarks.trainer_step keras-tf        # Keras 3 on TensorFlow (the retired CPU trainer)

MobileNetV2 at 160 px from ImageNet weights, batch 32, AdamW at 5e-4, the
same random batch every step (so only the framework's step is timed, not
the data path), `--steps` steps after 3 warm-up ones. One way a process: the
Keras backend is chosen at import. Prints one JSON line: wall and process
CPU seconds a step, and the load average, which on a shared host moves the
wall figures most. Not part of `python -m benchmarks`.
"""

import argparse
import json
import os
import time

import numpy as np

WARMUP, BATCH, SIZE = 3, 32, 160
BACKENDS = {"keras-torch": "torch", "keras-tf": "tensorflow"}


def torch_step():
    import torch

    from training.architecture import imagenet_weights_path
    from training.torch_model import DeepfakeMobileNetV2

    net = DeepfakeMobileNetV2()
    net.load_imagenet(imagenet_weights_path())
    net = net.to(memory_format=torch.channels_last).train()
    opt = torch.optim.AdamW(net.parameters(), lr=5e-4, weight_decay=1e-4)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    x, y = batch()
    x = torch.from_numpy(x.transpose(0, 3, 1, 2).copy()).contiguous(memory_format=torch.channels_last)
    y = torch.from_numpy(y)

    def step():
        loss = loss_fn(net(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    return step


def keras_step():
    import keras

    from training.model import build_classifier, load_imagenet_weights

    model = build_classifier(SIZE)
    load_imagenet_weights(model)
    model.compile(optimizer=keras.optimizers.AdamW(5e-4, weight_decay=1e-4),
                  loss=keras.losses.BinaryCrossentropy(label_smoothing=0.05))
    x, y = batch()
    x = x.astype(np.float32)
    return lambda: model.train_on_batch(x, y)


def batch():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (BATCH, SIZE, SIZE, 3), dtype=np.uint8), rng.integers(0, 2, BATCH).astype(np.float32)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("way", choices=["torch", *BACKENDS], help="PyTorch itself, or Keras 3 on a backend")
    p.add_argument("--steps", type=int, default=30, help="timed steps, after 3 warm-up ones")
    a = p.parse_args(argv)
    if a.way in BACKENDS:
        os.environ["KERAS_BACKEND"] = BACKENDS[a.way]
    step = torch_step() if a.way == "torch" else keras_step()
    load_before, wall, cpu = os.getloadavg(), [], []
    for _ in range(WARMUP + a.steps):
        t, c = time.perf_counter(), time.process_time()
        step()
        wall.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    print(json.dumps({
        "way": a.way, "steps": a.steps, "batch": BATCH, "first_step_s": round(wall[0], 2),
        "median_step_s": round(float(np.median(wall[WARMUP:])), 3), "mean_step_s": round(float(np.mean(wall[WARMUP:])), 3),
        "median_step_cpu_s": round(float(np.median(cpu[WARMUP:])), 3),
        "load_before": [round(v, 2) for v in load_before], "load_after": [round(v, 2) for v in os.getloadavg()],
    }))


if __name__ == "__main__":
    main()
