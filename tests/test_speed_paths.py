"""The fast paths stay exact and bounded: the index's letter filter, caches bounded in bytes, lazy imports."""

from __future__ import annotations

import gc
import os
import pickle
import random
import string
import subprocess
import sys
import tracemalloc

import pytest
from rapidfuzz.distance import OSA

import screener
from screener.names import matcher, scoring
from screener.names import normalize as norm_module
from screener.names.caches import bounded_cache
from screener.names.matcher import SCAN_ALL, _KeyGroup
from screener.names.normalize import normalize
from screener.names.phonetics import spelling_key
from screener.names.similarity import typo_budget


def _typo(word: str, rng: random.Random) -> str:
    i = rng.randrange(len(word))
    kind = rng.choice("sdit")
    if kind == "s":
        return word[:i] + rng.choice(string.ascii_lowercase) + word[i + 1 :]
    if kind == "d":
        return word[:i] + word[i + 1 :]
    if kind == "i":
        return word[:i] + rng.choice(string.ascii_lowercase) + word[i:]
    return word[:i] + word[i + 1 : i + 2] + word[i : i + 1] + word[i + 2 :]


def _misspelt(alias: str, rng: random.Random) -> list[str]:
    """The alias's words, one of them (of four letters or more) with a typo."""
    words = alias.split()
    j = rng.randrange(len(words))
    if len(words[j]) > 3:
        words[j] = _typo(words[j], rng)
    return words


def _aliases(s: screener.Screener) -> list[str]:
    return [a.name for _, lst in s.lists for p in lst.parties for a in p.all_names()]


@pytest.mark.parametrize("plain_scans", [0, 10**6], ids=["numpy", "python"])
def test_letter_filter_keeps_every_key_within_the_typo_budget(plain_scans, monkeypatch):
    monkeypatch.setattr(matcher, "_PLAIN_SCANS", plain_scans)
    if plain_scans:
        monkeypatch.delitem(sys.modules, "numpy")  # the Python path runs only while numpy is not loaded
    rng = random.Random(3)
    base = ["".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(4, 14))) for _ in range(300)]
    keys = sorted({"k" + w for w in base} | {"k" + _typo(_typo(w, rng), rng) for w in base})
    group = _KeyGroup.of(keys)
    assert len(keys) > 4 * SCAN_ALL  # the vectorised path, not the full scan of a short window
    for text in keys[:: 7] + ["k" + _typo(w, rng) for w in base[:100]]:
        budget = typo_budget(len(text))
        if not budget:
            continue
        near = set(group.near(text, budget))
        within = {k for k in keys if len(k) >= 4 and OSA.distance(k, text) <= budget}
        assert within <= near, text
        assert set(pickle.loads(pickle.dumps(group)).near(text, budget)) == near  # as cached
        assert len(near) < len(keys) / 4  # and it filters


def test_index_loses_nothing_on_typo_variants_of_real_aliases():
    s = screener.Screener.default()
    rng = random.Random(11)
    names = []
    for alias in rng.sample(_aliases(s), 25):
        names.append(" ".join(_misspelt(alias, rng)))
        names.append(alias[1] + alias[0] + alias[2:])  # the first two letters swapped
        names.append(alias.replace(" ", "", 1))  # two words run together
    for name in names:
        q = normalize(name)
        for floor in (46.0, 50.0, 75.0):  # below PREFIX_FLOOR (and above LIKENESS_CAP), postings read by share
            fast = [(a.party, sc.score) for _, a, sc in s.index.match(q, floor=floor)]
            slow = [(a.party, sc.score) for _, a, sc in s.index.match(q, floor=floor, exhaustive=True)]
            assert fast == slow, (name, floor)


