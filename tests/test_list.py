"""The bundled restricted-party list, its loader/validator, the citation builder and `lists` commands."""

from __future__ import annotations

import importlib
import json
import os
import shutil
from pathlib import Path

import pytest

from screener.lists.listbuild import ListBuildError, build_citations, read_article
from screener.lists.partylist import (
    ListError,
    default_list,
    default_list_path,
    load_list,
    normalize_ws,
    save_list,
    validate_list,
)
from screener.models import AliasKind, EntityType, RestrictedList, Source

SHARED = Path(os.environ.get("SCREENER_SHARED") or Path(__file__).resolve().parents[1].parent / "shared")
ARTICLES = SHARED / "articles"
REFERENCE = SHARED / "reference"
needs_articles = pytest.mark.skipif(not ARTICLES.is_dir(), reason=f"shared articles not found at {ARTICLES}")
needs_reference = pytest.mark.skipif(not REFERENCE.is_dir(), reason=f"shared reference not found at {REFERENCE}")

EXPECTED_IDS = {
    "xuar_psb", "xpcc_psb", "xinjiang_police_college", "aksu_psb", "altay_psb", "bayingolin_psb",
    "boertala_psb", "changji_psb", "hami_psb", "hotan_psb", "ili_psb", "karamay_psb", "kashgar_psb",
    "kizilsu_psb", "shihezi_psb", "tacheng_psb", "tumushuke_psb", "turfan_psb", "urumqi_psb",
    "wujiaqu_psb", "dahua", "hikvision", "iflytek", "megvii", "sensetime", "meiya_pico", "yitu",
    "yixin", "huawei", "sugon", "higon", "chengdu_haiguang_ic", "chengdu_haiguang_micro", "wuxi_jiangnan",
}  # fmt: skip
INNOCENTS = [
    "Scylla", "Intel", "Nvidia", "Ambarella", "Western Digital", "Seagate", "Qualcomm", "IPVM",
    "Airport", "Height Securities", "National University of Defense Technology", "NUDT",
    "Hunan Guofang Keji", "国防科技大学",
]  # fmt: skip
MUST_CITE = ["hikvision", "dahua", "sensetime", "megvii", "iflytek", "yitu", "huawei", "xuar_psb"]


@pytest.fixture(scope="module")
def bundled() -> RestrictedList:
    return load_list(default_list_path())


def _party(lst: RestrictedList, pid: str):
    return next(p for p in lst.parties if p.id == pid)


def _names(lst: RestrictedList, pid: str) -> set[str]:
    party = _party(lst, pid)
    return {party.name, *(a.name for a in party.aliases)}


# --- the bundled list -------------------------------------------------------------------------


def test_bundled_list_loads_and_validates(bundled: RestrictedList) -> None:
    assert bundled.name == "us-entity-list-2019"
    assert default_list().content_hash == bundled.content_hash
    assert validate_list(bundled) == []


def test_exactly_the_34_stable_ids(bundled: RestrictedList) -> None:
    ids = [p.id for p in bundled.parties]
    assert len(ids) == len(set(ids)) == 34
    assert set(ids) == EXPECTED_IDS


def test_no_innocent_is_listed(bundled: RestrictedList) -> None:
    for party in bundled.parties:
        for alias in party.all_names():
            for innocent in INNOCENTS:
                assert innocent.casefold() not in alias.name.casefold(), (party.id, alias.name)


def test_every_party_has_a_notice_with_its_fr_citation(bundled: RestrictedList) -> None:
    for party in bundled.parties:
        notices = [s for s in party.sources if s.kind == "notice"]
        assert notices, party.id
        assert party.fr_citation in {s.citation for s in notices}, party.id
        assert party.country == "CN" and party.list_name == "US Entity List"
        assert party.date_added is not None and party.licence_policy


