"""Instruction -> Style (S): what the words ask for, with the words that asked for it.

Traditional Chinese is first converted to Simplified (OpenCC), then Chinese is segmented
with jieba (the lexicon's words are added to its dictionary so that "海浪声" stays one
word; :mod:`generation.jieba_dictionary` keeps that dictionary on disk, and jieba is
loaded only for text with Chinese characters); English is split into lower-case word
tokens. Degree words ("very", "有点") scale the next content word, negations ("not", "不要")
flip and damp it. Explicit values ("at 90 bpm", "每分钟90拍", "in D minor", "A小调", "3/4")
are read by patterns first. An English word outside the lexicon is matched by meaning to
the nearest instrument, genre, place or ambience word when the optional embedding model
is installed (:mod:`generation.embedding`); failing that, a word of either language may
borrow a mood (:mod:`generation.mood_fallback`: VADER's valence ratings, the characters
of a Chinese word); a word still unmatched is reported, never fatal.
"""

from __future__ import annotations

import re
from functools import lru_cache

from generation.embedding import nearest_topic_word
from generation.lexicon import (
    DEGREE_WORDS,
    LEXICON,
    NEGATION_WORDS,
    PLACE_AMBIENCE,
    STOP_WORDS,
    TEMPO_WORDS,
)
from generation.mood_fallback import is_rated_compound, mood_of_unknown_word
from generation.types import Evidence, Style

__all__ = ["understand"]

# A negated word's effect is flipped and halved: "not too fast" leans slower, it does not
# ask for "slow".
_NEGATION_FACTOR = -0.5
# How many tokens after a negation or degree word it still applies to ("not too fast").
_MODIFIER_REACH = 3

_CJK = re.compile(r"[\u4e00-\u9fff]")
_LATIN = re.compile(r"[A-Za-z]")
_TOKEN = re.compile(r"[\u4e00-\u9fff]+|[A-Za-z][A-Za-z'#]*(?:-[A-Za-z]+)*|\d+(?:\.\d+)?")

_BPM_PATTERNS = (
    re.compile(r"(\d{2,3}(?:\.\d+)?)\s*(?:bpm|beats per minute)", re.I),
    re.compile(r"每分钟\s*(\d{2,3})\s*拍"),
    re.compile(r"(\d{2,3})\s*拍每分钟"),
)
_KEY_EN = re.compile(
    r"\b(?:in\s+)?([A-G])\s*(#|b|sharp|flat)?\s+(major|minor|dorian|mixolydian|phrygian)\b",
    re.I,
)
_KEY_ZH = re.compile(r"([A-G])\s*(#|b)?\s*(大调|小调)")
_METER = re.compile(r"\b([2-7])\s*/\s*(4|8)\b")
_MIN_BPM, _MAX_BPM = 30.0, 240.0
# jieba's tags of place names (ns) and place words (s).
_PLACE_TAGS = frozenset({"ns", "s"})
# The lexicon's Chinese place words, longest first, to find inside an unknown place name.
_CHINESE_PLACES = tuple(
    sorted(
        (w for w, e in LEXICON.items() if "place" in e and _CJK.search(w)), key=len, reverse=True
    )
)


