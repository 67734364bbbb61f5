"""The store's contract, the same on SQLite and on a real PostgreSQL server: schema versions,
idempotency records, the replay cache, terminals and their keys, sealed secrets, file modes
and clear errors. The concurrency half (real processes) is in test_store_concurrency.py."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import pytest

from backend_stub.store import (
    MasterKey,
    Store,
    StoreConfigError,
    StoreSchemaError,
    StoreUnavailableError,
    parse_store_url,
    redact,
)
from backend_stub.store import schema as schema_mod
from tests.pg import Ledger, PgServer

K1 = bytes.fromhex("0c3b25d92b38ae443229dd59ad34b85d")
K2 = bytes.fromhex("b45775776cb224c75bcde7ca3704e933")


@pytest.fixture
def store(ledger_spec: Ledger):  # type: ignore[no-untyped-def]
    s = ledger_spec.open()
    yield s
    s.close()


def test_a_new_ledger_is_at_the_current_schema_and_opening_it_again_changes_nothing(
    ledger_spec: Ledger,
) -> None:
    a = ledger_spec.open()
    b = ledger_spec.open()  # a second instance: migrations already done
    try:
        assert a.schema_version() == b.schema_version() == schema_mod.CURRENT
        rows = a.fetch_all("SELECT version FROM schema_version ORDER BY version")
        assert [r["version"] for r in rows] == [m.version for m in schema_mod.MIGRATIONS]
    finally:
        a.close()
        b.close()


def test_a_ledger_from_a_newer_schema_is_refused_not_opened(ledger_spec: Ledger) -> None:
    s = ledger_spec.open()
    s.transaction(
        lambda tx: tx.execute(
            "INSERT INTO schema_version (version, note, applied_at) VALUES (?, 'from the future', 0)",
            (schema_mod.CURRENT + 1,),
        )
    )
    before = s.count("payments")
    s.close()
    with pytest.raises(StoreSchemaError) as err:
        ledger_spec.open()
    msg = str(err.value)
    assert f"schema version {schema_mod.CURRENT + 1}" in msg and f"({schema_mod.CURRENT})" in msg
    assert "newer cryptopos" in msg and "not opened" in msg
    assert ":***@" in msg or "sqlite:///" in msg  # names the ledger, never its password
    again = ledger_spec.open
    with pytest.raises(StoreSchemaError):
        again()
    assert before == 0


def test_idempotency_claim_replay_mismatch_and_lease_takeover(store: Store) -> None:
    assert store.begin_idempotent("s", "k", "fp", now=100.0, lease_s=30).outcome == "started"
    assert store.begin_idempotent("s", "k", "fp", now=110.0, lease_s=30).outcome == "in_flight"
    assert store.begin_idempotent("s", "k", "other", now=110.0, lease_s=30).outcome == "mismatch"
    assert store.begin_idempotent("s", "k", "fp", now=131.0, lease_s=30).outcome == "started"
    store.finish_idempotent("s", "k", 201, {"ok": True})
    got = store.begin_idempotent("s", "k", "fp", now=500.0, lease_s=30)
    assert (got.outcome, got.status_code, got.body) == ("replay", 201, {"ok": True})
    store.begin_idempotent("s", "k2", "fp", now=1.0, lease_s=30)
    store.release_idempotent("s", "k2")
    assert store.begin_idempotent("s", "k2", "fp", now=2.0, lease_s=30).outcome == "started"


def test_a_failed_transaction_leaves_nothing(store: Store) -> None:
    def half(tx):  # type: ignore[no-untyped-def]
        store.claim_idempotent(tx, "s", "k", "fp", now=1.0, lease_s=30)
        raise RuntimeError("crash mid-work")

    with pytest.raises(RuntimeError):
        store.transaction(half)
    assert store.count("idempotency") == 0


def test_replay_cache_tells_fresh_retransmission_and_replay_and_forgets_on_time(store: Store) -> None:
    now = time.time()
    kw = {"now": now, "keep_until": now + 10, "signed_at": now}
    assert store.remember_request("terminal:a", "n1", "d1", **kw) == "fresh"
    assert store.remember_request("terminal:a", "n1", "d1", **kw) == "same"
    assert store.remember_request("terminal:a", "n1", "d2", **kw) == "different"
    assert store.remember_request("terminal:b", "n1", "d2", **kw) == "fresh"  # per scope
    later = {"now": now + 11, "keep_until": now + 21, "signed_at": now + 11}
    assert store.remember_request("terminal:a", "n1", "d3", **later) == "fresh"  # expired: forgotten


def test_the_replay_cache_is_not_in_the_durable_ledger(store: Store, ledger_spec: Ledger) -> None:
    now = time.time()
    store.remember_request("terminal:a", "n-x", "d", now=now, keep_until=now + 300, signed_at=now)
    assert store.fetch_all("SELECT * FROM nonces") == []  # durable nonces are wallet tokens only
    if ledger_spec.kind == "postgresql":
        row = store.fetch_one("SELECT relpersistence FROM pg_class WHERE relname = 'request_nonces'")
        assert row is not None and row["relpersistence"] == "u"  # UNLOGGED
    else:
        assert store.url.path is not None
        side = Path(f"{store.url.path}.replay")
        import sqlite3

        conn = sqlite3.connect(side)
        try:
            assert conn.execute("SELECT COUNT(*) FROM request_nonces WHERE nonce = 'n-x'").fetchone()[0] == 1
        finally:
            conn.close()


def test_card_keys_are_sealed_at_rest_and_open_with_the_master_key(store: Store, ledger_spec: Ledger) -> None:
    store.add_card("04a1b2c3d4e5f6", k1=K1, k2=K2, now=1.0)
    secret = store.add_terminal("t-sealed", now=1.0)
    [card] = store.query(store.cards)
    assert (card.uid, card.k1, card.k2, card.counter) == ("04A1B2C3D4E5F6", K1, K2, -1)
    plain = {K1.hex(), K2.hex(), K1.hex().upper(), K2.hex().upper(), secret.hex()}
    if ledger_spec.kind == "postgresql":
        import psycopg

        # the raw rows, read past the store
        with psycopg.connect(ledger_spec.url) as conn:
            cards = conn.execute("SELECT k1, k2 FROM cards").fetchall()
            keys = conn.execute("SELECT secret FROM terminal_keys").fetchall()
        raw = repr(cards) + repr(keys)
        assert all(str(v).startswith("gcm1:") for row in cards + keys for v in row)
        assert not any(p in raw for p in plain)
    else:
        store.close()  # checkpoint the WAL into the file, then read the bytes on disk
        assert store.url.path is not None
        files = [store.url.path, *store.url.path.parent.glob(store.url.path.name + "*")]
        raw_bytes = b"".join(p.read_bytes() for p in files if p.is_file() and not p.name.endswith(".key"))
        for p in plain:
            assert p.encode() not in raw_bytes
        for k in (K1, K2, secret):
            assert k not in raw_bytes


def test_a_wrong_master_key_is_refused_at_start(ledger_spec: Ledger) -> None:
    ledger_spec.open().close()
    with pytest.raises(StoreConfigError, match="not the one this ledger's secrets were sealed with"):
        Store(ledger_spec.url, master_key=MasterKey.generate("a wrong key"))


def test_terminal_add_rotate_with_grace_and_revoke(store: Store) -> None:
    t0 = 1_000_000.0
    first = store.add_terminal("till-1", now=t0)
    assert store.terminal_secrets("till-1", now=t0) == [first]
    with pytest.raises(KeyError):
        store.add_terminal("till-1", now=t0)
    second = store.rotate_terminal("till-1", now=t0 + 10, grace_s=60)
    assert set(store.terminal_secrets("till-1", now=t0 + 69)) == {first, second}  # in its grace
    assert store.terminal_secrets("till-1", now=t0 + 71) == [second]  # after it, exactly on time
    store.revoke_terminal("till-1", now=t0 + 80)
    assert store.terminal_secrets("till-1", now=t0 + 81) == []
    with pytest.raises(KeyError):
        store.rotate_terminal("till-1", now=t0 + 90)
    [info] = store.list_terminals()
    assert info.key_id == "till-1" and info.revoked_at == t0 + 80 and len(info.keys) == 2


def test_other_instances_see_a_new_terminal_within_the_key_cache_time(ledger_spec: Ledger) -> None:
    writer, reader = ledger_spec.open(), ledger_spec.open(key_cache_s=0.2)
    try:
        assert reader.terminal_secrets("till-2", now=1.0) == []  # unknown now, and cached as such
        secret = writer.add_terminal("till-2", now=1.0)
        assert reader.terminal_secrets("till-2", now=1.0) == []  # still the cached answer
        time.sleep(0.25)
        assert reader.terminal_secrets("till-2", now=1.0) == [secret]
        writer.revoke_terminal("till-2", now=2.0)
        time.sleep(0.25)
        assert reader.terminal_secrets("till-2", now=3.0) == []
    finally:
        writer.close()
        reader.close()


def test_sqlite_ledger_files_are_private(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite3"
    old = os.umask(0o022)
    try:
        s = Store(path)
        s.transaction(lambda tx: tx.execute("INSERT INTO counters VALUES ('x', 1)"))
        now = time.time()
        s.remember_request("t", "n", "d", now=now, keep_until=now + 9, signed_at=now)
        files = sorted(p.name for p in tmp_path.iterdir())
        assert files == [
            "l.sqlite3",
            "l.sqlite3-shm",
            "l.sqlite3-wal",
            "l.sqlite3.key",
            "l.sqlite3.replay",
            "l.sqlite3.replay-shm",
            "l.sqlite3.replay-wal",
        ]
        for p in tmp_path.iterdir():
            assert stat.S_IMODE(p.stat().st_mode) == 0o600, p.name
        s.close()
    finally:
        os.umask(old)


def test_an_existing_0644_ledger_is_tightened(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    Store(path).close()
    path.chmod(0o644)
    Store(path).close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_bad_urls_are_clear_errors() -> None:
    with pytest.raises(StoreConfigError, match="unknown scheme 'mysql'"):
        parse_store_url("mysql://root:pw@h/db")
    with pytest.raises(StoreConfigError, match="names no file"):
        parse_store_url("sqlite:///")
    with pytest.raises(StoreConfigError, match="sqlite:///relative/path"):
        parse_store_url("sqlite://host/x")
    assert redact("postgresql://app:s3cret@db:5432/ledger?sslmode=require") == (
        "postgresql://app:***@db:5432/ledger?sslmode=require"
    )
    assert "s3cret" not in redact("postgresql://app@db/ledger?password=s3cret")
    with pytest.raises(StoreConfigError, match="does not exist"):
        Store("sqlite:////no/such/folder/ledger.sqlite3", master_key=MasterKey.generate())


def test_a_wrong_password_or_a_down_server_names_the_url_without_its_password(postgres: PgServer) -> None:
    import psycopg

    with psycopg.connect(postgres.admin_url, autocommit=True) as conn:
        conn.execute("DROP ROLE IF EXISTS app")
        conn.execute("CREATE ROLE app LOGIN PASSWORD 'right'")
    info = postgres.server.get_postmaster_info()
    # pgserver trusts local sockets, so a wrong password is shown by a missing database instead
    bad_db = f"postgresql://app:hunter2@/no_such_db?host={info.socket_dir}"
    with pytest.raises(StoreUnavailableError) as err:
        Store(bad_db, master_key=MasterKey.generate())
    assert "hunter2" not in str(err.value) and "postgresql://app:***@/no_such_db" in str(err.value)
    assert "no_such_db" in str(err.value)
    down = "postgresql://app:hunter2@127.0.0.1:1/ledger?connect_timeout=2"
    with pytest.raises(StoreUnavailableError) as err:
        Store(down, master_key=MasterKey.generate())
    assert "hunter2" not in str(
        err.value
    ) and "cannot connect to the ledger postgresql://app:***@127.0.0.1:1" in str(err.value)


def test_postgresql_needs_a_master_key_from_outside(
    postgres: PgServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CRYPTOPOS_MASTER_KEY", raising=False)
    monkeypatch.delenv("CRYPTOPOS_MASTER_KEY_FILE", raising=False)
    with pytest.raises(StoreConfigError, match="CRYPTOPOS_MASTER_KEY"):
        Store(postgres.admin_url)


def test_a_master_key_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    key = tmp_path / "k"
    key.write_text(MasterKey.generate().key.hex())
    key.chmod(0o644)
    with pytest.raises(StoreConfigError, match="readable by others"):
        Store(tmp_path / "l.sqlite3", key_file=key)
