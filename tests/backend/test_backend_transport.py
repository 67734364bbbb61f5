"""The one in-process transport: an ASGI app reached as over a socket to a uvicorn server."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from backend_stub.faults import InstanceCrashedError
from backend_stub.problems import ResponseDroppedError
from backend_stub.transport import DropResponseMiddleware, InProcessTransport


def app_doing(what: str) -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        message = await receive()
        if what == "crash":
            raise InstanceCrashedError("gone")
        if what == "raise":
            raise RuntimeError("bug")
        if what == "drop":
            raise ResponseDroppedError
        echo = f"{scope['method']} {scope['raw_path'].decode()} {scope['query_string'].decode()} ".encode()
        echo += message["body"]
        length = len(echo) + (10 if what == "short" else 0)
        await send(
            {
                "type": "http.response.start",
                "status": 201,
                "headers": [(b"content-length", str(length).encode())],
            }
        )
        if what == "raise-after-start":
            await send({"type": "http.response.body", "body": echo})
            raise RuntimeError("bug after the answer")
        if what == "no-end":
            await send({"type": "http.response.body", "body": echo, "more_body": True})
            return
        await send({"type": "http.response.body", "body": echo})

    return app


async def call(app: Any, *, up: bool = True) -> httpx.Response:
    transport = InProcessTransport(app, is_up=lambda: up)
    async with httpx.AsyncClient(transport=transport, base_url="http://i") as c:
        return await c.post("/a%2Fb?x=1", content=b"body")


async def test_a_complete_answer_carries_method_raw_path_query_and_body() -> None:
    r = await call(app_doing("ok"))
    assert (r.status_code, r.content) == (201, b"POST /a%2Fb x=1 body")


async def test_an_instance_that_is_down_refuses_the_connection() -> None:
    with pytest.raises(httpx.ConnectError):
        await call(app_doing("ok"), up=False)


async def test_a_crash_before_the_answer_is_a_reset() -> None:
    with pytest.raises(httpx.RemoteProtocolError):
        await call(app_doing("crash"))


async def test_an_unhandled_exception_is_a_plain_500_as_uvicorn_sends() -> None:
    r = await call(app_doing("raise"))
    assert (r.status_code, r.text) == (500, "Internal Server Error")


async def test_an_exception_after_a_complete_answer_leaves_the_answer() -> None:
    r = await call(app_doing("raise-after-start"))
    assert (r.status_code, r.content) == (201, b"POST /a%2Fb x=1 body")


@pytest.mark.parametrize("what", ["short", "no-end"])
async def test_an_answer_that_breaks_off_is_a_read_error(what: str) -> None:
    with pytest.raises(httpx.ReadError):
        await call(app_doing(what))


async def test_a_dropped_response_is_cut_mid_answer() -> None:
    """The test mode's lost answer: headers promising a body that never comes."""
    transport = InProcessTransport(DropResponseMiddleware(app_doing("drop")))
    async with httpx.AsyncClient(transport=transport, base_url="http://i") as c:
        with pytest.raises(httpx.ReadError):
            await c.post("/x", content=b"")
        async with c.stream("POST", "/x", content=b"") as r:
            assert r.status_code == 200  # the answer started ...
            with pytest.raises(httpx.ReadError):
                await r.aread()  # ... and broke off
