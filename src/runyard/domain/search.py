"""MLflow's search grammar: filter strings, order_by clauses and page tokens, as a small AST.

MLflow parses filters with a general SQL tokenizer (sqlparse) and then inspects the token
groups it produced, so which strings it accepts is decided by that tokenizer's quirks as much
as by the documented grammar. To answer exactly as MLflow does, this module lexes with the same
token rules and folds tokens into groups (identifiers, comparisons, ...) the way that
tokenizer does, then applies MLflow's checks in MLflow's order with MLflow's messages. Known
gaps, all in malformed input, are listed in tests/unit/test_search_grammar.py.

Set-valued parts of MLflow's messages (valid keys, valid comparators) print in a hash-seeded
order there; here they print in a fixed order, which is one of the orders MLflow can print.
"""

from __future__ import annotations

import ast
import base64
import binascii
import bisect
import json
import re
import shlex
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Literal, TypeVar

from runyard.domain import validation
from runyard.domain.entities import Page
from runyard.errors import AttributeNotFound, BadRequest, InvalidParameterValue, MlflowError

T = TypeVar("T")

__all__ = [
    "LOGGED_MODEL_COLUMNS",
    "Comparison",
    "Entity",
    "ModelDatasetFilter",
    "ModelOrderBy",
    "ModelOrderKey",
    "OrderKey",
    "Value",
    "decode_logged_model_token",
    "decode_page_token",
    "encode_logged_model_token",
    "encode_page_token",
    "page_of",
    "parse_experiment_filter",
    "parse_experiment_order_by",
    "parse_logged_model_filter",
    "parse_logged_model_order_by",
    "parse_run_filter",
    "parse_run_order_by",
    "parse_run_search",
]

Entity = Literal["metric", "parameter", "tag", "attribute", "dataset"]  # MLflow's names
Value = str | int | float | tuple[str, ...] | tuple[int, ...] | None

METRIC: Entity = "metric"
PARAM: Entity = "parameter"
TAG: Entity = "tag"
ATTRIBUTE: Entity = "attribute"
DATASET: Entity = "dataset"


@dataclass(frozen=True, slots=True)
class Comparison:
    """One AND-ed clause of a filter.

    In run filters ``key`` has MLflow's aliases resolved (``created`` -> ``start_time``, ``run
    name`` -> ``run_name``; MLflow does so whatever the entity) and ``comparator`` is
    upper-case. ``value`` is a float for metrics, an int or float for numeric attributes, an
    int (tuple of ints) for ``experiment_id``, a tuple of strings for other IN / NOT IN, None
    for IS [NOT] NULL, otherwise a string.
    """

    entity: Entity
    key: str
    comparator: str
    value: Value


@dataclass(frozen=True, slots=True)
class OrderKey:
    entity: Entity
    key: str
    ascending: bool


# --------------------------------------------------------------------------------------------
# Facts from mlflow/utils/search_utils.py.

_ENTITY_ALIASES: dict[str, Entity] = {
    "metric": METRIC,
    "metrics": METRIC,
    "parameter": PARAM,
    "parameters": PARAM,
    "param": PARAM,
    "params": PARAM,
    "tag": TAG,
    "tags": TAG,
    "attribute": ATTRIBUTE,
    "attr": ATTRIBUTE,
    "attributes": ATTRIBUTE,
    "run": ATTRIBUTE,
    "dataset": DATASET,
    "datasets": DATASET,
}
_ENTITY_LIST = "['metric', 'parameter', 'tag', 'attribute', 'dataset']"

_RUN_NUMERIC_ATTRIBUTES = frozenset({"start_time", "end_time", "created", "Created"})
_RUN_ORDER_ATTRIBUTES = (
    "artifact_uri",
    "end_time",
    "run_id",
    "run_name",
    "start_time",
    "status",
    "user_id",
    "created",
    "Created",
)
_RUN_SEARCH_ATTRIBUTES = (*_RUN_ORDER_ATTRIBUTES, "run name", "Run name", "Run Name")
_KEY_ALIASES = {
    "created": "start_time",
    "Created": "start_time",
    "run name": "run_name",
    "Run name": "run_name",
    "Run Name": "run_name",
}
_DATASET_KEYS = ("name", "digest", "context")

_EXPERIMENT_ATTRIBUTES = ("name", "experiment_id", "creation_time", "last_update_time")
_EXPERIMENT_NUMERIC_ATTRIBUTES = frozenset({"creation_time", "last_update_time"})
_EXPERIMENT_ENTITIES = ("attribute", "tag", "tags")

_METRIC_COMPARATORS = (">", ">=", "!=", "=", "<", "<=")
_PARAM_COMPARATORS = ("!=", "=", "LIKE", "ILIKE", "IS NULL", "IS NOT NULL")
_STRING_ATTRIBUTE_COMPARATORS = ("!=", "=", "LIKE", "ILIKE", "IN", "NOT IN")
_DATASET_COMPARATORS = _STRING_ATTRIBUTE_COMPARATORS

_MAX_TOKENS = 10_000  # sqlparse refuses statements with more tokens than this
_MAX_NESTING = 100  # ... and groups nested deeper than this


def _set_repr(items: Iterable[str]) -> str:
    """A Python set literal, as MLflow's messages print ``{...}``."""
    return "{" + ", ".join(repr(item) for item in items) + "}"


# --------------------------------------------------------------------------------------------
# Lexer. The rules, their order and their case-insensitivity follow sqlparse's lexer, since
# the first rule matching at a position decides the token (e.g. a word right after a dot is a
# name even if it is a SQL keyword, but IN/AS/FROM/... stay keywords).

WS, COMMENT, NAME, PLACEHOLDER, KEYWORD, ORDER, CMP, OP, ARROW, WILDCARD = range(10)
TYPECAST, PUNCT, STRING, SYMBOL, INT, FLOAT, HEX, OTHER = range(10, 18)
# Groups built on top of tokens.
PAREN, BRACKETS, FUNC, IDENT, OPERATION, COMPARE = range(18, 24)

