"""The differential fuzzer: mutations aimed at each class of bad input, and the oracle that
judges every payload ``parse_payload`` accepts with the independent code in reference.py.

Shared by tests/payloads/test_differential.py (hypothesis drives ``mutate`` through
``st.randoms()``) and bench/fuzz.py (a seeded ``random.Random`` and a million inputs).

Classes of accepted-invalid input, as issue 13 names them:

=============  =====================================================================
``address``    an address the reference bech32/bech32m, base58check, EIP-55 or base58
               32-byte check refuses, or a ``0x`` target that is not 40 hex digits
``amount``     an amount beyond its asset's range (BTC 21M, uint256, u64)
``ndef``       an NDEF message that does not re-encode to exactly its bytes
``bolt11``     an invoice the reference decoder refuses or reads differently, a high-S
               signature with ``n``, or no payment secret
``host``       a host that is not ASCII, not valid IDNA, or mixes scripts in a label
``bitcoin``    a ``bitcoin:`` URI with no address and no valid lightning invoice
=============  =====================================================================
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from urllib.parse import unquote, urlsplit

from coincurve import PrivateKey

from terminal.domain.payloads import (
    BitcoinUri,
    Bolt11Invoice,
    BoltCardTap,
    EthereumRequest,
    Lnurl,
    NdefMessage,
    Payload,
    SolanaTransaction,
    SolanaTransfer,
    WalletToken,
    bech32,
)
from terminal.domain.payloads.lnurl import encode_lnurl
from terminal.domain.payloads.ndef import encode_uri_message
from terminal.domain.payloads.samples import ALL, BOLT11, TAP

from . import reference as ref

CLASSES = ("address", "amount", "ndef", "bolt11", "host", "bitcoin")
SPEC_KEY = bytes.fromhex("e126f68f7eafcc8b74f54d269fe206be715000f94dac067d1c04a8ca3b2db734")

BTC_MAX_SAT = 21_000_000 * 10**8
CAPS = {
    "BTC": BTC_MAX_SAT,
    "BTC-LN": BTC_MAX_SAT * 1000,
    "ETH": 2**256 - 1,
    "USDC": 2**256 - 1,  # on Ethereum; the Solana mints are checked against u64 below
    "USDT": 2**256 - 1,
    "SOL": 2**64 - 1,
}

# ------------------------------------------------------------------------------------------ seeds

ETH = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
USDC = "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48"
SOL = "mvines9iiHiQTysrwkJjGf2gb9Ex9jXJX8ns3qwf2kN"
SEEDS: dict[str, list[str]] = {
    "address": [
        "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4",
        "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0",
        "1RustyRX2oai4EYYDpQGWvEL62BBGqN9T",
        "3EktnHQD7RiAE6uzMj2ZifT9YgRrkSgzQX",
        "tb1qghfhmd4zh7ncpmxl3qzhmq566jk8ckq4gafnmg",
        ETH,
        f"ethereum:{ETH}?value=1e18",
        "ethereum:my-shop.eth?value=1e18",
        f"ethereum:pay-{USDC}@1/transfer?address={ETH}&uint256=12.5e6",
        SOL,
        f"solana:{SOL}?amount=1&reference=82ZJ7nbGpixjeDCmEhUcmwXYfvurzAgGdtSMuHnUgyny",
    ],
    "amount": [
        "bitcoin:1RustyRX2oai4EYYDpQGWvEL62BBGqN9T?amount=20.3",
        f"ethereum:{ETH}?value=2.014e18&gas=21000&gasPrice=1e9",
        f"ethereum:{USDC}/transfer?address={ETH}&uint256=1e6",
        f"solana:{SOL}?amount=0.01",
        f"solana:{SOL}?amount=1.5&spl-token=EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v",
        f"solana:{SOL}?amount=7&spl-token=82ZJ7nbGpixjeDCmEhUcmwXYfvurzAgGdtSMuHnUgyny",
        BOLT11,
    ],
    "ndef": [
        "ndef:" + encode_uri_message(TAP).hex(),
        "ndef:" + encode_uri_message("bitcoin:1RustyRX2oai4EYYDpQGWvEL62BBGqN9T?amount=10").hex(),
        "ndef:" + encode_uri_message("https://service.com/w?tag=withdrawRequest").hex(),
        "ndef:D1010F5402656E48656C6C6F20576F726C6421",
    ],
    "bolt11": [BOLT11, "lightning:" + BOLT11.upper()],
    "host": [
        "lnurlp://service.com/pay",
        "lnurlw://card.example.com/w?p=4E2E289D945A66BB13377A728884E867&c=E19CCB1FED8892CE",
        "keyauth://domain.com/auth?tag=login&k1=00",
        "https://service.com/w?tag=withdrawRequest&k1=ab",
        encode_lnurl("https://service.com/api?q=1"),
        "solana:https%3A%2F%2Fexample.com%2Fsolana-pay%3Forder%3D1",
        TAP,
    ],
    "bitcoin": [
        "bitcoin:?lightning=" + BOLT11,
        "bitcoin:1RustyRX2oai4EYYDpQGWvEL62BBGqN9T?lightning=lnbc420bogusinvoice",
        "bitcoin:?bc=bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4",
    ],
}

# ------------------------------------------------------------------------------------- mutations

_CHARS = [
    *"01:?&=%#@/.-+eE pP1qQlLxX_",
    "\x00",
    "\u00e9",
    "\u0430",  # Cyrillic а
    "\u0435",  # Cyrillic е
    "\u043e",  # Cyrillic о
    "\u0455",  # Cyrillic ѕ
    "\u03bf",  # Greek ο
    "\u200d",  # zero-width joiner
    "\u202e",  # right-to-left override
    "\uff41",  # fullwidth a
    "\u6771",  # 東
    "\u3072",  # ひ
    "\u0661",  # Arabic-Indic 1
    "xn--",
    "xn--80ak6aa92e",
    "%C3",
    "%ZZ",
    "lnbc",
    "0x",
    "CPT1:",
    "ndef:",
    "9" * 4400,  # past int()'s 4,300-digit limit: length checks must come first
]
_BIG_NUMBERS = [
    "1e78",
    "2e77",
    "1.2e77",
    str(2**256),
    str(2**256 - 1),
    str(2**64),
    "18446744073.709551616",
    "18446744073709551616",
    "999999999999999999999999999999",
    "21000000.00000001",
    "21000001",
    "1e100",
    "0.5e79",
    "-1",
    "1e-1",
]
_HOMOGLYPHS = {"a": "\u0430", "e": "\u0435", "o": "\u043e", "s": "\u0455", "c": "\u0441", "p": "\u0440"}


def _any_char(rng: random.Random) -> str:
    """Mostly the Basic Multilingual Plane, sometimes beyond; never a lone surrogate."""
    while True:
        cp = rng.randrange(0x3000) if rng.random() < 0.8 else rng.randrange(0x110000)
        if not 0xD800 <= cp <= 0xDFFF:
            return chr(cp)


def char_mutation(rng: random.Random, text: str) -> str:
    for _ in range(rng.randint(1, 4)):
        op = rng.choice(("insert", "delete", "replace", "flip", "truncate", "dup"))
        pos = rng.randrange(max(len(text), 1))
        ch = rng.choice(_CHARS) if rng.random() < 0.7 else _any_char(rng)
        if op == "insert":
            text = text[:pos] + ch + text[pos:]
        elif op == "delete":
            text = text[:pos] + text[pos + 1 :]
        elif op == "replace":
            text = text[:pos] + ch + text[pos + 1 :]
        elif op == "flip":
            text = text[:pos] + text[pos : pos + 1].swapcase() + text[pos + 1 :]
        elif op == "truncate":
            text = text[:pos]
        else:
            text = text[:pos] + text[pos:] * 2
    return text


def _amount_mutation(rng: random.Random, text: str) -> str:
    for key in ("amount=", "value=", "uint256=", "gas=", "gasPrice="):
        if key in text and rng.random() < 0.7:
            head, _, tail = text.partition(key)
            rest = tail.partition("&")[2]
            text = head + key + rng.choice(_BIG_NUMBERS) + ("&" + rest if rest else "")
    if text.startswith(("lnbc", "lightning:")):
        return _bolt11_mutation(rng, text, hrp_amount=rng.choice(["21000001", "99999999999999999999", "1"]))
    return text


def _ndef_mutation(rng: random.Random, text: str) -> str:
    data = bytearray(bytes.fromhex(text[5:]))
    op = rng.choice(("length", "append", "flags", "truncate", "byte", "double"))
    if op == "length":  # any length field: type (1), payload (2) or an ID length if there is one
        i = rng.choice([1, 2])
        data[i] = (data[i] + rng.choice([-3, -2, -1, 1, 2, 3])) % 256
    elif op == "append":
        data += bytes(rng.randrange(256) for _ in range(rng.randint(1, 3)))
    elif op == "flags":
        data[0] ^= rng.choice([0x80, 0x40, 0x20, 0x10, 0x08, 0x01, 0x07])
    elif op == "truncate":
        del data[rng.randrange(len(data)) :]
    elif op == "byte":
        data[rng.randrange(len(data))] = rng.randrange(256)
    else:
        data += bytes(data)
    return "ndef:" + data.hex()


def resign(hrp: str, words: list[int], *, high_s: bool) -> str:
    """Sign any data part with the spec's key (low-S from libsecp256k1, or its high-S twin)."""
    digest = hashlib.sha256(hrp.encode() + bytes(bech32.convertbits(words, 5, 8, pad=True))).digest()
    sig = bytearray(PrivateKey(SPEC_KEY).sign_recoverable(digest, hasher=None))
    if high_s:
        s = ref.N - int.from_bytes(sig[32:64], "big")
        sig[32:64] = s.to_bytes(32, "big")
        sig[64] ^= 1
    return bech32.encode(hrp, words + bech32.convertbits(bytes(sig), 8, 5, pad=True), bech32.Variant.BECH32)


