"""The policy's word lists (``lists/en.yaml``, ``lists/zh.yaml``) compiled into matchers.

English rules match the ``words`` view word by word (a ``*`` at a word's end matches any
ending); a pair's gap may hold determiners and adjectives but no preposition or
conjunction, so "burn for them" is not "burn them". Chinese rules match the ``hanzi``
view as substrings, and those of two or more syllables also match typed pinyin; the
``homophones`` also match the pinyin of the characters themselves.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from generation.safety.normalise import TextViews, Word, pinyin_of_words, pypinyin_key, squeeze

__all__ = ["CATEGORIES", "CATEGORY_NAMES", "Hit", "RuleSet", "find_hits", "rules"]

#: The categories of the policy, in the order a refusal names them.
CATEGORIES: tuple[str, ...] = ("hate", "harassment", "sexual", "violence", "self_harm")

#: How a refusal names each category, in English and in Chinese.
CATEGORY_NAMES: dict[str, tuple[str, str]] = {
    "hate": ("hate", "仇恨言论"),
    "harassment": ("harassment", "骚扰与辱骂"),
    "sexual": ("sexual content", "色情内容"),
    "violence": ("violence against people", "针对人的暴力"),
    "self_harm": ("self-harm encouragement", "鼓励自我伤害"),
}

_LISTS = Path(__file__).resolve().parent / "lists"
# Words that end a pair's gap: what follows them is not the verb's object.
_BREAKS = frozenset(
    "for with to like in on at into onto over under by from of as than and or but so "
    "because while when where that who which across through around about near beside "
    "upon off out down up is are was were be will would can could".split()
)
_BARRIER = "|"


@dataclass(frozen=True)
class Hit:
    """A rule that fired: its category, the rule as written, what matched, and how."""

    category: str
    rule: str
    matched: str
    seen_through: tuple[str, ...]


@dataclass(frozen=True)
class _Pair:
    category: str
    first: tuple[tuple[str, ...], ...]
    then: tuple[tuple[str, ...], ...]
    within: int
    text: str


@dataclass(frozen=True)
class RuleSet:
    """One language's compiled rules."""

    terms: tuple[tuple[str, tuple[str, ...]], ...]
    pairs: tuple[_Pair, ...]
    exempt: tuple[tuple[str, ...], ...]
    homophones: tuple[tuple[str, tuple[str, ...]], ...] = ()
    vocabulary: frozenset[str] = frozenset()


@lru_cache(maxsize=2)
def rules(language: str) -> RuleSet:
    """The compiled rules of ``"en"`` or ``"zh"`` (read once from the YAML lists)."""
    if language not in ("en", "zh"):
        raise ValueError(f"language={language!r}; the safety lists are 'en' and 'zh'")
    # libyaml's loader when PyYAML has it: the same safe subset, many times faster.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    data = yaml.load((_LISTS / f"{language}.yaml").read_text(encoding="utf-8"), Loader=loader)
    sets: dict[str, list[str]] = {k: [str(w) for w in v] for k, v in data["sets"].items()}
    split = _split_en if language == "en" else _split_zh

    def expand(phrases: list) -> tuple[tuple[str, ...], ...]:
        out: list[tuple[str, ...]] = []
        for phrase in phrases:
            out.extend(split(p) for p in _expand_sets(str(phrase), sets, language))
        return tuple(dict.fromkeys(out))

    terms: list[tuple[str, tuple[str, ...]]] = []
    pairs: list[_Pair] = []
    homophones: list[tuple[str, tuple[str, ...]]] = []
    for category in CATEGORIES:
        spec = data["categories"].get(category) or {}
        terms.extend((category, phrase) for phrase in expand(spec.get("terms", [])))
        for pair in spec.get("pairs", []):
            text = f"{' | '.join(map(str, pair['first']))} ... {' | '.join(map(str, pair['then']))}"
            pairs.append(
                _Pair(category, expand(pair["first"]), expand(pair["then"]), pair["within"], text)
            )
        homophones.extend((category, tuple(h.split())) for h in spec.get("homophones", []))
    vocabulary = frozenset(
        word.rstrip("*")
        for phrase in (
            [p for _, p in terms] + [p for pair in pairs for p in pair.first + pair.then]
        )
        for word in phrase
    )
    return RuleSet(
        terms=tuple(terms),
        pairs=tuple(pairs),
        exempt=expand(data.get("exempt", [])),
        homophones=tuple(homophones),
        vocabulary=vocabulary | _GLUE,
    )


_GLUE = frozenset("the a an all my your his her them those these some and to of".split())


def _expand_sets(phrase: str, sets: dict[str, list[str]], language: str) -> list[str]:
    match = re.search(r"\$(\w+)", phrase)
    if match is None:
        return [phrase]
    name = match.group(1)
    if name not in sets:
        raise ValueError(f"safety list {language}.yaml: unknown set ${name} in {phrase!r}")
    out = []
    for word in sets[name]:
        filled = phrase[: match.start()] + word + phrase[match.end() :]
        out.extend(_expand_sets(filled, sets, language))
    return out