_LETTER = "A-ZÀ-Ü"
_RULES: tuple[tuple[int, str], ...] = (
    (COMMENT, r"(?:--|# ).*?(?:\r\n|\r|\n|$)"),
    (WS, r"\s+"),
    (OTHER, r":="),
    (TYPECAST, r"::"),
    (WILDCARD, r"\*"),
    (NAME, r"`(?:``|[^`])*`"),
    (NAME, r"´(?:´´|[^´])*´"),
    (PLACEHOLDER, r"\?"),
    (PLACEHOLDER, r"%(?:\(\w+\))?s"),
    (PLACEHOLDER, r"(?<!\w)[$:?]\w+"),
    (OTHER, r"\\\w+"),
    (KEYWORD, r"(?:CASE|IN|VALUES|USING|FROM|AS)\b"),
    (NAME, rf"(?:@|##|#)[{_LETTER}]\w+"),
    (NAME, rf"[{_LETTER}]\w*(?=\s*\.(?!\d))"),
    (NAME, rf"(?<=\.)[{_LETTER}]\w*"),
    (NAME, rf"[{_LETTER}]\w*(?=\()"),
    (HEX, r"-?0x[\dA-F]+"),
    (FLOAT, r"-?\d+(?:\.\d+)?E-?\d+"),
    (FLOAT, rf"(?![_{_LETTER}])-?(?:\d+\.\d*|\.\d+)(?![_{_LETTER}])"),
    (INT, rf"(?![_{_LETTER}])-?\d+(?![_{_LETTER}])"),
    (STRING, r"'(?:''|\\'|[^'])*'"),
    (SYMBOL, r'"(?:""|\\"|[^"])*"'),
    (NAME, r"(?<![\w\])])\[[^\]\[]+\]"),
    (KEYWORD, r"NOT\s+NULL\b"),
    (ORDER, r"(?:ASC|DESC)(?:\s+NULLS\s+(?:FIRST|LAST))?\b"),
    (ORDER, r"NULLS\s+(?:FIRST|LAST)\b"),
    (CMP, r"(?:NOT\s+)?(?:LIKE|ILIKE|RLIKE)\b"),
    (CMP, r"(?:NOT\s+)?REGEXP(?:\s+BINARY)?\b"),
    (NAME, r"\w[$#\w]*"),  # reclassified as KEYWORD when it is one
    (PUNCT, r"[;:()\[\],.]"),
    (ARROW, r"->>?"),
    (OP, r"#>>?|@>|<@|\?\|?|\?&|-|#-"),
    (CMP, r"[<>=~!]+"),
    (OP, r"[+/@#%^&|-]+"),
)
_LEXER = re.compile(
    "|".join(f"(?P<r{i}>{pattern})" for i, (_, pattern) in enumerate(_RULES)),
    re.IGNORECASE | re.UNICODE,
)
_WORD_RULE = next(i for i, rule in enumerate(_RULES) if rule[1] == r"\w[$#\w]*")

# Bare words the tokenizer treats as SQL keywords or type names rather than plain names. Only
# the first line changes what MLflow accepts in well-formed filters; the rest (a subset of
# sqlparse's long list) matter for malformed ones only.
_KEYWORD_WORDS = """
    AND OR NOT IS NULL
    TRUE FALSE SELECT WHERE ON BY GROUP HAVING LIMIT OFFSET JOIN INNER OUTER LEFT RIGHT FULL
    CROSS NATURAL UNION ALL DISTINCT INSERT UPDATE DELETE INTO SET CREATE DROP ALTER TABLE
    INDEX VIEW WHEN THEN ELSE END IF EXISTS BETWEEN ESCAPE WITH BEGIN COMMIT ROLLBACK FOR
    WHILE LOOP RETURN RETURNS DECLARE PRIMARY KEY FOREIGN REFERENCES DEFAULT CHECK UNIQUE
    CONSTRAINT GRANT REVOKE TO ANY SOME EXCEPT INTERSECT FIRST LAST OVER PARTITION
    WINDOW ROWS RANGE CAST COLLATE LATERAL RETURNING TRUNCATE REPLACE ORDER SCHEMA DATABASE
    CURRENT_DATE CURRENT_TIME CURRENT_TIMESTAMP CURRENT_USER USER SESSION_USER SYSTEM_USER
    PARAMETER PARAMETERS COLUMN ROW DATA TYPE LEVEL MODE SOURCE VERSION
    INT INTEGER BIGINT SMALLINT TEXT DATE TIMESTAMP VARCHAR CHAR BOOLEAN FLOAT REAL NUMERIC
    DECIMAL
"""
_KEYWORDS = frozenset(_KEYWORD_WORDS.split())
# Keywords that start a statement: ``x AS <one of these>`` is not an alias.
_STATEMENT_WORDS = (
    "SELECT INSERT UPDATE DELETE COMMIT ROLLBACK REPLACE CREATE DROP ALTER TRUNCATE WITH"
)
_STATEMENT_KEYWORDS = frozenset(_STATEMENT_WORDS.split())


@dataclass(frozen=True, slots=True)
class _Tok:
    kind: int
    start: int
    end: int
    norm: str = ""  # upper-cased text of keywords
    parts: tuple[_Tok, ...] = ()  # a binary group's (left, operator, right)


_DOLLAR_TAG = rf"\$(?:[_{_LETTER}]\w*)?\$"
_DOLLAR_TAGS = re.compile(f"(?=({_DOLLAR_TAG}))", re.IGNORECASE | re.UNICODE)
_DOLLAR_OPEN = re.compile(rf"(?<![\w\"$]){_DOLLAR_TAG}", re.IGNORECASE | re.UNICODE)


class _Delimited:
    """``/* ... */`` comments and ``$tag$ ... $tag$`` literals.

    Closers are indexed once so that text full of unclosed openers lexes in linear time
    (a lazy regex would rescan the rest of the text from every opener).
    """

    def __init__(self, text: str) -> None:
        self.closers: dict[str, list[int]] = {}
        if "$" in text:
            for m in _DOLLAR_TAGS.finditer(text):
                self.closers.setdefault(m.group(1), []).append(m.start())
        if "/*" in text:
            self.closers["*/"] = [m.start() for m in re.finditer(r"\*/", text)]

    def span(self, text: str, pos: int) -> tuple[int, int] | None:
        """(end, kind) of a delimited token opening at ``pos``, if it is closed."""
        if text.startswith("/*", pos):
            end = self._close("*/", pos + 2)
            return None if end is None else (end, COMMENT)
        opener = _DOLLAR_OPEN.match(text, pos) if text[pos] == "$" else None
        if opener is not None:
            end = self._close(opener.group(), opener.end())
            return None if end is None else (end, OTHER)
        return None

    def _close(self, tag: str, after: int) -> int | None:
        starts = self.closers.get(tag, [])
        k = bisect.bisect_left(starts, after)
        return starts[k] + len(tag) if k < len(starts) else None


def _lex(text: str) -> list[_Tok]:
    tokens: list[_Tok] = []
    delimited = _Delimited(text)
    pos = 0
    while pos < len(text):
        span = delimited.span(text, pos)
        if span is not None:
            tokens.append(_Tok(span[1], pos, span[0]))
            pos = span[0]
            continue
        match = _LEXER.match(text, pos)
        if match is None:
            tokens.append(_Tok(OTHER, pos, pos + 1))  # sqlparse's Error token
            pos += 1
            continue
        index = int((match.lastgroup or "r0")[1:])
        kind = _RULES[index][0]
        norm = match.group().upper()
        if index == _WORD_RULE and norm in _KEYWORDS:
            kind = KEYWORD
        tokens.append(_Tok(kind, pos, match.end(), norm if kind == KEYWORD else ""))
        pos = match.end()
    return tokens


