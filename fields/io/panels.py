"""Pictures to look at rather than read: labelled side-by-side panels (prediction | truth | error), an error
map with its scale, and a confusion matrix. numpy in, ``(H, W, 3)`` uint8 out (``save_image`` writes them);
drawn with Pillow (imageio's own dependency)."""

from __future__ import annotations

from typing import Sequence

import numpy as np

# a perceptual dark-to-bright ramp (inferno's anchors): small errors dark, large ones bright yellow
_RAMP = np.array([[0, 0, 4], [40, 11, 84], [101, 21, 110], [159, 42, 99], [212, 72, 66], [245, 125, 21],
                  [250, 193, 39], [252, 255, 164]], dtype=np.float64)


def font(size: int):
    """Pillow's scalable default font at ``size`` pixels (its fixed bitmap font where FreeType is missing)."""
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1
        return ImageFont.load_default()


def as_rgb8(image: np.ndarray) -> np.ndarray:
    """``(H, W)``, ``(H, W, 1|3|4)``, floats in [0, 1] or uint8 -> ``(H, W, 3)`` uint8."""
    array = np.asarray(image)
    if array.dtype != np.uint8:
        array = (np.clip(array.astype(np.float32), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    if array.ndim == 2:
        array = array[..., None]
    if array.shape[2] == 1:
        array = np.repeat(array, 3, axis=2)
    return np.ascontiguousarray(array[..., :3])


def colourize(values: np.ndarray, vmax: float) -> np.ndarray:
    """``(H, W)`` values in ``[0, vmax]`` -> ``(H, W, 3)`` uint8 along the ramp (clipped above ``vmax``)."""
    t = np.clip(np.asarray(values, np.float64) / vmax, 0.0, 1.0) * (len(_RAMP) - 1)
    anchors = np.arange(len(_RAMP))
    return np.stack([np.interp(t, anchors, _RAMP[:, c]) for c in range(3)], -1).round().astype(np.uint8)


def labelled(panels: Sequence[tuple[np.ndarray, str]], gap: int = 4) -> np.ndarray:
    """Images side by side, each under a white strip with its label (a font sized to the image, readable at
    any size): ``(H + strip, sum(W) + gaps, 3)`` uint8. Images of different heights are padded at the bottom."""
    from PIL import Image, ImageDraw

    images = [as_rgb8(image) for image, _ in panels]
    height = max(image.shape[0] for image in images)
    size = int(np.clip(min(image.shape[1] for image in images) / 14, 11, 28))
    strip = size + size // 2
    canvas = Image.new("RGB", (sum(i.shape[1] for i in images) + gap * (len(images) - 1), height + strip), "white")
    draw = ImageDraw.Draw(canvas)
    x = 0
    for image, (_, label) in zip(images, panels):
        canvas.paste(Image.fromarray(image), (x, strip))
        draw.text((x + 3, strip // 2), _fit(draw, label, image.shape[1] - 6, size), fill="black", font=font(size),
                  anchor="lm")
        x += image.shape[1] + gap
    return np.asarray(canvas)


def _fit(draw, text: str, width: int, size: int) -> str:
    """``text`` cut with an ellipsis to ``width`` pixels."""
    while len(text) > 1 and draw.textlength(text, font=font(size)) > width:
        text = text[:-2] + "…"
    return text


def error_panel(pred: np.ndarray, truth: np.ndarray, vmax: float = 0.25) -> tuple[np.ndarray, str]:
    """The per-pixel error ``mean_c |pred - truth|`` (floats in [0, 1]) on the ramp, with its label and scale."""
    error = np.abs(np.asarray(pred, np.float32) - np.asarray(truth, np.float32))
    error = error.mean(-1) if error.ndim == 3 else error
    return colourize(error, vmax), f"|error| (0 to {vmax:g}+), mean {error.mean():.3f}"


def comparison(pred: np.ndarray, truth: np.ndarray, pred_label: str = "prediction", truth_label: str = "truth",
               extra: Sequence[tuple[np.ndarray, str]] = (), vmax: float = 0.25) -> np.ndarray:
    """prediction | truth | error (| extra panels), labelled: ``(H, W, C)`` floats in [0, 1] -> uint8."""
    return labelled([(pred, pred_label), (truth, truth_label), error_panel(pred, truth, vmax), *extra])


def confusion_image(matrix: np.ndarray, classes: Sequence[str], title: str = "") -> np.ndarray:
    """A confusion matrix (rows: true class, columns: predicted) as a picture: cells shaded by the share of
    their row, counts written in them, class names on both axes."""
    from PIL import Image, ImageDraw

    counts = np.asarray(matrix, np.int64)
    k = len(classes)
    cell = int(np.clip(560 / max(k, 1), 24, 64))
    size = max(10, min(16, cell // 3))
    names = [str(c) for c in classes]
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    label_w = int(max(probe.textlength(n, font=font(size)) for n in names)) + 12 if names else 12
    top = size * 3 + label_w  # title, axis name, then the column names written upwards
    left = label_w + size * 2
    canvas = Image.new("RGB", (left + k * cell + 10, top + k * cell + 10), "white")
    draw = ImageDraw.Draw(canvas)
    draw.text((left, size // 2), title or "confusion (rows: true class, columns: predicted)", fill="black",
              font=font(size))
    share = counts / np.maximum(counts.sum(1, keepdims=True), 1)
    for i in range(k):
        y = top + i * cell
        draw.text((left - 6, y + cell // 2), names[i], fill="black", font=font(size), anchor="rm")
        for j in range(k):
            x = left + j * cell
            colour = tuple(int(v) for v in (255 - share[i, j] * np.array([200, 120, 40] if i == j else [40, 160, 200])))
            draw.rectangle((x, y, x + cell - 1, y + cell - 1), fill=colour, outline=(200, 200, 200))
            if counts[i, j]:
                ink = "white" if share[i, j] > 0.6 else "black"
                draw.text((x + cell // 2, y + cell // 2), str(counts[i, j]), fill=ink, font=font(size), anchor="mm")
    for j, name in enumerate(names):  # column names, rotated
        text = Image.new("RGB", (label_w, size + 4), "white")
        ImageDraw.Draw(text).text((2, 1), name, fill="black", font=font(size))
        rotated = text.rotate(90, expand=True)
        canvas.paste(rotated, (left + j * cell + (cell - rotated.width) // 2, top - label_w - 4))
    return np.asarray(canvas)
