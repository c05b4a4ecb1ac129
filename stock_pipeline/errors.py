"""An exception as the one line a user reads: its own message, then each cause it was
raised from (or while handling), outermost first, so that the context an outer message
adds (which ticker, file, line or entry) and the cause it wraps both survive:
``reading /x/AAPL.csv line 12: could not convert string to float: 'abc'``.

Used wherever a step turns a failure into the text of a failed ticker or date. No Dagster
and nothing of the pipeline here."""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Iterator
from typing import Any

#: Errors whose text is written to be read on its own (this project's input and data
#: errors are ValueErrors, a file's are OSErrors); any other shows its type, which its
#: text may need (``KeyError: 'close'``, ``ZeroDivisionError: division by zero``).
MESSAGE_ERRORS: tuple[type[BaseException], ...] = (ValueError, OSError)


def error_text(exc: BaseException) -> str:
    """``exc`` and its chain of causes on one line (see the module docstring)."""
    messages: list[str] = []
    for error in _chain(exc):
        # an outer message that says ``cannot read {path}: Permission denied`` has said
        # all of the OSError it wraps (``[Errno 13] Permission denied: '{path}'``)
        said = isinstance(error, OSError) and error.strerror
        if said and any(str(error.strerror) in outer for outer in messages):
            continue
        messages.append(_own_text(error))
    return join_messages(messages)


def error_info_text(info: Any) -> str:
    """The same line from Dagster's record of a step's exception (a
    ``SerializableErrorInfo``: ``message``, ``cls_name``, ``cause``, ``context``), without
    Dagster's own wrapping of it ("Error occurred while executing op ...")."""
    messages: list[str] = []
    seen: set[int] = set()
    while info is not None and id(info) not in seen:
        seen.add(id(info))
        if not info.message.startswith("dagster."):
            messages.append(_recorded_text(info.cls_name, info.message))
        info = info.cause or info.context  # Dagster records no context the code suppressed
    return join_messages(messages)


def join_messages(messages: Iterable[str]) -> str:
    """Messages outermost first, joined by ``": "``, each on one line; a message already
    contained in an outer one (``f"cannot read {path}: {exc}"``) is left out."""
    kept: list[str] = []
    for message in messages:
        line = " ".join(message.split())
        if line and not any(line in outer for outer in kept):
            kept.append(line)
    return ": ".join(kept)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc``, then what it was raised from (``__cause__``) or, unless that was
    suppressed (``raise ... from None``), what it was raised while handling."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        implicit = None if current.__suppress_context__ else current.__context__
        current = current.__cause__ or implicit


def _recorded_text(cls_name: str, message: str) -> str:
    """A recorded ``"module.Type: text"`` as ``_own_text`` shows the live exception; only
    a builtin's type is known here, so the project's own errors read as their text."""
    text = message.strip().partition(": ")[2]
    builtin = getattr(builtins, cls_name, None)
    known = isinstance(builtin, type) and issubclass(builtin, BaseException)
    if (known and not issubclass(builtin, MESSAGE_ERRORS)) or not text:
        return f"{cls_name}: {text}" if text else cls_name
    return text


def _own_text(exc: BaseException) -> str:
    text = str(exc)
    if isinstance(exc, MESSAGE_ERRORS) and text.strip():
        return text
    return f"{type(exc).__name__}: {text}" if text.strip() else type(exc).__name__
