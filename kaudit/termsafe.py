"""The one sanitiser for text kaudit prints to a terminal.

Cluster strings (object names, flag values, evidence, error messages that
quote them) reach stdout (the summary) and stderr (the progress line, error
lines). A Node named `\\x1b]0;title\\x07` would retitle the operator's window,
`\\x1b[2J` would clear it, OSC 8 would plant a hyperlink, and a newline or
U+2028 in a flag value could forge a whole extra `Score: 100.0%` line. So every
character that is not plain printable text is shown as an escape instead:

- C0 controls (including tab, CR and newline), DEL and the C1 controls
  (U+0080-U+009F: NEL and the 8-bit CSI/OSC/DCS introducers). Escaping ESC
  itself disarms every ESC sequence (CSI, OSC, DCS, ...): what follows it is
  printed as the harmless text it is;
- U+2028 LINE SEPARATOR and U+2029 PARAGRAPH SEPARATOR (line breaks to many
  terminals and log viewers);
- the bidi controls (U+061C, U+200E/F, U+202A-U+202E, U+2066-U+2069) that make
  text read differently from what it is ("Trojan Source"), the zero-width
  characters U+200B-U+200D and U+FEFF that hide differences, and lone
  surrogates.

Escapes are `\\xNN` below U+0100 and `\\uNNNN` above; everything else,
including non-Latin letters, is unchanged.
"""
from __future__ import annotations

import re

_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028\u2029\u202a-\u202e"
                     "\u2066-\u2069\ufeff\ud800-\udfff]")


def _escape(m: re.Match[str]) -> str:
    code = ord(m.group(0))
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def terminal_text(text: object) -> str:
    """`text` safe to print inside one line of terminal output."""
    return _UNSAFE.sub(_escape, str(text))


def terminal_line(text: object, limit: int | None = 2000) -> str:
    """One line for stderr: sanitised and, past `limit` characters, cut with a
    note, so an error quoting a hostile file never floods the terminal."""
    line = str(text)
    if limit is not None and len(line) > limit:
        line = f"{line[:limit]}… ({len(line) - limit} more characters)"
    return terminal_text(line)
