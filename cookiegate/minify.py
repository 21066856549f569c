"""A small minifier for the banner, in Python so serving needs no JavaScript toolchain.

JavaScript: names the script declares itself are shortened scope by scope
(globals, properties and keys keep theirs), then comments and every space and
semicolon the grammar does not need are dropped. The syntax tree is compared
before and after compacting, so a change of meaning fails loudly, and a script
that cannot be minified is served as it is (bigger, but working).
CSS: rcssmin.
"""
from __future__ import annotations

import logging
import re
from pathlib import Path

import esprima
import rcssmin

logger = logging.getLogger(__name__)


RESERVED = frozenset(
    "as do if in of break case catch class const continue debugger default delete else enum export extends false "
    "finally for function import instanceof let new null return static super switch this throw true try typeof var "
    "void while with yield async await arguments eval undefined".split()
)


def short_names(taken: set[str]):
    """a, b, ... Z, aa, ab, ...: never a reserved word nor one of `taken`."""
    letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    length = 1
    while True:
        for index in range(len(letters) ** length):
            name = ""
            for _ in range(length):
                index, digit = divmod(index, len(letters))
                name = letters[digit] + name
            if name not in taken and name not in RESERVED:
                yield name
        length += 1


def _bound_names(pattern, out: list) -> None:
    kind = getattr(pattern, "type", None)
    if kind == "Identifier":
        out.append(pattern.name)
    elif kind == "AssignmentPattern":
        _bound_names(pattern.left, out)
    elif kind == "RestElement":
        _bound_names(pattern.argument, out)
    elif kind == "ArrayPattern":
        for element in pattern.elements:
            _bound_names(element, out)
    elif kind == "ObjectPattern":
        for prop in pattern.properties:
            _bound_names(prop.value if prop.type == "Property" else prop, out)


class Scope:
    """A function's names (block-scoped ones count as the function's: same name, same new name)."""

    def __init__(self, parent: "Scope | None"):
        self.parent = parent
        self.children: list[Scope] = []
        self.names: dict[str, int] = {}  # declared name -> uses
        self.new: dict[str, str] = {}
        self.outer_uses: set[tuple[int, str]] = set()  # (id of declaring scope or 0 for global, name) used in the subtree
        if parent:
            parent.children.append(self)

    def resolve(self, name: str) -> "Scope | None":
        scope = self
        while scope is not None and name not in scope.names:
            scope = scope.parent
        return scope


def _identifier_uses(tree):
    """(identifier, scope, shorthand?) for every name that is not a property name, and the scopes."""
    uses = []
    root = Scope(None)

    def declare(scope, pattern):
        names: list[str] = []
        _bound_names(pattern, names)
        for name in names:
            scope.names.setdefault(name, 0)

    def walk(node, scope, parent=None, field=None):
        kind = node.type
        if kind in ("FunctionDeclaration", "FunctionExpression", "ArrowFunctionExpression"):
            if kind == "FunctionDeclaration":
                declare(scope, node.id)
            scope = Scope(scope)
            if kind == "FunctionExpression" and node.id is not None:
                declare(scope, node.id)
            for param in node.params:
                declare(scope, param)
        elif kind == "VariableDeclarator":
            declare(scope, node.id)
        elif kind == "CatchClause" and node.param is not None:
            declare(scope, node.param)
        if kind == "Identifier":
            if not (
                parent is not None
                and (
                    (parent.type == "MemberExpression" and field == "property" and not parent.computed)
                    or (parent.type in ("Property", "MethodDefinition") and field == "key" and not parent.computed)
                    or parent.type in ("LabeledStatement", "BreakStatement", "ContinueStatement")
                )
            ):
                uses.append((node, scope, False))
            return
        if kind == "Property" and node.shorthand:
            uses.append((node.key, scope, True))
            if node.value.type == "AssignmentPattern":  # `{ a = 1 }` in a pattern
                walk(node.value.right, scope, node.value, "right")
            return
        for name, value in vars(node).items():
            for child in value if isinstance(value, list) else [value]:
                if getattr(child, "type", None):
                    walk(child, scope, node, name)

    walk(tree, root)
    return uses, root


