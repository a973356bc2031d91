"""sqlparse's token rules and groupings, which decide what MLflow's filters accept."""

from __future__ import annotations

import ast
import bisect
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from runyard.domain import validation
from runyard.errors import InvalidParameterValue

# --------------------------------------------------------------------------------------------
# Lexer. The rules, their order and their case-insensitivity follow sqlparse's lexer, since
# the first rule matching at a position decides the token (e.g. a word right after a dot is a
_MAX_TOKENS = 10_000  # sqlparse refuses statements with more tokens than this
_MAX_NESTING = 100  # ... and groups nested deeper than this

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
class Tok:
    kind: int
    start: int
    end: int
    norm: str = ""  # upper-cased text of keywords
    parts: tuple[Tok, ...] = ()  # a binary group's (left, operator, right)


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


def _lex(text: str) -> list[Tok]:
    tokens: list[Tok] = []
    delimited = _Delimited(text)
    pos = 0
    while pos < len(text):
        span = delimited.span(text, pos)
        if span is not None:
            tokens.append(Tok(span[1], pos, span[0]))
            pos = span[0]
            continue
        match = _LEXER.match(text, pos)
        if match is None:
            tokens.append(Tok(OTHER, pos, pos + 1))  # sqlparse's Error token
            pos += 1
            continue
        index = int((match.lastgroup or "r0")[1:])
        kind = _RULES[index][0]
        norm = match.group().upper()
        if index == _WORD_RULE and norm in _KEYWORDS:
            kind = KEYWORD
        tokens.append(Tok(kind, pos, match.end(), norm if kind == KEYWORD else ""))
        pos = match.end()
    return tokens


def _split_statements(text: str, tokens: list[Tok]) -> list[list[Tok]]:
    """Split at ``;`` outside parentheses and BEGIN blocks, as sqlparse does.

    Blanks (up to a newline) and ``--`` comments right after the ``;`` still belong to the
    statement it ends; a statement of whitespace only is dropped.
    """
    statements: list[list[Tok]] = [[]]
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


def grouped_statements(text: str, what: str) -> list[list[Tok]]:
    """Lex, split and group ``text``; ``what`` names it in the error for oversized input."""
    validation.check_search_text(what, text)  # before lexing, which costs per character
    statements = _split_statements(text, _lex(text))
    grouped: list[list[Tok]] = []
    for statement in statements:
        if _raw_token_count(text, statement) > _MAX_TOKENS:
            raise InvalidParameterValue(f"Error on parsing {what} '{text}'")
        try:
            grouped.append(_Grouper(text).group(statement))
        except _TooComplex:
            raise InvalidParameterValue(f"Error on parsing {what} '{text}'") from None
    return grouped


