"""How alike two words are, and by which rule: the word-level half of the matcher.

Beyond equality, in order: the same word in another romanisation (`phonetics`: spelling key, close
vowels e/i and o/u, other vowels), a typo within a budget that grows with the word's length (keyboard
neighbours and like sounds for short words), the same Metaphone code within two edits, and, for words
left over once a name is half found, an initial for its name or a similar word by Jaro-Winkler. A
word transliterated from an abjad (Arabic, Persian, Hebrew) meets a Latin one on its consonants.
Never between two different known words, places, pinyin words or common English words (`words`), in
either direction.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from rapidfuzz.distance import OSA, Indel, JaroWinkler, Levenshtein

from screener.names.caches import bounded_cache
from screener.names.normalize import is_generic, is_place
from screener.names.persons import is_patronymic
from screener.names.phonetics import (
    KEYED_CACHE_CHARS,
    close_vowel_key,
    consonant_key,
    pinyin_syllables,
    sound_key,
    spelling_key,
    vowel_key,
)
from screener.names.words import different_words, is_frequent_word, same_word

SPELLING_SIMILARITY = 0.95  # one word in two romanisations: Tsvetkov / Cvetkov
VOWEL_SIMILARITY = 0.74  # the consonants agree, the vowels are heard differently: Osama / Usama (a
# word alone so written stays below the threshold: "Megvwa" is not flagged as Megvii on that alone)
CLOSE_VOWEL_SIMILARITY = 0.85  # only e/i or o/u differ, the vowels romanisations swap: Ladin / Laden
SOUND_SIMILARITY = 0.8  # the same Metaphone code, the spelling otherwise too far apart: Qaddafi / Gaddafi
ABJAD_SIMILARITY = 0.8  # a Latin word and an abjad's transliteration agree on their consonants: Fernando / frnandw
UNLIKELY_TYPO_SIMILARITY = 0.7  # one substitution between letters far apart on the keyboard: Putin / Pulin
RESIDUE_CUTOFF = 0.8  # Jaro-Winkler similarity a left-over pair needs to count ("Scholz" / "Schulze")
RESIDUE_SHARE = 0.6  # a left-over pair counts for this share of its similarity
INITIAL_SIMILARITY = 0.6  # "V." for "Vladimir"
SHORT_NAME_SIMILARITY = 0.8  # "Ben" for "Benjamin", "Alex" for "Alexander": a given name cut short
NEAR_MISS_CUTOFF = 0.6  # how alike (Indel ratio) two left-over words that are not one word must be to rank
NEAR_MISS_SHARE = 0.5  # ... and the share of that likeness they count for (the score is then capped)
NEAR_MISS_RULE = "near miss"
CUT_SHORT_RULE = "cut short"  # the input's last word, the start of the alias word where it ends (`residue_pairs`)
CUT_SHORT_SIMILARITY = 0.9
CUT_SHORT_MIN = 3  # letters a cut word keeps, at least, to be read as the start of one
MAX_FUZZY_EDITS = 3
PINYIN_LETTERS = 3  # letters a syllable needs on average for a word to be read as pinyin (see _other_pinyin)

_KEYBOARD_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
_SOUND_ALIKE = ("ck", "kq", "cs", "sz", "iy", "fv", "gj", "dt", "bp", "mn")
_VOWELS = set("aeiouy")
_CLOSE_VOWEL_PAIRS = ({"e", "i"}, {"o", "u"})


def _keyboard_neighbours() -> dict[str, set[str]]:
    pos = {ch: (r, c) for r, row in enumerate(_KEYBOARD_ROWS) for c, ch in enumerate(row)}
    out: dict[str, set[str]] = defaultdict(set)
    for a, (ra, ca) in pos.items():
        for b, (rb, cb) in pos.items():
            if a != b and abs(ra - rb) <= 1 and abs((ca + 0.5 * ra) - (cb + 0.5 * rb)) <= 1:
                out[a].add(b)
    for a, b in _SOUND_ALIKE:
        out[a].add(b)
        out[b].add(a)
    return out


_NEIGHBOURS = _keyboard_neighbours()


def typo_budget(length: int) -> int:
    """Edits tolerated in a token of this length: none up to three letters, where one edit is identity,
    and one careful edit for four (see `_plausible_single_edit`)."""
    if length <= 3:
        return 0
    if length <= 7:
        return 1
    if length <= 11:
        return 2
    return MAX_FUZZY_EDITS


def _plausible_single_edit(a: str, b: str) -> bool:
    """One substitution in a short word is a typo only between neighbouring keys or like sounds; in a
    four-letter word a letter is dropped or added only where it is doubled ("Meggvii"), or where it is
    a final s (a plural, a possessive with its apostrophe lost: "Bank's" / "Bank")."""
    ops = Levenshtein.editops(a, b)
    if len(ops) != 1:
        return True  # via OSA, a transposition
    op = ops[0]
    if op.tag != "replace":
        if min(len(a), len(b)) >= 5 or max(a, b, key=len) == min(a, b, key=len) + "s":
            return True
        longer, pos = (a, op.src_pos) if op.tag == "delete" else (b, op.dest_pos)
        return longer[pos] in longer[max(pos - 1, 0) : pos] + longer[pos + 1 : pos + 2]
    x, y = a[op.src_pos], b[op.dest_pos]
    if y in _NEIGHBOURS.get(x, ()):
        return True
    # any two vowels in a longer word; in a four-letter one the pairs romanisations swap (Musk / Mosk),
    # which from five letters on the close-vowel key finds (`phonetics.close_vowel_key`)
    return x in _VOWELS and y in _VOWELS and (len(a) >= 6 or len(a) == 4 and {x, y} in _CLOSE_VOWEL_PAIRS)


@bounded_cache(maxsize=262144, max_chars=KEYED_CACHE_CHARS)
def token_similarity(alias_token: str, input_token: str, words: bool = True) -> tuple[float, str]:
    """Similarity in [0, 1] of an alias token and an input token, and the rule that decided it.

    Beyond equality: the same word in another romanisation (`phonetics`; only between single words,
    `words`, not across joined ones), then a typo within the budget for the word's length. Never
    between two different known words, places or pinyin words, in either direction ("Xining" is no
    "Xinjiang", "Xinhua" no "Xinhui"), nor between numbers.
    """
    if alias_token == input_token:
        return 1.0, "exact"
    if len(input_token) < 3 or not (alias_token.isalpha() and input_token.isalpha()):
        return 0.0, "none"
    if not (alias_token.isascii() and input_token.isascii()):
        return 0.0, "none"  # a word left in its own script is compared as written
    key = spelling_key(alias_token) if words else ""
    if key and key == spelling_key(input_token):
        return max((SPELLING_SIMILARITY, "spelling variant (romanisation)"), _typo(alias_token, input_token))
    if _other_pinyin(alias_token, input_token):
        return 0.0, "none"
    key = vowel_key(alias_token) if words else ""
    if key and key == vowel_key(input_token):
        # the close-vowel key keeps every consonant and all but the vowels romanisations swap, so it
        # needs no edit limit (Husayn / Hussein are three edits apart); the looser vowel key does
        if close_vowel_key(alias_token) == close_vowel_key(input_token):
            return max((CLOSE_VOWEL_SIMILARITY, "close vowels (romanisation)"), _typo(alias_token, input_token))
        if OSA.distance(alias_token, input_token, score_cutoff=2) <= 2:
            return max((VOWEL_SIMILARITY, "vowels differ (romanisation)"), _typo(alias_token, input_token))
    if _known_other(alias_token, input_token):
        return 0.0, "none"
    typo = _typo(alias_token, input_token)
    key = sound_key(alias_token) if words and typo[0] < SOUND_SIMILARITY else ""
    if key and key == sound_key(input_token) and OSA.distance(alias_token, input_token, score_cutoff=2) <= 2:
        return SOUND_SIMILARITY, "sounds alike (Metaphone)"  # two edits at most: Metaphone drops every vowel
    return typo


@bounded_cache(maxsize=65536, max_chars=KEYED_CACHE_CHARS)
def abjad_similarity(alias_token: str, input_token: str) -> tuple[float, str]:
    """A word transliterated from Arabic, Persian or Hebrew script against a word written in Latin: the
    same name if their consonants agree (`phonetics.consonant_key`); only across those scripts, since
    between two Latin words consonants alone say too little."""
    key = consonant_key(alias_token)
    if key and key == consonant_key(input_token):
        return ABJAD_SIMILARITY, "consonants agree (across scripts)"
    return 0.0, "none"


def _other_pinyin(alias_token: str, input_token: str) -> bool:
    """Two pinyin words of as many syllables are two Chinese names ("Xinhua" / "Xinhui"); a typo that
    breaks the syllables ("Jinangan" for "Jiangnan", "Sheihezi" for "Shihezi") is still a typo.

    Pinyin syllables are long (an initial and a final: "xin", "hua", "jiang"), so a word that spells
    pinyin only with short open syllables ("an-ge-la", "se-re-na", "ne-tan-ya-hu") is a name of
    another language and keeps its typo budget: a word counts as pinyin at PINYIN_LETTERS a syllable.
    """
    n = pinyin_syllables(alias_token)
    return n >= 2 and len(alias_token) >= PINYIN_LETTERS * n and pinyin_syllables(input_token) == n \
        and len(input_token) >= PINYIN_LETTERS * n


def _known_other(alias_token: str, input_token: str) -> bool:
    """Two known words are not typos of each other, in either direction: two places or org words
    ("Xining" / "Xinjiang"), a place and a common word, two common words ("Traders" / "Trainers", see
    `words`). A word that is neither may be a slip for a place on either side ("Chima" for "China",
    "Jorgan" for "Jordan"): the list and the customer file both carry slips. An org word of the input
    ("Technology") is no typo of an alias's other word ("Technologyhk", "Tecnologia"): they weigh
    little, and pairing them only widened every look-up."""
    generic_alias, generic_input = is_generic(alias_token), is_generic(input_token)
    if generic_alias and generic_input:
        # "Technologies" is "Technology"; "Constructors" is no "Construction"
        return not same_word(alias_token, input_token)
    if generic_input and not is_place(input_token):
        return True
    if generic_alias or generic_input:
        other = input_token if generic_alias else alias_token
        return is_frequent_word(other) and not same_word(alias_token, input_token)
    return different_words(alias_token, input_token)


def _typo(alias_token: str, input_token: str) -> tuple[float, str]:
    """A keyboard slip within the budget for the word's length, keeping the first letter."""
    budget = typo_budget(min(len(alias_token), len(input_token)))
    if budget == 0:
        return 0.0, "none"
    if alias_token[0] != input_token[0] and alias_token[:2] != input_token[1::-1]:
        return 0.0, "none"  # a word's first letter is rarely mistyped: "Division" is no "Hikvision"
    edits = OSA.distance(alias_token, input_token, score_cutoff=budget)
    if edits > budget:
        return 0.0, "none"
    if edits == 1 and len(alias_token) <= 7 and not _plausible_single_edit(alias_token, input_token):
        if min(len(alias_token), len(input_token)) >= 5:
            return UNLIKELY_TYPO_SIMILARITY, "unlikely typo (1 edit)"
        return 0.0, "none"
    return 1.0 - 0.5 * edits / len(alias_token), f"typo ({edits} edit{'s' if edits > 1 else ''})"



