"""Name resolution and type checking against the schema (the Cedar "validator" stage).

Produces resolved trees (let references bound, `cidr()`/`ip()` folded into values, paths typed) and a
diagnostic for every problem, so a policy set is either fully valid or refused with all its errors.
"""

from __future__ import annotations

import contextlib
import ipaddress
from dataclasses import dataclass, field

from . import _ast as A
from ._checker_ops import check_binary, literal_type
from ._checker_text import _a, _bool_help, _suggest, _text
from ._codegen_size import expanded_size
from ._diagnostics import Diagnostic, Span
from ._schema import Schema
from ._types import BOOL, CIDR, DYN, IP, Type
from ._values import IpAddr, IpNet

MAX_LET_DEPTH = 32
MAX_EXPANDED_DEPTH = 96
MAX_EXPANDED_NODES = 10_000  # bounds the work of one decision: lets sharing lets can double it


@dataclass
class Checked:
    policies: list[A.Policy]
    lets: dict[str, A.Let]
    diagnostics: list[Diagnostic] = field(default_factory=list)
    limits: list[A.Limit] = field(default_factory=list)


class Checker:
    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        self.diags: list[Diagnostic] = []
        self.let_src: dict[str, A.Let] = {}
        self.let_done: dict[str, A.Let] = {}
        self.let_types: dict[str, Type] = {}
        self.visiting: list[str] = []
        self.depths: dict[str, int] = {}
        self.sizes: dict[str, int] = {}

    def error(self, code: str, message: str, span: Span | None, help: str | None = None) -> None:
        self.diags.append(Diagnostic(code, message, span, help))

    def check(self, files: list[A.SourceFile]) -> Checked:
        policies: list[A.Policy] = []
        seen_ids: dict[str, Span] = {}
        for f in files:
            for st in f.statements:
                if isinstance(st, A.Let):
                    if st.name in self.let_src:
                        first = self.let_src[st.name].name_span
                        self.error("ZT208", f"`{st.name}` is defined twice", st.name_span,
                                   f"the first definition is at {first}; rename one of them")
                    elif st.name in self.schema.roots:
                        self.error("ZT208", f"`{st.name}` is a context root and cannot be redefined",
                                   st.name_span, "choose another name for the condition")
                    else:
                        self.let_src[st.name] = st
        for name in self.let_src:
            self.resolve_let(name, self.let_src[name].name_span)
        for f in files:
            for st in f.statements:
                if not isinstance(st, A.Policy):
                    continue
                if st.id in seen_ids:
                    self.error("ZT205", f"policy id \"{st.id}\" is used twice", st.id_span,
                               f"the first policy with this id is at {seen_ids[st.id]}; ids must be unique")
                else:
                    seen_ids[st.id] = st.id_span
                when = self.condition(st.when) if st.when is not None else None
                unless = self.condition(st.unless) if st.unless is not None else None
                size = (expanded_size(when, self.let_done, self.sizes)
                        + expanded_size(unless, self.let_done, self.sizes))
                if size > MAX_EXPANDED_NODES:
                    self.error("ZT114", f"the conditions of \"{st.id}\" grow to {size} nodes once "
                               f"`let`s are expanded (limit {MAX_EXPANDED_NODES})", st.id_span,
                               "a `let` that uses another twice doubles its size; simplify them")
                    continue
                depth = max(self.nesting(when), self.nesting(unless))
                if depth > MAX_EXPANDED_DEPTH:
                    self.error("ZT111", f"the conditions of \"{st.id}\" nest {depth} levels deep "
                               f"once `let`s are expanded (limit {MAX_EXPANDED_DEPTH})", st.id_span,
                               "flatten the conditions")
                    continue
                policies.append(A.Policy(st.effect, st.id, when, unless, st.reason, st.span, st.id_span))
        seen_limits: dict[str, Span] = {}
        limits = [self.limit(st, seen_limits) for f in files for st in f.statements
                  if isinstance(st, A.Limit)]
        return Checked(policies, dict(self.let_done), self.diags, limits)

    def limit(self, st: A.Limit, seen: dict[str, Span]) -> A.Limit:
        if st.id in seen:
            self.error("ZT205", f"limit id \"{st.id}\" is used twice", st.id_span,
                       f"the first limit with this id is at {seen[st.id]}; ids must be unique")
        seen.setdefault(st.id, st.id_span)
        if st.amount < 1:
            self.error("ZT215", "a limit must allow at least 1 request per window", st.amount_span,
                       "to refuse every request, write a `forbid`")
        if st.window <= 0:
            self.error("ZT215", "the window of a limit must be longer than zero", st.span,
                       "write a duration such as 1m or 1h")
        keys = []
        for k in st.keys:
            key, t = self.expr(k)
            if not isinstance(key, A.Attr) and t.kind != "dyn":
                self.error("ZT202", "a limit is counted by attributes, such as identity.subject",
                           k.span, "write `by identity.subject` or another attribute")
            elif t.kind in ("record", "list", "map"):
                self.error("ZT202", f"a limit key must be a single value, not {_a(t)}", k.span,
                           "count by an attribute such as identity.subject")
            keys.append(key)
        when = self.condition(st.when) if st.when is not None else None
        return A.Limit(st.id, st.amount, st.window, tuple(keys), when, st.reason, st.span,
                       st.id_span, st.amount_span)

    def nesting(self, e: A.Expr | None) -> int:
        """Depth of `e` with lets expanded, memoised per let (every later pass recurses this deep)."""
        if e is None:
            return 0
        if isinstance(e, A.LetRef):
            if e.name not in self.depths:
                self.depths[e.name] = 0
                let = self.let_done.get(e.name)
                self.depths[e.name] = self.nesting(let.expr) if let else 0
            return self.depths[e.name]
        if isinstance(e, A.And | A.Or | A.ListLit):
            return 1 + max((self.nesting(i) for i in e.items), default=0)
        if isinstance(e, A.Binary):
            return 1 + max(self.nesting(e.left), self.nesting(e.right))
        if isinstance(e, A.Not):
            return 1 + self.nesting(e.operand)
        if isinstance(e, A.Has):
            return 1 + self.nesting(e.target)
        return 1

    def resolve_let(self, name: str, use: Span) -> Type:
        if name in self.let_types:
            return self.let_types[name]
        if name in self.visiting:
            cycle = " -> ".join([*self.visiting[self.visiting.index(name):], name])
            self.error("ZT207", f"`let` conditions refer to each other in a cycle: {cycle}", use,
                       "a condition cannot depend on itself; break the cycle")
            return DYN
        let = self.let_src[name]
        if len(self.visiting) >= MAX_LET_DEPTH:
            self.error("ZT111", f"`let` conditions refer to each other more than {MAX_LET_DEPTH} "
                       "deep", use, "flatten the chain of conditions")
            return DYN
        self.visiting.append(name)
        expr, t = self.expr(let.expr)
        self.visiting.pop()
        self.let_types[name] = t
        self.let_done[name] = A.Let(name, expr, let.span, let.name_span)
        self.sizes[name] = expanded_size(expr, self.let_done, self.sizes)
        depth = self.depths[name] = self.nesting(expr)  # sub-lets are memoised already
        if depth > MAX_EXPANDED_DEPTH:
            self.error("ZT111", f"`{name}` nests {depth} levels deep once the `let`s it uses are "
                       f"expanded (limit {MAX_EXPANDED_DEPTH})", let.name_span,
                       "flatten the chain of conditions")
        return t

    def condition(self, e: A.Expr) -> A.Expr:
        out, t = self.expr(e)
        self.want_bool(t, e)
        return out

    def want_bool(self, t: Type, e: A.Expr) -> None:
        if t.kind not in ("bool", "dyn"):
            self.error("ZT203", f"a condition must be true or false, but this is {_a(t)}", e.span,
                       _bool_help(e, t))

    def expr(self, e: A.Expr) -> tuple[A.Expr, Type]:
        if isinstance(e, A.Literal):
            return e, literal_type(e.value)
        if isinstance(e, A.ListLit):
            return self.list_lit(e)
        if isinstance(e, A.Call):
            return self.call(e)
        if isinstance(e, A.Path):
            return self.path(e)
        if isinstance(e, A.Not):
            inner, t = self.expr(e.operand)
            self.want_bool(t, e.operand)
            return A.Not(inner, e.span), BOOL
        if isinstance(e, A.And | A.Or):
            items = []
            for it in e.items:
                x, t = self.expr(it)
                self.want_bool(t, it)
                items.append(x)
            return type(e)(tuple(items), e.span), BOOL
        if isinstance(e, A.Has):
            return self.has(e)
        if isinstance(e, A.Binary):
            return self.binary(e)
        raise AssertionError(f"unexpected node {e!r}")  # pragma: no cover

    def list_lit(self, e: A.ListLit) -> tuple[A.Expr, Type]:
        items, kinds = [], set()
        elem = DYN
        for it in e.items:
            x, t = self.expr(it)
            items.append(x)
            if t.kind != "dyn":
                kinds.add(str(t) if t.kind not in ("int", "float") else "number")
                elem = t
        if len(kinds) > 1:
            self.error("ZT212", f"list mixes values of different types ({', '.join(sorted(kinds))})",
                       e.span, "use values of one type in a list")
            elem = DYN
        return A.ListLit(tuple(items), e.span), Type("list", elem)

    def call(self, e: A.Call) -> tuple[A.Expr, Type]:
        if e.name == "cidr":
            try:
                net = IpNet(e.arg)
            except ValueError as exc:
                hint = "write a network such as \"10.0.0.0/8\""
                with contextlib.suppress(ValueError):
                    hint = f'did you mean cidr("{ipaddress.ip_network(e.arg, strict=False)}")?'
                self.error("ZT204", f"invalid cidr \"{e.arg}\": {exc}", e.span, hint)
                return A.Literal(None, e.span, "cidr"), CIDR
            return A.Literal(net, e.span, "cidr"), CIDR
        if e.name == "ip":
            try:
                return A.Literal(IpAddr(e.arg), e.span, "ip"), IP
            except ValueError as exc:
                self.error("ZT204", f"invalid ip \"{e.arg}\": {exc}", e.span,
                           "write an address such as \"10.1.2.3\" or \"::1\"")
                return A.Literal(None, e.span, "ip"), IP
        self.error("ZT213", f"unknown function `{e.name}`", e.span,
                   _suggest(e.name, ["cidr", "ip"]) or "the functions are cidr(\"...\") and ip(\"...\")")
        return A.Literal(None, e.span), DYN

    def path(self, e: A.Path) -> tuple[A.Expr, Type]:
        if e.root not in self.schema.roots:
            if not e.keys and e.root in self.let_src:
                t = self.resolve_let(e.root, e.span)
                return A.LetRef(e.root, e.span), t
            names = [*self.schema.roots, *self.let_src]
            what = "name" if not e.keys else "context root"
            self.error("ZT206" if not e.keys else "ZT200", f"unknown {what} `{e.root}`", e.span,
                       _suggest(e.root, names)
                       or f"the roots are {', '.join(self.schema.roots)}; conditions are defined with `let`")
            return A.Literal(None, e.span), DYN
        t = self.schema.roots[e.root]
        optional = False
        default: object = None
        typed_len = 1
        steps: list[Type] = []
        for i, key in enumerate(e.keys):
            if t.kind == "record":
                f = t.field(key)
                if f is None:
                    self.error("ZT201", f"`{'.'.join((e.root, *e.keys[:i]))}` has no attribute `{key}`",
                               e.span, _suggest(key, [k for k, _ in t.fields])
                               or f"its attributes are: {', '.join(k for k, _ in t.fields)}")
                    return A.Literal(None, e.span), DYN
                t, optional, default = f.type, f.optional, f.default
                typed_len = i + 2
                steps.append(t)
            elif t.kind in ("map", "dyn"):
                t, optional, default = DYN, True, None
            else:
                self.error("ZT202", f"cannot read `{key}` of `{'.'.join((e.root, *e.keys[:i]))}`, "
                           f"which is {_a(t)}", e.span, "only records and maps have attributes")
                return A.Literal(None, e.span), DYN
        attr = A.Attr((e.root, *e.keys), e.span, t, optional, default, typed_len, tuple(steps))
        return attr, t

    def binary(self, e: A.Binary) -> tuple[A.Expr, Type]:
        return check_binary(self, e)

    def has(self, e: A.Has) -> tuple[A.Expr, Type]:
        target, t = self.expr(e.target)
        if not isinstance(target, A.Attr):
            if not isinstance(target, A.Literal) or target.value is not None:  # not already wrong
                self.error("ZT202", "`has` tests an attribute path, such as `identity has email`",
                           e.target.span, "write the attribute itself rather than a `let` name")
            return A.Literal(None, e.span), BOOL
        if t.kind == "record":
            if t.field(e.key) is None:
                self.error("ZT201", f"`{_text(target)}` has no attribute `{e.key}`", e.span,
                           _suggest(e.key, [k for k, _ in t.fields]))
        elif t.kind not in ("map", "dyn"):
            self.error("ZT202", f"`has` needs a record or a map, but `{_text(target)}` is {_a(t)}",
                       e.span, "`has` tests whether an optional attribute or a map key is present")
        return A.Has(target, e.key, e.span), BOOL
