"""Strict wire types of the request models, shared by every service version (docs/api.md).

A request is taken only when it is exactly right:

- an amount in integer minor units is a JSON integer: ``true``, ``"1250"`` and ``1250.0`` are
  refused (pydantic's lax mode would read each of them as a number);
- an amount written as a string (v1 decimals in major units, v2 crypto minor units) matches
  its pattern exactly: no sign, exponent, spaces or leading zeros;
- text the backend stores and a screen shows (references, ids, names, addresses) carries no
  control or bidi characters (:mod:`terminal.domain.text`);
- an integer query parameter is plain digits (``limit=20``, not ``20.0``, ``+20`` or ``2_0``).

Each validator raises a ``PydanticCustomError`` whose type names the problem
(``invalid_amount``, ``invalid_characters``, ``invalid_parameter``); :mod:`backend_stub.problems`
answers 422 with that type and the field. Each type's JSON Schema says the same as its
validator, so every version's OpenAPI document describes exactly what its routes accept (the
schemathesis tests send negative data against it).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import AfterValidator, Field, PlainValidator, WithJsonSchema
from pydantic_core import PydanticCustomError

from terminal.domain.text import SAFE_TEXT_PATTERN, describe_unsafe, find_unsafe

__all__ = [
    "DECIMAL",
    "IDEMPOTENCY_KEY",
    "IDENTIFIER",
    "DecimalString",
    "DigitString",
    "FiatMinor",
    "PageLimit",
    "SafeText",
    "WaitSeconds",
    "no_default",
]

# v1 amounts: a plain decimal in major units ("12.50"); the asset's exponent is checked later.
DECIMAL = re.compile(r"^(0|[1-9][0-9]{0,19})(\.[0-9]{1,20})?$")
# v2 crypto minor units: a positive whole number as a string of digits (wei overflow JSON numbers).
_DIGITS = re.compile(r"^[1-9][0-9]{0,39}$")
_QUERY_INT = re.compile(r"^[0-9]{1,9}$")
MAX_FIAT_MINOR = 10**15

# Ids the backend hands out (pay_..., inv_..., q_...): what a path or a stored id may be.
IDENTIFIER = r"^[A-Za-z0-9_-]{1,64}$"
# An Idempotency-Key: visible ASCII, so it reads the same in every log and store.
IDEMPOTENCY_KEY = r"^[!-~]{1,128}$"


def _got(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, float):
        return "a number with a fraction part or exponent"
    if isinstance(value, str):
        return "a string"
    return "null" if value is None else f"a JSON {type(value).__name__}"


def _minor_units(maximum: int) -> Callable[[object], int]:
    def check(value: object) -> int:
        if type(value) is not int:  # bool is a subclass of int: excluded on purpose
            raise PydanticCustomError(
                "invalid_amount",
                "must be a JSON integer of minor units (e.g. 1250), not {got}",
                {"got": _got(value)},
            )
        if not 1 <= value <= maximum:
            raise PydanticCustomError(
                "invalid_amount", "must be between 1 and {maximum} minor units", {"maximum": maximum}
            )
        return value

    return check


def _string_amount(pattern: re.Pattern[str], message: str) -> Callable[[object], str]:
    def check(value: object) -> str:
        if not isinstance(value, str):
            raise PydanticCustomError("invalid_amount", message + ", not {got}", {"got": _got(value)})
        if not pattern.fullmatch(value):
            raise PydanticCustomError("invalid_amount", message)
        return value

    return check


def _query_int(minimum: int, maximum: int) -> Callable[[object], int]:
    def check(value: object) -> int:
        if isinstance(value, str) and _QUERY_INT.fullmatch(value):
            number = int(value)
        elif type(value) is int:
            number = value
        else:
            raise PydanticCustomError("invalid_parameter", "must be a whole number written in digits")
        if not minimum <= number <= maximum:
            raise PydanticCustomError(
                "invalid_parameter",
                "must be between {minimum} and {maximum}",
                {"minimum": minimum, "maximum": maximum},
            )
        return number

    return check


def _safe(value: str) -> str:
    found = find_unsafe(value)
    if found is not None:
        index, char = found
        raise PydanticCustomError(
            "invalid_characters",
            "contains {char} at position {index}; control and bidi characters are not allowed",
            {"char": describe_unsafe(char), "index": index},
        )
    return value


# Fiat minor units (v2 quotes): a JSON integer, 1 .. 10**15.
FiatMinor = Annotated[
    int,
    PlainValidator(_minor_units(MAX_FIAT_MINOR), json_schema_input_type=int),
    WithJsonSchema({"type": "integer", "minimum": 1, "maximum": MAX_FIAT_MINOR}),
]
# v1: "12.50", a decimal string in major units.
DecimalString = Annotated[
    str,
    PlainValidator(
        _string_amount(DECIMAL, "must be a decimal string in major units like '12.50' (no sign or exponent)"),
        json_schema_input_type=str,
    ),
    WithJsonSchema({"type": "string", "pattern": DECIMAL.pattern, "maxLength": 41}),
]
# v2: "14087", positive crypto minor units as a string of digits.
DigitString = Annotated[
    str,
    PlainValidator(
        _string_amount(_DIGITS, "must be a positive whole number of minor units in digits, like '14087'"),
        json_schema_input_type=str,
    ),
    WithJsonSchema({"type": "string", "pattern": _DIGITS.pattern, "maxLength": 40}),
]
# Stored and shown text: give the lengths with Field(min_length=, max_length=) where it is used.
SafeText = Annotated[str, AfterValidator(_safe), Field(json_schema_extra={"pattern": SAFE_TEXT_PATTERN})]
# ?limit= of a list
PageLimit = Annotated[
    int,
    PlainValidator(_query_int(1, 100), json_schema_input_type=int),
    WithJsonSchema({"type": "integer", "minimum": 1, "maximum": 100}),
]
# ?wait= of an invoice long-poll: what a till may ask; an instance holds a request at most
# ServiceSettings.invoice_wait_max_s of it.
MAX_WAIT_QUERY_S = 60
WaitSeconds = Annotated[
    int,
    PlainValidator(_query_int(0, MAX_WAIT_QUERY_S), json_schema_input_type=int),
    WithJsonSchema({"type": "integer", "minimum": 0, "maximum": MAX_WAIT_QUERY_S}),
]


def no_default(schema: dict[str, Any]) -> None:
    """``json_schema_extra`` of an optional, not nullable field: its default stands for "not
    sent", which no value of the field's type stands for, so the schema shows none."""
    schema.pop("default", None)