def _field(tag: str, words: list[int]) -> list[int]:
    return [bech32.CHARSET.index(tag), len(words) >> 5, len(words) & 31, *words]


_N_FIELD = _field("n", bech32.convertbits(PrivateKey(SPEC_KEY).public_key.format(), 8, 5, pad=True))


def _split_fields(words: list[int]) -> list[list[int]]:
    fields, i = [], 7
    while i + 3 <= len(words):
        end = i + 3 + (words[i + 1] << 5 | words[i + 2])
        fields.append(words[i:end])
        i = end
    return fields


def _bolt11_mutation(rng: random.Random, text: str, *, hrp_amount: str | None = None) -> str:
    """Change what the invoice says behind its checksum and signature, then sign it again."""
    raw = text[10:] if text[:10].lower() == "lightning:" else text
    hrp, data, _ = bech32.decode(raw, max_length=None)
    fields = _split_fields(data[:-104])
    op = rng.choice(("drop", "dup", "swap", "word", "add_n", "empty", "pad", "hrp", "none"))
    if op == "drop" and fields:
        fields.pop(rng.randrange(len(fields)))
    elif op == "dup" and fields:
        fields.insert(rng.randrange(len(fields) + 1), list(rng.choice(fields)))
    elif op == "swap" and len(fields) > 1:
        rng.shuffle(fields)
    elif op == "word" and fields:
        f = rng.choice(fields)
        f[rng.randrange(len(f))] = rng.randrange(32)
    elif op == "add_n":
        fields.append(list(_N_FIELD))
    elif op == "empty":
        fields.append(_field(rng.choice("xc9dm"), []))
    elif op == "pad" and fields:
        f = rng.choice(fields)
        body = [0, *f[3:]]
        f[:] = _field(bech32.CHARSET[f[0]], body)
    prefix = "lnbc"
    amount = hrp[4:]
    if op == "hrp":
        amount = rng.choice(["", "1", "10p", "15p", "0", "01m", "21000000", "21000001", "2500u", "1k"])
    if hrp_amount is not None:
        amount = hrp_amount
    words = data[:7] + [w for f in fields for w in f]
    return resign(prefix + amount, words, high_s=rng.random() < 0.5)