def _split_statements(text: str, tokens: list[_Tok]) -> list[list[_Tok]]:
    """Split at ``;`` outside parentheses and BEGIN blocks, as sqlparse does.

    Blanks (up to a newline) and ``--`` comments right after the ``;`` still belong to the
    statement it ends; a statement of whitespace only is dropped.
    """
    statements: list[list[_Tok]] = [[]]
    level = blocks = 0
    ended = False
    for tok in tokens:
        value = text[tok.start : tok.end]
        # (optimizer hints ``--+ ...`` are a different token type there)
        single_comment = tok.kind == COMMENT and value[:2] in ("--", "# ") and value[2:3] != "+"
        newline = tok.kind == WS and ("\n" in value or "\r" in value)
        if ended and (newline or (tok.kind != WS and not single_comment)):
            statements.append([])
            ended = False
        if tok.kind == PUNCT and value in "()":
            level += 1 if value == "(" else -1
        elif tok.norm == "BEGIN":
            level, blocks = level + 1, blocks + 1
        elif tok.norm == "END":
            level, blocks = level - 1, max(0, blocks - 1)
        statements[-1].append(tok)
        if tok.kind == PUNCT and value == ";" and level <= 0 and not blocks:
            ended = True
    return [s for s in statements if any(t.kind != WS for t in s)]


def _grouped_statements(text: str, what: str) -> list[list[_Tok]]:
    """Lex, split and group ``text``; ``what`` names it in the error for oversized input."""
    validation.check_search_text(what, text)  # before lexing, which costs per character
    statements = _split_statements(text, _lex(text))
    grouped: list[list[_Tok]] = []
    for statement in statements:
        if _raw_token_count(text, statement) > _MAX_TOKENS:
            raise InvalidParameterValue(f"Error on parsing {what} '{text}'")
        try:
            grouped.append(_Grouper(text).group(statement))
        except _TooComplex:
            raise InvalidParameterValue(f"Error on parsing {what} '{text}'") from None
    return grouped


def _raw_token_count(text: str, tokens: list[_Tok]) -> int:
    # sqlparse emits one token per whitespace character ("\r\n" being one).
    count = 0
    for tok in tokens:
        if tok.kind == WS:
            count += len(text[tok.start : tok.end].replace("\r\n", "\n"))
        else:
            count += 1
    return count


# --------------------------------------------------------------------------------------------
# Grouping, in sqlparse's order: parentheses, function calls, dotted names, lone names,
# ASC/DESC suffixes, ``::`` casts, arithmetic, comparisons, ``AS`` aliases, implicit aliases.


class _Grouper:
    def __init__(self, text: str) -> None:
        self.text = text

    def is_punct(self, tok: _Tok, char: str) -> bool:
        return tok.kind == PUNCT and self.text[tok.start : tok.end] == char

    def group(self, tokens: list[_Tok]) -> list[_Tok]:
        tokens = self.enclose(tokens, "[", "]", BRACKETS)
        tokens = self.enclose(tokens, "(", ")", PAREN)
        tokens = self.functions(tokens)
        tokens = self.periods(tokens)
        tokens = self.subscripts(tokens)
        tokens = [_Tok(IDENT, t.start, t.end) if t.kind in (NAME, SYMBOL) else t for t in tokens]
        tokens = self.order_suffixes(tokens)
        tokens = _binary(tokens, lambda t: t.kind == TYPECAST, _exists, _exists, IDENT)
        tokens = _binary(tokens, _is_arithmetic, _is_operand, _is_operand, OPERATION)
        tokens = _binary(tokens, lambda t: t.kind == CMP, _is_comparable, _is_comparable, COMPARE)
        tokens = _binary(tokens, lambda t: t.norm == "AS", _may_alias, _may_be_alias, IDENT)
        return _aliases(tokens)

    def enclose(self, tokens: list[_Tok], opening: str, closing: str, kind: int) -> list[_Tok]:
        """Group balanced ``opening ... closing`` pairs into one ``kind`` token each."""
        levels: list[list[_Tok]] = [[]]
        opens: list[_Tok] = []
        for tok in tokens:
            if self.is_punct(tok, opening):
                opens.append(tok)
                levels.append([])
            elif self.is_punct(tok, closing) and opens:
                inner, opener = levels.pop(), opens.pop()
                if len(opens) >= _MAX_NESTING:
                    raise _TooComplex
                if any(t.kind == COMMENT for t in inner):
                    # sqlparse leaves such groups ungrouped.
                    levels[-1].extend([opener, *inner, tok])
                else:
                    levels[-1].append(_Tok(kind, opener.start, tok.end))
            else:
                levels[-1].append(tok)
        while opens:  # unbalanced: the openers stay plain punctuation
            inner, opener = levels.pop(), opens.pop()
            levels[-1].extend([opener, *inner])
        return levels[0]

    def functions(self, tokens: list[_Tok]) -> list[_Tok]:
        out: list[_Tok] = []
        i = 0
        while i < len(tokens):
            tok = tokens[i]
            j = _next_solid(tokens, i)
            if tok.kind in (NAME, PLACEHOLDER) and j is not None and tokens[j].kind == PAREN:
                out.append(_Tok(FUNC, tok.start, tokens[j].end))
                i = j + 1
                continue
            out.append(tok)
            i += 1
        return out

    def periods(self, tokens: list[_Tok]) -> list[_Tok]:
        out: list[_Tok] = []
        last: int | None = None  # index in ``out`` of the previous non-blank token
        extendable = False  # whether that token may start or continue a dotted name
        i = 0
        while i < len(tokens):
            tok = tokens[i]
            if tok.kind == WS:
                out.append(tok)
                i += 1
                continue
            is_dot = self.is_punct(tok, ".") or tok.kind == ARROW
            if is_dot and last is not None and extendable:
                j = _next_solid(tokens, i)
                if j is not None and tokens[j].kind in _SEGMENTS:
                    end, i = tokens[j].end, j + 1
                    extendable = tokens[j].kind in (NAME, SYMBOL, BRACKETS)
                else:
                    end, i, extendable = tok.end, i + 1, True
                start = out[last].start
                del out[last:]
                out.append(_Tok(IDENT, start, end))
                last = len(out) - 1
                continue
            out.append(tok)
            last, extendable = len(out) - 1, tok.kind in (NAME, SYMBOL, BRACKETS)
            i += 1
        return out

    def subscripts(self, tokens: list[_Tok]) -> list[_Tok]:
        """``name[...]`` is one identifier."""
        out: list[_Tok] = []
        for tok in tokens:
            prev = _last_solid(out)
            if tok.kind == BRACKETS and prev is not None and out[prev].kind in _SUBSCRIPTABLE:
                start = out[prev].start
                del out[prev:]
                out.append(_Tok(IDENT, start, tok.end))
            else:
                out.append(tok)
        return out

    def order_suffixes(self, tokens: list[_Tok]) -> list[_Tok]:
        out: list[_Tok] = []
        for tok in tokens:
            prev = _last_solid(out)
            if (
                tok.kind == ORDER
                and prev is not None
                and out[prev].kind in (IDENT, INT, FLOAT, HEX)
            ):
                start = out[prev].start
                del out[prev:]
                out.append(_Tok(IDENT, start, tok.end))
            else:
                out.append(tok)
        return out


