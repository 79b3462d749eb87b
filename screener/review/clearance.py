"""The one rule behind every "clear": exit 0, RELEASE, the API's decision and the page's status.

Clear only when something was screened, nothing screened is an alert (a potential match no
analyst cleared), and nothing was left unscreened, unless the caller explicitly chose to treat
not-screened records as clear (``--allow-unscreened``), which the reason then says. "We could not
look" never reads as "clear", and neither does a run that looked at nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple

from screener.models import RowResult, Status


class Verdict(NamedTuple):
    clear: bool
    reason: str


def _n(count: int, word: str, plural: str | None = None) -> str:
    return f"{count:,} {word if count == 1 else plural or word + 's'}"


def verdict(*, alerts: int, not_screened: int, screened: int, allow_unscreened: bool = False,
            doubtful: Sequence[str] = ()) -> Verdict:
    """Clear or not, with the reason in one line; `screened` counts clear and potential matches;
    `doubtful` names party columns whose content is not names (the real names may be elsewhere)."""
    problems = []
    if doubtful:
        problems.append("party column(s) " + ", ".join(f'"{c}"' for c in doubtful)
                        + " hold numbers or codes, not names")
    if alerts:
        problems.append(f"{_n(alerts, 'potential match', 'potential matches')} not cleared by review")
    if not_screened and not allow_unscreened:
        problems.append(f"{_n(not_screened, 'record')} not screened")
    if not screened:
        problems.append("nothing was screened")
    if problems:
        return Verdict(False, "needs review: " + "; ".join(problems))
    reason = f"clear: {_n(screened, 'record')} screened, all clear"
    if not_screened:
        reason += f"; {_n(not_screened, 'record')} not screened, treated as clear (--allow-unscreened)"
    return Verdict(True, reason)


def verdict_of(results: Iterable[RowResult], *, allow_unscreened: bool = False) -> Verdict:
    """The verdict over a set of results (analysts' decisions already applied)."""
    alerts = not_screened = screened = 0
    for r in results:
        alerts += r.alert
        if r.status is Status.NOT_SCREENED:
            not_screened += 1
        else:
            screened += 1
    return verdict(alerts=alerts, not_screened=not_screened, screened=screened,
                   allow_unscreened=allow_unscreened)