def test_rule_dates_and_citations(bundled: RestrictedList) -> None:
    june = {"sugon", "higon", "chengdu_haiguang_ic", "chengdu_haiguang_micro", "wuxi_jiangnan"}
    for party in bundled.parties:
        if party.id == "huawei":
            assert (party.fr_citation, str(party.date_added)) == ("84 FR 22961", "2019-05-21")
        elif party.id in june:
            assert (party.fr_citation, str(party.date_added)) == ("84 FR 29371", "2019-06-24")
        else:
            assert (party.fr_citation, str(party.date_added)) == ("84 FR 54002", "2019-10-09")
    oct_notice = next(s for s in _party(bundled, "hikvision").sources if s.kind == "notice")
    assert oct_notice.document_number == "2019-22210"


def test_key_aliases_present(bundled: RestrictedList) -> None:
    assert any("海康威视" in a for a in _names(bundled, "hikvision"))
    assert "Hangzhou Hikvision Digital Technology Co., Ltd." in _names(bundled, "hikvision")
    assert {"XINJIANG PUBLIC SECURITY BUREAU", "PUBLIC SECURITY DEPARTMENT OF XUAR"} <= _names(bundled, "xuar_psb")
    assert {"XUAR People's Government Public Security Bureau",
            "Xinjiang Uighur Autonomous Region Public Security Bureau"} <= _names(bundled, "xuar_psb")
    assert {"Dahua", "Dahua Technology", "Zhejiang Dahua Technology Co., Ltd."} <= _names(bundled, "dahua")
    assert {"SenseTime", "Sense Time", "SenseTime Group"} <= _names(bundled, "sensetime")
    assert {"Megvii", "Face++", "Megvii Technology Limited"} <= _names(bundled, "megvii")
    assert {"iFlytek", "iFlytek Co., Ltd.", "科大讯飞"} <= _names(bundled, "iflytek")
    assert {"Yitu", "Yitu Technology", "Yitu Limited"} <= _names(bundled, "yitu")
    assert {"Huawei", "华为技术有限公司"} <= _names(bundled, "huawei")
    assert {"Meiya Pico"} <= _names(bundled, "meiya_pico")
    assert {"Dawning", "Zhongke Shuguang", "Tianjin Shuguang Computer Industry"} <= _names(bundled, "sugon")
    assert {"THATIC", "Tianjing Haiguang Advanced Technology Investment"} <= _names(bundled, "higon")
    assert {"Hotan Prefecture Public Security Bureau"} <= _names(bundled, "hotan_psb")
    assert {"Turpan Municipal Public Security Bureau"} <= _names(bundled, "turfan_psb")
    assert {"Karamay Municipal Public Security Bureau"} <= _names(bundled, "karamay_psb")


def test_conflicting_and_constructed_names_are_marked(bundled: RestrictedList) -> None:
    yixin = {a.name: a for a in _party(bundled, "yixin").aliases if a.kind is AliasKind.CHINESE}
    assert {"颐信科技有限公司", "易鑫科技"} <= set(yixin)
    assert all(not a.verified and a.note for a in yixin.values())
    for pid in ("aksu_psb", "kashgar_psb", "urumqi_psb"):
        chinese = [a for a in _party(bundled, pid).aliases if a.kind is AliasKind.CHINESE]
        assert chinese and all(not a.verified and "constructed" in (a.note or "") for a in chinese)
        assert _party(bundled, pid).unverified
    for party in bundled.parties:
        for address in party.addresses:
            assert address.verified or address.note, party.id
    assert _party(bundled, "xinjiang_police_college").entity_type is EntityType.ACADEMIC
    assert _party(bundled, "xuar_psb").entity_type is EntityType.GOVERNMENT


@needs_articles
def test_every_article_quote_is_verbatim_in_shared_articles(bundled: RestrictedList) -> None:
    assert validate_list(bundled, ARTICLES) == []
    texts = {p.stem: p.read_text(encoding="utf-8") for p in ARTICLES.glob("*.txt")}
    cited = 0
    for party in bundled.parties:
        for src in party.sources:
            if src.kind == "article":
                cited += 1
                assert src.quote and len(src.quote) <= 300
                assert normalize_ws(src.quote) in normalize_ws(texts[src.id]), (party.id, src.id)
                assert src.title in [line.strip() for line in texts[src.id].splitlines()]
    assert cited > 0