_SEGMENTS = (NAME, SYMBOL, WILDCARD, STRING, FUNC, BRACKETS)  # what may follow a dot
_SUBSCRIPTABLE = (BRACKETS, IDENT, FUNC, NAME, SYMBOL)


class _TooComplex(Exception):
    """The statement exceeds sqlparse's grouping limits."""


def _exists(tok: _Tok | None) -> bool:
    return tok is not None


def _is_arithmetic(tok: _Tok) -> bool:
    return tok.kind in (OP, ARROW, WILDCARD)


def _is_operand(tok: _Tok | None) -> bool:
    if tok is None:
        return False
    if tok.kind == KEYWORD:
        return tok.norm in ("CURRENT_DATE", "CURRENT_TIME", "CURRENT_TIMESTAMP")
    return tok.kind in (INT, FLOAT, STRING, PLACEHOLDER, IDENT, PAREN, BRACKETS, FUNC, OPERATION)


def _is_comparable(tok: _Tok | None) -> bool:
    if tok is None:
        return False
    if tok.kind == KEYWORD:
        return tok.norm == "NULL"
    return tok.kind in (INT, FLOAT, STRING, PLACEHOLDER, IDENT, PAREN, FUNC, OPERATION)


def _may_alias(tok: _Tok | None) -> bool:
    return tok is not None and (tok.kind not in (KEYWORD, ORDER) or tok.norm == "NULL")


def _may_be_alias(tok: _Tok | None) -> bool:
    return tok is not None and tok.norm not in _STATEMENT_KEYWORDS


def _next_solid(tokens: Sequence[_Tok], i: int) -> int | None:
    for j in range(i + 1, len(tokens)):
        if tokens[j].kind != WS:
            return j
    return None


def _last_solid(tokens: Sequence[_Tok]) -> int | None:
    for j in range(len(tokens) - 1, -1, -1):
        if tokens[j].kind != WS:
            return j
    return None


def _binary(
    tokens: list[_Tok],
    match: Callable[[_Tok], bool],
    valid_left: Callable[[_Tok | None], bool],
    valid_right: Callable[[_Tok | None], bool],
    kind: int,
) -> list[_Tok]:
    """Fold ``left <op> right`` into one group, left to right, as sqlparse does.

    After a fold the right operand (not the new group) is what the next operator sees as its
    left neighbour, so ``a = b = c`` nests ``(a = b) = c``.
    """
    out: list[_Tok] = []
    last: int | None = None
    left_view: _Tok | None = None
    revisit = False  # tokens[i] is the right operand just folded, seen once more
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok.kind == WS:
            out.append(tok)
            i += 1
            continue
        if match(tok) and last is not None and valid_left(left_view):
            j = _next_solid(tokens, i)
            right = tokens[j] if j is not None else None
            if j is not None and right is not None and valid_right(right):
                left = out[last]
                del out[last:]
                out.append(_Tok(kind, left.start, right.end, parts=(left, tok, right)))
                last = len(out) - 1
                # sqlparse looks at the folded right operand again: if it is itself an
                # operator it folds what follows into the same group, else it becomes the
                # left neighbour of the next operator.
                if match(right):
                    left_view, i, revisit = out[last], j, True
                else:
                    left_view, i, revisit = right, j + 1, False
                continue
        if not revisit:
            out.append(tok)
            last = len(out) - 1
        left_view, revisit = tok, False
        i += 1
    return out


def _aliases(tokens: list[_Tok]) -> list[_Tok]:
    """``<expr> <name>`` is an implicit alias: sqlparse folds both into one identifier."""
    out = list(tokens)
    i = 0
    while i < len(out):
        if out[i].kind in (PAREN, FUNC, IDENT, OPERATION, COMPARE, INT, FLOAT, HEX):
            j = _next_solid(out, i)
            if j is not None and out[j].kind == IDENT:
                out[i : j + 1] = [_Tok(IDENT, out[i].start, out[j].end)]
        i += 1
    return out


# --------------------------------------------------------------------------------------------
# From token groups to raw clauses, as SearchUtils._process_statement does.


@dataclass(frozen=True, slots=True)
class _Clause:
    left: _Tok
    comparator: str  # as written (MLflow upper-cases it later, and only for runs)
    right: _Tok | None  # None for IS [NOT] NULL


def _statement(text: str) -> list[_Tok]:
    """The single statement a filter must be."""
    statements = _grouped_statements(text, "filter")
    if not statements:
        raise InvalidParameterValue(f"Invalid filter '{text}'. Could not be parsed.")
    if len(statements) > 1:
        raise InvalidParameterValue(
            f"Search filter contained multiple expression {text!r}. Provide AND-ed expression list."
        )
    return statements[0]


def _clauses(text: str, quote_invalid: bool) -> list[_Clause]:
    joined = _join_clauses(text, _statement(text))
    invalid = [t for t in joined if isinstance(t, _Tok) and t.kind != COMPARE and t.norm != "AND"]
    if invalid:
        texts = [text[t.start : t.end] for t in invalid]
        listed = ", ".join(f"'{t}'" if quote_invalid else t for t in texts)
        raise InvalidParameterValue(f"Invalid clause(s) in filter string: {listed}")

    clauses: list[_Clause] = []
    for item in joined:
        if isinstance(item, _Clause):
            clauses.append(item)
        elif item.kind == COMPARE:
            left, op, right = item.parts
            clauses.append(_Clause(left, text[op.start : op.end], right))
    return clauses


def _join_clauses(text: str, statement: list[_Tok]) -> list[_Tok | _Clause]:
    """SearchUtils._join_in_comparison_tokens: the statement's tokens with IN-style clauses
    folded into one, since the tokenizer does not group them as comparisons."""
    solid = [t for t in statement if t.kind != WS]
    joined: list[_Tok | _Clause] = []
    # Re-folds ``x IN (...)``, ``x NOT IN (...)``, ``x IS [NOT] NULL``. Like MLflow this
    # consumes three or four tokens after any bare identifier even when they do not match.
    i, n = 0, len(solid)
    while i < n:
        first = solid[i]
        if n - i < 3:
            joined.extend(solid[i:])
            break
        if first.kind != IDENT:
            joined.append(first)
            i += 1
            continue
        second, third = solid[i + 1], solid[i + 2]
        if second.norm == "IN" and third.kind == PAREN:
            joined.append(_Clause(first, text[second.start : second.end], third))
            i += 3
            continue
        if second.norm == "IS" and third.norm == "NULL":
            joined.append(_Clause(first, "IS NULL", None))
            i += 3
            continue
        if second.norm == "IS" and third.norm == "NOT NULL":
            joined.append(_Clause(first, "IS NOT NULL", None))
            i += 3
            continue
        if i + 3 >= n:
            joined.extend([first, second, third])
            break
        fourth = solid[i + 3]
        if second.norm == "NOT" and third.norm == "IN" and fourth.kind == PAREN:
            joined.append(_Clause(first, "NOT IN", fourth))
            i += 4
            continue
        joined.extend([first, second, third, fourth])
        i += 4
    return joined


