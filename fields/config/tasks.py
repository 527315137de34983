"""The task registry (``task:`` in a scene file) and each task's scene schema, torch-free.

A task declares its scene sections as data (``TaskSchema``): the ``data:`` config, the ``render:`` config (None:
the task takes none), the ``head:`` validator (None: no head; called with None for the default head), defaults
for keys a scene file leaves out, the ``model.type`` it builds, and keys older scene files wrote under
``render:``. Configs are ``"module:attr"`` paths imported on first use: most name torch-free modules, so a scene
is validated (and a bad one reported) before torch loads; the task class (``fields.tasks.*``, a
LightningModule) is imported only to run the task.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Optional

from fields.registry import Registry, resolve

if TYPE_CHECKING:
    from fields.config.base import ComponentConfig, StrictModel

TASKS: Registry = Registry("task")


@dataclass(frozen=True)
class TaskSchema:
    data: str  # "module:attr" of the data: config
    render: Optional[str] = None  # of the render: config; None: the task takes no render settings
    head: Optional[str] = None  # of the head: validator (value or None -> config); None: the task has no head
    scene_defaults: dict[str, dict[str, Any]] = field(default_factory=dict)
    model_type: str = "field"  # the MODELS member the task builds from model:
    model_keys_in_render: tuple[str, ...] = ()
    check: Optional[Callable[[Any], None]] = None  # raises ValueError if the validated scene does not suit the task

    def data_config(self) -> type["StrictModel"]:
        return resolve(self.data)

    def render_config(self) -> Optional[type["StrictModel"]]:
        return None if self.render is None else resolve(self.render)

    def validate_head(self, value: Any) -> "ComponentConfig":
        return resolve(self.head)(value)  # type: ignore[arg-type]


SCHEMAS: dict[str, TaskSchema] = {}


def declare_task(name: str, target: str, schema: TaskSchema, aliases: tuple[str, ...] = ()) -> None:
    TASKS.declare(name, schema, target, aliases)
    SCHEMAS[name] = schema


def schema(name: str) -> TaskSchema:
    """The schema of task ``name`` (or an alias); unknown names raise the registry's one-line error."""
    return SCHEMAS[TASKS.canonical(name)]


def _no_output_activation(scene: Any) -> None:
    if scene.model.output_activation != "none":
        raise ValueError(
            f"model.output_activation: {scene.task} fields need 'none' (got '{scene.model.output_activation}')"
        )


_DATA = "fields.datasets.scene_data"
_VIEWS = "fields.render.view_settings"
_GEOMETRY = {"model": {"output_activation": "none"}}

declare_task("image", "fields.tasks.image:ImageTask", TaskSchema(data=f"{_DATA}:ImageData"))
declare_task("video", "fields.tasks.video:VideoTask", TaskSchema(data=f"{_DATA}:VideoData"))
declare_task("sdf", "fields.tasks.sdf:SDFTask", TaskSchema(
    data=f"{_DATA}:GeometryData", scene_defaults={**_GEOMETRY, "train": {"loss": "mape"}}, check=_no_output_activation))
declare_task("occupancy", "fields.tasks.occupancy:OccupancyTask", TaskSchema(
    data=f"{_DATA}:GeometryData", scene_defaults=_GEOMETRY, check=_no_output_activation))
declare_task("radiance", "fields.tasks.radiance:RadianceTask", TaskSchema(
    data=f"{_DATA}:PosedViewsData", render=f"{_VIEWS}:RadianceRender", model_type="radiance",
    model_keys_in_render=("density_neurons", "density_hidden_layers", "geo_feat_dim", "density_decoder",
                          "direction_encoder")), aliases=("nerf", "ngp"))
declare_task("surface", "fields.tasks.surface:SurfaceTask", TaskSchema(
    data=f"{_DATA}:PosedViewsData", render=f"{_VIEWS}:SurfaceRender", model_type="neus",
    model_keys_in_render=("init_variance", "init_radius", "sdf_neurons", "sdf_hidden_layers", "geo_feat_dim",
                          "direction_encoder", "gradient_step", "sdf_activation")), aliases=("neus",))
declare_task("splat", "fields.tasks.splat:SplatTask", TaskSchema(
    data=f"{_DATA}:PosedViewsData", render="fields.render.splat_settings:SplatSettings", model_type="gaussians"),
    aliases=("3dgs", "gaussian_splatting"))
declare_task("classify", "fields.tasks.classify:ClassifyTask", TaskSchema(
    data="fields.datasets.head_data:ClassifyData", head="fields.config.heads:classifier_head"))
declare_task("restore", "fields.tasks.restore:RestoreTask", TaskSchema(
    data="fields.datasets.head_data:RestoreData", head="fields.config.heads:restore_head"))
