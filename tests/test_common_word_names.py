"""Listed organisations named in common words, and acronyms whose party spells them out.

Against the official lists, most false alarms on a customer base came from a few listed names made of
words any supplier's name holds ("Electronic Components Industries Co", "Opto Electronics Pte Ltd",
"Engineering Solutions Pvt Ltd", an alias "DANIEL"): a customer carrying one such word beside a name
of its own scored 76 to 91. These tests hold the rule that fixed them both ways: the listed name in
any writing still matches, another firm sharing a common word does not. The last ones run it over
every organisation of the real CSL sample and SDN set that the rule applies to (data we did not write).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from screener.lists.importers import import_csl, import_ofac_sdn
from screener.models import Alias, AliasKind, EntityType, Party, RestrictedList, Status
from screener.names.normalize import normalize
from screener.screening import Screener

SHARED = Path(os.environ.get("SCREENER_SHARED") or Path(__file__).resolve().parents[1].parent / "shared")
CSL_2023 = SHARED / "data" / "csl" / "csl_2023-11_watchman_sample.csv"
SDN_2021 = SHARED / "data" / "ofac_sdn_2021-07"
OWN_WORDS = ("Zuengzot", "Kraolmiv", "Tiaoxuemb")  # invented: in no dictionary, generic list or list


def _party(pid: str, name: str, *aliases: str) -> Party:
    return Party(id=pid, name=name, list_name="test", entity_type=EntityType.COMPANY,
                 aliases=[Alias(name=a, kind=AliasKind.BRAND) for a in aliases])


@pytest.fixture(scope="module")
def s() -> Screener:
    parties = [
        _party("t:eci", "Electronic Components Industries Co"),
        _party("t:wolf", "Wolf Holding Company"),
        _party("t:daniel", "Marine Star Shipping", "DANIEL"),
        _party("t:hik", "Hikvision Digital Technology Co., Ltd."),
        _party("t:sep", "Safety Equipment Procurement Company", "SEP Co."),
        _party("t:qpg", "QPG FZE"),  # an acronym the list never spells out
    ]
    filler = [_party(f"t:f{i}", f"{w} Precision Instruments Ltd")
              for i, w in enumerate(("Nordvik", "Ostrava", "Belmonte", "Kastelli"))]
    return Screener([("test", RestrictedList(name="test", parties=parties + filler))])


def _best(s: Screener, name: str) -> tuple[Status, str | None, float | None]:
    r = s.screen_name(name)
    return r.status, (r.matches[0].entity_id if r.matches else None), r.score


@pytest.mark.parametrize("name, party", [
    ("Electronic Components Industries Co", "t:eci"),
    ("ELECTRONIC COMPONENTS INDUSTRIES LTD", "t:eci"),
    ("Electronic Componants Industries", "t:eci"),
    ("ELECTRONIC COMPONEN-TS INDUSTRIES CO", "t:eci"),  # a stray fragment is no name of its own
    ("Wolf Holding GmbH", "t:wolf"),
    ("Daniel", "t:daniel"),
    ("Hikvision Zuengzot Technology", "t:hik"),  # a distinctive listed word: an extra word stays light
    ("Hikvision Europe B.V.", "t:hik"),
    ("Safety Equipment Procurement Co", "t:sep"),
    ("SEP Co", "t:sep"),
    ("Quantum Power Group", "t:qpg"),  # initials of a listed acronym the list does not spell out
])
def test_the_listed_name_in_any_writing_still_matches(s: Screener, name: str, party: str) -> None:
    status, found, _ = _best(s, name)
    assert (status, found) == (Status.POTENTIAL_MATCH, party)


@pytest.mark.parametrize("name", [
    "Zuengzot Components Corporation",
    "Kraolmiv Wolf Holding GmbH",
    "Daniel Kraolmiv",
    "Sales Export Partners Ltd",  # initials SEP, but the party's own name spells SEP otherwise
])
def test_another_firm_sharing_a_common_word_stays_clear(s: Screener, name: str) -> None:
    status, found, score = _best(s, name)
    assert status is Status.CLEAR, (found, score)


def test_an_explanation_says_why_the_extra_word_counts_fully(s: Screener) -> None:
    comparison = s.compare("Zuengzot Components Corporation", "Electronic Components Industries Co")
    assert comparison.score < s.threshold
    assert any("common words only" in rule for rule in comparison.explanation.rules), comparison.explanation.rules


@pytest.mark.parametrize("written, plain", [
    ("Funyujia Engineering Pvt. Ltd.", "Funyujia Engineering"),
    ("Tata Consultancy Services Private Limited", "Tata Consultancy Services"),
])
def test_the_indian_private_limited_is_a_legal_form(written: str, plain: str) -> None:
    assert normalize(written).tokens == normalize(plain).tokens


@pytest.fixture(scope="module")
def official() -> Screener:
    if not (CSL_2023.exists() and (SDN_2021 / "sdn.csv").exists()):
        pytest.skip(f"shared list data not found at {CSL_2023} and {SDN_2021}")
    return Screener([("csl", import_csl(CSL_2023).list), ("sdn", import_ofac_sdn(SDN_2021).list)])


def _common_named(official: Screener) -> list[tuple[str, str]]:
    """(party id, alias as listed) for every organisation alias of the official lists the rule covers."""
    out = []
    for indexed in official.index.aliases:
        party = official.index.parties[indexed.party][1]
        if indexed.common and party.entity_type is not EntityType.INDIVIDUAL and len(indexed.alias.name) > 3:
            out.append((party.id, indexed.alias.name))
    return out


def test_official_names_in_common_words_still_match_themselves_with_another_legal_form(official: Screener) -> None:
    covered = _common_named(official)
    assert len(covered) > 50  # the rule is about real list entries, not a corner case
    missed = []
    for pid, name in covered:
        r = official.screen_name(f"{name} Limited")
        if r.status is not Status.POTENTIAL_MATCH or pid not in {m.entity_id for m in r.matches}:
            missed.append(name)
    assert missed == []


def test_official_names_in_common_words_do_not_flag_a_firm_with_a_name_of_its_own(official: Screener) -> None:
    """Scored against the alias itself: the party's other names (a joined "HONORBANK" for "Honor Bank")
    are not common words and keep their own weight."""
    flagged = []
    for n, (_, name) in enumerate(_common_named(official)):
        if len(normalize(name).tokens) > 2:
            continue  # one or two common words: the names customers share most
        comparison = official.compare(f"{OWN_WORDS[n % len(OWN_WORDS)]} {name}", name)
        if comparison.score >= official.threshold:
            flagged.append((name, comparison.score))
    assert flagged == []