def _split_en(phrase: str) -> tuple[str, ...]:
    return tuple(phrase.lower().split())


def _split_zh(phrase: str) -> tuple[str, ...]:
    return (phrase,)


# --- matching ----------------------------------------------------------------------------


def find_hits(views: TextViews) -> list[Hit]:
    """Every rule of both languages that fires on a text's views (empty when it is clean)."""
    tokens = _english_tokens(views.words)
    hits = _english_hits(tokens)
    if views.hanzi:
        hits += _chinese_hits(views.hanzi, views.hanzi_undone)
        hits += _homophone_hits(_hanzi_syllables(views.hanzi), ("homophones",))
    # Typed pinyin is read from the words left after the English exemptions ("zisha
    # teapots" is pottery, "zi sha" alone is not).
    typed = pinyin_of_words(tuple(tokens))
    if any(s != _BARRIER for s in typed):
        hits += _pinyin_hits(typed)
        hits += _homophone_hits(typed, ("pinyin",))
    return hits


def _word_matches(word: Word, pattern: str) -> bool:
    if pattern.endswith("*"):
        stem = pattern[:-1]
        if any(a.startswith(stem) for a in word.alternatives):
            return True
        return word.stretched and any(
            squeeze(a).startswith(squeeze(stem)) for a in word.alternatives
        )
    if pattern in word.alternatives:
        return True
    return word.stretched and any(squeeze(a) == squeeze(pattern) for a in word.alternatives)


def _phrase_at(words: list[Word | None], start: int, phrase: tuple[str, ...]) -> bool:
    if start + len(phrase) > len(words):
        return False
    for offset, pattern in enumerate(phrase):
        word = words[start + offset]
        if word is None or not _word_matches(word, pattern):
            return False
    return True


def _english_tokens(words: tuple[Word, ...]) -> list[Word | None]:
    """Words with spelled-out runs ("killcops") split into the rules' words where they can."""
    vocabulary = rules("en").vocabulary
    tokens: list[Word | None] = []
    for word in words:
        if "spacing" in word.undone and word.text not in vocabulary:
            parts = _segment(word.text, vocabulary)
            if parts is not None and len(parts) > 1:
                tokens.extend(Word(p, (p,), word.undone) for p in parts)
                continue
        tokens.append(word)
    return tokens


def _segment(text: str, vocabulary: frozenset[str]) -> tuple[str, ...] | None:
    endings = ("", "s", "ed", "ing", "er", "ers", "es")
    best: list[tuple[str, ...] | None] = [None] * (len(text) + 1)
    best[0] = ()
    for end in range(1, len(text) + 1):
        for start in range(max(0, end - 16), end):
            head = best[start]
            piece = text[start:end]
            if head is None:
                continue
            stems = (piece[: len(piece) - len(e)] for e in endings if piece.endswith(e))
            if any(stem in vocabulary for stem in stems):
                candidate = (*head, piece)
                if best[end] is None or len(candidate) < len(best[end]):  # type: ignore[arg-type]
                    best[end] = candidate
    return best[len(text)]


def _english_hits(tokens: list[Word | None]) -> list[Hit]:
    """English rules over the tokens; exempt phrases are set to None in place."""
    ruleset = rules("en")
    for phrase in ruleset.exempt:
        for start in range(len(tokens)):
            if _phrase_at(tokens, start, phrase):
                for k in range(start, start + len(phrase)):
                    tokens[k] = None
    hits: list[Hit] = []
    for category, phrase in ruleset.terms:
        for start in range(len(tokens)):
            if _phrase_at(tokens, start, phrase):
                matched = tokens[start : start + len(phrase)]
                hits.append(_en_hit(category, " ".join(phrase), matched))
                break
    for pair in ruleset.pairs:
        hit = _english_pair(tokens, pair)
        if hit is not None:
            hits.append(hit)
    return hits


def _english_pair(tokens: list[Word | None], pair: _Pair) -> Hit | None:
    for start in range(len(tokens)):
        for first in pair.first:
            if not _phrase_at(tokens, start, first):
                continue
            end = start + len(first)
            for gap in range(pair.within + 1):
                at = end + gap
                if at >= len(tokens):
                    break
                if gap and (tokens[at - 1] is None or tokens[at - 1].text in _BREAKS):  # type: ignore[union-attr]
                    break
                for then in pair.then:
                    if _phrase_at(tokens, at, then):
                        matched = tokens[start : at + len(then)]
                        return _en_hit(pair.category, pair.text, matched)
    return None


def _en_hit(category: str, rule: str, matched: list[Word | None]) -> Hit:
    words = [w for w in matched if w is not None]
    seen = tuple(dict.fromkeys(u for w in words for u in w.undone))
    return Hit(category, rule, " ".join(w.text for w in words), seen)


