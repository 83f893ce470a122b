"""Field types for what clients send, so that the OpenAPI schema says what is accepted and
what it says is what happens:

- `Text`: a string with no NUL. PostgreSQL cannot store U+0000, and no name or text of ours
  has one; the schema carries the rule as a pattern, the error names the field.
- `StrictInt`, `StrictBool`: JSON bodies take a number or a boolean as sent. Pydantic's lax
  mode reads `false` as 0 (device 0 was created from `{"device_id": false}`) and "yes" as true.
- `Kept[T]`: a PATCH field; leave it out to keep the value. `null` is refused (422) and the
  schema does not offer it.
- `BodyIn`: a request body is a JSON object; ninja would read the attributes of a list and
  find none, so `[null, null]` passed as an empty PATCH.
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from ninja import Schema
from pydantic import (
    BaseModel,
    BeforeValidator,
    GetJsonSchemaHandler,
    ModelWrapValidatorHandler,
    Strict,
    ValidationInfo,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue, SkipJsonSchema
from pydantic_core import CoreSchema

NO_NUL_PATTERN = r"^[^\u0000]*$"


def refuse_nul(value: Any) -> Any:
    if isinstance(value, str) and "\x00" in value:
        raise ValueError("must not contain NUL (\\u0000)")
    return value


class _NoNulPattern:
    """Adds the no-NUL pattern to a string's JSON schema unless it has a stricter pattern."""

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        schema = handler(core_schema)
        schema.setdefault("pattern", NO_NUL_PATTERN)
        return schema


Text = Annotated[str, BeforeValidator(refuse_nul), _NoNulPattern]
StrictInt = Annotated[int, Strict()]
StrictBool = Annotated[bool, Strict()]
StrictFloat = Annotated[float, Strict()]

# A value as written to a point or object: a number, a state text, true/false, or null.
InValue = Annotated[StrictFloat | StrictInt | Text | StrictBool | None, BeforeValidator(refuse_nul)]


def _refuse_null(value: Any) -> Any:
    if value is None:
        raise ValueError("cannot be null: leave the field out to keep its value")
    return value


T = TypeVar("T")
Kept = Annotated[T | SkipJsonSchema[None], BeforeValidator(_refuse_null)]


class BodyIn(Schema):
    @model_validator(mode="wrap")
    @classmethod
    def _run_root_validator(
        cls, values: Any, handler: ModelWrapValidatorHandler[Any], info: ValidationInfo
    ) -> Any:
        """Replaces ninja's, which wraps any value (a list too) to read its attributes: a
        body is a JSON object, read as it is."""
        if isinstance(values, BaseModel):
            return handler(values)
        if not isinstance(values, dict):
            raise ValueError(f"must be a JSON object, not {_json_name(values)}")
        return handler(values)


def _json_name(value: Any) -> str:
    return {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number"
    )
