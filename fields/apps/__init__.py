"""User-facing applications: the ``fields`` command line and the viewer."""
