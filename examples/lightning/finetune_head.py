"""Fine-tune a head on fitted tri-planes in your own Lightning code.

``fields.datasets.triplane_dataset`` draws procedural shapes and fits one tri-plane occupancy field per
shape (planes ``(S, 3, C, R, R)``); ``fields.heads.ChannelSetTransformer`` classifies the stacked planes
``(S, 3C, R, R)`` as a set of channel maps. Here, as one does with a pretrained backbone:

1. pretrain the channel-set Transformer on the shapes of some classes (``--pretrain-classes``);
2. swap its last layer for a new classifier over *other* classes (``--new-classes``) and fine-tune on
   few examples of them, the backbone frozen (``--backbone-lr 0``, a linear probe) or at a lower
   learning rate than the new layer.

Both stages are plain ``LightningModule``s in a ``Trainer`` of your own. Run:

    python examples/lightning/finetune_head.py --out runs/finetune-head
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, TensorDataset

from fields.datasets.triplane_dataset import TriplaneDatasetConfig, build_triplane_dataset
from fields.datasets.triplane_fit import TriplaneFitConfig
from fields.heads import ChannelSetTransformer


class Classifier(pl.LightningModule):
    """A backbone's features -> ``head``; ``backbone_lr`` 0 freezes the backbone."""

    def __init__(self, backbone: ChannelSetTransformer, n_classes: int, lr: float = 1e-3, backbone_lr: float = 1e-3):
        super().__init__()
        self.backbone, self.lr, self.backbone_lr = backbone, lr, backbone_lr
        self.head = torch.nn.Linear(backbone.config.dim, n_classes)
        self.backbone.requires_grad_(backbone_lr > 0)

    def forward(self, planes: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone.forward_features(planes))

    def training_step(self, batch, batch_idx):
        planes, labels = batch
        if self.backbone_lr == 0:
            self.backbone.eval()  # frozen: no dropout either
        loss = torch.nn.functional.cross_entropy(self(planes), labels)
        self.log("loss", loss, prog_bar=True)
        return loss

    def configure_optimizers(self):
        groups = [{"params": self.head.parameters(), "lr": self.lr}]
        if self.backbone_lr > 0:
            groups.append({"params": self.backbone.parameters(), "lr": self.backbone_lr})
        return torch.optim.AdamW(groups, weight_decay=1e-4)

    @torch.no_grad()
    def accuracy(self, planes: torch.Tensor, labels: torch.Tensor) -> float:
        self.eval()
        return float((self(planes).argmax(-1) == labels).float().mean())


def triplanes(classes: list[str], train: int, test: int, args: argparse.Namespace,
              seed: int) -> dict[str, torch.Tensor]:
    """Fit the tri-planes of ``train + test`` shapes per class; planes stacked ``(S, 3C, R, R)``."""
    fit = TriplaneFitConfig(resolution=args.resolution, channels=args.channels, steps=args.fit_steps, hidden=32,
                            hidden_layers=2, points_per_step=1024, pool_points=8192, iou_points=4096)
    config = TriplaneDatasetConfig(classes=classes, train_per_class=train, test_per_class=test, seed=seed, fit=fit,
                                   surface_points=16)
    data = build_triplane_dataset(config)
    data["planes"] = data["planes"].flatten(1, 2)  # (S, 3, C, R, R) -> (S, 3C, R, R)
    return data


def fit(module: Classifier, planes: torch.Tensor, labels: torch.Tensor, epochs: int, batch: int) -> None:
    loader = DataLoader(TensorDataset(planes, labels), batch_size=batch, shuffle=True)
    trainer = pl.Trainer(max_epochs=epochs, accelerator="cpu", logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(module, loader)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pretrain-classes", default="sphere,box,torus,cylinder,cone,capsule")
    parser.add_argument("--new-classes", default="ellipsoid,two_spheres,box_with_hole,cross")
    parser.add_argument("--pretrain-shapes", type=int, default=32, help="training shapes per pretraining class")
    parser.add_argument("--new-shapes", type=int, default=8, help="training shapes per new class (few-shot)")
    parser.add_argument("--test-shapes", type=int, default=8, help="held-out shapes per class")
    parser.add_argument("--resolution", type=int, default=32)
    parser.add_argument("--channels", type=int, default=16)
    parser.add_argument("--fit-steps", type=int, default=150, help="steps of each tri-plane fit")
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--finetune-epochs", type=int, default=60)
    parser.add_argument("--backbone-lr", type=float, default=0.0, help="0: frozen backbone (linear probe)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--out", default="runs/finetune-head")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    old, new = args.pretrain_classes.split(","), args.new_classes.split(",")

    pl.seed_everything(0, verbose=False)
    source = triplanes(old, args.pretrain_shapes, args.test_shapes, args, seed=0)
    target = triplanes(new, args.new_shapes, args.test_shapes, args, seed=1)
    channels, size = source["planes"].shape[1], tuple(source["planes"].shape[2:])

    def split(data, test: bool):
        keep = data["test"] == test
        return data["planes"][keep], data["labels"][keep]

    # 1. pretrain backbone + classifier on the old classes
    config = ChannelSetTransformer.Config(dim=64, depth=2, heads=4)
    backbone = ChannelSetTransformer(config, channels, len(old), size)
    pretrain = Classifier(backbone, len(old), lr=1e-3, backbone_lr=1e-3)
    fit(pretrain, *split(source, False), args.epochs, batch=16)
    old_accuracy = pretrain.accuracy(*split(source, True))

    # 2. a new last layer for the new classes, fine-tuned on few shapes; the same from an untrained backbone
    scores = {}
    untrained = ChannelSetTransformer(config, channels, len(old), size)
    for name, features in (("pretrained", backbone), ("untrained", untrained)):
        pl.seed_everything(1, verbose=False)
        module = Classifier(features, len(new), lr=3e-3, backbone_lr=args.backbone_lr)
        fit(module, *split(target, False), args.finetune_epochs, batch=8)
        scores[name] = module.accuracy(*split(target, True))

    report = {"pretrain_classes": old, "new_classes": new, "pretrain_test_accuracy": old_accuracy,
              "finetune_test_accuracy": scores["pretrained"], "untrained_backbone_test_accuracy": scores["untrained"],
              "chance": 1.0 / len(new), "fit_iou": float(torch.cat((source["iou"], target["iou"])).mean())}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(report, indent=1))
    print(f"pretrained on {len(old)} classes: test accuracy {old_accuracy:.3f}")
    print(f"new classes ({args.new_shapes} shapes each), backbone lr {args.backbone_lr}: test accuracy "
          f"{scores['pretrained']:.3f} (untrained backbone: {scores['untrained']:.3f}, chance {1 / len(new):.3f})")


if __name__ == "__main__":
    main()
