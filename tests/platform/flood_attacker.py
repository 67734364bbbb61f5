"""The attackers of the flood test, as their own process (``python -m tests.platform.flood_attacker
SPEC.json``), so their CPU is theirs and a crash of theirs is not the test's. Prints one JSON
object with what each attacker saw.

- ``calibrate``: closed-loop signed inquiries from many keys (none near its rate limit): the
  gateway's capacity for a cheap forwarded request, in requests per second.
- ``rogue``: one valid key sending signed inquiries at ``rate`` per second, open loop, pipelined
  on a few keep-alive connections (at most ``window`` unanswered per connection; what the
  gateway cannot take in is counted as not sent).
- ``junk``: unsigned POSTs with a body, pipelined, at ``rate`` per second.
- ``slowloris``: ``count`` connections that each send a partial request and then one more
  header byte a second, reconnecting when the gateway cuts them off.
- ``bigbody``: ``count`` clients, each in a loop sending a request that announces 50 MB and
  streaming it until the gateway answers.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import sys
import time
from collections import Counter
from typing import Any

import httptools

from terminal.domain import signing

BIG = 50 * 1024 * 1024


class Counting:
    """Reads pipelined answers off one connection and counts their statuses."""

    def __init__(self, counts: Counter[int]) -> None:
        self.counts = counts
        self.parser = httptools.HttpResponseParser(self)
        self.answered = 0

    def on_message_complete(self) -> None:
        self.counts[self.parser.get_status_code()] += 1
        self.answered += 1

    def feed(self, data: bytes) -> None:
        self.parser.feed_data(data)


def signed_get(key_id: str, secret: bytes, path: str) -> bytes:
    ts, nonce = int(time.time()), secrets.token_hex(8)
    sig = signing.sign(secret, "GET", path, ts, nonce, b"")
    return (
        f"GET {path} HTTP/1.1\r\nhost: g\r\nx-cp-key-id: {key_id}\r\nx-cp-timestamp: {ts}\r\n"
        f"x-cp-nonce: {nonce}\r\nx-cp-signature: {sig}\r\n\r\n"
    ).encode()


JUNK = (
    b"POST /payments/v2/payments HTTP/1.1\r\nhost: g\r\ncontent-type: application/json\r\n"
    b"content-length: 64\r\n\r\n" + b'{"junk": "' + b"j" * 52 + b'"}'
)


async def pipelined(
    port: int, make: Any, *, rate: float, seconds: float, connections: int, window: int
) -> dict[str, Any]:
    """Open loop at ``rate``/s over ``connections``; statuses counted as they come back."""
    counts: Counter[int] = Counter()
    sent = not_sent = reconnects = 0
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    end = t0 + seconds

    async def lane() -> None:
        nonlocal sent, not_sent, reconnects
        share = rate / connections
        due = 0.0
        last = loop.time()
        while loop.time() < end:
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                reconnects += 1
                await asyncio.sleep(0.05)
                continue
            c = Counting(counts)
            mine = 0

            async def read(c: Counting = c, reader: asyncio.StreamReader = reader) -> None:
                while True:
                    data = await reader.read(65536)
                    if not data:
                        return
                    c.feed(data)

            reading = asyncio.ensure_future(read())
            try:
                while loop.time() < end and not reading.done():
                    now = loop.time()
                    due += (now - last) * share
                    last = now
                    n = int(due)
                    due -= n
                    room = max(0, window - (mine - c.answered))
                    batch = min(n, room)
                    not_sent += n - batch
                    if batch:
                        writer.write(b"".join(make() for _ in range(batch)))
                        mine += batch
                        sent += batch
                    await asyncio.sleep(0.005)
            except (ConnectionError, OSError, RuntimeError):
                pass  # the gateway closed it: open another
            finally:
                writer.close()
                reading.cancel()
                reconnects += 1
            await asyncio.sleep(0)

    await asyncio.gather(*(lane() for _ in range(connections)))
    elapsed = loop.time() - t0
    return {
        "sent": sent,
        "not_sent": not_sent,
        "offered_per_s": (sent + not_sent) / elapsed,
        "sent_per_s": sent / elapsed,
        "statuses": {str(k): v for k, v in sorted(counts.items())},
        "connections_opened": reconnects,
    }


async def calibrate(port: int, keys: dict[str, bytes], seconds: float, concurrency: int) -> dict[str, Any]:
    items = list(keys.items())
    done = 0
    statuses: Counter[int] = Counter()
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds

    async def lane(i: int) -> None:
        nonlocal done
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        c = Counting(statuses)
        k = i
        while loop.time() < end:
            key_id, secret = items[k % len(items)]
            k += concurrency
            writer.write(signed_get(key_id, secret, f"/payments/v2/payments?reference=cal-{k}"))
            before = c.answered
            while c.answered == before:
                data = await reader.read(65536)
                if not data:
                    return
                c.feed(data)
            done += 1
        writer.close()

    t0 = loop.time()
    await asyncio.gather(*(lane(i) for i in range(concurrency)))
    return {"per_s": done / (loop.time() - t0), "statuses": {str(k): v for k, v in statuses.items()}}


async def slowloris(port: int, count: int, seconds: float) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    lasted: list[float] = []
    answered = 0

    async def one() -> None:
        nonlocal answered
        while loop.time() < end:
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                await asyncio.sleep(0.1)
                continue
            t0 = loop.time()
            writer.write(b"GET /payments/v2/payments HTTP/1.1\r\nhost: g\r\nx-slow: ")
            try:
                while loop.time() < end:
                    await asyncio.sleep(1.0)
                    writer.write(b"z")
                    await writer.drain()
                    if reader.at_eof():
                        break
                    try:
                        data = await asyncio.wait_for(reader.read(1024), 0.01)
                    except TimeoutError:
                        continue
                    if data:
                        answered += 1
                    break
            except (ConnectionError, OSError, RuntimeError):  # uvloop: RuntimeError on a closed transport
                pass
            lasted.append(loop.time() - t0)
            writer.close()

    await asyncio.gather(*(one() for _ in range(count)))
    cut = [x for x in lasted if x < seconds - 0.5]
    return {
        "connections": len(lasted),
        "cut": len(cut),
        "longest_cut_s": max(cut, default=0.0),
        "answered": answered,
    }


async def bigbody(port: int, count: int, seconds: float) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    statuses: Counter[str] = Counter()
    streamed: list[int] = []

    async def one() -> None:
        chunk = b"x" * 65536
        while loop.time() < end:
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                await asyncio.sleep(0.1)
                continue
            writer.write(
                b"POST /payments/v2/payments HTTP/1.1\r\nhost: g\r\ncontent-type: application/json\r\n"
                b"content-length: %d\r\n\r\n" % BIG
            )
            sent = 0
            status = "none"
            try:
                while sent < BIG:
                    writer.write(chunk)
                    sent += len(chunk)
                    await writer.drain()
                    try:
                        data = await asyncio.wait_for(reader.read(4096), 0.001)
                    except TimeoutError:
                        continue
                    status = data[9:12].decode() if data.startswith(b"HTTP/1.1 ") else "closed"
                    break
            except (ConnectionError, OSError, RuntimeError):
                status = status if status != "none" else "reset"
            statuses[status] += 1
            streamed.append(sent)
            writer.close()
            await asyncio.sleep(0.2)

    await asyncio.gather(*(one() for _ in range(count)))
    return {"statuses": dict(statuses), "max_streamed_bytes": max(streamed, default=0)}


async def main(spec: dict[str, Any]) -> dict[str, Any]:
    port = int(spec["port"])
    if spec["mode"] == "calibrate":
        keys = {k: bytes.fromhex(v) for k, v in spec["keys"].items()}
        return await calibrate(port, keys, spec["seconds"], spec["concurrency"])
    secs = float(spec["seconds"])
    rogue_id, rogue_secret = spec["rogue"][0], bytes.fromhex(spec["rogue"][1])
    seq = iter(range(10**9))
    jobs = {
        "rogue": pipelined(
            port,
            lambda: signed_get(rogue_id, rogue_secret, f"/payments/v2/payments?reference=rogue-{next(seq)}"),
            rate=spec["rogue_rate"],
            seconds=secs,
            connections=spec.get("rogue_connections", 8),
            window=spec.get("window", 256),
        ),
        "junk": pipelined(
            port,
            lambda: JUNK,
            rate=spec["junk_rate"],
            seconds=secs,
            connections=4,
            window=spec.get("window", 256),
        ),
        "slowloris": slowloris(port, spec["slowloris"], secs),
        "bigbody": bigbody(port, spec["bigbody"], secs),
    }
    results = await asyncio.gather(*jobs.values())
    return dict(zip(jobs, results, strict=True))


if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8") as f:
        spec = json.load(f)
    try:
        import uvloop

        out = uvloop.run(main(spec))
    except ImportError:
        out = asyncio.run(main(spec))
    print(json.dumps(out))
