"""The gateway's own HTTP/1.1 server and client (backend_stub.http1) on real loopback sockets:
the target as sent, slowloris and body timeouts, 413/431, pipelining, the connection cap, and
the client's error kinds that the gateway's retry rules read."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from backend_stub.http1 import (
    ConnectFailedError,
    ConnectionPool,
    CutError,
    Request,
    ResetError,
    Response,
    Server,
    ServerLimits,
    UpstreamTimeoutError,
)
from backend_stub.processes import loopback_listener

FAST = ServerLimits(
    max_body_bytes=1024,
    max_header_bytes=2048,
    header_timeout_s=0.3,
    body_timeout_s=0.3,
    keep_alive_s=0.5,
    max_connections=8,
)


@contextlib.asynccontextmanager
async def serving(limits: ServerLimits = FAST) -> AsyncIterator[tuple[Server, int, list[Request]]]:
    seen: list[Request] = []

    async def handler(req: Request) -> Response:
        seen.append(req)
        if req.target.startswith(b"/slow"):
            await asyncio.sleep(0.2)
        return Response(200, b"%s %s %d" % (req.method.encode(), req.target, len(req.body)))

    server = Server(handler, limits=limits)
    sock = loopback_listener(0)
    port = sock.getsockname()[1]
    await server.start(sock)
    try:
        yield server, port, seen
    finally:
        await server.close()


async def exchange(port: int, data: bytes, *, read_s: float = 2.0) -> bytes:
    """Send raw bytes, read until the server closes or ``read_s`` passes."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    out = b""
    try:
        while True:
            chunk = await asyncio.wait_for(reader.read(65536), read_s)
            if not chunk:
                break
            out += chunk
    except TimeoutError:
        pass
    writer.close()
    return out


async def test_the_target_reaches_the_handler_exactly_as_sent() -> None:
    async with serving() as (_, port, seen):
        out = await exchange(
            port, b"GET /a/%27/..%2f../b?x=%27&y=%2F HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"
        )
    assert out.startswith(b"HTTP/1.1 200 OK\r\n") and out.endswith(b"GET /a/%27/..%2f../b?x=%27&y=%2F 0")
    assert seen[0].target == b"/a/%27/..%2f../b?x=%27&y=%2F"


async def test_pipelined_requests_are_answered_in_order_on_one_connection() -> None:
    async with serving() as (_, port, _seen):
        out = await exchange(
            port,
            b"GET /slow HTTP/1.1\r\nhost: x\r\n\r\n"
            b"POST /two HTTP/1.1\r\nhost: x\r\ncontent-length: 3\r\n\r\nabc"
            b"GET /three HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
        )
    bodies = [part.split(b"\r\n\r\n", 1)[1] for part in out.split(b"HTTP/1.1 200 OK\r\n")[1:]]
    assert bodies == [b"GET /slow 0", b"POST /two 3", b"GET /three 0"]


async def test_slow_or_missing_headers_are_cut_off() -> None:
    async with serving() as (server, port, seen):
        nothing = await exchange(port, b"", read_s=2.0)
        slow = await exchange(port, b"GET /x HTTP/1.1\r\nhost: x\r\nx-slow: ", read_s=2.0)
    assert nothing == b"" and slow == b"" and seen == []
    assert server.stats.header_timeouts == 2 and server.stats.connections == 0


async def test_an_idle_keep_alive_connection_is_closed() -> None:
    async with serving() as (server, port, _seen):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /x HTTP/1.1\r\nhost: x\r\n\r\n")
        first = await reader.read(1000)
        assert first.startswith(b"HTTP/1.1 200")
        assert await asyncio.wait_for(reader.read(1000), 3.0) == b""  # closed after keep_alive_s
        writer.close()
        assert server.stats.header_timeouts == 0  # idle is not a slow header


async def test_a_slow_body_gets_408() -> None:
    async with serving() as (server, port, seen):
        out = await exchange(port, b"POST /x HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\nonly-this")
    assert out.startswith(b"HTTP/1.1 408 ") and b"request-timeout" in out and seen == []
    assert server.stats.body_timeouts == 1


async def test_a_body_over_the_cap_is_413_before_it_is_sent() -> None:
    async with serving() as (server, port, seen):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST /x HTTP/1.1\r\nhost: x\r\ncontent-length: 52428800\r\n\r\n")  # 50 MB announced
        out = await asyncio.wait_for(reader.read(65536), 2.0)
        assert out.startswith(b"HTTP/1.1 413 ") and b"body-too-large" in out and b"connection: close" in out
        writer.close()
        chunked = await exchange(
            port,
            b"POST /x HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n"
            + (b"300\r\n" + b"z" * 0x300 + b"\r\n") * 2,
        )
    assert chunked.startswith(b"HTTP/1.1 413 ") and seen == []
    assert server.stats.too_large == 2


