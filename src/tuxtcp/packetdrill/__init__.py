"""packetdrill scripts in Python: the script language (lexer, parser, syntax tree)."""

from .parser import ParseError, parse_file, parse_text
from .script import Script

__all__ = ["ParseError", "Script", "parse_file", "parse_text"]
