"""Name registries: each component family (encoders, decoders, tasks) registers its members by name.

A member is a class with a nested pydantic ``Config`` whose ``type`` field is a ``Literal`` of its name.
A scene file picks a member with ``type:``; the remaining keys are validated by that member's ``Config``.

A member can also be *declared* before its class is imported: its name, its config (a class, or a
``"module:attr"`` path) and its class's ``"module:attr"`` path. Validating a scene then needs only the configs,
which live in torch-free modules (``fields.config``), so a bad scene file is reported before torch loads; the
class's module is imported on the first ``get``/``build``.
"""

from __future__ import annotations

import difflib
import importlib
from typing import Any, Callable, Generic, Literal, TypeVar, get_args, get_origin

from pydantic_core import PydanticCustomError

T = TypeVar("T")


def did_you_mean(name: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(name, choices, n=1, cutoff=0.6)
    return f"did you mean {close[0]}? " if close else ""


def check_config_type(kind: str, name: str, cls: type) -> None:
    """A member with a typed ``Config`` must name itself: ``type: Literal["<name>"] = "<name>"``, so that a
    validated config builds the class it was validated for."""
    config = getattr(cls, "Config", None)
    field = getattr(config, "model_fields", {}).get("type")
    if field is None:
        return
    allowed = get_args(field.annotation) if get_origin(field.annotation) is Literal else (field.default,)
    if field.default != name or tuple(allowed) != (name,):
        raise TypeError(f"{kind} '{name}': {cls.__name__}.Config.type must be Literal['{name}'] with default '{name}' "
                        f"(got {field.annotation!r} = {field.default!r})")


class Registry(Generic[T]):
    """Maps names (and aliases, such as tiny-cuda-nn ``otype`` names) to component classes."""

    def __init__(self, kind: str, user_error: type[Exception] | None = None):
        self.kind = kind
        self.user_error = user_error
        self._classes: dict[str, type[T]] = {}
        self._aliases: dict[str, str] = {}
        self._configs: dict[str, Any] = {}  # declared members: name -> config class or "module:attr"
        self._targets: dict[str, str] = {}  # declared members: name -> "module:attr" of the class

    def declare(self, name: str, config: Any, target: str, aliases: tuple[str, ...] = ()) -> None:
        """Make ``name`` known before its class is imported: ``config`` validates it (a class, or a
        ``"module:attr"`` path imported on first use), ``target`` (``"module:attr"``) is its class, imported by
        ``get``. The class registers itself with ``register(name)`` as usual when its module loads."""
        if name in self._targets or name in self._classes:
            raise ValueError(f"{self.kind} '{name}' declared twice")
        self._configs[name], self._targets[name] = config, target
        for alias in aliases:
            self._aliases[alias.lower()] = name

    def register(self, name: str, aliases: tuple[str, ...] = ()) -> Callable[[type[T]], type[T]]:
        def decorate(cls: type[T]) -> type[T]:
            if name in self._classes:
                raise ValueError(f"{self.kind} '{name}' registered twice")
            check_config_type(self.kind, name, cls)
            declared = self._configs.get(name)
            if isinstance(declared, type) and getattr(cls, "Config", None) is not declared:
                raise TypeError(f"{self.kind} '{name}': {cls.__name__}.Config is not the declared config "
                                f"{declared.__name__}")
            self._classes[name] = cls
            for alias in aliases:
                self._aliases[alias.lower()] = name
            return cls

        return decorate

    def names(self) -> list[str]:
        return sorted(set(self._classes) | set(self._targets))

    def config(self, name: str) -> Any:
        """The config class of member ``name`` (canonical), importing only what its declaration names."""
        if name in self._classes:
            return self._classes[name].Config  # type: ignore[attr-defined]
        config = self._configs[name]
        if isinstance(config, str):
            config = self._configs[name] = resolve(config)
        return config

    def canonical(self, name: str) -> str:
        if name in self._classes or name in self._targets:
            return name
        alias = self._aliases.get(str(name).lower())
        if alias is not None:
            return alias
        choices = self.names()
        raise PydanticCustomError(
            "unknown_type",
            "unknown {kind} '{name}'; {hint}valid choices: {choices}",
            {"kind": self.kind, "name": name, "hint": did_you_mean(str(name), choices), "choices": ", ".join(choices)},
        )

    def get(self, name: str) -> type[T]:
        name = self.canonical(name)
        if name not in self._classes:
            resolve(self._targets[name])  # its module registers the class
            if name not in self._classes:
                raise TypeError(f"{self.kind} '{name}': {self._targets[name]} did not register it")
        return self._classes[name]

    def validate(self, value: Any, default: str | None = None) -> Any:
        """Validate a ``{type: name, ...}`` dict (or a bare name) into the member's typed config.

        A tiny-cuda-nn style ``{otype: HashGrid, ...}`` is accepted too; without a type, ``default``.
        """
        if hasattr(value, "model_dump") and getattr(value, "type", None) in self.names():
            return value
        if isinstance(value, str):
            value = {"type": value}
        if not isinstance(value, dict):
            raise PydanticCustomError("component_type", "expected a mapping with a 'type:' key", {})
        value = dict(value)
        if "type" not in value and "otype" in value:
            value["type"] = value.pop("otype")
        if "type" not in value and default is not None:
            value["type"] = default
        if "type" not in value:
            raise PydanticCustomError(
                "missing_type",
                "missing 'type:'; valid choices: {choices}",
                {"choices": ", ".join(self.names())},
            )
        value["type"] = self.canonical(value["type"])
        return self.config(value["type"]).model_validate(value)

    def build(self, config: Any, *args: Any, **kwargs: Any) -> T:
        """Construct the member. With ``user_error`` set, its ``ValueError`` (a setting that does not suit
        the data, such as a tri-plane on 2D input) is the user's to fix and becomes that one-line error."""
        cls = self.get(config.type)
        if self.user_error is None:
            return cls(config, *args, **kwargs)
        try:
            return cls(config, *args, **kwargs)
        except ValueError as err:
            raise self.user_error(f"{self.kind} '{config.type}': {str(err).strip().splitlines()[0]}") from err


def resolve(path: str) -> Any:
    """``"package.module:attr.attr"`` -> the object (importing the module)."""
    module, _, attrs = path.partition(":")
    obj: Any = importlib.import_module(module)
    for attr in attrs.split("."):
        obj = getattr(obj, attr)
    return obj
