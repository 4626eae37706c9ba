"""The metric names a PromQL expression selects.

PromQL's grammar (prometheus/promql/parser, generated_parser.y) makes a bare identifier a metric name
unless it is a function call (followed by `(`), an aggregation operator or keyword, or a label name in a
`by`/`without`/`on`/`ignoring`/`group_left`/`group_right` list; `{...}` holds label matchers, `[...]` a
range or subquery duration, and strings are quoted. A name can also be given as `{__name__="..."}`. The
expression's syntax itself is checked by promtool (the real engine) before this runs, so this only has to
find names in valid PromQL.
"""

from __future__ import annotations

import re

KEYWORDS = frozenset({
    "sum", "avg", "count", "min", "max", "group", "stddev", "stdvar", "topk", "bottomk", "count_values",
    "quantile", "limitk", "limit_ratio", "by", "without", "on", "ignoring", "group_left", "group_right",
    "and", "or", "unless", "bool", "offset", "atan2", "inf", "nan", "start", "end", "step",
})
LABEL_LISTS = frozenset({"by", "without", "on", "ignoring", "group_left", "group_right"})
_TOKEN = re.compile(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'|`[^`]*`|\{[^}]*\}|\[[^\]]*\]|\d[\w.]*(?:[eE][+-]\d+)?|[A-Za-z_:][\w:]*|\S')
_NAME_MATCHER = re.compile(r'__name__\s*=\s*"([^"]+)"')


def metric_names(expr: str) -> set[str]:
    tokens = _TOKEN.findall(expr)
    names: set[str] = set()
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
        if tok.startswith("{"):
            names |= set(_NAME_MATCHER.findall(tok))
        elif re.fullmatch(r"[A-Za-z_:][\w:]*", tok):
            if tok in LABEL_LISTS and nxt == "(":
                close = tokens.index(")", i + 1)
                i = close + 1
                continue
            if tok.lower() not in KEYWORDS and nxt != "(":
                names.add(tok)
        i += 1
    return names
