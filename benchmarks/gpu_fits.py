"""End-to-end rows of ``benchmarks/gpu.py``: an image fit (steps/s, time to a PSNR) and a radiance-field
fit (training samples/s, time to a test PSNR), each with the Triton kernels on and off (``FIELDS_TRITON``).
Evaluation time is not counted as training time."""

from __future__ import annotations

import os
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]


@contextmanager
def triton_enabled(on: bool):
    """Turn every Triton path on or off (``FIELDS_TRITON``) for the duration."""
    old = os.environ.get("FIELDS_TRITON")
    os.environ["FIELDS_TRITON"] = "1" if on else "0"
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("FIELDS_TRITON", None)
        else:
            os.environ["FIELDS_TRITON"] = old


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def image_fit(encoder: dict, image: str, size: int, batch: int, seconds: float, target: float, eval_every: int,
              device: torch.device, use_triton: bool) -> dict[str, Any]:
    """Train the image task's field (encoder, MLP 2x64) with Adam on random pixel batches for ``seconds``
    of training or until the PSNR reaches ``target``; PSNR checked every ``eval_every`` steps."""
    from fields.engine.scene import scene_from_dict
    from fields.tasks.image import ImageTask

    torch.manual_seed(0)
    scene = scene_from_dict({
        "task": "image", "data": {"image": f"skimage:{image}", "max_size": size},
        "model": {"encoder": encoder, "decoder": {"type": "mlp", "n_neurons": 64, "n_hidden_layers": 2}},
        "train": {"optimizer": {"lr": 1e-2}, "batch_size": batch, "progress": False},
    })  # fmt: skip
    with triton_enabled(use_triton):
        task = ImageTask(scene).to(device)
        optimizer = torch.optim.Adam(task.param_groups(), lr=1e-2, betas=(0.9, 0.99), eps=1e-15)
        generator = torch.Generator(device=device).manual_seed(0)
        trained, step, reached, psnr = 0.0, 0, None, float("nan")
        n_pixels = task.pixels.shape[0]
        while trained < seconds:
            sync(device)
            start = time.perf_counter()
            index = torch.randint(n_pixels, (batch,), generator=generator, device=device)
            loss = torch.nn.functional.mse_loss(task.field(task.pixel_coords(index)), task.pixels[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            sync(device)
            trained += time.perf_counter() - start
            step += 1
            if step % eval_every == 0:
                psnr = task.evaluate()["psnr"]
                if psnr >= target and reached is None:
                    reached = trained
                    break
        if step % eval_every:
            psnr = task.evaluate()["psnr"]
        backend = task.field.encoder.backend_in_use
    return {"row": f"image {image} {task.width}x{task.height}", "backend": backend, "steps": step,
            "seconds": round(trained, 2), "steps_per_s": round(step / max(trained, 1e-9), 1), "psnr": round(psnr, 2),
            "target_psnr": target, "time_to_target_s": None if reached is None else round(reached, 2)}  # fmt: skip


def radiance_fit(seconds: float, target: float, eval_every_s: float, size: int, n_train: int, n_test: int,
                 rays: int, device: torch.device, use_triton: bool) -> dict[str, Any]:
    """Fit ``configs/radiance/synthetic.yaml`` (the generated scene) for ``seconds`` of training or until
    the test PSNR (checked every ``eval_every_s`` training seconds) reaches ``target``."""
    import pytorch_lightning as pl

    from fields.engine.run import fit

    class PsnrClock(pl.Callback):
        def __init__(self):
            self.next, self.trace, self.reached = eval_every_s, [], None

        def on_train_batch_end(self, trainer, task, *args):
            if task.train_seconds < self.next:
                return
            self.next += eval_every_s
            psnr = task.evaluate()["psnr"]
            self.trace.append((round(float(task.train_seconds), 1), int(trainer.global_step), round(psnr, 2)))
            if psnr >= target and self.reached is None:
                self.reached = float(task.train_seconds)
                trainer.should_stop = True

    overrides = [f"train.max_time={seconds}", "train.steps=1000000", f"train.batch_size={rays}", "train.progress=false",
                 "train.checkpoint_every=1000000", "render.mesh_resolution=0", "render.save_test_views=0",
                 f"train.device={'gpu' if device.type == 'cuda' else 'cpu'}"]  # fmt: skip
    if device.type == "cuda":  # the config is sized for 2 CPU cores; Instant-NGP's GPU settings instead
        overrides += ["render.target_samples=262144", "render.grid_resolution=128"]
    with tempfile.TemporaryDirectory() as out, triton_enabled(use_triton):
        scene = radiance_scene(size, n_train, n_test, overrides + [f"output.dir={out}"])
        clock = PsnrClock()
        _, metrics = fit(scene, scene_name="gpu-benchmark", callbacks=[clock])
    return {"row": f"radiance {n_train} views {size}px", "backend": metrics.get("encoder_backend", metrics.get("backend")),  # noqa: E501
            "steps": metrics["steps"], "seconds": round(metrics["train_seconds"], 1),
            "samples_per_s": round(metrics["samples_per_second"]), "psnr": round(metrics["psnr"], 2), "target_psnr": target,  # noqa: E501
            "time_to_target_s": None if clock.reached is None else round(clock.reached, 1), "trace": clock.trace}  # fmt: skip  # noqa: E501


def radiance_scene(size: int, n_train: int, n_test: int, overrides: list[str] = ()):
    """``configs/radiance/synthetic.yaml`` on a generated scene of ``n_train``/``n_test`` views of ``size`` px."""
    from fields.config.load import apply_overrides, read_yaml
    from fields.engine.scene import scene_from_dict

    config = ROOT / "configs" / "radiance" / "synthetic.yaml"
    views = [f"data.synthetic.size={size}", f"data.synthetic.n_train={n_train}", f"data.synthetic.n_test={n_test}"]
    data = apply_overrides(read_yaml(config), views + list(overrides))
    return scene_from_dict(data, base_dir=config.parent, source=str(config))


def generate_radiance_scene(size: int = 200, n_train: int = 100, n_test: int = 20) -> None:
    """Write the benchmark's generated scene into ``$FIELDS_CACHE`` (needs trimesh): the GPU machine has no
    trimesh, so ``scripts/device_check.sh prepare`` makes it here and the device call carries it."""
    from fields.datasets.views import load_views

    load_views(radiance_scene(size, n_train, n_test).data)
