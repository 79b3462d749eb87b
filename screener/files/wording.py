"""Results in the words an analyst or auditor reads: status and name-kind labels, plain explanations.

The models keep machine values (`potential_match`, `chinese_script`) and the technical trace
(`Explanation.text()`); the report and the page show these instead, so that a printed report reads
without a glossary.
"""

from __future__ import annotations

import re
from functools import lru_cache

from screener.models import AliasKind, Explanation, Status

STATUS_LABELS = {
    Status.POTENTIAL_MATCH: "Potential match",
    Status.CLEAR: "Clear",
    Status.NOT_SCREENED: "Not screened",
}
CLEARED_LABEL = "Cleared by review"

ALIAS_KIND_LABELS = {
    AliasKind.LISTED: "listed name",
    AliasKind.LEGAL: "legal name",
    AliasKind.BRAND: "brand name",
    AliasKind.FORMER: "former name",
    AliasKind.VARIANT: "spelling variant",
    AliasKind.TRANSLITERATION: "transliteration",
    AliasKind.CHINESE: "Chinese script",
    AliasKind.ABBREVIATION: "abbreviation",
    AliasKind.OTHER_SCRIPT: "other script",
}

ENTITY_TYPE_LABELS = {
    "company": "Company",
    "government_agency": "Government agency",
    "academic_institution": "Academic institution",
    "individual": "Individual",
    "vessel": "Vessel",
    "aircraft": "Aircraft",
    "other": "Other",
}

REVIEW_LABELS = {
    "open": "Open",
    "cleared": "Cleared",
    "confirmed": "Confirmed",
    "pending_approval": "Awaiting approval",
    "escalated": "Escalated",
}


def status_label(status: Status, review_decision: str | None = None) -> str:
    if status is Status.POTENTIAL_MATCH and review_decision == "false_positive":
        return CLEARED_LABEL
    return STATUS_LABELS[status]


SENTENCE_KINDS = {  # "Matched the ... 'X'": labels that need a noun in a sentence
    AliasKind.CHINESE: "name in Chinese script",
    AliasKind.TRANSLITERATION: "transliterated name",
    AliasKind.OTHER_SCRIPT: "name in another script",
}


def kind_label(kind: AliasKind) -> str:
    return ALIAS_KIND_LABELS.get(kind, kind.value.replace("_", " "))


def review_label(status: str | None) -> str:
    return REVIEW_LABELS.get(status or "", (status or "").replace("_", " ").capitalize())


def _quoted(words: list[str]) -> str:
    items = [f"'{w}'" for w in words]
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


@lru_cache(maxsize=4096)
def _typed_pattern(token: str) -> re.Pattern[str]:
    """How a normalised token may be written: its words with spaces, dashes or dots between, and
    short words dotted ('h.k.')."""
    words = [r"\.?".join(map(re.escape, w)) if len(w) <= 4 else re.escape(w) for w in token.split()]
    return re.compile(r"(?<!\w)" + r"[\s\-.,]*".join(words) + r"\.?(?!\w)", re.IGNORECASE)


def _as_typed(token: str, text: str | None) -> str:
    """A normalised token as `text` writes it ('Hik-Vision', not 'hik vision'), when it can be found."""
    if text and (m := _typed_pattern(token).search(text)):
        return m.group(0)
    return token


_EXPANDED_RE = re.compile(r"^abbreviation expanded: (.+)$")
_LEGAL_RE = re.compile(r"^legal form removed: (.+)$")


def _rule_phrases(rules: list[str], input_name: str | None) -> list[str]:
    """The normalisation rules that fired, in words; housekeeping rules are left to the trace."""
    out: list[str] = []
    for rule in rules:
        if m := _EXPANDED_RE.match(rule):
            for pair in m.group(1).split(", "):
                short, _, long = pair.partition("→")
                typed = _as_typed(short, input_name)
                out.append(f"'{typed}' read as '{long}'" if long else f"'{typed}' expanded")
        elif m := _LEGAL_RE.match(rule):
            out.append(f"legal form '{_as_typed(m.group(1), input_name)}' ignored")
        elif rule.startswith("alias: "):
            continue  # the same rule on the list side; the input side already says it
        elif "transliterated from Chinese" in rule:
            out.append("compared by the pinyin reading of the Chinese")
        elif "transliterated" in rule:
            out.append("compared in Latin letters")
        elif rule.startswith(("dotted letters joined", "invisible", "control")):
            continue
        else:
            out.append(rule)
    return list(dict.fromkeys(out))


def plain_explanation(expl: Explanation, input_name: str | None = None, score: float | None = None) -> str:
    """One or two sentences: which name matched, what differed, what was ignored."""
    parts = [f"Matched the {SENTENCE_KINDS.get(expl.alias_kind) or kind_label(expl.alias_kind)} '{expl.alias}'"]
    if score is not None and score >= 100:
        parts[0] += " (the same name, spelling and legal form aside)"
    for t in expl.tokens:
        if not t.input_token or t.input_token == t.alias_token:
            continue
        typed, listed = _as_typed(t.input_token, input_name), _as_typed(t.alias_token, expl.alias)
        why = (" (a typo)" if t.rule.startswith("typo") else " (spacing)" if t.rule.startswith("spacing")
               else " (cut short, as at the end of a field)" if t.rule.startswith("cut short") else "")
        parts.append(f"'{typed}' read as '{listed}'{why}")
    missing = [_as_typed(t.alias_token, expl.alias) for t in expl.tokens if not t.input_token]
    if missing:
        parts.append(f"{_quoted(missing)} not in the input")
    extra = [_as_typed(t, input_name) for t in expl.extra_input_tokens]
    if extra:
        parts.append(f"{_quoted(extra)} {'is an extra word' if len(extra) == 1 else 'are extra words'}")
    parts.extend(_rule_phrases(expl.rules, input_name))
    text = "; ".join(parts) + "."
    if expl.secondary:
        text += " " + "; ".join(s[:1].upper() + s[1:] for s in expl.secondary) + "."
    return text
