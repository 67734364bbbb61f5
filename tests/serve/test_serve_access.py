"""``cryptopos serve`` access rules: never beyond loopback without a token; on loopback only for
loopback host names and the page's own origin; with a token, a cookie after ``?token=``."""

from __future__ import annotations

import httpx
import pytest

from terminal.cli import main
from terminal.cli.common import CliError
from terminal.cli.serve import COOKIE, access_token, cookie_value
from tests.serve.helpers import served

TOKEN = "counter-tablet-7f3a9c2e"


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (("serve", "--host", "0.0.0.0"), "refusing to serve the till on 0.0.0.0"),
        (("serve", "--host", "192.168.1.20"), "Give an access token (--token or $CRYPTOPOS_SERVE_TOKEN"),
        (("serve", "--host", "0.0.0.0", "--token", "short"), "too short (5 characters)"),
        (("serve", "--port", "70000"), "--port 70000 is not a port number"),
    ],
)
def test_serve_refuses_to_start(
    argv: tuple[str, ...], says: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CRYPTOPOS_SERVE_TOKEN", raising=False)
    assert main(list(argv)) == 2
    assert says in capsys.readouterr().err


def test_on_loopback_only_loopback_names_and_the_pages_own_origin() -> None:
    with served() as url:
        page = httpx.get(url + "/")
        assert page.status_code == 200 and f'data-session-websocket-url="ws://{url[7:]}/ws"' in page.text
        assert httpx.get(url + "/", headers={"Host": "localhost"}).status_code == 200
        # DNS rebinding: a foreign name that resolves to this machine
        rebound = httpx.get(url + "/", headers={"Host": "attacker.example"})
        assert rebound.status_code == 403 and "localhost only" in rebound.text
        # another site's page opening the till's websocket in the same browser
        ws_headers = {"Origin": "https://attacker.example", "Connection": "Upgrade", "Upgrade": "websocket"}
        hijack = httpx.get(url + "/ws", headers=ws_headers)
        assert hijack.status_code == 403 and "another origin" in hijack.text
        assert ws_answer(url, {**ws_headers, "Origin": url}) != 403  # the page's own origin passes
        assert httpx.get(url + "/static/js/textual.js").status_code == 200


def test_with_a_token_the_first_visit_sets_a_cookie_and_nothing_works_without_it() -> None:
    with served(env={"CRYPTOPOS_SERVE_TOKEN": TOKEN}) as url:
        assert httpx.get(url + "/").status_code == 403
        assert httpx.get(url + "/ws").status_code == 403
        assert httpx.get(url + "/download/x").status_code == 403
        assert httpx.get(url + "/?token=" + "x" * 23).status_code == 403
        first = httpx.get(url + "/?token=" + TOKEN)
        assert (
            first.status_code == 302 and first.headers["location"] == "/"
        )  # the token leaves the address bar
        cookie = first.headers["set-cookie"]
        assert (
            f"{COOKIE}={cookie_value(TOKEN)}" in cookie
            and "HttpOnly" in cookie
            and "SameSite=Strict" in cookie
        )
        page = httpx.get(url + "/", cookies={COOKIE: cookie_value(TOKEN)})
        assert page.status_code == 200 and "data-session-websocket-url" in page.text
        assert httpx.get(url + "/", cookies={COOKIE: cookie_value("another-token-0000")}).status_code == 403


def ws_answer(url: str, headers: dict[str, str]) -> int | None:
    """The status of a half websocket handshake: 403 when the access checks refuse it; past them,
    textual-serve drops the connection (None), as the handshake has no key."""
    try:
        return httpx.get(url + "/ws", headers=headers).status_code
    except httpx.RemoteProtocolError:
        return None


def test_behind_a_proxy_its_public_address_is_the_tills_own() -> None:
    with served("--public-url", "https://till.example.com") as url:
        page = httpx.get(url + "/", headers={"Host": "till.example.com"})
        assert (
            page.status_code == 200 and 'data-session-websocket-url="wss://till.example.com/ws"' in page.text
        )
        ws = {"Host": "till.example.com", "Origin": "https://till.example.com", "Connection": "Upgrade"}
        assert ws_answer(url, {**ws, "Upgrade": "websocket"}) != 403
        assert httpx.get(url + "/", headers={"Host": "other.example.com"}).status_code == 403


def test_the_token_comes_from_the_flag_or_the_environment() -> None:
    assert access_token(None, {}) is None
    assert access_token(None, {"CRYPTOPOS_SERVE_TOKEN": TOKEN}) == TOKEN
    assert access_token(TOKEN, {"CRYPTOPOS_SERVE_TOKEN": "from-the-environment"}) == TOKEN
    with pytest.raises(CliError, match="too short"):
        access_token(None, {"CRYPTOPOS_SERVE_TOKEN": "guessable"})