def test_scoring_stops_early_only_below_the_floor():
    """`score_above` gives up on an alias once coverage and extra words put it below the floor, before
    its conflicts are weighed: every alias it gives up on scores below the floor in full, and every
    other scores exactly as in full. (The index and exhaustive comparison both stop early, so their
    agreement alone would not show this.)"""
    s = screener.Screener.default()
    rng = random.Random(23)
    names = []
    for alias in rng.sample(_aliases(s), 40):
        words = _misspelt(alias, rng)
        names += [" ".join(words), f"{alias} Trading Co", f"Zuengzot {words[0]} Ltd", " ".join(words[::-1])]
    stopped = kept = 0
    for name in names:
        query = scoring.prepare_unindexed(normalize(name))
        for alias in s.index.aliases:
            full = scoring.score_alias(query, alias, s.index.weight)
            for floor in (50.0, 75.0, 85.0):
                early = scoring.score_above(query, alias, s.index.weight, floor)
                if early is None:
                    stopped += 1
                    assert full.score < floor, (name, alias.alias.name, floor)
                else:
                    kept += 1
                    assert (early.score, early.explanation) == (full.score, full.explanation), (name, floor)
    assert stopped > 10 * kept  # and it does stop early, for most


def _retained(run) -> int:
    """Bytes still allocated after `run` (and a collection): what a cache kept."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        run()
        gc.collect()
        return tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()


def test_a_flood_of_long_distinct_names_does_not_grow_the_normalisation_cache():
    rng = random.Random(5)
    normalize("Acme Trading Co")  # vocabulary and tables loaded before measuring

    def flood() -> None:
        for _ in range(1500):
            normalize(" ".join("".join(rng.choice(string.ascii_lowercase) for _ in range(9)) for _ in range(100)))

    assert _retained(flood) < 1024 * 1024  # 1,500 names of 1,000 characters: ~16 MB if they were kept


def test_a_flood_of_long_words_does_not_grow_the_phonetic_caches():
    rng = random.Random(6)
    spelling_key("warmup")

    def flood() -> None:
        for _ in range(20_000):
            spelling_key("".join(rng.choice(string.ascii_lowercase) for _ in range(200)))

    assert _retained(flood) < 512 * 1024  # ~5 MB if kept


def test_long_input_units_are_not_kept_by_the_index_lookup():
    index = screener.Screener.default().index
    rng = random.Random(7)
    before = index._lookup.cache_info().currsize
    for _ in range(50):
        word = "".join(rng.choice(string.ascii_lowercase) for _ in range(400))
        index.prepare(normalize(f"{word} {word[::-1]}"))
    assert index._lookup.cache_info().currsize == before


def test_bounded_cache_keeps_at_most_maxsize_short_entries():
    calls: list[str] = []

    @bounded_cache(maxsize=8, max_chars=5)
    def upper(text: str) -> str:
        calls.append(text)
        return text.upper()

    for word in ["abc", "abc", "toolong", "toolong"] + [f"w{i}" for i in range(20)]:
        assert upper(word) == word.upper()
    assert calls.count("abc") == 1 and calls.count("toolong") == 2
    assert upper.cache_info().currsize == 8


def test_terms_compile_once_and_pinyin_loads_only_for_han(tmp_path):
    env = {**os.environ, "SCREENER_HOME": str(tmp_path)}
    probe = ("import sys; from screener.names.normalize import normalize; t = normalize('Acme Trading Co').tokens; "
             "print(t, 'pypinyin' in sys.modules, 'yaml' in sys.modules); "
             "print(normalize('华为技术有限公司').tokens, 'pypinyin' in sys.modules)")
    runs = [subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True).stdout
            for _ in range(2)]
    assert runs[0].split(" ", 1)[0] == runs[1].split(" ", 1)[0]  # the same tokens either way
    first, han = runs[1].splitlines()
    assert first.endswith("False False")  # compiled terms read: neither YAML nor pypinyin loaded
    assert han.endswith("True") and "huawei" in han
    assert len(list((tmp_path / norm_module.TERMS_CACHE).glob("*.json"))) == 1


def test_compiled_terms_equal_the_source(tmp_path, monkeypatch):
    import yaml
    from pypinyin import lazy_pinyin

    monkeypatch.setenv("SCREENER_HOME", str(tmp_path))
    compiled = norm_module._compiled_terms()
    again = norm_module._compiled_terms()  # read back from the JSON copy
    text = (norm_module.resources.files("screener.names") / "terms.yaml").read_text(encoding="utf-8")
    terms = yaml.safe_load(text)
    assert compiled[0] == again[0] == terms
    assert again[1] == {t: "".join(lazy_pinyin(t)) for t in again[1]}
    assert set(terms["chinese_places"]) <= set(again[1])


def test_long_names_are_screened_but_not_kept_as_seen():
    s = screener.Screener([("default", screener.Screener.default().lists[0][1])])
    rng = random.Random(8)
    for _ in range(30):
        name = "Hikvision " + " ".join("".join(rng.choice(string.ascii_lowercase) for _ in range(7)) for _ in range(40))
        assert s.screen_name(name).matches  # still screened in full
    s.screen_name("Hikvision")
    assert list(s._seen) == ["Hikvision"]


def test_a_row_is_matched_once_however_long_its_name(monkeypatch):
    """A name too long to keep among the seen ones was matched twice per row (once to learn that it
    has tokens): a file of long names took twice as long to screen."""
    s = screener.Screener([("default", screener.Screener.default().lists[0][1])])
    calls = []
    match_name = s.index.match_name
    monkeypatch.setattr(s.index, "match_name", lambda name, **kw: calls.append(name) or match_name(name, **kw))
    long_name = "Hikvision " + "Precision Instruments " * 20
    for name in (long_name, "Hikvision", "!!!"):
        s.screen_name(name)
    assert calls == [long_name, "Hikvision", "!!!"]
    assert s.screen_name("!!!").not_screened_reason == "name has no letters or digits"


def test_pair_and_token_caches_do_not_keep_long_inputs():
    """A flood of long distinct words passes through the word-pair and per-word caches of the
    matcher without growing them; short words are still cached."""
    from screener.names.normalize import _rigour_tags
    from screener.names.similarity import token_similarity

    for fn, call in ((token_similarity, lambda w: token_similarity("huawei", w)), (_rigour_tags, _rigour_tags)):
        fn.cache_clear()
        for i in range(300):
            call("q" * 200 + str(i))
        assert fn.cache_info().currsize == 0, fn.__name__
        call("huawai")
        assert fn.cache_info().currsize == 1, fn.__name__


def test_an_input_that_only_writes_an_aliases_initials_is_found_by_the_index():
    """A name none of whose words pairs with an alias word ("ABB Ltd" against "Al-Barakaat Bank", 3
    letters too short for a typo) can still be an alias's initials: the index once returned nothing
    for it before looking at initials, where the exhaustive comparison found the alias."""
    from screener.models import Party, RestrictedList

    parties = [Party(id=f"t:{i}", name=name, list_name="Test list") for i, name in
               enumerate(["Al-Barakaat Bank", "Ansar Bank Brokerage Company", "Golden Harvest Trading", "Nordwind"])]
    s = screener.Screener([("t", RestrictedList(name="t", parties=parties))])
    for name in ("ABB Ltd", "ABB", "G.H.T.", "GHT LLC"):
        q = normalize(name)
        for floor in (50.0, 75.0):
            fast = [(a.party, sc.score) for _, a, sc in s.index.match(q, floor=floor)]
            slow = [(a.party, sc.score) for _, a, sc in s.index.match(q, floor=floor, exhaustive=True)]
            assert fast == slow, (name, floor)
    assert {p for p, _, _ in s.index.match(normalize("ABB Ltd"), floor=75.0)} == {0, 1}


def test_warming_looks_the_lists_words_up_once_for_every_worker():
    """A forking pool warms the index first (`PoolScreen`): the list's most frequent words are then
    looked up already, in the parent, and every worker inherits them."""
    index = screener.Screener([("default", screener.Screener.default().lists[0][1])]).index
    index.warm()
    words = [w for w in index.weight.df if len(w) <= matcher.LOOKUP_CACHE_CHARS]
    assert 50 < len(words) <= matcher.WARM_WORDS  # the bundled list: every word of it
    misses = index._lookup.cache_info().misses
    for word in words:
        index._lookup(word, False)
    assert index._lookup.cache_info().misses == misses
