"""Tasks: one LightningModule per kind of data (image, video, sdf, ...). Importing registers them."""

from fields.tasks.base import FieldTask
from fields.tasks.restore import RestoreTask
from fields.tasks.classify import ClassifyTask
from fields.tasks.image import ImageTask
from fields.tasks.occupancy import OccupancyTask
from fields.tasks.radiance import RadianceTask
from fields.tasks.registry import TASKS
from fields.tasks.sdf import SDFTask
from fields.tasks.surface import SurfaceTask

__all__ = ["TASKS", "FieldTask", "RestoreTask", "ClassifyTask", "ImageTask", "OccupancyTask", "RadianceTask", "SDFTask", "SurfaceTask"]