async def test_headers_over_the_cap_are_431_and_garbage_is_400() -> None:
    async with serving() as (_, port, seen):
        big = await exchange(port, b"GET /x HTTP/1.1\r\nhost: x\r\nx-pad: " + b"p" * 4096)
        junk = await exchange(port, b"\x16\x03\x01 hello this is not http\r\n\r\n")
    assert big.startswith(b"HTTP/1.1 431 ") and junk.startswith(b"HTTP/1.1 400 ") and seen == []


async def test_connections_over_the_cap_are_closed_at_once() -> None:
    limits = ServerLimits(max_connections=2, header_timeout_s=5.0)
    async with serving(limits) as (server, port, _seen):
        held = [await asyncio.open_connection("127.0.0.1", port) for _ in range(2)]
        await asyncio.sleep(0.05)
        extra = await exchange(port, b"GET /x HTTP/1.1\r\nhost: x\r\n\r\n", read_s=2.0)
        assert extra == b"" and server.stats.refused_connections == 1
        for _, w in held:
            w.close()


# -- the client ----------------------------------------------------------------------------


async def test_the_pool_reuses_a_keep_alive_connection() -> None:
    async with serving() as (server, port, _seen):
        pool = ConnectionPool("127.0.0.1", port)
        for i in range(3):
            r = await pool.request("GET", b"/n%27" + str(i).encode(), [(b"x-a", b"1")])
            assert r.status == 200 and r.body == b"GET /n%27" + str(i).encode() + b" 0"
        assert len(pool._all) == 1
        assert server.stats.connections == 1
        await pool.aclose()
        for _ in range(100):
            if server.stats.connections == 0:
                break
            await asyncio.sleep(0.01)
        assert server.stats.connections == 0


async def test_client_error_kinds() -> None:
    sock = loopback_listener(0)
    port = sock.getsockname()[1]
    sock.close()
    with pytest.raises(ConnectFailedError):
        await ConnectionPool("127.0.0.1", port).request("GET", b"/", [])

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = await reader.readuntil(b"\r\n\r\n")
            if b"/cut" in line:
                writer.write(b'HTTP/1.1 201 Created\r\ncontent-length: 64\r\n\r\n{"half')
                await writer.drain()
            elif b"/hang" in line:
                await asyncio.sleep(0.5)
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                await writer.drain()
                await asyncio.sleep(0.1)
        finally:
            writer.close()  # /reset: closed without a word
            await writer.wait_closed()

    srv = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    pool = ConnectionPool("127.0.0.1", port)
    with pytest.raises(ResetError):
        await pool.request("POST", b"/reset", [], b"{}")
    with pytest.raises(CutError):
        await pool.request("POST", b"/cut", [], b"{}")
    done: list[float] = []
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    with pytest.raises(UpstreamTimeoutError):
        await pool.request("GET", b"/hang", [], timeout=0.1, on_done=lambda: done.append(loop.time() - t0))
    assert done == []  # given up on, but the upstream is still at it
    await asyncio.sleep(0.8)
    assert len(done) == 1 and done[0] >= 0.4  # over when the answer came
    await pool.aclose()
    srv.close()
    await srv.wait_closed()


async def test_head_answers_carry_no_body_both_ways() -> None:
    async with serving() as (_, port, _seen):
        out = await exchange(port, b"HEAD /x HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        assert out.startswith(b"HTTP/1.1 200 OK\r\n") and out.endswith(b"\r\n\r\n")  # length given, no body
        assert b"content-length: 9\r\n" in out  # what the GET would send: "HEAD /x 0"
        pool = ConnectionPool("127.0.0.1", port)
        r = await asyncio.wait_for(pool.request("HEAD", b"/x", []), 2.0)  # not waiting for 8 bytes
        assert r.status == 200 and r.body == b""
        again = await pool.request("GET", b"/y", [])
        assert again.body == b"GET /y 0"
        await pool.aclose()


async def test_expect_100_continue_gets_its_interim_answer() -> None:
    async with serving() as (_, port, _seen):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST /x HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\nexpect: 100-continue\r\n\r\n")
        assert await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 2.0) == b"HTTP/1.1 100 Continue\r\n\r\n"
        writer.write(b"hello")
        final = await asyncio.wait_for(reader.read(1000), 2.0)
        assert final.startswith(b"HTTP/1.1 200 OK") and final.endswith(b"POST /x 5")
        writer.close()
        await writer.wait_closed()