def _identifier_text(text: str, clause: _Clause) -> str:
    """The clause's left side, which must be an identifier (checked clause by clause)."""
    found = text[clause.left.start : clause.left.end]
    if clause.left.kind != IDENT:
        raise InvalidParameterValue(
            f"Invalid comparison clause. Expected 'Identifier' found '{found}'"
        )
    return found


def _is_quoted(value: str, quote: str) -> bool:
    return len(value) >= 2 and value.startswith(quote) and value.endswith(quote)


def _strip_quotes(value: str) -> str:
    if _is_quoted(value, "'") or _is_quoted(value, '"'):
        return value[1:-1]
    return value


def _trim_backticks(value: str) -> str:
    return value[1:-1] if _is_quoted(value, "`") else value


def _quoted_value(value: str) -> str:
    if _is_quoted(value, "'") or _is_quoted(value, '"'):
        return value[1:-1]
    raise InvalidParameterValue(
        "Parameter value is either not quoted or unidentified quote types used for string "
        f"value {value}. Use either single or double quotes."
    )


def _integer(raw: str) -> int | float:
    # Python refuses to convert integers of thousands of digits (MLflow then fails with a
    # 500); as a float such a bound still compares correctly.
    try:
        return int(raw)
    except ValueError:
        return float(raw)


def _parse_list(source: str) -> tuple[str, ...]:
    """MLflow reads ``( ... )`` as a Python literal, so Python's string syntax applies inside."""
    try:
        parsed = ast.literal_eval(source)
    except Exception:  # MLflow answers 500 for non-SyntaxErrors; a 400 is the honest answer
        raise InvalidParameterValue(
            "While parsing a list in the query, expected a non-empty list of string values, "
            "but got ill-formed list."
        ) from None
    items = parsed if isinstance(parsed, tuple) else (parsed,)
    if not items:
        raise InvalidParameterValue(
            "While parsing a list in the query, expected a non-empty list of string values, "
            "but got empty list"
        )
    validation.check_count(
        "values in one IN list of the filter", len(items), validation.MAX_FILTER_LIST_ITEMS
    )
    if not all(isinstance(item, str) for item in items):
        raise InvalidParameterValue(
            "While parsing a list in the query, expected string value, punctuation, or "
            f"whitespace, but got different type in list: {items}"
        )
    return tuple(items)


# --------------------------------------------------------------------------------------------
# Runs.


def _run_identifier(identifier: str, valid_attributes: Sequence[str]) -> tuple[Entity, str]:
    entity_text, dot, key = identifier.partition(".")
    if not dot:
        entity_text, key = "attribute", identifier
    entity_text = _trim_backticks(entity_text)
    entity = _ENTITY_ALIASES.get(entity_text)
    if entity is None:
        raise InvalidParameterValue(
            f"Invalid entity type '{entity_text}'. Valid values are {_ENTITY_LIST}"
        )
    key = _trim_backticks(_strip_quotes(key))
    if entity == ATTRIBUTE and key not in valid_attributes:
        raise InvalidParameterValue(
            f"Invalid attribute key '{key}' specified. "
            f"Valid keys are '{_set_repr(valid_attributes)}'"
        )
    if entity == DATASET and key not in _DATASET_KEYS:
        raise InvalidParameterValue(
            f"Invalid dataset key '{key}' specified. Valid keys are '{_set_repr(_DATASET_KEYS)}'"
        )
    return entity, key


def _numeric_attribute(raw: str, tok: _Tok, key: str) -> Value:
    if tok.kind == INT:
        return _integer(raw)
    if tok.kind == FLOAT:
        return float(raw)
    raise InvalidParameterValue(
        f"Expected numeric value type for numeric attribute: {key}. Found {raw}"
    )


def _run_value(text: str, entity: str, key: str, tok: _Tok) -> Value:
    raw = text[tok.start : tok.end]
    if entity == METRIC:
        if tok.kind not in (INT, FLOAT):
            raise InvalidParameterValue(f"Expected numeric value type for metric. Found {raw}")
        return float(raw)
    if entity in (PARAM, TAG):
        if tok.kind in (STRING, IDENT):
            return _quoted_value(raw)
        raise InvalidParameterValue(
            f"Expected a quoted string value for {entity} (e.g. 'my-value'). Got value {raw}"
        )
    if entity == ATTRIBUTE:
        if key in _RUN_NUMERIC_ATTRIBUTES:
            return _numeric_attribute(raw, tok, key)
        if tok.kind in (STRING, IDENT):
            return _quoted_value(raw)
        if tok.kind == PAREN:
            if key != "run_id":
                raise InvalidParameterValue(
                    "Only ['run_id'] attributes support comparison with a list of quoted "
                    "string values."
                )
            return _parse_list(raw)
        raise InvalidParameterValue(
            f"Expected a quoted string value for attributes. Got value {raw}"
        )
    if tok.kind in (STRING, IDENT):
        return _quoted_value(raw)
    if tok.kind == PAREN:
        return _parse_list(raw)
    raise InvalidParameterValue(
        f"Expected a quoted string value for dataset attributes. Got value {raw}"
    )


def _parse_run_syntax(filter_string: str | None) -> list[Comparison]:
    """SearchUtils.parse_search_filter: syntax and value types, comparators as written."""
    if not filter_string:
        return []
    text = filter_string
    parsed: list[Comparison] = []
    for clause in _clauses(text, quote_invalid=True):
        entity, key = _run_identifier(_identifier_text(text, clause), _RUN_SEARCH_ATTRIBUTES)
        if clause.right is None:
            if entity not in (TAG, PARAM):
                raise InvalidParameterValue(
                    "IS NULL / IS NOT NULL is only supported for tags and params, "
                    f"not for '{entity}' '{key}'"
                )
            parsed.append(Comparison(entity, key, clause.comparator, None))
        else:
            value = _run_value(text, entity, key, clause.right)
            parsed.append(Comparison(entity, key, clause.comparator, value))
    return parsed


def _comparator_error(comparator: str, allowed: Sequence[str], closed: bool) -> MlflowError:
    # Some of MLflow's messages lack the closing quote; reproduced as they are.
    tail = "'" if closed else ""
    return InvalidParameterValue(
        f"Invalid comparator '{comparator}' not one of '{_set_repr(allowed)}{tail}"
    )


def _check_run_comparator(raw: Comparison) -> Comparison:
    """The comparator checks SqlAlchemyStore applies after parsing, in its order."""
    comparator = raw.comparator.upper()
    key = _KEY_ALIASES.get(raw.key, raw.key)  # for every entity type, as MLflow does
    if raw.entity == ATTRIBUTE:
        if key in _RUN_NUMERIC_ATTRIBUTES:
            if comparator not in _METRIC_COMPARATORS:
                # MLflow lists the string comparators here.
                raise _comparator_error(comparator, _STRING_ATTRIBUTE_COMPARATORS, closed=False)
        elif comparator not in _STRING_ATTRIBUTE_COMPARATORS:
            raise _comparator_error(comparator, _STRING_ATTRIBUTE_COMPARATORS, closed=True)
    elif raw.entity == METRIC:
        if comparator not in _METRIC_COMPARATORS:
            raise _comparator_error(comparator, _METRIC_COMPARATORS, closed=False)
    elif raw.entity == PARAM:
        if comparator not in _PARAM_COMPARATORS:
            raise _comparator_error(comparator, _PARAM_COMPARATORS, closed=True)
    elif raw.entity == TAG:
        if comparator not in _PARAM_COMPARATORS:
            raise _comparator_error(comparator, _PARAM_COMPARATORS, closed=False)
    elif comparator not in _DATASET_COMPARATORS:
        raise _comparator_error(comparator, _DATASET_COMPARATORS, closed=False)
    _check_list_comparator(raw.entity, key, comparator, raw.value)
    return Comparison(raw.entity, key, comparator, raw.value)


