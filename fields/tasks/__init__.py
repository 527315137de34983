"""Tasks: one LightningModule per kind of data (image, video, sdf, ...). Importing registers them."""

from fields.tasks.base import FieldTask
from fields.tasks.classify import ClassifyTask
from fields.tasks.restore import RestoreTask
from fields.tasks.image import ImageTask
from fields.tasks.occupancy import OccupancyTask
from fields.tasks.radiance import RadianceTask
from fields.tasks.registry import TASKS
from fields.tasks.sdf import SDFTask
from fields.tasks.surface import SurfaceTask
from fields.tasks.video import VideoTask

__all__ = [
    "TASKS",
    "FieldTask",
    "ClassifyTask",
    "RestoreTask",
    "ImageTask",
    "OccupancyTask",
    "RadianceTask",
    "SDFTask",
    "SurfaceTask",
    "VideoTask",
]
