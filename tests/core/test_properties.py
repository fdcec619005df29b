"""The fast path (rule index + decision cache + generated code) agrees with the reference
interpreter on random policies and random, often malformed, contexts: decisions, determining
policies and errors alike."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import zt_policy
from zt_policy.testing import reference_decide

WORDS = ["a", "b", "search", "tools/call", "inference", "public-x", "in"]
STR_ATTRS = ["identity.subject", "identity.email", "device.os", "request.action", "request.tool",
             "request.model", "request.resource"]
INDEXED = ["request.action", "request.tool", "request.model", "request.resource"]
DYN_ATTRS = ["identity.claims.tier", "request.arguments.path", "request.arguments.n",
             'request.arguments["in"]', "identity.claims.org.id"]

lit_str = st.sampled_from(WORDS).map(lambda w: f'"{w}"')
lit_num = st.integers(-3, 120).map(str)
lit_any = st.one_of(lit_str, lit_num, st.sampled_from(["true", "false", "1.5"]))
str_list = st.lists(lit_str, min_size=1, max_size=3).map(lambda xs: "[" + ", ".join(xs) + "]")


def leaf() -> st.SearchStrategy[str]:
    s_attr = st.sampled_from(STR_ATTRS)
    d_attr = st.sampled_from(DYN_ATTRS)
    return st.one_of(
        st.tuples(s_attr, st.sampled_from(["==", "!="]), lit_str).map(" ".join),
        st.tuples(s_attr, st.just("in"), str_list).map(" ".join),
        st.tuples(s_attr, st.just("like"), st.sampled_from(['"*"', '"pub*"', '"*x"', '"a*b*"', '"s*ch"'])).map(" ".join),
        st.tuples(lit_str, st.just("in identity.groups")).map(" ".join),
        st.tuples(st.just("identity.groups"), st.sampled_from(["contains_any", "contains_all"]), str_list).map(" ".join),
        st.tuples(st.just("device.posture"), st.sampled_from(["<", "<=", ">", ">=", "=="]), lit_num).map(" ".join),
        st.sampled_from(["identity.mfa", "device.managed", "identity.authenticated",
                         "identity has email", 'request.arguments has "path"',
                         "identity.claims has tier", "identity.claims.org has id",
                         'request.ip in cidr("10.0.0.0/8")', 'request.ip == ip("10.0.0.1")',
                         "identity.email == request.arguments.path",
                         "request.tool contains \"ar\"", "identity.claims.tier"]),
        st.tuples(d_attr, st.sampled_from(["==", "!="]), lit_any).map(" ".join),
        st.tuples(d_attr, st.sampled_from(["<", ">="]), lit_num).map(" ".join),
        st.tuples(d_attr, st.just("like"), st.sampled_from(['"a*"', '"*"'])).map(" ".join),
        st.tuples(d_attr, st.just("in"), str_list).map(" ".join),
        st.tuples(d_attr, st.just("contains"), lit_str).map(" ".join),
        st.sampled_from(["cond_a", "cond_b"]),
    )


cond = st.recursive(
    leaf(),
    lambda inner: st.one_of(
        inner.map(lambda c: f"not ({c})"),
        st.lists(inner, min_size=2, max_size=3).map(lambda cs: "(" + " and ".join(cs) + ")"),
        st.lists(inner, min_size=2, max_size=3).map(lambda cs: "(" + " or ".join(cs) + ")"),
    ),
    max_leaves=5,
)
index_prefix = st.lists(
    st.tuples(st.sampled_from(INDEXED), st.one_of(lit_str.map(lambda s: "== " + s), str_list.map(lambda s: "in " + s))),
    max_size=3,
).map(lambda cs: [f"{a} {c}" for a, c in cs])


@st.composite
def policy(draw: st.DrawFn, n: int) -> str:
    effect = draw(st.sampled_from(["permit", "permit", "forbid"]))
    parts = draw(index_prefix) + draw(st.lists(cond, max_size=2))
    order = draw(st.permutations(parts)) if draw(st.booleans()) else parts
    text = f'{effect} "p{n}"'
    if order:
        text += " when " + " and ".join(order)
    if draw(st.integers(0, 4)) == 0:
        text += " unless " + draw(cond)
    return text


@st.composite
def policy_set(draw: st.DrawFn) -> str:
    lets = [f"let cond_a = {draw(cond.filter(lambda c: 'cond_' not in c))}",
            f"let cond_b = {draw(cond.filter(lambda c: 'cond_' not in c))}"]
    n = draw(st.integers(1, 8))
    limits = [f'limit "l{i}" 5 per 1m by {draw(st.sampled_from(STR_ATTRS + DYN_ATTRS[:3]))}'
              + (f" when {draw(cond)}" if draw(st.booleans()) else "")
              for i in range(draw(st.integers(0, 2)))]
    return "\n".join(lets + [draw(policy(i)) for i in range(n)] + limits)


json_scalar = st.one_of(st.none(), st.booleans(), st.integers(-2, 110), st.sampled_from(WORDS),
                        st.sampled_from(["10.0.0.1", "10.2.3.4", "192.168.1.1", "::1", "bogus"]))
json_value = st.recursive(json_scalar, lambda v: st.one_of(st.lists(v, max_size=3),
                                                          st.dictionaries(st.sampled_from(["id", "x"]), v, max_size=2)),
                          max_leaves=4)


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Usually a well-typed value; sometimes absent, None or of the wrong type."""
    return st.one_of(strategy, strategy, strategy, st.just(None), json_value)


