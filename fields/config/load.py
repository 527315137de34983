"""Reading scene files: YAML -> dotted overrides, and pydantic errors as one line. The typed scene
(``SceneConfig``, which needs the task list) is validated in the engine (``engine/scene.py``)."""

from __future__ import annotations

import copy
import reprlib
from pathlib import Path
from typing import Any

import yaml

from fields.errors import UserError


def read_yaml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: scene file not found")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise UserError(f"{path}: malformed YAML{where}: {problem}") from None
    except UnicodeDecodeError:
        raise UserError(f"{path}: not a text file") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise UserError(f"{path}: a scene file must be a mapping of sections (task, data, model, train, output)")
    return data


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``a.b.c=value`` overrides (values parsed as YAML). Setting ``X.type`` to a new component
    type drops the old component's other keys, so ``model.encoder.type=frequency`` just works."""
    data = copy.deepcopy(data)
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key or any(not part for part in key.split(".")):
            raise UserError(f"override '{item}': expected key.path=value")
        try:
            value = yaml.safe_load(raw) if raw != "" else ""
        except yaml.YAMLError:
            value = raw
        parts = key.split(".")
        node = data
        for i, part in enumerate(parts[:-1]):
            child = node.get(part)
            if isinstance(child, str) and parts[i + 1] != "type":
                child = {"type": child}  # a component given by bare name
            if child is None or not isinstance(child, dict):
                child = {} if child is None else child
                if not isinstance(child, dict):
                    raise UserError(f"override '{item}': {'.'.join(parts[: i + 1])} is not a section")
            node[part] = child
            node = child
        last = parts[-1]
        if last == "type" and node.get("type") not in (None, value):
            node.clear()
        node[last] = value
    return data


def short_repr(value: Any) -> str:
    """``repr`` cut to a few items and characters: the input may be a YAML alias bomb (a list of lists
    sharing their items, billions of elements when written out)."""
    short = reprlib.Repr()
    short.maxlevel, short.maxlist, short.maxdict, short.maxstring, short.maxother = 2, 4, 4, 60, 60
    return short.repr(value)


def format_validation_error(err: dict[str, Any]) -> str:
    """One pydantic error -> ``section.key: problem``."""
    loc = ".".join(str(p) for p in err["loc"])
    kind = err["type"]
    ctx = err.get("ctx") or {}
    if kind == "unknown_key":
        loc = f"{loc}.{ctx['key']}" if loc else ctx["key"]
        return f"{loc}: unknown key; {ctx['hint']}"
    if kind == "unknown_type":
        return f"{loc + '.type' if loc else 'task'}: {err['msg']}"
    if kind == "missing":
        return f"{loc}: missing required key"
    message = err["msg"]
    if kind not in {"value_error", "assertion_error"} and "input" in err and not isinstance(err["input"], dict):
        message += f" (got {short_repr(err['input'])})"
    message = message.removeprefix("Value error, ")
    return f"{loc}: {message}" if loc else message