def _raw_token_count(text: str, tokens: list[Tok]) -> int:
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

    def is_punct(self, tok: Tok, char: str) -> bool:
        return tok.kind == PUNCT and self.text[tok.start : tok.end] == char

    def group(self, tokens: list[Tok]) -> list[Tok]:
        tokens = self.enclose(tokens, "[", "]", BRACKETS)
        tokens = self.enclose(tokens, "(", ")", PAREN)
        tokens = self.functions(tokens)
        tokens = self.periods(tokens)
        tokens = self.subscripts(tokens)
        tokens = [Tok(IDENT, t.start, t.end) if t.kind in (NAME, SYMBOL) else t for t in tokens]
        tokens = self.order_suffixes(tokens)
        tokens = _binary(tokens, lambda t: t.kind == TYPECAST, _exists, _exists, IDENT)
        tokens = _binary(tokens, _is_arithmetic, _is_operand, _is_operand, OPERATION)
        tokens = _binary(tokens, lambda t: t.kind == CMP, _is_comparable, _is_comparable, COMPARE)
        tokens = _binary(tokens, lambda t: t.norm == "AS", _may_alias, _may_be_alias, IDENT)
        return _aliases(tokens)

    def enclose(self, tokens: list[Tok], opening: str, closing: str, kind: int) -> list[Tok]:
        """Group balanced ``opening ... closing`` pairs into one ``kind`` token each."""
        levels: list[list[Tok]] = [[]]
        opens: list[Tok] = []
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
                    levels[-1].append(Tok(kind, opener.start, tok.end))
            else:
                levels[-1].append(tok)
        while opens:  # unbalanced: the openers stay plain punctuation
            inner, opener = levels.pop(), opens.pop()
            levels[-1].extend([opener, *inner])
        return levels[0]

    def functions(self, tokens: list[Tok]) -> list[Tok]:
        out: list[Tok] = []
        i = 0
        while i < len(tokens):
            tok = tokens[i]
            j = _next_solid(tokens, i)
            if tok.kind in (NAME, PLACEHOLDER) and j is not None and tokens[j].kind == PAREN:
                out.append(Tok(FUNC, tok.start, tokens[j].end))
                i = j + 1
                continue
            out.append(tok)
            i += 1
        return out

    def periods(self, tokens: list[Tok]) -> list[Tok]:
        out: list[Tok] = []
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
                out.append(Tok(IDENT, start, end))
                last = len(out) - 1
                continue
            out.append(tok)
            last, extendable = len(out) - 1, tok.kind in (NAME, SYMBOL, BRACKETS)
            i += 1
        return out

    def subscripts(self, tokens: list[Tok]) -> list[Tok]:
        """``name[...]`` is one identifier."""
        out: list[Tok] = []
        for tok in tokens:
            prev = _last_solid(out)
            if tok.kind == BRACKETS and prev is not None and out[prev].kind in _SUBSCRIPTABLE:
                start = out[prev].start
                del out[prev:]
                out.append(Tok(IDENT, start, tok.end))
            else:
                out.append(tok)
        return out

    def order_suffixes(self, tokens: list[Tok]) -> list[Tok]:
        out: list[Tok] = []
        for tok in tokens:
            prev = _last_solid(out)
            if (
                tok.kind == ORDER
                and prev is not None
                and out[prev].kind in (IDENT, INT, FLOAT, HEX)
            ):
                start = out[prev].start
                del out[prev:]
                out.append(Tok(IDENT, start, tok.end))
            else:
                out.append(tok)
        return out


_SEGMENTS = (NAME, SYMBOL, WILDCARD, STRING, FUNC, BRACKETS)  # what may follow a dot
_SUBSCRIPTABLE = (BRACKETS, IDENT, FUNC, NAME, SYMBOL)


class _TooComplex(Exception):
    """The statement exceeds sqlparse's grouping limits."""


def _exists(tok: Tok | None) -> bool:
    return tok is not None


def _is_arithmetic(tok: Tok) -> bool:
    return tok.kind in (OP, ARROW, WILDCARD)


def _is_operand(tok: Tok | None) -> bool:
    if tok is None:
        return False
    if tok.kind == KEYWORD:
        return tok.norm in ("CURRENT_DATE", "CURRENT_TIME", "CURRENT_TIMESTAMP")
    return tok.kind in (INT, FLOAT, STRING, PLACEHOLDER, IDENT, PAREN, BRACKETS, FUNC, OPERATION)


def _is_comparable(tok: Tok | None) -> bool:
    if tok is None:
        return False
    if tok.kind == KEYWORD:
        return tok.norm == "NULL"
    return tok.kind in (INT, FLOAT, STRING, PLACEHOLDER, IDENT, PAREN, FUNC, OPERATION)


def _may_alias(tok: Tok | None) -> bool:
    return tok is not None and (tok.kind not in (KEYWORD, ORDER) or tok.norm == "NULL")


def _may_be_alias(tok: Tok | None) -> bool:
    return tok is not None and tok.norm not in _STATEMENT_KEYWORDS


def _next_solid(tokens: Sequence[Tok], i: int) -> int | None:
    for j in range(i + 1, len(tokens)):
        if tokens[j].kind != WS:
            return j
    return None


def _last_solid(tokens: Sequence[Tok]) -> int | None:
    for j in range(len(tokens) - 1, -1, -1):
        if tokens[j].kind != WS:
            return j
    return None


def _binary(
    tokens: list[Tok],
    match: Callable[[Tok], bool],
    valid_left: Callable[[Tok | None], bool],
    valid_right: Callable[[Tok | None], bool],
    kind: int,
) -> list[Tok]:
    """Fold ``left <op> right`` into one group, left to right, as sqlparse does.

    After a fold the right operand (not the new group) is what the next operator sees as its
    left neighbour, so ``a = b = c`` nests ``(a = b) = c``.
    """
    out: list[Tok] = []
    last: int | None = None
    left_view: Tok | None = None
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
                out.append(Tok(kind, left.start, right.end, parts=(left, tok, right)))
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


