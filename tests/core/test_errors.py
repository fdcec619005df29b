"""Diagnostics: every problem in every file, stable codes, exact text for the main messages,
and no input text that ends in anything but a PolicyError (never another exception, never a hang)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import zt_policy

GOLDEN = Path(__file__).parent / "golden"


@pytest.mark.parametrize("name", ["errors", "syntax"])
def test_golden_messages(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(GOLDEN)
    with pytest.raises(zt_policy.PolicyError) as info:
        zt_policy.load(f"{name}.ztp")
    assert info.value.render() + "\n" == (GOLDEN / f"{name}.txt").read_text()


def test_every_problem_in_every_file_is_reported(tmp_path: Path) -> None:
    (tmp_path / "a.ztp").write_text('permit "a" when identity.nope\npermit "b" when ((\n')
    (tmp_path / "b.ztp").write_text('permit "a" when device.managed\nforbid "c" when x.y\n')
    with pytest.raises(zt_policy.PolicyError) as info:
        zt_policy.load(tmp_path)
    codes = sorted((d.file.rsplit("/", 1)[-1], d.line, d.code) for d in info.value.diagnostics
                   if d.file)
    assert codes == [("a.ztp", 1, "ZT201"), ("a.ztp", 2, "ZT103"), ("b.ztp", 1, "ZT205"),
                     ("b.ztp", 2, "ZT200")]


def test_diagnostic_data() -> None:
    with pytest.raises(zt_policy.PolicyError) as info:
        zt_policy.compile('permit "p" when device.postur > 3', filename="p.ztp")
    (d,) = info.value.diagnostics
    assert (d.code, d.file, d.line, d.column) == ("ZT201", "p.ztp", 1, 17)
    assert d.help == "did you mean `posture`?"
    assert d.to_dict()["code"] == "ZT201"
    assert info.value.codes == ["ZT201"]


def test_limits_are_named() -> None:
    deep = 'permit "p" when ' + "(" * 10_000 + "identity.mfa" + ")" * 10_000
    with pytest.raises(zt_policy.PolicyError) as info:
        zt_policy.compile(deep)
    assert info.value.codes == ["ZT111"]
    assert "max_depth" in info.value.diagnostics[0].message
    big = 'permit "p" when identity.mfa\n' + "# padding\n" * 1_100_000
    with pytest.raises(zt_policy.PolicyError) as info:
        zt_policy.compile(big)
    assert info.value.codes == ["ZT110"]
    assert "max_file_bytes" in info.value.diagnostics[0].message
    ok = zt_policy.compile(big, limits=zt_policy.Limits(max_file_bytes=20_000_000))
    assert ok.ids == ("p",)


def test_many_nots_and_long_chains_do_not_recurse() -> None:
    with pytest.raises(zt_policy.PolicyError) as info:
        zt_policy.compile('permit "p" when ' + "not " * 10_000 + "identity.mfa")
    assert info.value.codes == ["ZT111"]
    ps = zt_policy.compile('permit "p" when ' + "not " * 10 + "identity.mfa")
    assert ps.decide(identity={"mfa": False}).allowed is False  # an even number of nots
    chain = " and ".join(["identity.mfa"] * 5_000)
    assert zt_policy.compile(f'permit "p" when {chain}').decide(identity={"mfa": True}).allowed


def test_binary_and_non_utf8_files(tmp_path: Path) -> None:
    (tmp_path / "bin.ztp").write_bytes(b"permit \"a\"\n\x00\xff\xfe garbage")
    with pytest.raises(zt_policy.PolicyError) as info:
        zt_policy.load(tmp_path / "bin.ztp")
    assert info.value.codes == ["ZT112"]
    assert info.value.diagnostics[0].line == 2
    (tmp_path / "nul.ztp").write_text('permit "a" when \x00 identity.mfa')
    with pytest.raises(zt_policy.PolicyError) as info:
        zt_policy.load(tmp_path / "nul.ztp")
    assert info.value.codes == ["ZT100"]


def test_missing_paths_and_empty_directories(tmp_path: Path) -> None:
    with pytest.raises(zt_policy.PolicyError) as info:
        zt_policy.load(tmp_path / "nope")
    assert info.value.codes == ["ZT113"]
    with pytest.raises(zt_policy.PolicyError):
        zt_policy.load(tmp_path)


def test_compile_rejects_non_text() -> None:
    with pytest.raises(TypeError):
        zt_policy.compile(b'permit "a"')  # type: ignore[arg-type]


TOKENS = ["permit", "forbid", "let", "when", "unless", "reason", "and", "or", "not", "in", "has",
          "like", "contains", "==", "<", ">=", "(", ")", "[", "]", ",", ".", '"x"', '"', "12",
          "3.5", "15m", "identity", "device.posture", "request.arguments", "true", "cidr(", "ip(",
          "\n", " ", "#", "=", "'", "\\", "\x00", "é", "let a =", 'permit "p" when']


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.text(max_size=300), st.lists(st.sampled_from(TOKENS), max_size=60).map(" ".join)))
def test_any_text_gives_a_policy_set_or_a_policy_error(text: str) -> None:
    try:
        ps = zt_policy.compile(text)
    except zt_policy.PolicyError as err:
        assert err.diagnostics
        for d in err.diagnostics:
            assert d.code.startswith(("ZT1", "ZT2"))
            assert d.render()
    else:
        ps.decide()  # whatever compiled must also decide without raising
