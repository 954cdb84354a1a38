"""Content safety: the policy of docs/safety.md as bilingual rules, with obfuscations undone.

:func:`check_text` reads any text; :func:`check_instruction` refuses an instruction
before anything is generated; lyrics generators check every line they write.
"""

from generation.safety.check import (
    POLICY_VERSION,
    LineDecision,
    RefusedInstruction,
    SafetyReport,
    SafetyVerdict,
    check_instruction,
    check_text,
    injection_phrases,
    report_to_dict,
)
from generation.safety.rules import CATEGORIES, CATEGORY_NAMES

__all__ = [
    "CATEGORIES",
    "CATEGORY_NAMES",
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
