"""Lyrics from a local causal language model (transformers format), held to the melody.

The model is prompted with the plan (mood, key, tempo), the themes' words and, per line,
the syllables and the rhyme it must have; never with the user's instruction itself, so
text in it that tries to steer the model ("ignore the rules and write ...") cannot reach
it. Decoding is constrained:

- a logits processor ends the line (forces the newline) once it has the syllables the
  melody's phrase needs, and forbids ending it before;
- the policy's blocked words are suppressed token by token (single tokens always,
  multi-token words once their first tokens are there), and each suppression that took
  the model's likeliest token is counted;
- several lines are sampled; the first with exactly the syllables and the rhyme wins.
  When none rhymes, the model's words keep their syllables and a rhyming end from the
  bank completes the line; when the model wrote too little, the built-in grammar writes it.

Every line then goes through the content policy's output check like any other.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from generation.lyrics.grammar import ChosenLine, bank, choose_line, words_of
from generation.lyrics.phonetics import chinese_final, chinese_rhyme_class, english_word
from generation.lyrics.types import LineSlot
from generation.types import MusicPlan, Style

__all__ = ["LyricsModel", "LyricsModelError", "blocked_word_forms"]

_SAMPLES = 4
_THEME_WORDS = {
    "beach": ("waves", "sand", "evening light", "the sea"),
    "museum": ("stone", "time", "memory", "old halls"),
    "forest": ("trees", "birds", "green light"),
    "night": ("stars", "the moon", "the night"),
    "general": ("light", "the sky", "a song"),
}
_THEME_WORDS_ZH = {
    "beach": ("海浪", "沙滩", "夕阳"),
    "museum": ("石头", "时光", "记忆"),
    "forest": ("树林", "鸟儿", "溪水"),
    "night": ("星星", "月亮", "夜色"),
    "general": ("阳光", "天空", "歌声"),
}
_ENDINGS = ("", "s", "ed", "ing", "er", "ers")


class LyricsModelError(ValueError):
    """A lyrics model folder that cannot be used: the message names the folder and why."""


def blocked_word_forms() -> tuple[str, ...]:
    """Words the lyrics model is kept from producing: the policy's single words and
    violent verbs, English with common endings, Chinese terms as written."""
    from generation.safety.rules import rules

    forms: set[str] = set()
    english = rules("en")
    phrases = [p for _, p in english.terms] + [
        first for pair in english.pairs if pair.category == "violence" for first in pair.first
    ]
    for phrase in phrases:
        if len(phrase) != 1 or "?" in phrase[0]:
            continue
        word = phrase[0]
        if word.endswith("*"):
            forms.update(word[:-1] + ending for ending in _ENDINGS)
        else:
            forms.add(word)
    chinese = rules("zh")
    forms.update(term for _, (term,) in chinese.terms)
    forms.update(
        first for pair in chinese.pairs if pair.category == "violence" for (first,) in pair.first
    )
    return tuple(sorted(f for f in forms if len(f) >= 2 or not f.isascii()))


@dataclass
class _Counters:
    sampled: int = 0
    accepted: int = 0
    repaired: int = 0
    fallback: int = 0
    suppressed: int = 0
    lines: list[str] = field(default_factory=list)


class LyricsModel:
    """A causal LM and its tokenizer from a local folder, writing lyric lines.

    Use :meth:`load`; then :meth:`writer` gives the line writer that
    :func:`generation.lyrics.write_lyrics` calls.
    """

    def __init__(self, folder: Path, model, tokenizer, *, seed: int, device: str) -> None:
        self.folder = folder
        self._model = model
        self._tokenizer = tokenizer
        self._seed = seed
        self._device = device
        self._counts = _Counters()
        self._prompt_head = ""
        self._newline = self._newline_ids()
        self._blocked = self._blocked_sequences()

    @classmethod
    def load(cls, folder: str | Path, *, seed: int) -> LyricsModel:
        """Load a model folder (``config.json``, weights, tokenizer files).

        Raises
        ------
        LyricsModelError
            For a missing folder, a folder without ``config.json`` or a tokenizer, or a
            model that is not a causal language model of text.
        """
        folder = Path(folder)
        if not folder.is_dir():
            raise LyricsModelError(f"--lyrics-model {folder}: no such folder")
        config_path = folder / "config.json"
        if not config_path.is_file():
            raise LyricsModelError(
                f"--lyrics-model {folder}: no config.json; expected a causal language model "
                "saved by transformers' save_pretrained"
            )
        try:
            model_type = json.loads(config_path.read_text(encoding="utf-8")).get("model_type")
        except json.JSONDecodeError as error:
            raise LyricsModelError(f"--lyrics-model {folder}: config.json: {error}") from None
        from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

        if model_type not in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES or model_type.startswith("musicgen"):
            raise LyricsModelError(
                f"--lyrics-model {folder}: model_type {model_type!r} is not a causal language "
                "model of text (e.g. gpt2, llama, qwen2)"
            )
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        tokenizer_files = (
            "tokenizer.json",
            "tokenizer_config.json",
            "tokenizer.model",
            "vocab.json",
        )
        if not any((folder / name).is_file() for name in tokenizer_files):
            raise LyricsModelError(
                f"--lyrics-model {folder}: no usable tokenizer (none of "
                f"{', '.join(tokenizer_files)})"
            )
        try:
            tokenizer = AutoTokenizer.from_pretrained(folder)
        except (OSError, ValueError) as error:
            raise LyricsModelError(
                f"--lyrics-model {folder}: no usable tokenizer ({error})"
            ) from None
        device = "cuda" if torch.cuda.is_available() else "cpu"
        dtype = torch.float16 if device == "cuda" else torch.float32
        try:
            model = AutoModelForCausalLM.from_pretrained(folder, dtype=dtype)
        except OSError as error:
            raise LyricsModelError(f"--lyrics-model {folder}: {error}") from None
        model = model.to(device).eval()
        return cls(folder, model, tokenizer, seed=seed, device=device)

    @property
    def suppressed_words(self) -> int:
        """Decoding steps at which a blocked word's token was the model's likeliest."""
        return self._counts.suppressed

    def record(self) -> dict:
        """plan.json's record of the model and of how its lines were held to the melody."""
        parameters = sum(p.numel() for p in self._model.parameters())
        return {
            "folder": str(self.folder.resolve()),
            "model_type": self._model.config.model_type,
            "parameters": int(parameters),
            "device": self._device,
            "prompt": self._prompt_head,
            "decoding": {
                "sampling": "top-k 40, temperature 0.9",
                "samples_per_line": _SAMPLES,
                "line_end": "forced once the line has its syllables",
                "blocked_words": len(self._blocked),
            },
            "lines_sampled": self._counts.sampled,
            "lines_as_sampled": self._counts.accepted,
            "lines_with_a_rhyming_end_from_the_bank": self._counts.repaired,
            "lines_by_the_built_in_grammar": self._counts.fallback,
        }

    def writer(self, plan: MusicPlan, style: Style):
        """A factory of line writers for :func:`~generation.lyrics.write_lyrics`."""

        def make(language: str, themes: tuple[str, ...], rng: np.random.Generator):
            self._prompt_head = _prompt_head(plan, style, themes, language)

            def write(
                slot: LineSlot, rhyme: str | None, used: frozenset[str], rejected: frozenset[str]
            ) -> ChosenLine | None:
                return self._line(slot, rhyme, used, rejected, language, themes, rng)

            return write

        return make

    # --- decoding ------------------------------------------------------------------------

    def _line(
        self,
        slot: LineSlot,
        rhyme: str | None,
        used: frozenset[str],
        rejected: frozenset[str],
        language: str,
        themes: tuple[str, ...],
        rng: np.random.Generator,
    ) -> ChosenLine | None:
        import torch

        target = len(slot.notes)
        prompt = (
            self._prompt_head
            + "".join(line + "\n" for line in self._counts.lines[-2:])
            + _line_request(target, rhyme, language)
        )
        ids = self._tokenizer(prompt, return_tensors="pt").input_ids.to(self._device)
        processor = _LineProcessor(
            self._tokenizer, ids.shape[1], target, language, self._newline, self._blocked
        )
        torch.manual_seed(int(rng.integers(2**31)))
        with torch.no_grad():
            out = self._model.generate(
                ids,
                attention_mask=torch.ones_like(ids),
                do_sample=True,
                top_k=40,
                temperature=0.9,
                num_return_sequences=_SAMPLES,
                max_new_tokens=4 * target + 4,
                logits_processor=[processor],
                pad_token_id=self._tokenizer.pad_token_id
                if self._tokenizer.pad_token_id is not None
                else self._newline[0],
            )
        self._counts.suppressed += processor.suppressed
        texts = [
            self._tokenizer.decode(row[ids.shape[1] :], skip_special_tokens=True).split("\n")[0]
            for row in out
        ]
        self._counts.sampled += len(texts)
        cleaned = [_clean(t, language) for t in texts]
        for text in cleaned:
            if text and text not in rejected and _fits(text, target, rhyme, used, language):
                self._counts.accepted += 1
                return self._keep(text, language)
        for text in cleaned:
            repaired = _with_rhyming_end(text, target, rhyme, used, language, themes)
            if repaired is not None and repaired not in rejected:
                self._counts.repaired += 1
                return self._keep(repaired, language)
        self._counts.fallback += 1
        chosen = choose_line(
            language=language,
            themes=themes,
            syllables=target,
            strong=slot.strong,
            rhyme=rhyme,
            used_ends=used,
            rng=rng,
            reject=rejected,
        )
        if chosen is not None:
            self._counts.lines.append(chosen.text)
        return chosen

    def _keep(self, text: str, language: str) -> ChosenLine:
        self._counts.lines.append(text)
        return ChosenLine((), text, _rhyme_of(text, language), 0.0)

    def _newline_ids(self) -> tuple[int, ...]:
        ids = self._tokenizer("\n", add_special_tokens=False).input_ids
        newline = tuple(ids[-1:]) if ids else ()
        eos = self._tokenizer.eos_token_id
        return newline + ((eos,) if eos is not None and eos not in newline else ())

    def _blocked_sequences(self) -> tuple[tuple[int, ...], ...]:
        unknown = self._tokenizer.unk_token_id
        sequences: set[tuple[int, ...]] = set()
        for word in blocked_word_forms():
            variants = (word, " " + word) if word.isascii() else (word,)
            if word.isascii():
                variants += (word.capitalize(), " " + word.capitalize())
            for variant in variants:
                ids = tuple(self._tokenizer(variant, add_special_tokens=False).input_ids)
                if ids and unknown not in ids:
                    sequences.add(ids)
        return tuple(sorted(sequences))