def _short_given_name(a: str, i: int, a_len: int, q: str, j: int, q_len: int) -> bool:
    """One given name the start of the other, three letters or more and two letters shorter ("Ben" /
    "Benjamin"); given names only (neither word last, where the family name stands: "Lind" is no
    "Lindemann"), neither a known word, and no patronymic ("Oleksandr" is not "Oleksandrovych")."""
    if i == a_len - 1 or j == q_len - 1:
        return False
    short, long = sorted((a, q), key=len)
    return len(short) >= 3 and len(long) >= len(short) + 2 and long.startswith(short) \
        and not is_patronymic(long) and not is_frequent_word(short) and not is_generic(short)


def residue_pairs(
    a_tokens: Sequence[str], a_used: list[bool], q_tokens: Sequence[str], q_used: list[bool], syllables: bool = False
) -> list[tuple[int, int, float, str]]:
    """Left-over words paired loosely, best first: an initial with its name, a word with a similar one.
    With `syllables` (both names in Hangul, each word one syllable read one way), words that differ are
    different syllables, so they pair as near misses at most.

    Only for an alias already half found (RESIDUE_GATE), so a loose pair strengthens a match found by
    the index but never finds one: the index's bound stays exact (see `AliasIndex.candidates`).
    """
    found = []
    last = len(q_tokens) - 1
    # the alias word after the last found, where an input ending on its start was cut short
    after = max((i for i, used in enumerate(a_used) if used), default=-2) + 1 if last and not q_used[last] else -1
    for i, a in enumerate(a_tokens):
        if a_used[i] or a.isdigit():
            continue
        for j, q in enumerate(q_tokens):
            if q_used[j] or q.isdigit():
                continue
            if i == after and j == last > 0 and len(a) > len(q) >= CUT_SHORT_MIN and a.startswith(q):
                # the input ends on the start of the alias's next word: cut at a field's length (SAP's
                # NAME1 holds 35 characters), "Semiconductor Manufacturing Interna"
                found.append((CUT_SHORT_SIMILARITY, i, j, f"{CUT_SHORT_RULE} (the start of the word)"))
                continue
            if len(q) == 1 or len(a) == 1:
                if a[0] == q[0] and len(a) != len(q):
                    found.append((INITIAL_SIMILARITY, i, j, "initial"))
                continue
            if _short_given_name(a, i, len(a_tokens), q, j, len(q_tokens)):
                found.append((SHORT_NAME_SIMILARITY, i, j, "short form of a given name"))
                continue
            if syllables or is_generic(a) or is_generic(q) or _other_pinyin(a, q) or different_words(a, q):
                sim = 0.0  # loose pairs are for names: a known word or place is never loosely another
            else:
                sim = JaroWinkler.similarity(a, q)
            if sim >= RESIDUE_CUTOFF:
                found.append((RESIDUE_SHARE * sim, i, j, f"similar word (Jaro-Winkler {sim:.2f})"))
                continue
            likeness = Indel.normalized_similarity(a, q)
            if likeness >= NEAR_MISS_CUTOFF and not (is_patronymic(a) and is_patronymic(q)):  # two fathers
                # two words that are not one ("Tom" / "Tim", "Motors" / "Mortars") rank the pair above
                # names sharing nothing, but never make it a hit (see scoring.NEAR_MISS_CAP)
                found.append((NEAR_MISS_SHARE * likeness * RESIDUE_SHARE, i, j,
                              f"{NEAR_MISS_RULE}: different words, {likeness:.0%} alike"))
    found.sort(key=lambda f: -f[0])
    out, a_taken, q_taken = [], set(), set()
    for sim, i, j, rule in found:
        if i not in a_taken and j not in q_taken:
            a_taken.add(i)
            q_taken.add(j)
            out.append((i, j, round(sim, 3), rule))
    return out
