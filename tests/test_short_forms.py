"""A short form of a listed person's name ("Abdul Ghani Turk" for a longer listed name) scores as a hit,
and the index still finds everything exhaustive comparison finds, on the real SDN list's persons."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

import screener
from screener.lists.importers import import_ofac_sdn
from screener.models import EntityType
from screener.names.normalize import normalize
from screener.screening import DEFAULT_THRESHOLD, Screener

SHARED = Path(os.environ.get("SCREENER_SHARED") or Path(__file__).resolve().parents[1].parent / "shared")
SDN_2021 = SHARED / "data" / "ofac_sdn_2021-07"


def test_a_short_form_of_a_persons_name_is_a_hit_in_both_directions():
    full, short = "Taviro Ganbold Dashnyam Khurel", "Taviro Khurel"
    assert screener.compare(short, full).score >= DEFAULT_THRESHOLD  # scored 66 before the rule
    assert screener.compare(full, short).score >= DEFAULT_THRESHOLD
    assert screener.compare("Taviro Dashnyam", full).score >= DEFAULT_THRESHOLD  # 49 before
    # two of five names rank just below the threshold: common given names would flood the queue
    assert 65 <= screener.compare(short, "Taviro Ganbold Oyunbileg Dashnyam Khurel").score < DEFAULT_THRESHOLD


def test_a_short_form_needs_two_names_and_nothing_else():
    full = "Taviro Ganbold Oyunbileg Dashnyam Khurel"
    assert screener.compare("Taviro", full).score < DEFAULT_THRESHOLD  # one name is not enough
    # a name the listed one lacks: another person of the family, not a short form
    assert screener.compare("Taviro Khurel Bataar", full).score < screener.compare("Taviro Khurel", full).score


def test_short_forms_are_for_names_of_persons_not_of_companies():
    company = "Taviro Ganbold Mining Development Company"
    assert screener.compare("Taviro Company", company).score < DEFAULT_THRESHOLD


@pytest.fixture(scope="module")
def sdn() -> Screener:
    """1,500 parties of the real 2021 SDN list (exhaustive comparison over all of it takes minutes)."""
    if not SDN_2021.exists():
        pytest.skip(f"shared list data not found at {SDN_2021}")
    full = import_ofac_sdn(SDN_2021).list
    parties = random.Random(3).sample(full.parties, 1500)
    return Screener([("sdn", full.model_copy(update={"parties": parties}))])


def test_index_loses_no_short_form_against_exhaustive_comparison(sdn):
    rng = random.Random(5)
    persons = [a.name for p in sdn.lists[0][1].parties if p.entity_type == EntityType.INDIVIDUAL
               for a in p.all_names() if len(normalize(a.name).tokens) >= 3]
    assert len(persons) > 100
    names = []
    for alias in rng.sample(persons, 25):
        words = normalize(alias).tokens
        names += [f"{words[0]} {words[-1]}", f"{words[0]} {words[1]}", " ".join(words[1:]),
                  f"{words[-1]} {words[0]}"]
    for name in names:
        q = normalize(name)
        fast = [(a.party, sc.score) for _, a, sc in sdn.index.match(q, floor=50)]
        slow = [(a.party, sc.score) for _, a, sc in sdn.index.match(q, floor=50, exhaustive=True)]
        assert fast == slow, name
