"""The error a user sees for a bad scene or bad input: one line naming file, field and value."""

from __future__ import annotations

from pathlib import Path

__all__ = ["SceneError"]


class SceneError(ValueError):
    """A user's input is wrong.

    The message reads ``FILE: FIELD: got VALUE; ALLOWED`` so that the command line can print
    it as one line and exit with status 2.

    Parameters
    ----------
    problem
        What is allowed, or what went wrong (e.g. ``"must be a positive number of metres"``).
    file
        The file the value came from, when there is one.
    field
        Dotted path of the field (e.g. ``"room.size[2]"``).
    value
        The offending value, as given.
    """

    def __init__(
        self,
        problem: str,
        *,
        file: str | Path | None = None,
        field: str | None = None,
        value: object = None,
    ) -> None:
        self.problem = problem
        self.file = None if file is None else str(file)
        self.field = field
        self.value = value
        parts = []
        if self.file is not None:
            parts.append(self.file)
        if field is not None:
            parts.append(field)
        head = ": ".join(parts)
        shown = "" if value is None else f"got {value!r}; "
        message = f"{head}: {shown}{problem}" if head else f"{shown}{problem}"
        super().__init__(message.replace("\n", " "))
