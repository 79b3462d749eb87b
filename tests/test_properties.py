"""Properties that must hold for any input at all (hypothesis)."""

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from screener.models import Status
from screener.names.normalize import normalize
from screener.screening import Screener

names = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=0, max_size=60
) | st.sampled_from(["Hikvision", "华为技术", "Hіkvision Co", "Public Security Bureau", "Co., Ltd."]).flatmap(
    lambda base: st.text(max_size=12).map(lambda extra: base + extra)
)
SCREENER = Screener.default()
FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(names)
@example("ß:0:0")  # punctuation once hid a vessel prefix ("ss") that the normalised text then revealed
@example("C0LTD:ß:0:0")  # and so did a legal form leading the name
@example("A:A:ɘ")  # a letter with no transliteration was joined to Latin ones, and lost when read again
def test_normalisation_is_idempotent(name):
    once = normalize(name)
    assert normalize(once.text).tokens == once.tokens


@FAST
@given(names, st.none() | st.text(max_size=4))
def test_screening_never_raises_and_always_decides(name, country):
    result = SCREENER.screen_name(name, country=country)
    assert result.status in set(Status)
    if result.status == Status.POTENTIAL_MATCH:
        assert result.score is not None and result.score >= SCREENER.threshold
    if result.status == Status.NOT_SCREENED:
        assert result.not_screened_reason


@FAST
@given(names)
def test_a_name_always_matches_itself_at_100(name):
    if normalize(name).tokens:
        assert SCREENER.compare(name, name).score == 100.0


@FAST
@given(st.lists(names, max_size=20))
def test_one_result_per_name_in_order(batch):
    results = SCREENER.screen_names(batch)
    assert [r.input_name for r in results] == batch
    assert [r.row for r in results] == list(range(1, len(batch) + 1))
