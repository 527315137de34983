"""Gaussian splatting renderer: projection, tile binning, front-to-back compositing with torch / C++ / Triton /
gsplat backends. Entry point: ``rasterize_gaussians`` (camera convention in ``rasterize.py``)."""

from fields.render.splat.camera import view_matrices
from fields.render.splat.project import Projection, project_gaussians
from fields.render.splat.output import SplatRender
from fields.render.splat.rasterize import rasterize_gaussians
from fields.render.splat.tiles import TileBins, bin_gaussians

__all__ = ["Projection", "SplatRender", "TileBins", "bin_gaussians", "project_gaussians", "rasterize_gaussians",
           "view_matrices"]