def _host_mutation(rng: random.Random, text: str) -> str:
    parts = text.split("//", 1)
    if len(parts) != 2:
        return char_mutation(rng, text)
    head, rest = parts
    op = rng.choice(("homoglyph", "userinfo", "underscore", "punycode", "idn", "hyphen"))
    if op == "homoglyph":
        spots = [i for i, c in enumerate(rest[:20]) if c in _HOMOGLYPHS]
        if spots:
            i = rng.choice(spots)
            rest = rest[:i] + _HOMOGLYPHS[rest[i]] + rest[i + 1 :]
    elif op == "userinfo":
        rest = "service.com@" + rest
    elif op == "underscore":
        rest = "a_b." + rest
    elif op == "punycode":
        rest = rng.choice(["xn--ervice-8wf.", "xn--80ak6aa92e.", "xn--zz.", "xn--e1afmkfd."]) + rest
    elif op == "idn":
        rest = (
            rng.choice(
                ["\u043f\u0440\u0438\u043c\u0435\u0440.", "\u6771\u4eac.", "m\u00fcnchen.", "a\u200db."]
            )
            + rest
        )
    else:
        rest = "-" + rest
    return head + "//" + rest


def _address_mutation(rng: random.Random, text: str) -> str:
    op = rng.choice(("ens", "hexlen", "case", "chars"))
    if op == "ens":
        name = rng.choice(
            ["0x12.eth", "my-sh\u043ep.eth", "a\u200bb.eth", "My.eth", "0xshop.eth", "\u0455hop.eth"]
        )
        return f"ethereum:{name}?value=1"
    if op == "hexlen":
        return f"ethereum:0x{'ab' * rng.randint(18, 22)}{rng.choice(['', 'c'])}?value=1"
    if op == "case":
        i = rng.randrange(len(text))
        return text[:i] + text[i].swapcase() + text[i + 1 :]
    return char_mutation(rng, text)


