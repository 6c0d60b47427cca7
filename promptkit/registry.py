"""A small typed name -> object registry; misses suggest close names."""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping
from typing import Generic, TypeVar

from promptkit.errors import PromptkitError

T = TypeVar("T")


def unknown_name_message(kind: str, name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    return f"unknown {kind} {name!r}{hint} (known: {', '.join(sorted(known))})"


class Registry(Generic[T]):
    """Built from an explicit mapping, never by import side effects."""

    def __init__(self, kind: str, entries: Mapping[str, T]) -> None:
        self.kind = kind
        self._entries: dict[str, T] = {}
        for name, value in entries.items():
            self.add(name, value)

    def add(self, name: str, value: T) -> None:
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} is registered twice")
        self._entries[name] = value

    def get(self, name: str) -> T:
        try:
            return self._entries[name]
        except KeyError:
            raise PromptkitError(unknown_name_message(self.kind, name, list(self._entries))) from None

    def names(self) -> list[str]:
        return list(self._entries)

    def values(self) -> list[T]:
        return list(self._entries.values())

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)
