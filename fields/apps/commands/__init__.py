"""The ``fields`` commands, one module per family (fit/eval, render, export, process, view, info), with the
error handling they share in ``common``. Each command checks its options, files and scene before importing
torch, Lightning or the viewer, so a mistake answers at once."""
