"""Exports: meshes from fields (marching cubes), written with trimesh."""
