"""Missing values are missing: the markers that tools write for "no value" are never a name.

pandas writes NaN (``json.dumps`` turns it into the bare word NaN, ``to_csv`` into "nan" with some
settings), databases and YAML write null, ~ or .nan, spreadsheets #N/A, people n/a. Screened as a
name, such a value comes back clear and hides the fact that the party was never looked at. Every
reader asks `missing_marker` first: a file row is then not screened, and a document field (check,
API) is an error that names the field.
"""

from __future__ import annotations

import math
import unicodedata
from typing import Annotated

from pydantic import BeforeValidator

MARKERS = frozenset({
    "nan", "-nan", "+nan", ".nan", "nat", "<na>", "na", "n/a", "n.a.", "#n/a", "null", "nil", "none",
    "~", "inf", "-inf", "+inf", "infinity", "-infinity", "+infinity", ".inf", "-.inf",
    "+.inf",
})


def missing_marker(value: object) -> str | None:
    """What the value is when it stands for "no value" (None, NaN, Infinity, "n/a"...), else None."""
    if value is None:
        return "null"
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return None
    if isinstance(value, str):
        text = unicodedata.normalize("NFKC", value).strip().casefold()
        if text in MARKERS:
            return value.strip()
    return None


def reject_missing(value: object) -> object:
    """A pydantic before-validator for names: a missing-value marker is an error, never a name.

    A JSON null is left to the field's type: an error where a name is required (a shipment party),
    "not screened" where the API allows it.
    """
    marker = None if value is None else missing_marker(value)
    if marker is not None:
        raise ValueError(f"missing value ({marker}), not a name: omit the party or give its name")
    return value


def drop_missing(value: object) -> object:
    """A pydantic before-validator for optional facts (country, address): NaN or Infinity (what a
    pandas frame's empty cell becomes in JSON) means absent. Text is kept: "NA" is Namibia."""
    return None if isinstance(value, float) and missing_marker(value) is not None else value


NameText = Annotated[str, BeforeValidator(reject_missing)]
OptionalNameText = Annotated[str | None, BeforeValidator(reject_missing)]
OptionalFact = Annotated[str | None, BeforeValidator(drop_missing)]
