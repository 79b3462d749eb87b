"""Plain-language explanations and labels, from real matches against the bundled list."""

from __future__ import annotations

import pytest

from screener import Screener
from screener.files.wording import kind_label, plain_explanation, status_label
from screener.models import AliasKind, Status


@pytest.fixture(scope="module")
def screener() -> Screener:
    return Screener.default()


def explain(screener: Screener, name: str) -> str:
    (result,) = screener.screen_names([name])
    assert result.best is not None, name
    return plain_explanation(result.best.explanation, name, result.best.score)


def test_extra_words_and_legal_form_in_the_input_s_own_spelling(screener: Screener) -> None:
    text = explain(screener, "Hikvision Europe B.V.")
    assert text.startswith("Matched the listed name 'Hikvision'; 'Europe' is an extra word; legal form 'B.V.' ignored")


def test_spacing_typos_and_abbreviations_are_said_in_words(screener: Screener) -> None:
    spaced = explain(screener, "Hik-Vision Digital Tech Co")
    assert "'Hik-Vision' read as 'Hikvision' (spacing)" in spaced and "'Tech' read as 'technology'" in spaced
    assert "'Dahau' read as 'Dahua' (a typo)" in explain(screener, "Dahau Technology")
    assert "'PSB' read as 'public security bureau'" in explain(screener, "Xinjiang Uyghur Autonomous Region PSB")


def test_a_word_cut_short_is_said_in_words(screener: Screener) -> None:
    name = "Zentrovia Manufacturing Interna"
    compared = screener.compare(name, "Zentrovia Manufacturing International Corporation")
    text = plain_explanation(compared.explanation, name, compared.score)
    assert "'Interna' read as 'International' (cut short, as at the end of a field)" in text


def test_chinese_names_and_exact_matches(screener: Screener) -> None:
    text = explain(screener, "科大讯飞股份有限公司")
    assert text.startswith("Matched the name in Chinese script '科大讯飞' (the same name, spelling and legal form aside)")
    assert "legal form '股份有限公司' ignored" in text and "pinyin" in text
    assert "w=" not in text and "exact" not in text  # no trace jargon


def test_labels_are_human() -> None:
    assert kind_label(AliasKind.CHINESE) == "Chinese script"
    assert status_label(Status.POTENTIAL_MATCH) == "Potential match"
    assert status_label(Status.POTENTIAL_MATCH, "false_positive") == "Cleared by review"
    assert status_label(Status.NOT_SCREENED) == "Not screened"
