"""Each normalisation rule, on names of our own (not the development set)."""

import pytest

from screener.names.normalize import is_generic, normalize


def tokens(name: str) -> tuple[str, ...]:
    return normalize(name).tokens


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("Acme Trading Co., Ltd.", ("acme", "trading")),
        ("ACME TRADING CO LTD", ("acme", "trading")),
        ("Acme Trading Company Limited", ("acme", "trading")),
        ("Acme Trading GmbH", ("acme", "trading")),
        ("Acme Trading Inc.", ("acme", "trading")),
        ("Acme Trading Corp", ("acme", "trading")),
        ("Acme Trading Pty Ltd", ("acme", "trading")),
        ("Acme Trading SASU", ("acme", "trading")),
        ("阿克米贸易有限公司", tokens("阿克米贸易股份有限公司")),
    ],
)
def test_legal_forms_removed(raw, expected):
    assert tokens(raw) == expected
    if raw.isascii():
        assert any(r.startswith("legal form removed") for r in normalize(raw).rules)


def test_legal_form_words_inside_a_name_stay_when_they_are_syllables():
    # "in", "ek", "ay" are legal forms somewhere in the world, but here they are parts of a split word
    assert tokens("YIX-IN Science") == ("yix", "in", "science")
    assert tokens("Alt-Ay Municipal")[:2] == ("alt", "ay")


def test_a_name_of_only_legal_words_keeps_a_token():
    assert tokens("Company Limited")


def test_case_punctuation_and_hyphens():
    assert tokens("ZENTRO-VISION, INC.") == tokens("zentro vision inc")


def test_invisible_and_control_characters_removed():
    n = normalize("Zen\u200btro\u00ad Vi\x07sion")
    assert n.tokens == ("zentro", "vi", "sion")
    assert "invisible characters removed" in n.rules
    assert "control characters removed" in n.rules


def test_terminal_escape_sequences_removed_whole():
    """Found from outside: a name with a terminal's colour codes ("\x1b[31mHikvision\x1b[0m", pasted
    from a log) kept "[31m" glued to it once the ESC was dropped: "31mhikvision" matched nothing."""
    for raw in ("\x1b[31mHikvision\x1b[0m", "\x1b[1;32mHikvision\x1b[m", "\x1b]0;title\x07Hikvision"):
        n = normalize(raw)
        assert n.tokens == ("hikvision",), raw
        assert "control characters removed" in n.rules


def test_full_width_folded():
    n = normalize("ＺＥＮＴＲＯ Ｃｏ")
    assert n.tokens == ("zentro",)
    assert any("NFKC" in r for r in n.rules)


@pytest.mark.parametrize("spoof", ["Zеntrо", "Zentrο", "Zentrо\u200b", "ZЕNTRO"])
def test_confusables_folded_inside_latin_words(spoof):
    n = normalize(spoof)
    assert n.tokens == ("zentro",)


def test_wholly_cyrillic_words_are_transliterated_not_folded():
    assert tokens("Сбербанк") == ("sberbank",)


def test_accents_transliterated():
    assert tokens("Société Générale Müller") == ("societe", "generale", "muller")


def test_chinese_is_segmented_and_romanised():
    n = normalize("深圳市飞达网络技术有限公司")
    assert n.tokens == ("shenzhen", "municipal", "feida", "network", "technology")
    assert "transliterated from Chinese (pinyin)" in n.rules


def test_traditional_and_simplified_terms_meet():
    assert tokens("飞达网络技术")[-2:] == tokens("飛達網絡技術")[-2:]


def test_pinyin_organisation_terms_read_as_the_terms():
    assert tokens("Feida Wangluo Jishu Youxian Gongsi") == ("feida", "network", "technology")


def test_abbreviations_expanded():
    assert tokens("Zentro Tech Intl") == ("zentro", "technology", "international")
    assert tokens("Kashi PSB") == ("kashi", "public", "security", "bureau")
    n = normalize("XUAR Office")
    assert n.tokens[:4] == ("xinjiang", "uyghur", "autonomous", "region")


@pytest.mark.parametrize("spelling", ["Uighur", "Uyghur", "Uygur", "Weiwuer"])
def test_romanisation_variants_unified(spelling):
    assert tokens(f"{spelling} Studies Centre")[0] == "uyghur"


def test_never_raises_and_empty_for_symbols():
    for raw in [None, "", "   ", "---", "\x00\x01", 12345, "😀😀"]:
        normalize(raw)
    assert tokens("---") == ()
    assert tokens(12345) == ("12345",)


def test_long_names_are_cut():
    assert len(normalize("a" * 20000).original) == 1000


def test_generic_words():
    assert is_generic("technology") and is_generic("security") and is_generic("hangzhou")
    assert not is_generic("zentro") and not is_generic("hikvision")
