from __future__ import annotations

import threading
from pathlib import Path

import pytest

import zt_policy


def test_bad_policy_never_replaces_a_good_one(tmp_path: Path) -> None:
    f = tmp_path / "p.ztp"
    f.write_text('permit "mfa" when identity.mfa')
    store = zt_policy.PolicyStore(tmp_path)
    assert store.decide(identity={"mfa": True}).allowed
    f.write_text('permit "mfa" when identity.mfaa')  # a typo
    diags = store.reload()
    assert [d.code for d in diags] == ["ZT201"]
    assert store.generation == 0 and store.last_error is not None
    assert store.decide(identity={"mfa": True}).allowed  # still the good set
    f.write_text('permit "managed" when device.managed')
    assert store.reload() == []
    assert store.generation == 1
    assert not store.decide(identity={"mfa": True}).allowed
    assert store.decide(device={"managed": True}).allowed


def test_first_load_must_succeed(tmp_path: Path) -> None:
    (tmp_path / "p.ztp").write_text("permit nope")
    with pytest.raises(zt_policy.PolicyError):
        zt_policy.PolicyStore(tmp_path)


def test_reload_while_deciding(tmp_path: Path) -> None:
    f = tmp_path / "p.ztp"
    f.write_text('permit "a" when identity.mfa')
    store = zt_policy.PolicyStore(f)
    stop = threading.Event()
    seen: list[bool] = []

    def decide() -> None:
        while not stop.is_set():
            seen.append(store.decide(identity={"mfa": True}).allowed)

    t = threading.Thread(target=decide)
    t.start()
    for i in range(20):
        f.write_text('permit "a" when identity.mfa' if i % 2 else "permit broken")
        store.reload()
    stop.set()
    t.join()
    assert seen and all(seen)  # the broken versions never took effect