def _bitcoin_mutation(rng: random.Random, text: str) -> str:
    garbage = rng.choice(
        ["garbage", "lnbc420bogusinvoice", "lnbc1qqqqqq", "", BOLT11[:-1] + "x", "LNURL1DP68"]
    )
    if rng.random() < 0.5:
        return f"bitcoin:?lightning={garbage}"
    return char_mutation(rng, text)


_MUTATORS: dict[str, Callable[[random.Random, str], str]] = {
    "address": _address_mutation,
    "amount": _amount_mutation,
    "ndef": _ndef_mutation,
    "bolt11": _bolt11_mutation,
    "host": _host_mutation,
    "bitcoin": _bitcoin_mutation,
}


def mutate(rng: random.Random) -> tuple[str, str]:
    """``(class aimed at, input)``: one targeted mutation in four, a plain character one otherwise."""
    if rng.random() < 0.25:
        return "any", char_mutation(rng, rng.choice(ALL))
    cls = rng.choice(CLASSES)
    seed = rng.choice(SEEDS[cls])
    return cls, _MUTATORS[cls](rng, seed)


# ---------------------------------------------------------------------------------------- oracle


def _eth_params(text: str) -> tuple[str, dict[str, str]]:
    rest = text.partition(":")[2]
    if rest[:4].lower() == "pay-":
        rest = rest[4:]
    path, _, query = rest.partition("?")
    target = unquote(path.partition("/")[0].partition("@")[0])
    params = {}
    for part in query.split("&"):
        k, _, v = part.partition("=")
        params.setdefault(unquote(k), unquote(v))
    return target, params


def _bolt11_problems(inv: Bolt11Invoice) -> list[str]:
    got = ref.bolt11_decode(inv.invoice)
    if isinstance(got, str):
        return [f"bolt11: the reference refuses it ({got})"]
    want = ref.bolt11_summary(got)
    problems = [f"bolt11: {k} differs" for k in want if hasattr(inv, k) and getattr(inv, k) != want[k]]
    if got.has_n and got.s > ref.N // 2:
        problems.append("bolt11: high-S signature with n")
    return problems


def _host_problems(url: str) -> list[str]:
    host = urlsplit(url).hostname or ""
    if urlsplit(url).netloc.startswith("[") or ref.host_ok(host):
        return []
    return [f"host: {host!r} is not ASCII LDH, valid IDNA and single-script"]


