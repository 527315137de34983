"""Name registries: each component family (encoders, decoders, tasks) registers its members by name.

A member is a class with a nested pydantic ``Config`` whose ``type`` field is a ``Literal`` of its name.
A scene file picks a member with ``type:``; the remaining keys are validated by that member's ``Config``.
"""

from __future__ import annotations

import difflib
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

    def register(self, name: str, aliases: tuple[str, ...] = ()) -> Callable[[type[T]], type[T]]:
        def decorate(cls: type[T]) -> type[T]:
            if name in self._classes:
                raise ValueError(f"{self.kind} '{name}' registered twice")
            check_config_type(self.kind, name, cls)
            self._classes[name] = cls
            for alias in aliases:
                self._aliases[alias.lower()] = name
            return cls

        return decorate

    def names(self) -> list[str]:
        return sorted(self._classes)

    def canonical(self, name: str) -> str:
        if name in self._classes:
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
        return self._classes[self.canonical(name)]

    def validate(self, value: Any, default: str | None = None) -> Any:
        """Validate a ``{type: name, ...}`` dict (or a bare name) into the member's typed config.

        A tiny-cuda-nn style ``{otype: HashGrid, ...}`` is accepted too; without a type, ``default``.
        """
        if hasattr(value, "model_dump") and getattr(value, "type", None) in self._classes:
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
        return self._classes[value["type"]].Config.model_validate(value)  # type: ignore[attr-defined]

    def build(self, config: Any, *args: Any, **kwargs: Any) -> T:
        """Construct the member. With ``user_error`` set, its ``ValueError`` (a setting that does not suit
        the data, such as a tri-plane on 2D input) is the user's to fix and becomes that one-line error."""
        if self.user_error is None:
            return self._classes[config.type](config, *args, **kwargs)
        try:
            return self._classes[config.type](config, *args, **kwargs)
        except ValueError as err:
            raise self.user_error(f"{self.kind} '{config.type}': {str(err).strip().splitlines()[0]}") from err