def _chinese_hits(hanzi: str, undone: tuple[str, ...]) -> list[Hit]:
    ruleset = rules("zh")
    text = hanzi
    for (phrase,) in ruleset.exempt:
        text = text.replace(phrase, _BARRIER)
    hits: list[Hit] = []
    for category, (term,) in ruleset.terms:
        if term in text:
            hits.append(Hit(category, term, term, undone))
    for pair in ruleset.pairs:
        hit = _chinese_pair(text, pair, undone)
        if hit is not None:
            hits.append(hit)
    return hits


def _chinese_pair(text: str, pair: _Pair, undone: tuple[str, ...]) -> Hit | None:
    for (first,) in pair.first:
        start = text.find(first)
        while start >= 0:
            end = start + len(first)
            window = text[end : end + pair.within + max(len(t) for (t,) in pair.then)]
            window = window.split(_BARRIER, 1)[0]
            for (then,) in pair.then:
                at = window.find(then)
                if 0 <= at <= pair.within:
                    return Hit(pair.category, pair.text, text[start : end + at + len(then)], undone)
            start = text.find(first, start + 1)
    return None


@lru_cache(maxsize=1)
def _pinyin_rules() -> RuleSet:
    """The Chinese rules of two or more syllables, written as pinyin syllables.

    Kept in the cache folder (:mod:`assets.cache`), keyed by the lists and this code:
    pypinyin's import alone took about 0.7 s in every fresh process.
    """
    import hashlib

    from assets.cache import memoised

    lists = hashlib.sha256((_LISTS / "zh.yaml").read_bytes()).hexdigest()
    key = f"{pypinyin_key(__file__)}\nlists {lists}"
    terms, pairs, exempt = memoised("pinyin-rules", key, _pinyin_rule_tuples)
    # marshal gives tuples back as tuples: only the pairs need their class again.
    return RuleSet(terms=terms, pairs=tuple(_Pair(*pair) for pair in pairs), exempt=exempt)


def _pinyin_rule_tuples() -> tuple:
    """What :func:`_pinyin_rules` holds, as the plain tuples the cache can store."""
    zh = rules("zh")

    def syllables(phrase: str) -> tuple[str, ...]:
        return _hanzi_syllables(phrase)

    terms = tuple((category, syllables(term)) for category, (term,) in zh.terms if len(term) >= 2)
    pairs = tuple(
        _Pair(
            pair.category,
            tuple(syllables(f) for (f,) in pair.first if len(f) >= 2),
            tuple(syllables(t) for (t,) in pair.then),
            pair.within,
            pair.text,
        )
        for pair in zh.pairs
    )
    exempt = tuple(syllables(e) for (e,) in zh.exempt)
    return (
        terms,
        tuple((p.category, p.first, p.then, p.within, p.text) for p in pairs),
        exempt,
    )


def _hanzi_syllables(hanzi: str) -> tuple[str, ...]:
    from pypinyin import Style, lazy_pinyin

    out: list[str] = []
    for clause in hanzi.split(_BARRIER):
        if out:
            out.append(_BARRIER)
        out.extend(lazy_pinyin(clause, style=Style.NORMAL, v_to_u=False))
    return tuple(out)


def _find_seq(seq: tuple[str, ...], phrase: tuple[str, ...], start: int = 0) -> int:
    n = len(phrase)
    for i in range(start, len(seq) - n + 1):
        if seq[i : i + n] == phrase:
            return i
    return -1


def _mask_exempt(seq: tuple[str, ...], exempt: tuple[tuple[str, ...], ...]) -> tuple[str, ...]:
    out = list(seq)
    for phrase in exempt:
        at = _find_seq(tuple(out), phrase)
        while at >= 0:
            out[at : at + len(phrase)] = [_BARRIER] * len(phrase)
            at = _find_seq(tuple(out), phrase, at + 1)
    return tuple(out)


def _pinyin_hits(typed: tuple[str, ...]) -> list[Hit]:
    ruleset = _pinyin_rules()
    seq = _mask_exempt(typed, ruleset.exempt)
    hits: list[Hit] = []
    for category, phrase in ruleset.terms:
        if _find_seq(seq, phrase) >= 0:
            hits.append(Hit(category, "".join(phrase), " ".join(phrase), ("pinyin",)))
    for pair in ruleset.pairs:
        for first in pair.first:
            at = _find_seq(seq, first)
            while at >= 0:
                end = at + len(first)
                for then in pair.then:
                    found = _find_seq(seq[: end + pair.within + len(then)], then, end)
                    if found >= 0 and _BARRIER not in seq[end:found]:
                        matched = " ".join(seq[at : found + len(then)])
                        hits.append(Hit(pair.category, pair.text, matched, ("pinyin",)))
                        break
                else:
                    at = _find_seq(seq, first, at + 1)
                    continue
                break
    return hits


def _homophone_hits(seq: tuple[str, ...], seen: tuple[str, ...]) -> list[Hit]:
    hits = []
    for category, phrase in rules("zh").homophones:
        if _find_seq(seq, phrase) >= 0:
            hits.append(Hit(category, " ".join(phrase), " ".join(phrase), seen))
    return hits