def understand(instruction: str) -> Style:
    """Read an instruction in English, Chinese or both into a :class:`Style`.

    Parameters
    ----------
    instruction
        What the user asked for, e.g. ``"在海滩上播放一首轻快的音乐"``.

    Returns
    -------
    Style
        Valence and arousal in [-1, 1], tempo tendency, explicit values, instruments, place
        and ambience tags, the evidence, and the words it did not know.

    Raises
    ------
    ValueError
        When the instruction has no words.
    """
    if not isinstance(instruction, str) or not instruction.strip():
        raise ValueError(f"instruction: got {instruction!r}; must contain words")
    text = _simplified(instruction.strip())
    evidence: list[Evidence] = []
    explicit = _explicit_values(text, evidence)

    totals = {"valence": 0.0, "arousal": 0.0, "tempo": 0.0}
    # Single values: explicit patterns first, then the first word that sets one wins.
    single: dict[str, object] = {"mode": explicit["mode"], "meter": explicit["meter"]}
    # Lists: every word adds its value once.
    collected: dict[str, list[str]] = {"instrument": [], "place": [], "ambience": []}
    unknown: list[str] = []
    wants_drums = False
    tempo_named = explicit["tempo_bpm"] is not None
    # A degree or negation word waits for the next known word, for a few tokens at most.
    scale, reach = 1.0, 0
    for token, tag in _tagged_tokens(text):
        if token in NEGATION_WORDS or token in DEGREE_WORDS:
            factor = _NEGATION_FACTOR if token in NEGATION_WORDS else DEGREE_WORDS[token]
            scale, reach = scale * factor, _MODIFIER_REACH
            continue
        effects = LEXICON.get(token)
        reach -= 1
        if effects is None and _is_content_word(token) and not _CJK.search(token):
            match = nearest_topic_word(token)
            if match is not None:
                effects = LEXICON[match[0]]
                evidence.append(Evidence(token, "nearest word", f"{match[0]} ({match[1]:.2f})"))
        if effects is None and tag in _PLACE_TAGS and len(token) >= 2:
            # A place the lexicon does not know (西湖, 故宫博物院) is still a place: the
            # known place inside its name if there is one, else the name itself.
            known = next((p for p in _CHINESE_PLACES if p in token), None)
            effects = dict(LEXICON[known]) if known else {"place": token}
            evidence.append(
                Evidence(token, "place word", f"jieba {tag}" + (f": {known}" if known else ""))
            )
        if effects is None and _is_content_word(token):
            borrowed = mood_of_unknown_word(token)
            if borrowed is not None:
                effects = borrowed.effects()
                evidence.append(Evidence(token, "borrowed mood", borrowed.because))
        if effects is None:
            if _is_content_word(token):
                unknown.append(token)
            if reach <= 0:
                scale = 1.0
            continue
        for attribute in ("valence", "arousal", "tempo"):
            if attribute in effects:
                delta = float(effects[attribute]) * scale  # type: ignore[arg-type]
                if delta != 0.0:
                    totals[attribute] += delta
                    evidence.append(Evidence(token, attribute, round(delta, 3)))
        # "not too fast" caps the tempo rather than naming one: the room may still slow it.
        tempo_named = tempo_named or (token in TEMPO_WORDS and scale > 0)
        for attribute in ("genre", "mode", "meter", "swing"):
            if attribute in effects and single.get(attribute) is None:
                single[attribute] = effects[attribute]
                evidence.append(Evidence(token, attribute, _shown(effects[attribute])))
        for attribute, values in collected.items():
            value = effects.get(attribute)
            if value is not None and value not in values:
                values.append(str(value))
                evidence.append(Evidence(token, attribute, str(value)))
        if effects.get("drums"):
            wants_drums = True
            evidence.append(Evidence(token, "drums", "yes"))
        scale, reach = 1.0, 0
    places, ambiences = collected["place"], collected["ambience"]
    for place in places:
        ambience = PLACE_AMBIENCE.get(place)
        if ambience is not None and ambience not in ambiences:
            ambiences.append(ambience)
            evidence.append(Evidence(place, "ambience", ambience))
    instruments = collected["instrument"] + (["drums"] if wants_drums else [])
    return Style(
        instruction=instruction,
        language=_language(text),
        valence=_clip(totals["valence"]),
        arousal=_clip(totals["arousal"]),
        tempo_tendency=_clip(totals["tempo"]),
        tempo_named=tempo_named,
        tempo_bpm=explicit["tempo_bpm"],
        key_tonic=explicit["key_tonic"],
        mode=single["mode"],  # type: ignore[arg-type]
        meter=single["meter"],  # type: ignore[arg-type]
        genre=single.get("genre"),  # type: ignore[arg-type]
        swing=float(single.get("swing") or 0.0),  # type: ignore[arg-type]
        instruments=tuple(instruments),
        place_tags=tuple(places),
        ambience_tags=tuple(ambiences),
        evidence=tuple(evidence),
        unknown_words=tuple(dict.fromkeys(unknown)),
    )


def _shown(value: object) -> str | float:
    """A value as evidence shows it: a metre as "3/4", numbers as numbers."""
    if isinstance(value, tuple):
        return "/".join(str(part) for part in value)
    return value if isinstance(value, float) else str(value)