def test_sources_are_documents_a_reader_can_look_up(bundled: RestrictedList) -> None:
    for party in bundled.parties:
        assert {s.kind for s in party.sources} <= {"notice", "article"}, party.id
        notice = next(s for s in party.sources if s.kind == "notice")
        assert notice.citation and notice.document_number and notice.date and notice.title, party.id
        assert notice.url and notice.url.startswith("https://www.federalregister.gov/"), party.id
        for article in (s for s in party.sources if s.kind == "article"):
            assert article.title and (article.publisher or article.note), (party.id, article.id)
            assert article.id not in article.reference()  # the file id is only a secondary key
    assert bundled.coverage is not None and "34 parties" in bundled.coverage.covers
    assert any("Huawei" in gap and "more than 100" in gap for gap in bundled.coverage.not_covered)


WORKING_NOTES = [
    ("quote", "name from-memory-unverified; Chinese constructed (place verified-from-S17)"),
    ("quote", "Verified: the regional bureau, **18** subordinate bureaus"),
    ("note", "FR page 84 FR 54002 (taken from the brief)"),
    ("note", "see [the notice](https://example.org)"),
]


@pytest.mark.parametrize(("field", "text"), WORKING_NOTES)
def test_validate_rejects_working_notes_and_markdown(bundled: RestrictedList, field: str, text: str) -> None:
    party = bundled.parties[0]
    if field == "quote":
        bad = Source(kind="notice", id="2019-22210", citation="84 FR 54002", quote=text)
        party = party.model_copy(update={"sources": [*party.sources, bad]})
    else:
        party = party.model_copy(update={"unverified": [*party.unverified, text]})
    problems = validate_list(bundled.model_copy(update={"parties": [party, *bundled.parties[1:]]}))
    assert problems and all(p.startswith(f"{party.id}: ") for p in problems), problems


def test_validate_rejects_quotes_from_the_working_file(bundled: RestrictedList) -> None:
    party = bundled.parties[0]
    ref = Source(kind="reference", id="entity-list-facts", quote="implicated in human-rights violations")
    broken = bundled.model_copy(update={"parties": [party.model_copy(update={"sources": [*party.sources, ref]}),
                                                    *bundled.parties[1:]]})
    (problem,) = validate_list(broken)
    assert "entity-list-facts" in problem and "cite the notice or an article" in problem


@needs_reference
def test_no_note_or_quote_is_copied_from_the_working_file(bundled: RestrictedList) -> None:
    """Notes, unverified facts and quotes speak to readers; none is lifted from the team's fact file."""
    facts = normalize_ws((REFERENCE / "entity-list-facts.md").read_text(encoding="utf-8"))
    for party in bundled.parties:
        texts = [*party.unverified, *(a.note or "" for a in [*party.aliases, *party.addresses])]
        texts += [s.quote or "" for s in party.sources] + [s.note or "" for s in party.sources]
        for text in texts:
            assert len(text) < 30 or normalize_ws(text) not in facts, (party.id, text)


# --- the builder --------------------------------------------------------------------------------


@needs_articles
def test_builder_is_deterministic_and_committed_list_is_current(bundled: RestrictedList) -> None:
    once = build_citations(bundled, ARTICLES, reset=True)
    twice = build_citations(once, ARTICLES)
    assert once == twice
    assert once.content_hash == bundled.content_hash, "run `screener lists build --articles ../shared/articles`"


@needs_articles
def test_builder_cites_every_named_party(bundled: RestrictedList) -> None:
    built = build_citations(bundled, ARTICLES, reset=True)
    for pid in MUST_CITE:
        assert any(s.kind == "article" for s in _party(built, pid).sources), pid
    # one citation per party and article; notices and references kept
    for party in built.parties:
        ids = [s.id for s in party.sources if s.kind == "article"]
        assert len(ids) == len(set(ids))
        assert [s for s in party.sources if s.kind != "article"] == [
            s for s in _party(bundled, party.id).sources if s.kind != "article"
        ]
    # parties mentioned only collectively ("19 subordinate elements") get no article citation
    assert not any(s.kind == "article" for s in _party(built, "kashgar_psb").sources)
    hik = {s.id: s for s in _party(built, "hikvision").sources if s.kind == "article"}
    assert hik["001_3b6e3dbde9462f0d"].date == "OCTOBER 07 2019"
    assert hik["003_eabe515a9a0e982f"].publisher == "Reuters"
    assert hik["000_30e5d1a957c2d54a"].date is None  # a page-banner date is not the article's date


