"""Characters XML 1.0 cannot hold, in one place: what the XML files prelabel writes (JUnit reports, Label
Studio's ``label_config.xml``) never contain, and what ``validate`` reports in SOP text.

XML 1.0 allows tab, line feed and carriage return, and otherwise no C0 control character (U+0000-U+001F:
NUL, ESC, ...), no surrogate (U+D800-U+DFFF) and neither U+FFFE nor U+FFFF — not even as a character
reference (``&#27;``): a parser rejects the whole file. ``xml_safe`` writes each such character as its
visible escape (``\\x1b``), so a rationale's stray ESC still shows where it was.

    >>> xml_safe("red \\x1b[31m text\\x00")
    'red \\\\x1b[31m text\\\\x00'
    >>> forbidden_characters("tab\\tand ESC\\x1b")
    ['\\x1b']
"""

from __future__ import annotations

import re

__all__ = ["FORBIDDEN", "character_name", "forbidden_characters", "xml_safe"]

#: One character XML 1.0 forbids.
FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_NAMES = {0x00: "NUL", 0x07: "BEL", 0x08: "backspace", 0x0B: "vertical tab", 0x0C: "form feed", 0x1B: "ESC"}


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def xml_safe(text: str) -> str:
    """``text`` with every character XML 1.0 forbids written as its escape (``\\x1b``, ``\\ufffe``)."""
    return FORBIDDEN.sub(_escape, text)


def forbidden_characters(text: str) -> list[str]:
    """The characters of ``text`` that XML 1.0 forbids, each once, in order of appearance."""
    return list(dict.fromkeys(FORBIDDEN.findall(text)))


def character_name(char: str) -> str:
    """How a message names a character: ``ESC (U+001B)``, ``U+0002``."""
    code = ord(char)
    name = _NAMES.get(code)
    return f"{name} (U+{code:04X})" if name else f"U+{code:04X}"