def _check_list_comparator(entity: str, key: str, comparator: str, value: Value) -> None:
    # MLflow passes a list compared with =, LIKE, ... to the driver, which rejects it (400
    # BAD_REQUEST carrying the driver's message); same code and status here, plainer words.
    if isinstance(value, tuple) and comparator not in ("IN", "NOT IN"):
        raise BadRequest(
            f"Cannot compare {entity} '{key}' with a list of values using '{comparator}'; "
            "use IN or NOT IN."
        )


def parse_run_filter(filter_string: str | None) -> list[Comparison]:
    """Parse and validate a search_runs filter exactly as MLflow's SQL store does."""
    return [_check_run_comparator(c) for c in _parse_run_syntax(filter_string)]


def _order_by_token(clause: str) -> tuple[str, bool]:
    """SearchUtils._parse_order_by_string: the identifier text and the direction."""
    statements = _grouped_statements(clause, "order_by clause")
    cannot = InvalidParameterValue(f"Invalid order_by clause '{clause}'. Could not be parsed.")
    if len(statements) != 1:
        raise cannot
    grouped = statements[0]
    if len(grouped) != 1 or grouped[0].kind != IDENT:
        raise cannot
    value = clause[grouped[0].start : grouped[0].end]
    try:
        words = shlex.split(value.replace("`", '"'))
    except ValueError:  # unbalanced quotes: MLflow fails with a 500 here
        raise cannot from None
    if len(words) > 2:
        raise cannot
    if len(words) == 2:
        direction = words[1].lower()
        if direction not in ("asc", "desc"):
            raise InvalidParameterValue(f"Invalid ordering key in order_by clause '{clause}'.")
        return words[0], direction == "asc"
    return value, True


def parse_run_order_by(clauses: Sequence[str]) -> list[OrderKey]:
    """Parse search_runs order_by clauses (``<identifier> [ASC|DESC]``)."""
    keys: list[OrderKey] = []
    seen: set[tuple[str, str]] = set()
    for clause in clauses:
        token, ascending = _order_by_token(clause)
        entity, key = _run_identifier(token.strip(), _RUN_ORDER_ATTRIBUTES)
        key = _KEY_ALIASES.get(key, key)  # for every entity type, as MLflow does
        if entity == DATASET:
            raise InvalidParameterValue(f"Invalid identifier type '{entity}'")
        if (entity, key) in seen:
            # MLflow answers this with INTERNAL_ERROR (500), which the client retries seven
            # times; it is the caller's mistake, so runyard says so with a 400.
            raise InvalidParameterValue(f"`order_by` contains duplicate fields: {list(clauses)!r}")
        seen.add((entity, key))
        keys.append(OrderKey(entity, key, ascending))
    return keys


def parse_run_search(
    filter_string: str | None, order_by: Sequence[str]
) -> tuple[list[Comparison], list[OrderKey]]:
    """Both halves of a search_runs request, failing on the error MLflow reports first.

    MLflow checks the filter's syntax, then the order_by clauses, then the filter's
    comparators; calling the two parsers one after the other differs only in which of two
    errors a doubly-wrong request reports.
    """
    raw = _parse_run_syntax(filter_string)
    ordering = parse_run_order_by(order_by)
    return [_check_run_comparator(c) for c in raw], ordering


# --------------------------------------------------------------------------------------------
# Experiments.


def _experiment_identifier(identifier: str, valid_attributes: Sequence[str]) -> tuple[Entity, str]:
    entity_text, dot, key = identifier.partition(".")
    if not dot:
        entity, key = ATTRIBUTE, identifier
    elif entity_text not in _EXPERIMENT_ENTITIES:
        raise InvalidParameterValue(
            f"Invalid entity type '{entity_text}'. Valid entity types are {_EXPERIMENT_ENTITIES!r}"
        )
    else:
        entity = _ENTITY_ALIASES[entity_text]
    key = _trim_backticks(_strip_quotes(key))
    if entity == ATTRIBUTE and key not in valid_attributes:
        raise InvalidParameterValue(
            f"Invalid attribute key '{key}' specified. "
            f"Valid keys are '{_set_repr(valid_attributes)}'"
        )
    return entity, key


def _experiment_value(text: str, entity: str, key: str, tok: _Tok) -> Value:
    raw = text[tok.start : tok.end]
    if entity == TAG:
        if tok.kind in (STRING, IDENT):
            return _quoted_value(raw)
        raise InvalidParameterValue(
            f"Expected a quoted string value for tag (e.g. 'my-value'). Got value {raw}"
        )
    if key in _EXPERIMENT_NUMERIC_ATTRIBUTES:
        return _numeric_attribute(raw, tok, key)
    if tok.kind in (STRING, IDENT):
        return _quoted_value(raw)
    if tok.kind == PAREN:
        if key != "experiment_id":
            raise InvalidParameterValue(
                "Only ['experiment_id'] attributes support comparison with a list of quoted "
                "string values."
            )
        return _parse_list(raw)
    raise InvalidParameterValue(f"Expected a quoted string value for attributes. Got value {raw}")


