"""OData query options as Graph's directory honours them: $filter, $search, $select, $top,
$skiptoken (paging through @odata.nextLink), $count and ConsistencyLevel.

The $filter grammar is the small subset the portal needs: ``prop eq 'x'|true|false|null``,
``startswith(prop,'x')``, ``prop/any(c:c eq 'x')``, joined by ``and``/``or`` with parentheses.
String comparisons are case-insensitive, as in the directory. Anything else answers 400
``Request_UnsupportedQuery`` rather than being silently ignored.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from emulator.graph.api import Ctx, GraphError, bad_request
from emulator.graph.dialects import MAX_PAGE_SIZE

Predicate = Callable[[dict[str, Any]], bool]

_TOKEN = re.compile(r"\s*('(?:[^']|'')*'|\(|\)|,|[A-Za-z_][\w./:]*|-?\d+)")


def unsupported(message: str = "Unsupported Query.") -> GraphError:
    return GraphError(400, "Request_UnsupportedQuery", message)


def eventual(ctx: Ctx) -> bool:
    return ctx.req.headers.get("consistencylevel", "").strip().lower() == "eventual"


# -- $filter ---------------------------------------------------------------------------------


def _tokens(text: str) -> list[str]:
    tokens, pos = [], 0
    while pos < len(text.rstrip()):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise unsupported(f"Invalid filter clause: syntax error at position {pos} in '{text}'.")
        tokens.append(match.group(1))
        pos = match.end()
    return tokens


def _value(token: str) -> Any:
    if token.startswith("'"):
        return token[1:-1].replace("''", "'")
    lowered = token.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered == "null":
        return None
    raise unsupported(f"Unsupported literal {token!r} in $filter.")


def _fold(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.pos = 0

    def peek(self) -> str:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else ""

    def take(self, expected: str | None = None) -> str:
        token = self.peek()
        if not token or (expected is not None and token.lower() != expected):
            raise unsupported(f"Invalid filter clause: expected {expected or 'more'!r}.")
        self.pos += 1
        return token

    def parse(self) -> Predicate:
        predicate = self.disjunction()
        if self.peek():
            raise unsupported(f"Invalid filter clause near {self.peek()!r}.")
        return predicate

    def disjunction(self) -> Predicate:
        parts = [self.conjunction()]
        while self.peek().lower() == "or":
            self.take()
            parts.append(self.conjunction())
        return parts[0] if len(parts) == 1 else (lambda o: any(p(o) for p in parts))

    def conjunction(self) -> Predicate:
        parts = [self.clause()]
        while self.peek().lower() == "and":
            self.take()
            parts.append(self.clause())
        return parts[0] if len(parts) == 1 else (lambda o: all(p(o) for p in parts))

    def clause(self) -> Predicate:
        token = self.take()
        if token == "(":
            inner = self.disjunction()
            self.take(")")
            return inner
        if token.lower() == "startswith":
            self.take("(")
            prop = self.take()
            self.take(",")
            prefix = str(_value(self.take())).lower()
            self.take(")")
            return lambda o: str(o.get(prop) or "").lower().startswith(prefix)
        if token.lower().endswith("/any"):
            return self.any_clause(token)
        op = self.take().lower()
        if op not in ("eq", "ne"):
            raise unsupported(f"Unsupported operator {op!r} in $filter.")
        wanted = _fold(_value(self.take()))
        if op == "eq":
            return lambda o: _fold(o.get(token)) == wanted
        return lambda o: _fold(o.get(token)) != wanted

    def any_clause(self, token: str) -> Predicate:
        # groupTypes/any(c:c eq 'Unified'): the tokenizer keeps "c:c" as one word.
        prop = token.split("/", 1)[0]
        self.take("(")
        variable = self.take()
        if ":" not in variable:
            raise unsupported("Invalid lambda expression in $filter.")
        self.take("eq")
        wanted = _fold(_value(self.take()))
        self.take(")")
        return lambda o: any(_fold(v) == wanted for v in o.get(prop) or [])


def apply_filter(ctx: Ctx, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    text = ctx.query.get("$filter", "").strip()
    if not text:
        return items
    predicate = _Parser(text).parse()
    return [item for item in items if predicate(item)]


# -- $search ---------------------------------------------------------------------------------


def apply_search(ctx: Ctx, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``$search="displayName:x"`` (OR/AND between clauses); tokenized prefix match."""
    text = ctx.query.get("$search", "").strip()
    if not text:
        return items
    if not eventual(ctx):
        raise unsupported(
            "Request with $search query parameter only works through MSGraph with a special request header: 'ConsistencyLevel: eventual'"
        )
    joiner = all if re.search(r"\sAND\s", text) else any
    clauses = []
    for part in re.split(r"\s(?:OR|AND)\s", text):
        part = part.strip().strip('"')
        prop, sep, term = part.partition(":")
        if not sep or not term:
            raise bad_request(f"Invalid $search clause '{part}': use \"property:value\".")
        clauses.append((prop, term.lower()))

    def matches(item: dict[str, Any], prop: str, term: str) -> bool:
        value = str(item.get(prop) or "").lower()
        return value.startswith(term) or any(
            w.startswith(term) for w in re.split(r"[\s._@-]+", value)
        )

    return [i for i in items if joiner(matches(i, p, t) for p, t in clauses)]


# -- $select, $top, paging ---------------------------------------------------------------------


def select(ctx: Ctx, item: dict[str, Any]) -> dict[str, Any]:
    wanted = [s.strip() for s in ctx.query.get("$select", "").split(",") if s.strip()]
    if not wanted:
        return item
    lowered = {w.lower() for w in wanted}
    return {k: v for k, v in item.items() if k.lower() in lowered or k.startswith("@odata.type")}


def _top(ctx: Ctx) -> int | None:
    raw = ctx.query.get("$top")
    if raw is None:
        return None
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE_SIZE:
        raise bad_request(
            f"Invalid page size specified: '{raw}'. Must be between 1 and {MAX_PAGE_SIZE} inclusive."
        )
    return int(raw)


def _offset(token: str) -> int:
    try:
        decoded = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        prefix, _, number = decoded.partition(":")
        if prefix != "X" or not number.isdigit():
            raise ValueError(decoded)
        return int(number)
    except ValueError as exc:
        raise bad_request("Invalid skip token.") from exc


def page(
    ctx: Ctx,
    context: str,
    items: list[dict[str, Any]],
    shape: Callable[[dict[str, Any]], dict[str, Any]],
) -> dict[str, Any]:
    """One page of ``items`` with @odata.nextLink (absolute, carrying the original options)."""
    if "$skip" in ctx.query:
        raise bad_request("'$skip' is not supported by the service.")
    size = ctx.dialect.page_size(_top(ctx))
    start = _offset(ctx.query["$skiptoken"]) if "$skiptoken" in ctx.query else 0
    chunk = items[start : start + size]
    extra: dict[str, Any] = {}
    if ctx.query.get("$count", "").lower() == "true" and eventual(ctx):
        extra["@odata.count"] = len(items)
    if start + size < len(items):
        options = {k: v for k, v in ctx.query.items() if k != "$skiptoken"}
        token = base64.urlsafe_b64encode(f"X:{start + size}".encode()).decode().rstrip("=")
        options["$skiptoken"] = token
        extra["@odata.nextLink"] = f"{ctx.req.base_url}{ctx.req.path}?{urlencode(options)}"
    body = ctx.dialect.collection(
        f"{ctx.base()}/$metadata#{context}", [select(ctx, shape(i)) for i in chunk], extra
    )
    return body
