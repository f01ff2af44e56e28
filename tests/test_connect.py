"""liveblog's command packer against redis-py's own: the same bytes, the same errors."""

from __future__ import annotations

import pytest
import redis
from hypothesis import given, settings
from hypothesis import strategies as st

from liveblog import connect as connecting
from schemas.settings import Settings


def _redis_py_pack(*args) -> bytes:
    """What a default redis-py connection (with hiredis) sends for ``args``."""
    return b"".join(redis.connection.Connection()._command_packer.pack(*args))


def _ours(*args) -> bytes:
    return b"".join(connecting.CommandPacker().pack(*args))


def _outcome(pack, args) -> tuple[str, object]:
    try:
        return "bytes", pack(*args)
    except Exception as exc:  # the error type is part of the contract
        return "error", type(exc)


_ARGS = st.one_of(
    st.text(), st.binary(), st.integers(), st.floats(), st.booleans(), st.none(),
    st.binary().map(bytearray), st.binary().map(memoryview), st.text().map(lambda t: t + "\udc80"),
)
_NAMES = st.sampled_from(["EVALSHA", "HSET", "XADD", "CLIENT SETNAME", "SCRIPT LOAD", "get"])


@settings(max_examples=400, deadline=None)
@given(_NAMES, st.lists(_ARGS, max_size=12))
def test_same_bytes_and_errors_as_redis_py(name, args) -> None:
    assert _outcome(_ours, [name, *args]) == _outcome(_redis_py_pack, [name, *args])


def test_a_large_command_is_one_chunk_with_the_same_bytes() -> None:
    args = ["EVALSHA", "a" * 40, 3, *[f"liveblog:lsh:b:{i}" for i in range(800)], "é" * 10_000, 1.5, -7]
    assert _ours(*args) == _redis_py_pack(*args)
    assert len(connecting.CommandPacker().pack(*args)) == 1


@pytest.mark.redis
def test_a_connection_from_connect_uses_it_and_round_trips(redis_url: str) -> None:
    conn = connecting.connect(Settings.from_env({"REDIS_URL": redis_url}))
    try:
        assert isinstance(conn.connection_pool.get_connection()._command_packer, connecting.CommandPacker)
        conn.hset("h", mapping={"text": "Kyiv – Київ", "n": 3, "x": 0.25, "raw": b"\x00\xff"})
        assert conn.hgetall("h") == {b"text": "Kyiv – Київ".encode(), b"n": b"3", b"x": b"0.25", b"raw": b"\x00\xff"}
        conn.execute_command("CLIENT SETNAME", "liveblog-test")  # a name with a space: redis-py's way
        assert conn.client_getname() == "liveblog-test"  # redis-py decodes this reply itself
        pipe = conn.pipeline()
        pipe.set("a", 1.5).get("a")
        assert pipe.execute() == [True, b"1.5"]
        with pytest.raises(redis.DataError):
            conn.set("b", True)
    finally:
        conn.close()


def test_a_url_that_asks_for_another_encoding_keeps_redis_pys_packer() -> None:
    assert "command_packer" in connecting.client_options("redis://127.0.0.1:6399/0")
    assert "command_packer" in connecting.client_options("redis://127.0.0.1:6399/0?encoding=UTF-8")
    assert connecting.client_options("redis://127.0.0.1:6399/0?encoding=latin-1") == {}
    assert connecting.client_options("redis://127.0.0.1:6399/0?encoding_errors=replace") == {}
    assert "command_packer" in connecting.client_options("redis://127.0.0.1:6399/0?encoding=utf_8")
    assert connecting.client_options("redis://127.0.0.1:6399/0?encoding=no-such-codec") == {}
