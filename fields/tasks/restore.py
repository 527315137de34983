"""Image restoration with a UNet head (``task: restore``).

Pairs of degraded and clean images (``fields.datasets.restore_pairs``: synthetic noise/blur on
scikit-image photographs, or early-stopped against converged renders of image fields) from
``data.images`` train the head; ``data.test_images`` are held out. The head is a UNet of
``fields.heads`` (default: MAXIM-style: the ``maxim`` multi-axis gated-MLP mixer with cross-gating skip
fusion and a global input residual). Each step draws ``train.batch_size`` random ``patch x patch`` crops
with random flips; the loss is ``train.loss``. Metrics on the held-out pairs: PSNR of the degraded
input, of the restored output, and the gain (``psnr_gain``, dB).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from fields.datasets.restore_pairs import restore_pairs
from fields.heads import BACKBONES
from fields.io import save_image
from fields.metrics.psnr import psnr
from fields.modules import eval_mode, n_params
from fields.tasks.base import FieldTask
from fields.tasks.image_fit import render_pair
from fields.tasks.losses import regression_loss
from fields.tasks.registry import TASKS

if TYPE_CHECKING:
    from fields.engine.scene import SceneConfig





@TASKS.register("restore")
class RestoreTask(FieldTask):
    def __init__(self, scene: "SceneConfig"):
        super().__init__(scene)
        data = scene.data
        degraded, clean = restore_pairs(data.images, data.pairs, data.cache_dir, salt=0, render_pair=render_pair)
        test_degraded, test_clean = restore_pairs(
            data.test_images, data.pairs, data.cache_dir, salt=1, render_pair=render_pair
        )
        for name, tensor in (
            ("train_in", degraded),
            ("train_out", clean),
            ("test_in", test_degraded),
            ("test_out", test_clean),
        ):
            self.register_buffer(name, tensor.float().contiguous(), persistent=False)
        self.head = BACKBONES.build(scene.head, 3, 3, data.patch)
        self._size = data.pairs.size

    def param_groups(self) -> list[dict[str, Any]]:
        return [{"name": "head", "params": [p for p in self.head.parameters() if p.requires_grad],
                 "lr": self.scene.train.optimizer.lr}]

    def crops(self, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """``train.batch_size`` random crops (with random flips) of the training pairs."""
        n, p, size = self.train_in.shape[0], self.scene.data.patch, self._size
        b = self.scene.train.batch_size
        index = torch.randint(n, (b,), generator=generator)
        top = torch.randint(size - p + 1, (b,), generator=generator)
        left = torch.randint(size - p + 1, (b,), generator=generator)
        flips = torch.randint(2, (b, 2), generator=generator).bool()
        ins, outs = [], []
        for i, t, l, (fh, fw) in zip(index.tolist(), top.tolist(), left.tolist(), flips.tolist()):
            dims = [d for d, f in ((-2, fh), (-1, fw)) if f]
            pair = torch.stack((self.train_in[i, :, t : t + p, l : l + p], self.train_out[i, :, t : t + p, l : l + p]))
            pair = pair.flip(dims) if dims else pair
            ins.append(pair[0])
            outs.append(pair[1])
        return torch.stack(ins), torch.stack(outs)

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        degraded, clean = self.crops(self.step_generator())
        restored = self.head(degraded)
        loss = regression_loss(self.scene.train.loss, restored, clean)
        self.log("train/loss", loss, prog_bar=True)
        return loss

    @torch.no_grad()
    def restore(self, images: torch.Tensor) -> torch.Tensor:
        """Restore whole images ``(N, 3, S, S)`` (the UNet is convolutional/partition-based, so any size
        divisible by its factors works) -> ``(N, 3, S, S)`` in [0, 1]."""
        with eval_mode(self.head):
            return torch.cat([self.head(images[i : i + 4]) for i in range(0, images.shape[0], 4)]).clamp(0, 1)

    def evaluate(self) -> dict[str, float]:
        restored = self.restore(self.test_in)
        before, after = psnr(self.test_in, self.test_out), psnr(restored, self.test_out)
        train_gain = psnr(self.restore(self.train_in), self.train_out) - psnr(self.train_in, self.train_out)
        return {"psnr_degraded": float(before.mean()), "psnr_restored": float(after.mean()),
                "psnr_gain": float((after - before).mean()), "psnr_gain_min": float((after - before).min()),
                "train_psnr_gain": float(train_gain.mean())}

    def write_outputs(self, run_dir: Path) -> list[Path]:
        """``restored.png``: rows of held-out images: degraded, restored, clean."""
        restored = self.restore(self.test_in)
        rows = [torch.cat((d, r, c), dim=-1) for d, r, c in zip(self.test_in, restored, self.test_out)]
        path = Path(run_dir) / "restored.png"
        save_image(path, torch.cat(rows, dim=-2).permute(1, 2, 0))
        return [path]

    def describe(self) -> dict[str, Any]:
        return {"params": n_params(self.head), "head": self.scene.head.type}