def mangle(source: str) -> str:
    """Shorten the names the script declares itself, reusing short names across scopes as a minifier does.

    Globals, property names and object keys keep their names (a shorthand `{ name }`
    becomes `{ name: n }`). Top-level names stay as they are: the script is one IIFE.
    """
    tree = esprima.parseScript(source, range=True)
    uses, root = _identifier_uses(tree)
    resolved = []
    for node, scope, shorthand in uses:
        owner = scope.resolve(node.name)
        resolved.append((node, owner, shorthand))
        if owner is not None:
            owner.names[node.name] += 1
        # Every scope from the use up to (not including) the owner must avoid the owner's new name.
        key = (id(owner) if owner is not None else 0, node.name)
        walker = scope
        while walker is not None and walker is not owner:
            walker.outer_uses.add(key)
            walker = walker.parent

    def assign(scope: Scope, outer: dict[int, Scope]) -> None:
        taken = set()
        for owner_id, name in scope.outer_uses:
            taken.add(outer[owner_id].new[name] if owner_id else name)
        names = short_names(taken)
        if scope is not root:
            for name in sorted(scope.names, key=lambda n: (-scope.names[n], n)):
                scope.new[name] = next(names)
        else:
            scope.new = {name: name for name in scope.names}
        inner = {**outer, id(scope): scope}
        for child in scope.children:
            assign(child, inner)

    assign(root, {})
    edits = []
    for node, owner, shorthand in resolved:
        if owner is not None and owner.new[node.name] != node.name:
            new = owner.new[node.name]
            edits.append((node.range[0], node.range[1], f"{node.name}:{new}" if shorthand else new))
    out = source
    for start, end, text in sorted(edits, reverse=True):
        out = out[:start] + text + out[end:]
    return out


def _word_edge(a: str, b: str) -> bool:
    return bool(re.match(r"[\w$\\]", a[-1]) and re.match(r"[\w$\\]", b[0]))


def _joinable_declarations(tree, source: str) -> tuple[set[int], set[int]]:
    """Where `const a = 1; const b = 2;` may become `const a = 1, b = 2;`: (semicolon offsets, keyword offsets)."""
    semicolons: set[int] = set()
    keywords: set[int] = set()

    def walk(node):
        body = getattr(node, "body", None)
        if isinstance(body, list):
            for first, second in zip(body, body[1:]):
                if (
                    first.type == second.type == "VariableDeclaration"
                    and first.kind == second.kind
                    and source[first.range[1] - 1] == ";"
                ):
                    semicolons.add(first.range[1] - 1)
                    keywords.add(second.range[0])
        for child in _children(node):
            walk(child)

    walk(tree)
    return semicolons, keywords


def _children(node):
    for value in vars(node).values():
        for child in value if isinstance(value, list) else [value]:
            if getattr(child, "type", None):
                yield child


def _normalised(tree: dict) -> dict:
    """The syntax tree with adjacent declarations of one kind merged, as compact() writes them."""
    if isinstance(tree, list):
        merged: list = []
        for item in (_normalised(x) for x in tree):
            if (
                merged
                and isinstance(item, dict)
                and item.get("type") == "VariableDeclaration"
                and isinstance(merged[-1], dict)
                and merged[-1].get("type") == "VariableDeclaration"
                and merged[-1]["kind"] == item["kind"]
            ):
                merged[-1] = dict(merged[-1], declarations=merged[-1]["declarations"] + item["declarations"])
            else:
                merged.append(item)
        return merged
    if isinstance(tree, dict):
        return {key: _normalised(value) for key, value in tree.items()}
    return tree


def compact(source: str) -> str:
    """The script's tokens without comments and with only the spaces and semicolons the grammar needs.

    Statements must end with an explicit semicolon; the syntax trees before and after
    are compared, so a change of meaning (or a missing semicolon) fails loudly.
    """
    tree = esprima.parseScript(source, range=True)
    semicolons, keywords = _joinable_declarations(tree, source)
    tokens = esprima.tokenize(source, {"range": True})
    values = [t.value for t in tokens] + [None, None, None]
    drop: set[int] = set()
    for i, value in enumerate(values[:-3]):
        # `;}` and a trailing comma say nothing the tree keeps (the check below makes sure).
        if value in (";", ",") and values[i + 1] in ("}", "]", ")"):
            drop.add(i)
        # `(a) => …` is `a => …`
        if value == "(" and tokens[i + 1].type == "Identifier" and values[i + 2] == ")" and values[i + 3] == "=>":
            drop.update((i, i + 2))
        if tokens[i].range[0] in keywords:
            drop.add(i)
    out: list[str] = []
    previous = None
    for i, token in enumerate(tokens):
        if i in drop:
            continue
        text = "," if token.range[0] in semicolons else source[token.range[0] : token.range[1]]
        if previous is not None and (
            _word_edge(previous, text)
            or (previous[-1] in "+-" and text[0] == previous[-1])
            or (previous[-1].isdigit() and text[0] == ".")
        ):
            out.append(" ")
        out.append(text)
        previous = text
    result = "".join(out)
    try:
        same = _normalised(esprima.parseScript(result).toDict()) == _normalised(esprima.parseScript(source).toDict())
    except esprima.Error:
        same = False
    if not same:
        raise ValueError("minifying changed the script's syntax tree: is a semicolon missing?")
    return result


def minify(path: Path, raw: bytes) -> bytes:
    if path.suffix == ".js":
        try:
            return compact(mangle(raw.decode("utf-8"))).encode("utf-8")
        except (ValueError, esprima.Error) as error:
            # A working banner, only bigger, beats none (tests/browser/test_budget.py catches this).
            logger.error("serving %s unminified: %s", path.name, error)
            return raw
    if path.suffix == ".css":
        return rcssmin.cssmin(raw.decode("utf-8")).encode("utf-8")
    return raw
