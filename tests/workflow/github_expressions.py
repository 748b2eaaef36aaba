"""GitHub Actions expressions (``${{ ... }}``), read as GitHub reads them, for the workflow tests.

Two questions, answered from the workflow files alone:

- ``evaluate``: what an ``if:`` (or an ``environment:``) comes to for one event and ref. What a
  file cannot tell (a step's output, a variable, a status function) is ``UNKNOWN``, and an
  ``if:`` that is not known to be false may run: the answer errs towards "runs".
- ``secret_flows``: which secrets' values can reach the result. A comparison gives a boolean,
  not the secret (``secrets.X != ''`` reveals only whether X is set); ``a || b`` and ``a && b``
  give one of their operands; ``secrets`` as a whole (``toJSON(secrets)``) or indexed by
  something computed gives every secret, written ``*``.

Operators, precedence and loose equality (strings compared ignoring case) as GitHub's
documentation on expressions describes them.
"""

from __future__ import annotations

import re

UNKNOWN = type("Unknown", (), {"__repr__": lambda self: "UNKNOWN"})()
TOKEN = re.compile(
    r"\s*(?:(?P<string>'(?:[^']|'')*')|(?P<number>-?\d+(?:\.\d+)?)|(?P<op>==|!=|<=|>=|&&|\|\||[<>!().,\[\]*])"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_-]*))"
)
EXPRESSION = re.compile(r"\$\{\{(.*?)\}\}", re.DOTALL)
# Functions whose result carries their arguments' values; the others return a boolean or a hash.
CARRIERS = {"format", "join", "tojson", "fromjson"}


def tokens(text: str) -> list[tuple[str, str]]:
    found, position = [], 0
    text = text.rstrip()
    while position < len(text):
        match = TOKEN.match(text, position)
        if not match or match.end() == position:
            raise ValueError(f"cannot read the expression at {text[position:]!r}")
        kind = match.lastgroup
        found.append((kind, match.group(kind)))
        position = match.end()
    return found


class Parser:
    """Recursive descent: || below && below comparisons below ! below property access."""

    def __init__(self, text: str):
        self.items = tokens(text)
        self.index = 0

    def peek(self) -> tuple[str, str] | None:
        return self.items[self.index] if self.index < len(self.items) else None

    def take(self, value: str | None = None) -> tuple[str, str]:
        item = self.peek()
        if item is None or (value is not None and item[1] != value):
            raise ValueError(f"expected {value!r}, found {item}")
        self.index += 1
        return item

    def parse(self):
        tree = self.either()
        if self.peek() is not None:
            raise ValueError(f"unexpected {self.peek()}")
        return tree

    def either(self):
        tree = self.both()
        while self.peek() == ("op", "||"):
            self.take()
            tree = ("||", tree, self.both())
        return tree

    def both(self):
        tree = self.comparison()
        while self.peek() == ("op", "&&"):
            self.take()
            tree = ("&&", tree, self.comparison())
        return tree

    def comparison(self):
        tree = self.unary()
        while self.peek() in {("op", op) for op in ("==", "!=", "<", ">", "<=", ">=")}:
            op = self.take()[1]
            tree = (op, tree, self.unary())
        return tree

    def unary(self):
        if self.peek() == ("op", "!"):
            self.take()
            return ("!", self.unary())
        return self.access()

    def access(self):
        tree = self.primary()
        while self.peek() in (("op", "."), ("op", "[")):
            if self.take()[1] == ".":
                _, name = self.take()
                tree = ("get", tree, ("literal", "*" if name == "*" else name.lower()))
            else:
                key = self.either()
                self.take("]")
                tree = ("get", tree, key)
        return tree

    def primary(self):
        kind, value = self.take()
        if kind == "string":
            return ("literal", value[1:-1].replace("''", "'"))
        if kind == "number":
            return ("literal", float(value))
        if (kind, value) == ("op", "("):
            tree = self.either()
            self.take(")")
            return tree
        if kind != "name":
            raise ValueError(f"unexpected {value!r}")
        if value in ("true", "false"):
            return ("literal", value == "true")
        if value == "null":
            return ("literal", None)
        if self.peek() == ("op", "("):
            self.take()
            args = []
            while self.peek() != ("op", ")"):
                args.append(self.either())
                if self.peek() == ("op", ","):
                    self.take()
            self.take(")")
            return ("call", value.lower(), args)
        return ("name", value.lower())


