"""Base classes for typed configs: unknown keys are errors that suggest the closest valid key."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator
from pydantic_core import PydanticCustomError

from fields.registry import did_you_mean


class StrictModel(BaseModel):
    """A config section: unknown keys are rejected with a 'did you mean' hint."""

    # NaN and infinity are never a meaningful setting (an lr of .inf trains into NaN metrics)
    model_config = ConfigDict(extra="forbid", validate_assignment=True, protected_namespaces=(), allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _reject_unknown_keys(cls, data: Any) -> Any:
        if isinstance(data, dict):
            known = list(cls.model_fields)
            for key in data:
                if key not in cls.model_fields:
                    hint = did_you_mean(str(key), known) or f"valid keys: {', '.join(known)}"
                    raise PydanticCustomError(
                        "unknown_key", "unknown key; {hint}", {"key": str(key), "hint": hint.strip()}
                    )
        return data


class ComponentConfig(StrictModel):
    """Config of a registered component (encoder, decoder, ...): ``type`` names it in its registry."""

    type: str
