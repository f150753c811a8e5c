"""Tokens of the packetdrill script language.

The rules follow packetdrill's lexer.l: the longest match wins and, between matches of the same
length, the rule listed first (so `0x10` is a hex integer, `4448a2548656d2c6` a word, `1.2.3.4`
an address rather than a number). `//` and `/* */` comments and whitespace are skipped;
`%{ ... }%` is a code block, `...` the ellipsis, `--name` an option. Command-line definitions
(`-D NAME=VALUE`) replace a word by its value: `"..."` becomes a string, a back-quoted value a
shell command, anything else is lexed again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

# token kinds
WORD: Final = "word"
INT: Final = "integer"
FLOAT: Final = "number"
STRING: Final = "string"
BACKQ: Final = "command"
CODE: Final = "code block"
OPTION: Final = "option"
ELLIPSIS: Final = "..."
IPV4: Final = "IPv4 address"
CHAR: Final = "character"
EOF: Final = "end of file"

_SKIP: Final = "skip"
# (kind, pattern), in the order that breaks ties between matches of the same length
_RULES: Final = [
    (ELLIPSIS, re.compile(r"\.\.\.")),
    (OPTION, re.compile(r"--[A-Za-z0-9_]+")),
    (FLOAT, re.compile(r"-?[0-9]*\.[0-9]+")),
    (INT, re.compile(r"-?[0-9]+")),
    ("hex", re.compile(r"0x[0-9a-fA-F]+")),
    (WORD, re.compile(r"[A-Za-z0-9_]+")),
    (STRING, re.compile(r'"(?:\\[\s\S]|[^"\\])*"')),
    (BACKQ, re.compile(r"`(?:\\[\s\S]|[^`\\])*`")),
    (CHAR, re.compile(r"[^ \t\r\n]")),
    (_SKIP, re.compile(r"[ \t\r\n]+")),
    (_SKIP, re.compile(r"//[^\n]*(?:\n|$)")),
    (_SKIP, re.compile(r"/\*(?:[^*]|\*(?!/))*\*/")),
    (CODE, re.compile(r"%\{(?:[^}]|\}(?!%))*\}%")),
    (IPV4, re.compile(r"[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+")),
]


@dataclass(frozen=True)
class Token:
    kind: str
    text: str  # the source text (the value for strings, commands and code blocks)
    line: int
    value: int | float | None = None  # integers and numbers

    def is_char(self, c: str) -> bool:
        return self.kind == CHAR and self.text == c

    def is_word(self, w: str) -> bool:
        return self.kind == WORD and self.text == w

    def describe(self) -> str:
        if self.kind == EOF:
            return EOF
        if self.kind in (STRING, BACKQ, CODE):
            return self.kind
        return f"'{self.text}'"


class LexError(ValueError):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line


def _code(text: str) -> str:
    """A code block's text without the delimiters and the spaces and tabs next to them."""
    return text[2:-2].strip(" \t")


def tokenize(source: str, defines: dict[str, str] | None = None) -> list[Token]:
    """The tokens of `source`, ending with an EOF token."""
    defines = defines or {}
    out: list[Token] = []
    pos, line, n = 0, 1, len(source)
    while pos < n:
        best_kind, best_end = "", pos
        for kind, rx in _RULES:
            m = rx.match(source, pos)
            if m is not None and m.end() > best_end:
                best_kind, best_end = kind, m.end()
        text = source[pos:best_end]
        if best_kind != _SKIP:
            out.extend(_token(best_kind, text, line, defines))
        line += text.count("\n")
        pos = best_end
    out.append(Token(EOF, "", line))
    return out


def _token(kind: str, text: str, line: int, defines: dict[str, str]) -> list[Token]:
    if kind == WORD and text in defines:
        value = defines[text]
        if len(value) >= 2 and value[0] == value[-1] == '"':
            return [Token(STRING, value[1:-1], line)]
        if len(value) >= 2 and value[0] == value[-1] == "`":
            return [Token(BACKQ, value[1:-1], line)]
        return [Token(t.kind, t.text, line, t.value) for t in tokenize(value)[:-1]]
    if kind == "hex":
        return [Token(INT, text, line, int(text, 16))]
    if kind == INT:
        return [Token(INT, text, line, int(text))]
    if kind == FLOAT:
        return [Token(FLOAT, text, line, float(text))]
    if kind in (STRING, BACKQ):
        return [Token(kind, text[1:-1], line)]
    if kind == CODE:
        return [Token(CODE, _code(text), line)]
    return [Token(kind, text, line)]
