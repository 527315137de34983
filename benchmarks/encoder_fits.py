"""The quality half of ``benchmarks/encoders.py``: image fits at a fixed step count and wall time.

The image task's field (encoder, MLP 2x64, sigmoid) is trained by Adam (betas 0.9/0.99, eps 1e-15) on
random pixel batches, outside Lightning so that only the training steps are timed.
"""

from __future__ import annotations

import time
from typing import Any

import torch

LEARNING_RATES = {"frequency": 2e-3, "fourier": 2e-3}  # grids take the Instant-NGP 1e-2


def fit_image(
    encoder_cfg: Any, image: str, size: int, steps: int, seconds: float, batch: int, lr: float,
    cap: float = float("inf"),
) -> dict[str, Any]:
    """PSNR of a fit of scikit-image's ``image`` (longer side ``size``) at ``steps`` steps and at
    ``seconds`` of training; training stops after both, or after ``cap`` seconds."""
    from fields.engine.scene import scene_from_dict
    from fields.tasks.image import ImageTask

    torch.manual_seed(0)
    decoder = {"type": "mlp", "n_neurons": 64, "n_hidden_layers": 2}
    scene = scene_from_dict({
        "task": "image",
        "data": {"image": f"skimage:{image}", "max_size": size},
        "model": {"encoder": encoder_cfg.model_dump(), "decoder": decoder},
        "train": {"optimizer": {"lr": lr}, "batch_size": batch, "progress": False},
    })  # fmt: skip
    task = ImageTask(scene)
    start = time.perf_counter()
    task.on_fit_start()  # signal-placed encoders (NeuRBF) initialise here, as under Lightning
    result: dict[str, Any] = {
        "image": image, "size": f"{task.width}x{task.height}", "params": task.field.n_params(),
        "init_seconds": time.perf_counter() - start,
    }  # fmt: skip
    optimizer = torch.optim.Adam(task.param_groups(), lr=lr, betas=(0.9, 0.99), eps=1e-15)
    generator = torch.Generator().manual_seed(0)
    trained, step = 0.0, 0
    while (step < steps or trained < seconds) and trained < cap:
        start = time.perf_counter()
        index = torch.randint(task.pixels.shape[0], (batch,), generator=generator)
        loss = torch.nn.functional.mse_loss(task.field(task.pixel_coords(index)), task.pixels[index])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        trained += time.perf_counter() - start
        step += 1
        if step == steps:
            result.update(psnr_at_steps=task.evaluate()["psnr"], seconds_for_steps=trained)
        if trained >= seconds and "psnr_at_seconds" not in result:
            result.update(psnr_at_seconds=task.evaluate()["psnr"], steps_in_seconds=step)
    result.setdefault("psnr_at_steps", None)
    result["steps_done"], result["seconds_trained"] = step, trained
    return result


def quality_rows(
    size: int, steps: int, seconds: float, batch: int, images: tuple[str, ...], cap: float
) -> list[dict[str, Any]]:
    """One row per (encoder, image): the hash grid on each CPU backend, then every registered encoder
    that takes 2D input, at its ``BUDGETS`` config."""
    from benchmarks.encoders import build, encoder_config
    from fields.encoders import ENCODERS

    rows = []
    candidates = [("hashgrid", "cpp"), ("hashgrid", "torch")] + [(n, None) for n in ENCODERS.names() if n != "hashgrid"]
    for name, backend in candidates:
        encoder, note = build(name, 2, backend)
        label = f"{name}[{backend}]" if backend else name
        if encoder is None:
            rows.append({"encoder": label, "note": note})
            continue
        config, _ = encoder_config(name, 2)
        if backend:
            config = config.model_copy(update={"backend": backend})
        for image in images:
            try:
                row = fit_image(config, image, size, steps, seconds, batch, LEARNING_RATES.get(name, 1e-2), cap)
            except Exception as err:
                row = {"image": image, "note": f"failed: {type(err).__name__}: {str(err).splitlines()[0][:80]}"}
            rows.append({"encoder": label, "note": note, **row})
    return rows


def print_quality(rows: list[dict[str, Any]], steps: int, seconds: float) -> None:
    print(f"{'encoder':22s} {'image':10s} {'params':>10s} {f'PSNR@{steps}st':>11s} {'s':>6s} "
          f"{f'PSNR@{seconds:g}s':>10s} {'steps':>6s}  note")  # fmt: skip
    for row in rows:
        if "psnr_at_seconds" not in row:
            print(f"{row['encoder']:22s} {row.get('image', ''):10s} {'':>10s} {'':>11s} {'':>6s} {'':>10s} {'':>6s}  "
                  f"{row.get('note', '')}")  # fmt: skip
            continue
        at_steps, note = row["psnr_at_steps"], row["note"]
        if at_steps is None:
            note = f"{note} {steps} steps not reached in the cap ({row['steps_done']} done)".strip()
        print(f"{row['encoder']:22s} {row['image']:10s} {row['params']:>10,d} "
              f"{'-' if at_steps is None else format(at_steps, '.2f'):>11s} "
              f"{'-' if at_steps is None else format(row['seconds_for_steps'], '.1f'):>6s} "
              f"{row['psnr_at_seconds']:10.2f} {row['steps_in_seconds']:6d}  {note}")  # fmt: skip