def _inner_text(message: NdefMessage) -> str:
    """The text of the record whose payload became ``content`` (the first that parses)."""
    from terminal.domain.payloads import PayloadError, parse_payload

    for rec in message.records:
        candidate = rec.uri if rec.uri is not None else rec.text
        if candidate is None:
            continue
        try:
            parse_payload(candidate)
        except PayloadError:
            continue
        return candidate
    raise AssertionError("content came from no record")


def violations(text: str, payload: Payload) -> list[str]:
    """Every way an accepted ``payload`` (parsed from ``text``) breaks the reference rules."""
    out: list[str] = []
    j = payload.to_json()
    asset, minor = j.get("asset"), j.get("amount_minor")
    if minor is not None:
        if isinstance(payload, EthereumRequest):
            low, cap = 0, 2**256 - 1
        elif isinstance(payload, SolanaTransfer):
            low, cap = 0, 2**64 - 1
        else:
            low, cap = (1 if asset == "BTC-LN" else 0), CAPS.get(asset or "", -1)
        if not low <= int(minor) <= cap:
            out.append(f"amount: {minor} {asset} is out of range")
    spl_amount = payload.amount if isinstance(payload, SolanaTransfer) and minor is None else None
    if spl_amount is not None and int(spl_amount.partition(".")[0]) > 2**64 - 1:
        out.append("amount: an SPL amount beyond u64")
    if isinstance(payload, EthereumRequest):
        for n in (payload.gas_limit, payload.gas_price, payload.value_wei, payload.token_amount):
            if n is not None and not 0 <= n < 2**256:
                out.append("amount: an EIP-681 number beyond uint256")
        target, params = _eth_params(text) if ":" in text else (text, {})
        if target[:2].lower() == "0x" and not ref.eth_address_ok(target):
            out.append(f"address: {target!r} is not a valid EIP-55/hex address")
        if target[:2].lower() != "0x" and not all(ref.label_single_script(x) for x in target.split(".")):
            out.append(f"host: the ENS name {target!r} mixes scripts")
        rcpt = params.get("address")
        if payload.function == "transfer" and rcpt is not None and rcpt[:2].lower() == "0x":
            out += [] if ref.eth_address_ok(rcpt) else [f"address: recipient {rcpt!r} fails EIP-55"]
    elif isinstance(payload, BitcoinUri):
        if payload.address is not None:
            net = ref.bitcoin_address_network(payload.address.address)
            if net is None or net != payload.address.network:
                out.append(f"address: {payload.address.address!r} fails the reference check")
        for key, value in payload.instructions:
            if key in ("bc", "tb", "bcrt") and ref.segwit_address_ok(value) is None:
                out.append(f"address: {key}={value!r} fails the reference check")
        if payload.address is None:
            ok = [v for k, v in payload.instructions if k in ("bc", "tb", "bcrt")]
            for k, v in payload.instructions:
                if k == "lightning":
                    if isinstance(ref.bolt11_decode(v), str):
                        out.append("bitcoin: no address and an invalid lightning invoice")
                    else:
                        ok.append(v)
            if not ok:
                out.append("bitcoin: no address and nothing payable")
    elif isinstance(payload, SolanaTransfer):
        for key in (payload.recipient, payload.spl_token, *payload.references):
            if key is not None and not ref.solana_key_ok(key):
                out.append(f"address: {key!r} is not a canonical 32-byte base58 key")
    elif isinstance(payload, Bolt11Invoice):
        out += _bolt11_problems(payload)
    elif isinstance(payload, Lnurl | BoltCardTap):
        out += _host_problems(payload.url)
    elif isinstance(payload, SolanaTransaction):
        out += _host_problems(payload.link)
    elif isinstance(payload, NdefMessage):
        raw = bytes.fromhex(text.strip().partition(":")[2].replace(" ", ""))
        again = ref.ndef_encode([(r.tnf, r.raw_type, r.raw_id, r.data) for r in payload.records])
        if again != raw:
            out.append("ndef: the records do not re-encode to the input bytes")
        if payload.content is not None:
            out += violations(_inner_text(payload), payload.content)
    elif isinstance(payload, WalletToken):
        pass  # signed and verified elsewhere; its fields carry no amount, address or host
    return out