class _LineProcessor:
    """Ends a line at its syllable count and suppresses blocked words while decoding."""

    def __init__(
        self,
        tokenizer,
        prompt_length: int,
        syllables: int,
        language: str,
        newline: tuple[int, ...],
        blocked: tuple[tuple[int, ...], ...],
    ) -> None:
        self._tokenizer = tokenizer
        self._start = prompt_length
        self._syllables = syllables
        self._language = language
        self._newline = list(newline)
        self._single = sorted({seq[0] for seq in blocked if len(seq) == 1})
        # A multi-token word's last token is banned once its first tokens are there.
        self._after: dict[tuple[int, ...], list[int]] = {}
        for seq in blocked:
            if len(seq) > 1:
                self._after.setdefault(tuple(seq[:-1]), []).append(seq[-1])
        self._prefix_lengths = sorted({len(prefix) for prefix in self._after})
        self.suppressed = 0

    def __call__(self, input_ids, scores):
        import torch

        scores = scores.clone()
        for row in range(input_ids.shape[0]):
            generated = input_ids[row, self._start :].tolist()
            banned = list(self._single)
            for k in self._prefix_lengths:
                if len(generated) >= k:
                    banned.extend(self._after.get(tuple(generated[len(generated) - k :]), ()))
            if banned:
                if int(torch.argmax(scores[row])) in banned:
                    self.suppressed += 1
                scores[row, banned] = -float("inf")
            text = self._tokenizer.decode(generated, skip_special_tokens=True)
            count = _count(text, self._language)
            if count >= self._syllables:
                keep = scores[row, self._newline].clone()
                scores[row, :] = -float("inf")
                scores[row, self._newline] = keep if torch.isfinite(keep).any() else 0.0
            else:
                scores[row, self._newline] = -float("inf")
        return scores