@st.composite
def context(draw: st.DrawFn) -> dict[str, Any]:
    def fields(spec: dict[str, st.SearchStrategy[Any]]) -> dict[str, Any]:
        out = {}
        for k, s in spec.items():
            if draw(st.integers(0, 5)):
                out[k] = draw(s)
        return out

    words = st.sampled_from(WORDS)
    return {
        "identity": fields({
            "subject": maybe(words), "email": maybe(words), "mfa": maybe(st.booleans()),
            "authenticated": maybe(st.booleans()), "groups": maybe(st.lists(words, max_size=3)),
            "claims": maybe(st.dictionaries(st.sampled_from(["tier", "org"]), json_value, max_size=2)),
        }),
        "device": fields({"posture": maybe(st.integers(0, 100)), "managed": maybe(st.booleans()),
                          "os": maybe(words)}),
        "request": fields({
            "action": maybe(words), "tool": maybe(words), "model": maybe(words),
            "resource": maybe(words),
            "ip": maybe(st.sampled_from(["10.0.0.1", "10.9.9.9", "8.8.8.8", "not-an-ip", "::1"])),
            "arguments": maybe(st.dictionaries(st.sampled_from(["path", "n", "in"]), json_value, max_size=3)),
        }),
    }


def summary(d: zt_policy.Decision) -> tuple[Any, ...]:
    return (d.allowed, d.policies, d.reasons, d.limits,
            sorted((e.code, e.policy or "", e.location or "", e.message) for e in d.errors))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=policy_set(), contexts=st.lists(context(), min_size=1, max_size=6))
def test_fast_path_agrees_with_reference(text: str, contexts: list[dict[str, Any]]) -> None:
    cached = zt_policy.compile(text, cache_size=64)
    uncached = zt_policy.compile(text, cache_size=0)
    for ctx in contexts + contexts:  # the second round is served from the cache
        expected = summary(reference_decide(uncached, **ctx))
        assert summary(uncached.decide(**ctx)) == expected, text
        assert summary(cached.decide(**ctx)) == expected, text


@settings(max_examples=150, deadline=None)
@given(text=policy_set(), ctx=context())
def test_explain_agrees_with_decision(text: str, ctx: dict[str, Any]) -> None:
    ps = zt_policy.compile(text, cache_size=0)
    plain = ps.decide(**ctx)
    explained = ps.decide(**ctx, explain=True)
    assert summary(plain) == summary(explained)
    assert explained.explanation is not None
    matched = {t.policy for t in explained.explanation if t.outcome in ("matched", "error")}
    assert set(plain.policies) <= matched
    refused = any(e.code in ("ZT310", "ZT311") for e in plain.errors)
    for t in explained.explanation:
        if refused:
            assert t.outcome == "not evaluated"
        elif not t.candidate:  # the index may skip a policy only when it surely does not match
            assert t.outcome == "not matched", (text, t)


safe_leaf = st.one_of(
    st.tuples(lit_str, st.just("in identity.groups")).map(" ".join),
    st.tuples(st.just("device.posture"), st.sampled_from(["<", ">="]), lit_num).map(" ".join),
    st.sampled_from(["identity.mfa", "device.managed", "not identity.mfa", "not device.managed"]),
)


@st.composite
def bucketed_set(draw: st.DrawFn) -> str:
    """Many policies behind the same index keys, so that the index fuses them into buckets."""
    lines = []
    for n in range(draw(st.integers(2, 9))):
        effect = draw(st.sampled_from(["permit", "permit", "forbid"]))
        tool = draw(st.sampled_from(["a", "b"]))
        rest = draw(st.lists(safe_leaf, max_size=3))
        cond = " and ".join(['request.action == "tools/call"', f'request.tool == "{tool}"', *rest])
        lines.append(f'{effect} "p{n}" when {cond}')
    return "\n".join(lines)


@settings(max_examples=200, deadline=None)
@given(text=bucketed_set(), contexts=st.lists(context(), min_size=1, max_size=6))
def test_fused_buckets_agree_with_reference(text: str, contexts: list[dict[str, Any]]) -> None:
    ps = zt_policy.compile(text, cache_size=0)
    for ctx in contexts:
        ctx["request"] = {**ctx["request"], "action": "tools/call"}
        assert summary(ps.decide(**ctx)) == summary(reference_decide(ps, **ctx)), text


arg_leaf = st.sampled_from(['request.arguments.path == "a"', "request.arguments.n > 3",
                            'request.arguments has "path"', 'request.arguments["in"] like "s*"',
                            '(request.arguments.path == "b" or identity.claims.tier)'])


@settings(max_examples=300, deadline=None)
@given(text=st.tuples(policy_set(), arg_leaf).map(lambda t: f'{t[0]}\npermit "z" when {t[1]}'),
       ctx=context(),
       arguments=st.lists(st.fixed_dictionaries({}, optional={
           "path": st.sampled_from(["a", "b", "x"]), "n": st.integers(0, 9),
           "in": st.sampled_from(["search", "x"])}), min_size=1, max_size=6))
def test_may_allow_false_means_no_arguments_allow(
    text: str, ctx: dict[str, Any], arguments: list[dict[str, Any]]
) -> None:
    """`may_allow` hides; hiding is only right when no value of the unknown attributes could
    make decide() allow."""
    ps = zt_policy.compile(text, cache_size=0)
    request = {k: v for k, v in ctx["request"].items() if k != "arguments"}
    if ps.may_allow(identity=ctx["identity"], device=ctx["device"], request=request,
                    unknown=("request.arguments",)):
        return
    for args in arguments:
        d = ps.decide(identity=ctx["identity"], device=ctx["device"],
                      request={**request, "arguments": args})
        assert not d.allowed, (text, args)