def parse(text: str):
    return Parser(text).parse()


def truthy(value) -> bool | None:
    """GitHub's truthiness; None when unknown."""
    if value is UNKNOWN:
        return None
    return value not in (False, None, "", 0.0) and value == value  # NaN is falsy


def loose_equal(left, right) -> bool:
    if isinstance(left, str) and isinstance(right, str):
        return left.lower() == right.lower()
    if type(left) is type(right):
        return left == right

    def number(value):
        if value is None:
            return 0.0
        if isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value.strip() or 0)
            except ValueError:
                return float("nan")
        return value if isinstance(value, float) else float("nan")

    return number(left) == number(right)


def evaluate(tree, context: dict):
    """The value of a parsed expression; UNKNOWN where the context does not know."""
    kind = tree[0]
    if kind == "literal":
        return tree[1]
    if kind == "name":
        return context.get(tree[1], UNKNOWN)
    if kind == "get":
        base, key = evaluate(tree[1], context), evaluate(tree[2], context)
        if base is UNKNOWN or key is UNKNOWN or not isinstance(base, dict):
            return UNKNOWN
        return {k.lower(): v for k, v in base.items()}.get(str(key).lower(), UNKNOWN)
    if kind == "!":
        value = truthy(evaluate(tree[1], context))
        return UNKNOWN if value is None else not value
    if kind in ("&&", "||"):
        left = evaluate(tree[1], context)
        known = truthy(left)
        if known is None:
            right = evaluate(tree[2], context)
            # Unknown on the left: only a known falsy right side settles an &&.
            return False if kind == "&&" and truthy(right) is False else UNKNOWN
        if kind == "&&":
            return evaluate(tree[2], context) if known else left
        return left if known else evaluate(tree[2], context)
    if kind in ("==", "!=", "<", ">", "<=", ">="):
        left, right = evaluate(tree[1], context), evaluate(tree[2], context)
        if left is UNKNOWN or right is UNKNOWN:
            return UNKNOWN
        if kind in ("==", "!="):
            return loose_equal(left, right) == (kind == "==")
        return UNKNOWN
    if kind == "call":
        name, args = tree[1], [evaluate(arg, context) for arg in tree[2]]
        if name == "always":
            return True
        if name == "format" and all(isinstance(a, str) for a in args):
            return re.sub(r"\{(\d+)\}", lambda m: str(args[1 + int(m.group(1))]), args[0])
        if name in ("startswith", "endswith", "contains") and all(isinstance(a, str) for a in args):
            haystack, needle = args[0].lower(), args[1].lower()
            return {"startswith": haystack.startswith, "endswith": haystack.endswith}.get(name, haystack.__contains__)(
                needle
            )
        return UNKNOWN  # success(), failure(), cancelled(), hashFiles(), ... and unknown arguments
    raise ValueError(f"unknown node {kind}")


def secret_flows(tree) -> set[str]:
    """Names of the secrets whose value can reach the expression's result (``*``: all of them)."""
    kind = tree[0]
    if kind == "name":
        return {"*"} if tree[1] == "secrets" else set()
    if kind == "get":
        if tree[1] == ("name", "secrets"):
            key = tree[2]
            return {key[1].upper()} if key[0] == "literal" and key[1] != "*" else {"*"}
        return secret_flows(tree[1])
    if kind in ("&&", "||"):
        return secret_flows(tree[1]) | secret_flows(tree[2])
    if kind == "call" and tree[1] in CARRIERS:
        return set().union(*(secret_flows(arg) for arg in tree[2]))
    return set()  # literals, comparisons, negations, functions that return booleans or hashes


def expressions(text: str) -> list:
    """The parsed ``${{ }}`` expressions in a string."""
    return [parse(body) for body in EXPRESSION.findall(text)]


def condition(value, context: dict) -> bool | None:
    """An ``if:`` as GitHub reads it (with or without ``${{ }}``): True, False, or None when unknown."""
    if value is None:
        return True
    if isinstance(value, bool):
        return value
    text = str(value).strip()
    match = EXPRESSION.fullmatch(text)
    return truthy(evaluate(parse(match.group(1) if match else text), context))


def render(value: str, context: dict):
    """A string with ``${{ }}`` in it, evaluated: a value, or UNKNOWN."""
    match = EXPRESSION.fullmatch(value.strip())
    if match:
        return evaluate(parse(match.group(1)), context)
    return value if not EXPRESSION.search(value) else UNKNOWN