def _count(text: str, language: str) -> int:
    return (
        sum(english_word(w).syllables for w in words_of(text, "en"))
        if language == "en"
        else (len(words_of(text, "zh")))
    )


def _clean(text: str, language: str) -> str:
    words = words_of(text, language)
    if language == "zh":
        return "".join(words)
    return " ".join(words)


def _rhyme_of(text: str, language: str) -> str:
    words = words_of(text, language)
    if not words:
        return ""
    if language == "en":
        return english_word(words[-1]).rhyme
    return chinese_rhyme_class(chinese_final(words[-1], context="".join(words)))


def _fits(text: str, target: int, rhyme: str | None, used: frozenset[str], language: str) -> bool:
    words = words_of(text, language)
    if _count(text, language) != target or not words:
        return False
    if words[-1].lower() in used:
        return False
    return rhyme is None or _rhyme_of(text, language) == rhyme


def _with_rhyming_end(
    text: str,
    target: int,
    rhyme: str | None,
    used: frozenset[str],
    language: str,
    themes: tuple[str, ...],
) -> str | None:
    """The model's first words, as many as fit, and a rhyming end from the bank."""
    words = words_of(text, language)
    counts = [english_word(w).syllables if language == "en" else 1 for w in words]
    prefix_syllables = np.cumsum([0, *counts])
    best: tuple[int, str] | None = None
    for end in bank(language).ends:
        if end.theme not in themes or end.last in used:
            continue
        if rhyme is not None and end.rhyme != rhyme:
            continue
        need = target - end.syllables
        if need <= 0:
            continue
        hits = np.nonzero(prefix_syllables == need)[0]
        if hits.size and (best is None or need > best[0]):
            kept = words[: int(hits[0])]
            joined = " ".join([*kept, end.text]) if language == "en" else "".join(kept) + end.text
            best = (need, joined)
    return None if best is None else best[1]


def _prompt_head(plan: MusicPlan, style: Style, themes: tuple[str, ...], language: str) -> str:
    mood = (
        "cheerful"
        if style.valence > 0.2
        else "wistful"
        if style.valence < -0.2
        else "calm"
        if style.arousal < 0
        else "warm"
    )
    if language == "zh":
        words = "、".join(w for t in themes for w in _THEME_WORDS_ZH.get(t, ()))
        mood_zh = {"cheerful": "欢快", "wistful": "忧伤", "calm": "安静", "warm": "温暖"}[mood]
        return (
            f"一首{mood_zh}的歌的歌词，{plan.key}，每分钟{plan.tempo_bpm:.0f}拍。主题：{words}。\n"
        )
    words = ", ".join(w for t in themes for w in _THEME_WORDS.get(t, ()))
    return f"Lyrics of a {mood} song in {plan.key} at {plan.tempo_bpm:.0f} bpm, about {words}.\n"


def _line_request(target: int, rhyme: str | None, language: str) -> str:
    if language == "zh":
        return f"（{target}个字" + (f"，押{rhyme}辙" if rhyme else "") + "）"
    return f"({target} syllables" + (f", rhyming on {rhyme}" if rhyme else "") + ") "
