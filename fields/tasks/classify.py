"""Classifying shapes from their fitted tri-planes (``task: classify``).

The data is a tri-plane dataset (``fields.datasets.triplane_dataset``): a given file, or the procedural
collection described by ``data.shapes``, fitted once and cached under ``data.cache_dir``. The network is
``head:``, any classifier of ``fields.heads.BACKBONES``: ``channel_set`` (the paper's channel-token
Transformer), ``pyramid`` or ``isotropic`` with any registered mixer (the planes stacked as a
``3C``-channel image), or ``pointnet`` (the baseline: surface samples of the same shapes).

Each step draws ``train.batch_size`` training shapes (a pure function of the step). Plane inputs are
L2-normalised over their ``3C`` channels per pixel (the paper). Augmentation (ours, not the paper's):
``augment_symmetry`` applies one of the cube's 48 axis flips and permutations to each example (to the
planes, or to the points of the baseline alike; without it the pyramid memorises the training set),
and ``augment_permutation`` (off by default) a random channel permutation shared by the three planes:
the symmetry of fits from independent inits, for order-sensitive heads on such data. The default
collection is fitted from one shared init (``TriplaneFitConfig.shared_init``), where channel order
carries meaning and permuting it left the pyramid at chance (0.04 vs 0.29 without, 12 classes).
Metrics: held-out accuracy (``accuracy``), training accuracy, chance level, mean reconstruction IoU of
the fits.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F

from fields.datasets.triplane_dataset import cached_triplane_dataset, load_triplane_dataset
from fields.heads.triplane_symmetry import random_symmetries, transform_planes, transform_points
from fields.heads import BACKBONES
from fields.io import atomic_write_text, save_image
from fields.io.panels import confusion_image
from fields.modules import eval_mode, n_params
from fields.tasks.base import FieldTask
from fields.tasks.registry import TASKS

if TYPE_CHECKING:
    from fields.engine.scene import SceneConfig





def normalize_planes(planes: torch.Tensor) -> torch.Tensor:
    """``(S, 3C, R, R)``: each pixel's ``3C`` values scaled to unit L2 norm."""
    return F.normalize(planes, dim=1)


@TASKS.register("classify")
class ClassifyTask(FieldTask):
    def __init__(self, scene: "SceneConfig"):
        super().__init__(scene)
        data = scene.data
        self.dataset_path = Path(data.dataset) if data.dataset else cached_triplane_dataset(data.shapes, data.cache_dir)
        tensors, self.classes = load_triplane_dataset(self.dataset_path)
        self.input_kind = getattr(BACKBONES.get(scene.head.type), "input_kind", "image")
        planes = tensors["planes"]
        self.n_planes, self.n_channels = planes.shape[1], planes.shape[2]
        if self.input_kind == "points":
            inputs, in_channels, size = tensors["points"].float(), 3, None
        else:
            inputs = planes.float().flatten(1, 2)
            inputs = normalize_planes(inputs) if data.normalize else inputs
            in_channels, size = inputs.shape[1], tuple(inputs.shape[2:])
        test = tensors["test"].bool()
        labels = tensors["labels"].long()
        if int(labels.max()) >= len(self.classes) or int(labels.min()) < 0:
            raise ValueError(f"{self.dataset_path}: labels outside the {len(self.classes)} classes")
        self.register_buffer("train_x", inputs[~test].contiguous(), persistent=False)
        self.register_buffer("train_y", labels[~test].contiguous(), persistent=False)
        self.register_buffer("test_x", inputs[test].contiguous(), persistent=False)
        self.register_buffer("test_y", labels[test].contiguous(), persistent=False)
        self.fit_iou = float(tensors["iou"].float().mean())
        self.head = BACKBONES.build(scene.head, in_channels, len(self.classes), size)

    # --- training -----------------------------------------------------------------------------------
    def param_groups(self) -> list[dict[str, Any]]:
        return [{"name": "head", "params": [p for p in self.head.parameters() if p.requires_grad],
                 "lr": self.scene.train.optimizer.lr}]

    def augment(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Random per-example augmentation: shared channel permutations of planes, point subsets."""
        b, data = x.shape[0], self.scene.data
        symmetries = random_symmetries(b, generator) if data.augment_symmetry else []
        if self.input_kind == "points":
            n = min(data.train_points, x.shape[1])
            index = torch.rand(b, x.shape[1], generator=generator).argsort(dim=1)[:, :n].to(x.device)
            x = torch.gather(x, 1, index[..., None].expand(-1, -1, 3))
            return torch.stack([transform_points(p, *s) for p, s in zip(x, symmetries)]) if symmetries else x
        if symmetries:
            planes = x.reshape(b, self.n_planes, self.n_channels, *x.shape[2:])
            x = torch.stack([transform_planes(p, *s) for p, s in zip(planes, symmetries)]).flatten(1, 2)
        if not data.augment_permutation:
            return x
        perm = torch.rand(b, self.n_channels, generator=generator).argsort(dim=1)  # (B, C)
        index = (torch.arange(self.n_planes)[None, :, None] * self.n_channels + perm[:, None, :]).flatten(1)
        return torch.gather(x, 1, index.to(x.device)[:, :, None, None].expand_as(x))

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        g = self.step_generator()
        n = self.train_x.shape[0]
        index = torch.randperm(n, generator=g)[: min(self.scene.train.batch_size, n)].to(self.train_x.device)
        x = self.augment(self.train_x[index], g)
        logits = self.head(x)
        loss = F.cross_entropy(logits, self.train_y[index])
        self.log("train/loss", loss, prog_bar=True)
        self.log("train/acc", (logits.argmax(1) == self.train_y[index]).float().mean(), prog_bar=True)
        return loss

    # --- evaluation ---------------------------------------------------------------------------------
    @torch.no_grad()
    def predict(self, x: torch.Tensor, chunk: int = 256) -> torch.Tensor:
        with eval_mode(self.head):
            return torch.cat([self.head(x[i : i + chunk]).argmax(1) for i in range(0, x.shape[0], chunk)])

    def confusion(self) -> torch.Tensor:
        """``(K, K)`` held-out counts: row true class, column predicted."""
        k = len(self.classes)
        pred = self.predict(self.test_x)
        return torch.bincount(self.test_y * k + pred, minlength=k * k).reshape(k, k)

    def evaluate(self) -> dict[str, float]:
        return {
            "accuracy": float((self.predict(self.test_x) == self.test_y).float().mean()),
            "train_accuracy": float((self.predict(self.train_x) == self.train_y).float().mean()),
            "chance": 1.0 / len(self.classes),
            "fit_iou": self.fit_iou,
            "n_train": int(self.train_y.shape[0]),
            "n_test": int(self.test_y.shape[0]),
        }

    def write_outputs(self, run_dir: Path) -> list[Path]:
        """``confusion.json`` and ``confusion.png`` (held-out counts, rows: true class, columns: predicted)."""
        path, matrix = Path(run_dir) / "confusion.json", self.confusion()
        atomic_write_text(path, json.dumps({"classes": self.classes, "confusion": matrix.tolist()}) + "\n")
        accuracy = float(matrix.diag().sum()) / max(int(matrix.sum()), 1)
        title = f"held-out confusion, accuracy {accuracy:.3f} (rows: true class, columns: predicted)"
        picture = confusion_image(matrix.numpy(), [str(c) for c in self.classes], title)
        return [path, save_image(Path(run_dir) / "confusion.png", picture)]

    def describe(self) -> dict[str, Any]:
        return {"params": n_params(self.head),
                "head": self.scene.head.type, "dataset": str(self.dataset_path)}