@needs_articles
def test_builder_raises_on_tampered_quote(bundled: RestrictedList, tmp_path: Path) -> None:
    copy = tmp_path / "articles"
    shutil.copytree(ARTICLES, copy)
    target = copy / "000_30e5d1a957c2d54a.txt"
    quote = next(
        s.quote for s in _party(bundled, "sensetime").sources if s.kind == "article" and s.id == target.stem
    )
    assert quote
    text = target.read_text(encoding="utf-8")
    assert quote in text
    target.write_text(text.replace(quote, quote.replace("deeply", "somewhat")), encoding="utf-8")
    with pytest.raises(ListBuildError) as info:
        build_citations(bundled, copy)
    assert any("sensetime" in p and target.stem in p for p in info.value.problems)
    assert validate_list(bundled, copy)  # the validator sees it too


def _one_article(tmp_path: Path, body: str) -> Path:
    folder = tmp_path / "arts"
    folder.mkdir()
    (folder / "900_test.txt").write_text(f"A test headline about export controls\n\n{body}\n", encoding="utf-8")
    return folder


def test_builder_ignores_innocents_and_partial_words(bundled: RestrictedList, tmp_path: Path) -> None:
    folder = _one_article(
        tmp_path,
        "Scylla Technologies Inc. and Nvidia Corp were not added. Dahuang Trading and Megviis Ltd were "
        "banned by nobody. Huaweiish is not a word.",
    )
    built = build_citations(bundled, folder, reset=True)
    assert not [p.id for p in built.parties if any(s.kind == "article" for s in p.sources)]


def test_builder_matches_spacing_variants_and_cuts_long_sentences(bundled: RestrictedList, tmp_path: Path) -> None:
    filler = " ".join(["word"] * 80)
    folder = _one_article(
        tmp_path,
        f"Sense-Time was named. Then {filler} the U.S. blacklisted Yi Tu? No: it blacklisted Zhejiang Dahua "
        f"Technology Co., Ltd. after {filler} it said.",
    )
    built = build_citations(bundled, folder, reset=True)
    cited = {p.id: next(s for s in p.sources if s.kind == "article") for p in built.parties
             if any(s.kind == "article" for s in p.sources)}
    assert set(cited) == {"sensetime", "dahua"}
    assert cited["sensetime"].quote == "Sense-Time was named."
    dahua = cited["dahua"]
    assert dahua.title == "A test headline about export controls"
    assert dahua.quote and len(dahua.quote) <= 300 and "Zhejiang Dahua" in dahua.quote
    article = read_article(folder / "900_test.txt")
    at = article.text.index(dahua.quote)
    assert article.text[at - 1].isspace() and article.text[at + len(dahua.quote)].isspace()  # whole words


# --- loading, saving, validating ----------------------------------------------------------------


def test_save_load_round_trip(bundled: RestrictedList, tmp_path: Path) -> None:
    for name in ("copy.yaml", "copy.json"):
        save_list(bundled, tmp_path / name)
        assert load_list(tmp_path / name) == bundled
    first = (tmp_path / "copy.yaml").read_text(encoding="utf-8")
    save_list(load_list(tmp_path / "copy.yaml"), tmp_path / "copy.yaml")
    assert (tmp_path / "copy.yaml").read_text(encoding="utf-8") == first
    assert "海康威视" in first  # allow_unicode: names stay readable


