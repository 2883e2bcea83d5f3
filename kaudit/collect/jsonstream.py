"""Read a large JSON `List` (what `kubectl get -A -o json` prints) item by item.

`json.loads` of a 700 MB pod dump holds the whole text and every parsed
object at once: several GiB for 150,000 pods. This reads the file in chunks
and decodes one top-level member, or one element of `items`, at a time
with the C decoder (`JSONDecoder.raw_decode`), so only one item is ever in
memory as raw JSON.

It is strict and conservative: anything other than a top-level object with
exactly one `items` array raises `NotStreamable`, and malformed JSON raises
`ValueError`; callers then fall back to `json.loads` of the whole file,
which also gives the precise error message. So streaming never changes what
a file means, only what reading it costs.
"""
from __future__ import annotations

import json
import re
from typing import IO, Any, Iterator

_DECODER = json.JSONDecoder()
_WHITESPACE = re.compile(r"[ \t\n\r]*")
CHUNK = 1 << 22     # characters read at a time


class NotStreamable(ValueError):
    """Valid or not, this document is not a single object with one `items` array."""


class _Buffer:
    def __init__(self, fh: IO[str], chunk: int) -> None:
        self.fh = fh
        self.chunk = chunk
        self.buf = ""
        self.pos = 0
        self.eof = False

    def _fill(self, grow: bool = False) -> None:
        # Growing reads keep a value larger than the chunk from being re-decoded once per chunk.
        size = max(self.chunk, len(self.buf) - self.pos) if grow else self.chunk
        more = self.fh.read(size)
        if not more:
            self.eof = True
        self.buf = self.buf[self.pos:] + more
        self.pos = 0

    def peek(self) -> str:
        """The next non-whitespace character ("" at the end), not consumed."""
        while True:
            self.pos = _WHITESPACE.match(self.buf, self.pos).end()  # type: ignore[union-attr]
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if self.eof:
                return ""
            self._fill()

    def take(self, char: str) -> None:
        if self.peek() != char:
            raise ValueError(f"expected {char!r}")
        self.pos += 1

    def value(self) -> Any:
        self.peek()
        while True:
            try:
                value, end = _DECODER.raw_decode(self.buf, self.pos)
            except RecursionError:          # the decoder recurses per level
                raise ValueError("JSON document is nested too deeply; refused") from None
            except json.JSONDecodeError:
                if self.eof:
                    raise
                self._fill(grow=True)       # the value may continue in the next chunk
                continue
            if end >= len(self.buf) and not self.eof:
                self._fill(grow=True)       # a number cut at the chunk's end would decode short
                continue
            self.pos = end
            return value


def iter_list(fh: IO[str], chunk: int = CHUNK, array: str = "items") -> Iterator[tuple[str, Any, Any]]:
    """Events in file order: ("member", key, value) for top-level members
    other than `array`, and ("item", index, value) for each element of
    `array` (`items` of a Kubernetes List, `results` of a report.json)."""
    b = _Buffer(fh, chunk)
    if b.peek() != "{":
        raise NotStreamable("not a JSON object")
    b.pos += 1
    seen_items = False
    if b.peek() == "}":
        raise NotStreamable("empty object")
    while True:
        key = b.value()
        if not isinstance(key, str):
            raise ValueError("object key is not a string")
        b.take(":")
        if key == array:
            if seen_items:
                raise NotStreamable(f"duplicate {array} member")
            seen_items = True
            if b.peek() != "[":
                raise NotStreamable(f"{array} is not an array")
            b.pos += 1
            if b.peek() == "]":
                b.pos += 1
            else:
                index = 0
                while True:
                    yield "item", index, b.value()
                    index += 1
                    sep = b.peek()
                    b.pos += 1
                    if sep == "]":
                        break
                    if sep != ",":
                        raise ValueError(f"expected ',' or ']' in {array}")
        else:
            yield "member", key, b.value()
        sep = b.peek()
        b.pos += 1
        if sep == "}":
            break
        if sep != ",":
            raise ValueError("expected ',' or '}'")
    if b.peek() != "":
        raise ValueError("extra data after the JSON object")
    if not seen_items:
        raise NotStreamable(f"no {array} member")
