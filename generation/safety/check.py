"""The checks of the content policy (docs/safety.md): instructions before, lyrics after.

An instruction that the rules refuse stops the piece before anything is generated
(:class:`RefusedInstruction`, which the command line turns into exit status 3). A line of
lyrics that they refuse is replaced by its generator and checked again; the decisions are
kept in a :class:`SafetyReport` that ``plan.json`` records. Text in the instruction that
tries to talk the lyrics model out of the rules ("ignore the rules and ...") is noted and
changes nothing: the instruction never reaches a model verbatim, and the output check
always runs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from generation.safety.normalise import to_views
from generation.safety.rules import CATEGORIES, CATEGORY_NAMES, Hit, find_hits

__all__ = [
    "POLICY_VERSION",
    "LineDecision",
    "RefusedInstruction",
    "SafetyReport",
    "SafetyVerdict",
    "check_instruction",
    "check_text",
    "injection_phrases",
    "report_to_dict",
]

#: Bumped whenever the lists or rules change what they refuse.
POLICY_VERSION = 1

_INJECTION = (
    re.compile(
        r"\b(ignore|disregard|forget|bypass|override|skip)\b[^.!?\n]{0,30}?"
        r"\b(rules?|instructions?|filters?|polic(y|ies)|guidelines?|safety|restrictions?|limits?)\b",
        re.I,
    ),
    re.compile(r"\b(jailbreak|developer mode|no restrictions|without (any )?filters?)\b", re.I),
    re.compile(
        r"(忽略|无视|忘记|不要管|不用管|绕过|跳过)[^。！？\n]{0,10}?(规则|指令|限制|要求|规定|过滤|安全)"
    ),
)


@dataclass(frozen=True)
class SafetyVerdict:
    """The outcome of checking one text.

    Attributes
    ----------
    allowed
        False when a rule of the policy fired.
    category
        The first category that fired (in :data:`~generation.safety.rules.CATEGORIES`
        order), or None.
    hits
        Every rule that fired.
    """

    allowed: bool
    category: str | None = None
    hits: tuple[Hit, ...] = ()

    def reason(self) -> str:
        """One line for a person: the category in both languages and what matched."""
        if self.allowed or self.category is None:
            return "allowed"
        english, chinese = CATEGORY_NAMES[self.category]
        hit = next(h for h in self.hits if h.category == self.category)
        seen = f" (seen through {', '.join(hit.seen_through)})" if hit.seen_through else ""
        return f"{english} / {chinese}: matched {hit.matched!r}{seen}"


class RefusedInstruction(ValueError):
    """An instruction asks for what the policy refuses; nothing was generated.

    Attributes
    ----------
    verdict
        The verdict, naming the category.
    """

    def __init__(self, verdict: SafetyVerdict) -> None:
        self.verdict = verdict
        super().__init__(
            f"the instruction is refused by the content policy: {verdict.reason()}; "
            "see docs/safety.md"
        )


@dataclass(frozen=True)
class LineDecision:
    """What the output check did with one line of lyrics that it refused."""

    line: int
    category: str
    matched: str
    action: str  # "replaced" or "dropped"


@dataclass(frozen=True)
class SafetyReport:
    """The safety decisions of one piece, as plan.json records them."""

    instruction: SafetyVerdict
    injection: tuple[str, ...] = ()
    lyrics_checked: int = 0
    lyrics_decisions: tuple[LineDecision, ...] = field(default=())
    suppressed_words: int = 0


def check_text(text: str) -> SafetyVerdict:
    """Check any text against the policy, in either language or both.

    Parameters
    ----------
    text
        An instruction or a line of lyrics.

    Returns
    -------
    SafetyVerdict
        ``allowed`` False when a rule fired, with the category and the matches.
    """
    hits = find_hits(to_views(text))
    if not hits:
        return SafetyVerdict(True)
    order = {c: i for i, c in enumerate(CATEGORIES)}
    hits.sort(key=lambda h: order[h.category])
    return SafetyVerdict(False, hits[0].category, tuple(hits))


def check_instruction(instruction: str) -> SafetyReport:
    """Check an instruction before anything is generated.

    Returns
    -------
    SafetyReport
        With the verdict and any prompt-injection phrases found (noted, ignored).

    Raises
    ------
    RefusedInstruction
        When the policy refuses the instruction; its message names the category.
    """
    verdict = check_text(instruction)
    if not verdict.allowed:
        raise RefusedInstruction(verdict)
    return SafetyReport(instruction=verdict, injection=injection_phrases(instruction))


def injection_phrases(text: str) -> tuple[str, ...]:
    """Phrases that try to steer a model past the rules ("ignore the rules", "忽略规则")."""
    found = []
    for pattern in _INJECTION:
        found.extend(m.group(0) for m in pattern.finditer(text))
    return tuple(found)


def report_to_dict(report: SafetyReport) -> dict:
    """plan.json's ``safety`` entry."""
    return {
        "policy": "docs/safety.md",
        "policy_version": POLICY_VERSION,
        "instruction": {
            "decision": "allowed" if report.instruction.allowed else "refused",
            "category": report.instruction.category,
        },
        "prompt_injection": {
            "found": list(report.injection),
            "effect": "none: the instruction never reaches a model verbatim and the output "
            "check always runs",
        }
        if report.injection
        else None,
        "lyrics": {
            "lines_checked": report.lyrics_checked,
            "lines_refused": len(report.lyrics_decisions),
            "decisions": [
                {
                    "line": d.line,
                    "category": d.category,
                    "matched": d.matched,
                    "action": d.action,
                }
                for d in report.lyrics_decisions
            ],
            "blocked_words_suppressed_in_decoding": report.suppressed_words,
        },
    }
