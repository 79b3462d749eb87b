"""What the lists screened cover, said everywhere a result is shown (report, page, `lists show`, JSON).

A clear result only means "no match among these parties". The bundled list holds 34 parties of three
2019 rules, so a name it was never meant to hold (a Huawei affiliate, a party listed in 2023)
comes out clear; the statement next to the result is what keeps that from reading as a clearance.
Each list carries its own statement (`RestrictedList.coverage` for the bundled list; a line built
from the file for imported official lists, see `ListInfo.of`).
"""

from __future__ import annotations

from collections.abc import Sequence

from screener.models import ListInfo

COVERAGE_WARNING = (
    "A clear row means no match among the parties of the lists screened, in the versions named below; "
    "it says nothing about parties those lists do not hold (see What the lists cover)."
)


def coverage_lines(infos: Sequence[ListInfo]) -> list[tuple[str, str]]:
    """(list name and version, what it covers and what not) for each list screened."""
    return [
        (f"{i.name} {i.version}", i.coverage or f"No coverage statement was recorded for this list: read a clear "
         f"result as covering these {i.parties:,} parties only.")
        for i in infos
    ]