def _explicit_values(text: str, evidence: list[Evidence]) -> dict:
    found: dict = {"tempo_bpm": None, "key_tonic": None, "mode": None, "meter": None}
    for pattern in _BPM_PATTERNS:
        match = pattern.search(text)
        if match:
            bpm = float(match.group(1))
            if _MIN_BPM <= bpm <= _MAX_BPM:
                found["tempo_bpm"] = bpm
                evidence.append(Evidence(match.group(0), "tempo_bpm", bpm))
            break
    match = _KEY_EN.search(text)
    if match:
        accidental = {"sharp": "#", "flat": "b"}.get((match.group(2) or "").lower(), match.group(2))
        found["key_tonic"] = match.group(1).upper() + (accidental or "")
        found["mode"] = match.group(3).lower()
    else:
        match = _KEY_ZH.search(text)
        if match:
            found["key_tonic"] = match.group(1).upper() + (match.group(2) or "")
            found["mode"] = "major" if match.group(3) == "大调" else "minor"
    if found["key_tonic"] is not None and match is not None:
        evidence.append(Evidence(match.group(0), "key", f"{found['key_tonic']} {found['mode']}"))
    match = _METER.search(text)
    if match:
        found["meter"] = (int(match.group(1)), int(match.group(2)))
        evidence.append(Evidence(match.group(0), "meter", match.group(0).replace(" ", "")))
    return found


def _tokens(text: str) -> list[str]:
    return [word for word, _ in _tagged_tokens(text)]


def _tagged_tokens(text: str) -> list[tuple[str, str]]:
    """Tokens with jieba's part-of-speech tag for Chinese words ("" for the others)."""
    tokens: list[tuple[str, str]] = []
    for chunk in _TOKEN.findall(text):
        if _CJK.match(chunk):
            tokens.extend((w.word, w.flag) for w in _jieba_tagger().lcut(chunk) if w.word.strip())
        else:
            tokens.extend((word, "") for word in _english_words(chunk))
    return tokens


def _english_words(chunk: str) -> list[str]:
    """Lower-case words of a Latin chunk; a hyphenated one whole only when VADER rates it."""
    word = chunk.lower()
    if "-" in word and not is_rated_compound(word):
        return [form for part in word.split("-") for form in _english_forms(part)]
    return _english_forms(word)


def _english_forms(word: str) -> list[str]:
    """A word, or its stem when only the stem is known ("waves" -> "wave", "calmly")."""
    if word in LEXICON or word in DEGREE_WORDS or word in NEGATION_WORDS:
        return [word]
    for suffix in ("ly", "s", "es", "ed", "ing"):
        stem = word[: -len(suffix)]
        if word.endswith(suffix) and stem in LEXICON:
            return [stem]
    return [word]


def _simplified(text: str) -> str:
    """Traditional characters to Simplified, so one lexicon serves both scripts."""
    return _opencc().convert(text) if _CJK.search(text) else text


@lru_cache(maxsize=1)
def _opencc():  # an opencc.OpenCC converter, built once
    import opencc

    return opencc.OpenCC("t2s")


@lru_cache(maxsize=1)
def _jieba_tagger():  # jieba.posseg on the dictionary that knows the lexicon's words
    from generation.jieba_dictionary import load_tagger

    words = [w for w in (*LEXICON, *DEGREE_WORDS, *NEGATION_WORDS) if _CJK.search(w)]
    # Longest first with a high frequency, so "海浪声" is kept whole and "不要" is one token.
    posseg, _ = load_tagger(sorted(words, key=len, reverse=True), freq=200_000)
    return posseg


def _is_content_word(token: str) -> bool:
    if token in STOP_WORDS or token.isdigit() or (len(token) < 2 and not _CJK.match(token)):
        return False
    return bool(_CJK.search(token) or _LATIN.search(token))


def _language(text: str) -> str:
    has_cjk, has_latin = bool(_CJK.search(text)), bool(_LATIN.search(text))
    if has_cjk and has_latin:
        return "mixed"
    return "zh" if has_cjk else "en"


def _clip(value: float) -> float:
    return round(max(-1.0, min(1.0, value)), 3)