def test_schema_error_names_file_and_record(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "name: t\nparties:\n- id: ok_one\n  name: A\n  list_name: L\n"
        "- id: broken_one\n  name: B\n  list_name: L\n  aliases:\n  - name: X\n    kind: nickname\n",
        encoding="utf-8",
    )
    with pytest.raises(ListError) as info:
        load_list(bad)
    message = str(info.value)
    assert "bad.yaml" in message and "id=broken_one" in message and "kind" in message
    with pytest.raises(ListError):
        load_list(tmp_path / "missing.yaml")


def test_validate_reports_problems(bundled: RestrictedList) -> None:
    party = bundled.parties[0]
    broken = bundled.model_copy(
        update={
            "parties": [
                party.model_copy(update={"id": "Bad-Id", "sources": [], "aliases": [*party.aliases, party.aliases[0]]}),
                *bundled.parties[1:],
            ]
        }
    )
    problems = validate_list(broken)
    assert any("Bad-Id: id must match" in p for p in problems)
    assert any("has no source" in p for p in problems)
    assert any("appears twice" in p for p in problems)
    assert not any("must match" in p for p in validate_list(broken, strict_ids=False))


def test_default_list_path_env_override(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert default_list_path().name == "us_entity_list.yaml"
    monkeypatch.setenv("SCREENER_DEFAULT_LIST", str(tmp_path / "other.yaml"))
    assert default_list_path() == tmp_path / "other.yaml"


# --- the `lists` commands -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def cli():
    """The `lists` sub-app; skipped only while sibling CLI modules it is mounted beside are missing."""
    try:
        module = importlib.import_module("screener.cli.lists")
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith("screener.") and exc.name != "screener.cli.lists":
            pytest.skip(f"screener.cli package not importable yet ({exc.name} missing)")
        raise
    from typer.testing import CliRunner

    return module.app, CliRunner()


def test_show_json_has_the_fields(cli) -> None:
    app, runner = cli
    result = runner.invoke(app, ["show", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["name"] == "us-entity-list-2019" and "34 parties" in data["coverage"]
    records = data["parties"]
    assert len(records) == 34
    hik = next(r for r in records if r["id"] == "hikvision")
    assert {"id", "name", "aliases", "entity_type", "fr_citation", "date_added", "sources"} <= set(hik)
    assert all({"name", "kind"} <= set(a) for a in hik["aliases"])
    table = runner.invoke(app, ["show"])
    assert table.exit_code == 0 and "hikvision" in table.output and "84 FR 54002" in table.output
    assert "Coverage: The bundled list covers the 34 parties" in table.output
    assert "Add the official lists" in " ".join(table.output.split())


def test_validate_exit_codes(cli, bundled: RestrictedList, tmp_path: Path) -> None:
    app, runner = cli
    ok = runner.invoke(app, ["validate"])
    assert ok.exit_code == 0 and ok.output.startswith("OK: 34 parties, ")
    broken = bundled.model_copy(
        update={"parties": [bundled.parties[0].model_copy(update={"sources": []}), *bundled.parties[1:]]}
    )
    save_list(broken, tmp_path / "broken.yaml")
    bad = runner.invoke(app, ["validate", "--list", str(tmp_path / "broken.yaml")])
    assert bad.exit_code == 2
    (tmp_path / "junk.yaml").write_text("name: [unclosed\n", encoding="utf-8")
    junk = runner.invoke(app, ["validate", "--list", str(tmp_path / "junk.yaml")])
    assert junk.exit_code == 2


@needs_articles
def test_validate_and_build_commands_with_articles(cli, bundled: RestrictedList, tmp_path: Path) -> None:
    app, runner = cli
    ok = runner.invoke(app, ["validate", "--articles", str(ARTICLES)])
    assert ok.exit_code == 0, ok.output
    target = tmp_path / "list.yaml"
    save_list(bundled, target)
    built = runner.invoke(app, ["build", "--articles", str(ARTICLES), "--list", str(target)])
    assert built.exit_code == 0, built.output
    assert "003_eabe515a9a0e982f:" in built.output
    assert load_list(target) == bundled
    empty = tmp_path / "empty"
    empty.mkdir()
    failed = runner.invoke(app, ["build", "--articles", str(empty), "--list", str(target)])
    assert failed.exit_code == 2
