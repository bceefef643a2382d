"""Footpath's collector.  Importing it refuses to go on when a compiled hot-path module no
longer matches its source (collector/_compiled.py)."""

from collector._compiled import check as _check_compiled

_check_compiled()