def _experiment_id(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise InvalidParameterValue(
            f"Invalid experiment ID '{value}'. Experiment ID must be a valid integer."
        ) from None


def _check_experiment_comparison(raw: Comparison) -> Comparison:
    """SqlAlchemyStore's experiment filter checks. Comparators are NOT upper-cased there."""
    comparator, key, value = raw.comparator, raw.key, raw.value
    if raw.entity == TAG:
        if comparator not in ("IS NULL", "IS NOT NULL", "=", "!=", "LIKE", "ILIKE"):
            raise InvalidParameterValue(f"Invalid comparator for tag: {comparator}")
        return raw
    if key == "experiment_id":
        if comparator not in ("=", "!=", "IN", "NOT IN"):
            raise InvalidParameterValue(f"Invalid comparator for experiment_id: {comparator}")
        if isinstance(value, tuple):
            ids: Value = tuple(_experiment_id(str(v)) for v in value)
        else:
            ids = _experiment_id(str(value))
        _check_list_comparator(ATTRIBUTE, key, comparator, ids)
        return Comparison(ATTRIBUTE, key, comparator, ids)
    if key in _EXPERIMENT_NUMERIC_ATTRIBUTES:
        if comparator not in _METRIC_COMPARATORS:
            raise _comparator_error(comparator, _STRING_ATTRIBUTE_COMPARATORS, closed=False)
        if isinstance(value, float):
            raise InvalidParameterValue(
                f"Invalid value for numeric attribute '{key}': {str(value)!r}"
            )
        return raw
    if comparator not in _STRING_ATTRIBUTE_COMPARATORS:
        raise _comparator_error(comparator, _STRING_ATTRIBUTE_COMPARATORS, closed=True)
    if comparator not in ("=", "!=", "LIKE", "ILIKE"):
        raise InvalidParameterValue(f"Invalid comparator for string attribute: {comparator}")
    return raw


def parse_experiment_filter(filter_string: str | None) -> list[Comparison]:
    """Parse and validate a search_experiments filter exactly as MLflow's SQL store does."""
    if not filter_string:
        return []
    text = filter_string
    parsed: list[Comparison] = []
    for clause in _clauses(text, quote_invalid=False):
        identifier = _identifier_text(text, clause)
        entity, key = _experiment_identifier(identifier, _EXPERIMENT_ATTRIBUTES)
        if clause.right is None:
            if entity != TAG:
                raise InvalidParameterValue(
                    f"IS NULL / IS NOT NULL is only supported for tags, not for attribute '{key}'"
                )
            parsed.append(Comparison(entity, key, clause.comparator, None))
        else:
            value = _experiment_value(text, entity, key, clause.right)
            parsed.append(Comparison(entity, key, clause.comparator, value))
    return [_check_experiment_comparison(c) for c in parsed]


def parse_experiment_order_by(clauses: Sequence[str]) -> list[OrderKey]:
    """Parse search_experiments order_by clauses; ``[]`` means MLflow's default order."""
    keys: list[OrderKey] = []
    for clause in clauses:
        token, ascending = _order_by_token(clause)
        entity, key = _experiment_identifier(token.strip(), _EXPERIMENT_ATTRIBUTES)
        if entity != ATTRIBUTE:
            raise InvalidParameterValue(f"Invalid order_by entity: {entity}")
        keys.append(OrderKey(entity, key, ascending))
    return keys


# --------------------------------------------------------------------------------------------
# Page tokens: base64 of ``{"offset": N}``, as SearchUtils.create_page_token writes them.

_MAX_OFFSET = 2**63 - 1


def page_of(found: list[T], offset: int, max_results: int) -> Page[T]:
    """Turn an over-fetched result (``max_results + 1`` rows asked for) into one page.

    A token is returned only when the extra row proves there is more, as MLflow does.
    """
    if len(found) > max_results:
        return Page(found[:max_results], encode_page_token(offset + max_results))
    return Page(found)


def encode_page_token(offset: int) -> str:
    return base64.b64encode(json.dumps({"offset": offset}).encode("utf-8")).decode("ascii")


def decode_page_token(token: str | None) -> int:
    """The offset a page token encodes; 0 for no token."""
    if not token:
        return 0
    try:
        decoded = base64.b64decode(token)
    except (binascii.Error, ValueError):
        raise InvalidParameterValue("Invalid page token, could not base64-decode") from None
    try:
        parsed = json.loads(decoded)
    except (ValueError, RecursionError):  # RecursionError: a token nested too deep
        raise InvalidParameterValue(f"Invalid page token, decoded value={decoded!r}") from None
    offset = parsed.get("offset") if isinstance(parsed, dict) else None
    if not offset:
        raise InvalidParameterValue(f"Invalid page token, parsed value={parsed!r}")
    try:
        number = int(offset)
    except (ValueError, TypeError, OverflowError):
        raise InvalidParameterValue(f"Invalid page token, not stringable {offset}") from None
    if not 0 <= number <= _MAX_OFFSET:
        # MLflow hands these to the database, which fails or ignores them per dialect.
        raise InvalidParameterValue(f"Invalid page token, parsed value={parsed!r}")
    return number


# --------------------------------------------------------------------------------------------
# LoggedModels: a grammar of its own (mlflow/utils/search_logged_model_utils.py), structured
# order_by clauses, and page tokens that echo the request they belong to.

# logged_models columns a filter or order_by may name, and MLflow's aliases for them.
LOGGED_MODEL_COLUMNS = (
    "model_id",
    "experiment_id",
    "name",
    "artifact_location",
    "creation_timestamp_ms",
    "last_updated_timestamp_ms",
    "status",
    "lifecycle_stage",
    "model_type",
    "source_run_id",
    "status_message",
)
_LOGGED_MODEL_ALIASES = {
    "creation_time": "creation_timestamp_ms",
    "creation_timestamp": "creation_timestamp_ms",
    "last_updated_timestamp": "last_updated_timestamp_ms",
}
_LOGGED_MODEL_NUMERIC = frozenset({"creation_timestamp_ms", "last_updated_timestamp_ms"})
_LOGGED_MODEL_ENTITIES: dict[str, Entity] = {
    "attributes": ATTRIBUTE,
    "metrics": METRIC,
    "params": PARAM,
    "tags": TAG,
}
_LOGGED_MODEL_ENTITY_NAMES = {entity: name for name, entity in _LOGGED_MODEL_ENTITIES.items()}
_LOGGED_MODEL_NUMERIC_OPS = ("<", "<=", ">", ">=", "=", "!=")
_LOGGED_MODEL_STRING_OPS = ("=", "!=", "LIKE", "ILIKE", "IN", "NOT IN")
_LOGGED_MODEL_IDENTIFIER = re.compile(r"^([a-z]+)\.(.+)$")


@dataclass(frozen=True, slots=True)
class ModelOrderBy:
    """One order_by clause of a search_logged_models request, as the client sent it."""

    field_name: str
    ascending: bool = True
    dataset_name: str | None = None
    dataset_digest: str | None = None

    def as_token_entry(self) -> dict[str, object]:
        return {
            "field_name": self.field_name,
            "ascending": self.ascending,
            "dataset_name": self.dataset_name,
            "dataset_digest": self.dataset_digest,
        }


@dataclass(frozen=True, slots=True)
class ModelOrderKey:
    """A resolved order_by clause: a logged_models column, or the latest value of a metric
    (only among the metrics of ``dataset_name``/``dataset_digest`` when those are given)."""

    entity: Entity  # ATTRIBUTE or METRIC
    key: str
    ascending: bool
    dataset_name: str | None = None
    dataset_digest: str | None = None


@dataclass(frozen=True, slots=True)
class ModelDatasetFilter:
    """An entry of search_logged_models' ``datasets``: which metrics count."""

    name: str
    digest: str | None = None


def _model_entity(identifier: str) -> tuple[Entity, str]:
    found = _LOGGED_MODEL_IDENTIFIER.match(identifier)
    if found is None:
        key = _LOGGED_MODEL_ALIASES.get(identifier, identifier).strip("`")
        return ATTRIBUTE, key
    entity = _LOGGED_MODEL_ENTITIES.get(found.group(1))
    if entity is None:
        raise InvalidParameterValue(
            f"Invalid entity type: {found.group(1)!r}. "
            f"Expected one of {list(_LOGGED_MODEL_ENTITIES)}."
        )
    key = found.group(2).strip("`")
    if entity == ATTRIBUTE:
        # MLflow resolves aliases only for bare names (and fails on `attributes.<alias>`).
        key = _LOGGED_MODEL_ALIASES.get(key, key)
    return entity, key


def _model_value(entity: Entity, key: str, shown: str, comparator: str, raw: str) -> Value:
    numeric = entity == METRIC or (entity == ATTRIBUTE and key in _LOGGED_MODEL_NUMERIC)
    if numeric:
        try:
            return float(raw)
        except ValueError:  # MLflow answers a 500 here
            raise InvalidParameterValue(
                f"Invalid value {raw} for {shown}: expected a number."
            ) from None
    if raw.startswith("(") and raw.endswith(")"):
        try:
            parsed = ast.literal_eval(raw)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            raise InvalidParameterValue(f"Invalid list value {raw} for {shown}.") from None
        items = parsed if isinstance(parsed, tuple) else (parsed,)
        if not items or not all(isinstance(i, str | int | float) for i in items):
            raise InvalidParameterValue(f"Invalid list value {raw} for {shown}.")
        values = tuple(str(i) for i in items)
        _check_list_comparator(entity, key, comparator, values)
        return values
    return raw.strip("'")


def _model_comparison(text: str, left: _Tok, comparator: str, right: _Tok) -> Comparison:
    entity, key = _model_entity(text[left.start : left.end])
    shown = f"{_LOGGED_MODEL_ENTITY_NAMES[entity]}.{key}"
    numeric = entity == METRIC or (entity == ATTRIBUTE and key in _LOGGED_MODEL_NUMERIC)
    allowed = _LOGGED_MODEL_NUMERIC_OPS if numeric else _LOGGED_MODEL_STRING_OPS
    op = comparator.upper()
    if op not in allowed:
        raise InvalidParameterValue(
            f"Invalid comparison operator for {shown}: {op!r}. Expected one of {allowed}."
        )
    if entity == ATTRIBUTE and key not in LOGGED_MODEL_COLUMNS:
        # MLflow fails with a 500 when it builds the query.
        raise InvalidParameterValue(
            f"Invalid attribute key '{key}' specified. "
            f"Valid keys are '{_set_repr(LOGGED_MODEL_COLUMNS)}'"
        )
    value = _model_value(entity, key, shown, op, text[right.start : right.end])
    return Comparison(entity, key, op, value)


def parse_logged_model_filter(filter_string: str | None) -> list[Comparison]:
    """Parse a search_logged_models filter as MLflow does.

    Comparisons are AND-ed; ``value`` is a float for metrics and the two timestamps, a tuple
    of strings for a parenthesised list, else the text with single quotes stripped (MLflow
    keeps double quotes and accepts unquoted words). Every attribute compares as text.
    """
    if not filter_string:
        return []
    text = filter_string
    statements = _grouped_statements(text, "filter")
    if len(statements) != 1:
        raise InvalidParameterValue(
            f"Invalid filter string: {text!r}. Expected a single SQL expression."
        )
    parsed: list[Comparison] = []
    for item in _join_clauses(text, statements[0]):
        if isinstance(item, _Clause):
            left = text[item.left.start : item.left.end]
            if item.right is None:
                raise InvalidParameterValue(
                    f"Invalid comparison: {left}{item.comparator}. "
                    "Expected a comparison with 3 tokens."
                )
            parsed.append(_model_comparison(text, item.left, item.comparator, item.right))
        elif item.kind == COMPARE:
            left_tok, op, right_tok = item.parts
            parsed.append(_model_comparison(text, left_tok, text[op.start : op.end], right_tok))
        elif item.norm != "AND":
            raise InvalidParameterValue(
                f"Invalid filter string: {text!r}. Expected a list of comparisons separated by "
                "'AND' (e.g. 'metrics.loss > 0.1 AND params.lr = 0.01')."
            )
    return parsed


def parse_logged_model_order_by(clauses: Sequence[ModelOrderBy]) -> list[ModelOrderKey]:
    keys: list[ModelOrderKey] = []
    for clause in clauses:
        field_name = clause.field_name
        if "." not in field_name:
            name = _LOGGED_MODEL_ALIASES.get(field_name, field_name)
            if name not in LOGGED_MODEL_COLUMNS:
                raise AttributeNotFound(f"Invalid order by field name: {field_name}")
            keys.append(ModelOrderKey(ATTRIBUTE, name, clause.ascending))
            continue
        entity, name = field_name.split(".", 1)
        if entity != "metrics":
            raise InvalidParameterValue(
                f"Invalid order by field name: {field_name}. Only metrics are supported."
            )
        keys.append(
            ModelOrderKey(
                METRIC, name, clause.ascending, clause.dataset_name, clause.dataset_digest
            )
        )
    return keys


def encode_logged_model_token(
    experiment_ids: Sequence[str],
    filter_string: str | None,
    order_by: Sequence[ModelOrderBy],
    offset: int,
) -> str:
    """MLflow's LoggedModel page token: the request it continues, and the offset."""
    echoed = {
        "experiment_ids": list(experiment_ids),
        "filter_string": filter_string,
        "order_by": [o.as_token_entry() for o in order_by] or None,
        "offset": offset,
    }
    return base64.b64encode(json.dumps(echoed).encode("utf-8")).decode("utf-8")


def decode_logged_model_token(
    token: str | None,
    experiment_ids: Sequence[str],
    filter_string: str | None,
    order_by: Sequence[ModelOrderBy],
) -> int:
    """The offset of a LoggedModel page token, which must echo this very request."""
    if not token:
        return 0
    try:
        parsed = json.loads(base64.b64decode(token.encode("utf-8")).decode("utf-8"))
    except (ValueError, binascii.Error, RecursionError) as exc:  # JSON, base64, UTF-8, depth
        raise InvalidParameterValue(f"Invalid page token: {token}. {exc}") from None
    if not isinstance(parsed, dict):
        raise InvalidParameterValue(f"Invalid page token: {token}.")
    found_ids = parsed.get("experiment_ids")
    if found_ids != list(experiment_ids):
        raise InvalidParameterValue(
            "Experiment IDs in the page token do not match the requested experiment IDs. "
            f"Expected: {list(experiment_ids)}. Found: {found_ids}"
        )
    found_filter = parsed.get("filter_string") or None
    if found_filter != filter_string:
        raise InvalidParameterValue(
            "Filter string in the page token does not match the requested filter string. "
            f"Expected: {filter_string}. Found: {found_filter}"
        )
    wanted_order = [o.as_token_entry() for o in order_by] or None
    found_order = parsed.get("order_by") or None
    if found_order != wanted_order:
        raise InvalidParameterValue(
            "Order by in the page token does not match the requested order by. "
            f"Expected: {wanted_order}. Found: {found_order}"
        )
    offset = parsed.get("offset") or 0
    if type(offset) is not int or not 0 <= offset <= _MAX_OFFSET:
        raise InvalidParameterValue(f"Invalid page token: {token}. Bad offset {offset!r}.")
    return offset