def _aliases(tokens: list[Tok]) -> list[Tok]:
    """``<expr> <name>`` is an implicit alias: sqlparse folds both into one identifier."""
    out = list(tokens)
    i = 0
    while i < len(out):
        if out[i].kind in (PAREN, FUNC, IDENT, OPERATION, COMPARE, INT, FLOAT, HEX):
            j = _next_solid(out, i)
            if j is not None and out[j].kind == IDENT:
                out[i : j + 1] = [Tok(IDENT, out[i].start, out[j].end)]
        i += 1
    return out


# --------------------------------------------------------------------------------------------
# From token groups to raw clauses, as SearchUtils._process_statement does.


@dataclass(frozen=True, slots=True)
class Clause:
    left: Tok
    comparator: str  # as written (MLflow upper-cases it later, and only for runs)
    right: Tok | None  # None for IS [NOT] NULL


def _statement(text: str) -> list[Tok]:
    """The single statement a filter must be."""
    statements = grouped_statements(text, "filter")
    if not statements:
        raise InvalidParameterValue(f"Invalid filter '{text}'. Could not be parsed.")
    if len(statements) > 1:
        raise InvalidParameterValue(
            f"Search filter contained multiple expression {text!r}. Provide AND-ed expression list."
        )
    return statements[0]


def split_clauses(text: str, quote_invalid: bool) -> list[Clause]:
    joined = join_clauses(text, _statement(text))
    invalid = [t for t in joined if isinstance(t, Tok) and t.kind != COMPARE and t.norm != "AND"]
    if invalid:
        texts = [text[t.start : t.end] for t in invalid]
        listed = ", ".join(f"'{t}'" if quote_invalid else t for t in texts)
        raise InvalidParameterValue(f"Invalid clause(s) in filter string: {listed}")

    clauses: list[Clause] = []
    for item in joined:
        if isinstance(item, Clause):
            clauses.append(item)
        elif item.kind == COMPARE:
            left, op, right = item.parts
            clauses.append(Clause(left, text[op.start : op.end], right))
    return clauses


def join_clauses(text: str, statement: list[Tok]) -> list[Tok | Clause]:
    """SearchUtils._join_in_comparison_tokens: the statement's tokens with IN-style clauses
    folded into one, since the tokenizer does not group them as comparisons."""
    solid = [t for t in statement if t.kind != WS]
    joined: list[Tok | Clause] = []
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
            joined.append(Clause(first, text[second.start : second.end], third))
            i += 3
            continue
        if second.norm == "IS" and third.norm == "NULL":
            joined.append(Clause(first, "IS NULL", None))
            i += 3
            continue
        if second.norm == "IS" and third.norm == "NOT NULL":
            joined.append(Clause(first, "IS NOT NULL", None))
            i += 3
            continue
        if i + 3 >= n:
            joined.extend([first, second, third])
            break
        fourth = solid[i + 3]
        if second.norm == "NOT" and third.norm == "IN" and fourth.kind == PAREN:
            joined.append(Clause(first, "NOT IN", fourth))
            i += 4
            continue
        joined.extend([first, second, third, fourth])
        i += 4
    return joined


def identifier_text(text: str, clause: Clause) -> str:
    """The clause's left side, which must be an identifier (checked clause by clause)."""
    found = text[clause.left.start : clause.left.end]
    if clause.left.kind != IDENT:
        raise InvalidParameterValue(
            f"Invalid comparison clause. Expected 'Identifier' found '{found}'"
        )
    return found


def _is_quoted(value: str, quote: str) -> bool:
    return len(value) >= 2 and value.startswith(quote) and value.endswith(quote)


def strip_quotes(value: str) -> str:
    if _is_quoted(value, "'") or _is_quoted(value, '"'):
        return value[1:-1]
    return value


def trim_backticks(value: str) -> str:
    return value[1:-1] if _is_quoted(value, "`") else value


def quoted_value(value: str) -> str:
    if _is_quoted(value, "'") or _is_quoted(value, '"'):
        return value[1:-1]
    raise InvalidParameterValue(
        "Parameter value is either not quoted or unidentified quote types used for string "
        f"value {value}. Use either single or double quotes."
    )


def integer(raw: str) -> int | float:
    # Python refuses to convert integers of thousands of digits (MLflow then fails with a
    # 500); as a float such a bound still compares correctly.
    try:
        return int(raw)
    except ValueError:
        return float(raw)


def parse_list(source: str) -> tuple[str, ...]:
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
