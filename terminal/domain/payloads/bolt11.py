"""Lightning invoices (BOLT #11), decoded with signature check and encoded (signed) for emulators.

Reader rules applied (lightning/bolts 11-payment-encoding.md): bech32 without the 90-character
limit, either case but never mixed; prefix ``ln`` + ``bc``/``tb``/``tbs``/``bcrt``; amount a
positive integer without leading zeros and an optional multiplier m/u/n/p (p only when the
last digit is 0, so the amount is whole millisatoshi); fields of the wrong length and ``f``
fields of unknown version are skipped; unknown odd feature bits are ignored, unknown even ones
fail; the signature is checked against ``n`` when given, else the payee is recovered from it
(coincurve, i.e. libsecp256k1).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

from coincurve import PrivateKey, PublicKey

from terminal.domain.payloads import bech32
from terminal.domain.payloads._numbers import format_minor
from terminal.domain.payloads.addresses import b58encode_check, encode_segwit, parse_bitcoin_address
from terminal.domain.payloads.errors import PayloadError

__all__ = ["Bolt11Invoice", "RouteHop", "decode_bolt11", "encode_bolt11", "looks_like_bolt11"]

# currency prefix -> network
NETWORKS = {"bc": "mainnet", "tb": "testnet", "tbs": "signet", "bcrt": "regtest"}
_PREFIX_BY_NETWORK = {v: k for k, v in NETWORKS.items()}
_HRP = re.compile(r"ln(bcrt|bc|tbs|tb)(.*)")
_AMOUNT = re.compile(r"([1-9][0-9]*)([munp]?)")
_MSAT_PER = {"": 10**11, "m": 10**8, "u": 10**5, "n": 100}
DEFAULT_EXPIRY = 3600
DEFAULT_MIN_FINAL_CLTV = 18
# BOLT 9 feature bits allowed in invoices (context "9"): var_onion_optin 8/9, payment_secret
# 14/15, basic_mpp 16/17, option_route_blinding 24/25, option_payment_metadata 48/49.
KNOWN_FEATURES = frozenset({8, 9, 14, 15, 16, 17, 24, 25, 48, 49})
# (feature pair, the pair it depends on) per BOLT 9's "Dependencies" column
_DEPENDS = ((14, 8), (16, 14))
_TAG = {c: bech32.CHARSET.index(c) for c in "psdnhxcfr9m"}
_SIG_WORDS = 104  # 520 bits
_TS_WORDS = 7  # 35 bits


@dataclass(frozen=True, slots=True)
class RouteHop:
    pubkey: bytes
    short_channel_id: int
    fee_base_msat: int
    fee_proportional_millionths: int
    cltv_expiry_delta: int

    @property
    def scid(self) -> str:
        """``block x tx x output``, the usual human form."""
        s = self.short_channel_id
        return f"{s >> 40}x{(s >> 16) & 0xFFFFFF}x{s & 0xFFFF}"


@dataclass(frozen=True, slots=True)
class Bolt11Invoice:
    kind = "bolt11"

    invoice: str  # lower-case, without any "lightning:" prefix
    network: str
    amount_msat: int | None
    timestamp: int
    payment_hash: bytes
    payee: bytes  # 33-byte compressed node id (from `n` or recovered)
    signature: bytes  # 64 bytes r||s
    recovery_id: int
    payment_secret: bytes | None = None
    description: str | None = None
    description_hash: bytes | None = None
    expiry: int = DEFAULT_EXPIRY
    min_final_cltv_expiry: int = DEFAULT_MIN_FINAL_CLTV
    fallbacks: tuple[str, ...] = ()
    routes: tuple[tuple[RouteHop, ...], ...] = ()
    features: int = 0
    metadata: bytes | None = None
    expired: bool | None = field(default=None, compare=False)

    @property
    def expires_at(self) -> int:
        return self.timestamp + self.expiry

    def feature_bits(self) -> list[int]:
        return [i for i in range(self.features.bit_length()) if self.features >> i & 1]

    def to_json(self) -> dict[str, Any]:
        amount = self.amount_msat
        return {
            "network": self.network,
            "asset": "BTC-LN",
            "amount": None if amount is None else format_minor(amount, 11),
            "amount_minor": None if amount is None else str(amount),
            "payment_hash": self.payment_hash.hex(),
            "payment_secret": self.payment_secret.hex() if self.payment_secret else None,
            "description": self.description,
            "description_hash": self.description_hash.hex() if self.description_hash else None,
            "payee": self.payee.hex(),
            "timestamp": self.timestamp,
            "expiry": self.expiry,
            "expires_at": self.expires_at,
            "expired": self.expired,
            "min_final_cltv_expiry": self.min_final_cltv_expiry,
            "fallbacks": list(self.fallbacks),
            "routes": [
                [
                    {
                        "pubkey": h.pubkey.hex(),
                        "short_channel_id": h.scid,
                        "fee_base_msat": h.fee_base_msat,
                        "fee_proportional_millionths": h.fee_proportional_millionths,
                        "cltv_expiry_delta": h.cltv_expiry_delta,
                    }
                    for h in route
                ]
                for route in self.routes
            ],
            "features": self.feature_bits(),
            "metadata": self.metadata.hex() if self.metadata is not None else None,
            "invoice": self.invoice,
        }


def looks_like_bolt11(text: str) -> bool:
    return _HRP.match(text[: text.rfind("1")].lower()) is not None if "1" in text else False


def _int(words: list[int]) -> int:
    n = 0
    for w in words:
        n = n << 5 | w
    return n


def _words(n: int, count: int | None = None) -> list[int]:
    out: list[int] = []
    while n:
        out.append(n & 31)
        n >>= 5
    out.reverse()
    if count is not None:
        out = [0] * (count - len(out)) + out
    return out


def _bytes(words: list[int]) -> bytes:
    """5-bit words -> bytes, dropping the (writer-zeroed) padding bits."""
    n = _int(words)
    nbits = 5 * len(words)
    return (n >> (nbits % 8)).to_bytes(nbits // 8, "big")


def _parse_amount(text: str) -> int | None:
    if not text:
        return None
    m = _AMOUNT.fullmatch(text)
    if m is None:
        raise PayloadError(
            "bad_amount", f"invoice amount {text!r} is not a number without leading zeros and m/u/n/p"
        )
    digits, mult = m[1], m[2]
    if len(digits) > 30:
        raise PayloadError("bad_amount", "invoice amount is absurdly large")
    if mult == "p":
        if digits[-1] != "0":
            raise PayloadError("amount_precision", "a pico-bitcoin amount must end in 0 (whole millisatoshi)")
        return int(digits) // 10
    return int(digits) * _MSAT_PER[mult]


def _fallback(version: int, program: bytes, network: str) -> str | None:
    testnetish = network != "mainnet"
    if version == 17 and len(program) == 20:
        return b58encode_check(bytes([0x6F if testnetish else 0x00]) + program)
    if version == 18 and len(program) == 20:
        return b58encode_check(bytes([0xC4 if testnetish else 0x05]) + program)
    if version <= 16:
        hrp = {"mainnet": "bc", "regtest": "bcrt"}.get(network, "tb")
        try:
            return parse_bitcoin_address(encode_segwit(hrp, version, program)).address
        except PayloadError:
            return None  # not a valid witness program: skip like an unknown version
    return None


def _routes(data: bytes) -> tuple[RouteHop, ...]:
    hops = []
    for i in range(0, len(data) - len(data) % 51, 51):
        c = data[i : i + 51]
        hops.append(
            RouteHop(
                pubkey=c[:33],
                short_channel_id=int.from_bytes(c[33:41], "big"),
                fee_base_msat=int.from_bytes(c[41:45], "big"),
                fee_proportional_millionths=int.from_bytes(c[45:49], "big"),
                cltv_expiry_delta=int.from_bytes(c[49:51], "big"),
            )
        )
    return tuple(hops)


def _signing_hash(hrp: str, data_words: list[int]) -> bytes:
    payload = bytes(bech32.convertbits(data_words, 5, 8, pad=True))
    return hashlib.sha256(hrp.encode() + payload).digest()


def _check_features(features: int) -> None:
    for bit in range(0, features.bit_length(), 2):
        if features >> bit & 1 and bit not in KNOWN_FEATURES:
            raise PayloadError("unknown_feature", f"the invoice requires feature bit {bit}, which is unknown")
    for feat, dep in _DEPENDS:
        if features >> feat & 3 and not features >> dep & 3:
            raise PayloadError(
                "bad_feature", f"feature {feat} is set without the feature {dep} it depends on"
            )


def decode_bolt11(text: str, *, now: float | None = None) -> Bolt11Invoice:
    """Decode and verify an invoice. ``now`` (epoch seconds) sets ``expired``; otherwise it is None."""
    if text[:10].lower() == "lightning:":
        text = text[10:]
    hrp, data, variant = bech32.decode(text, max_length=None, what="lightning invoice")
    if variant is not bech32.Variant.BECH32:
        raise PayloadError("bad_checksum", "a lightning invoice uses a bech32 (not bech32m) checksum")
    m = _HRP.fullmatch(hrp)
    if m is None:
        raise PayloadError(
            "bad_hrp", f"{hrp!r} is not a lightning invoice prefix (lnbc, lntb, lntbs, lnbcrt)"
        )
    network = NETWORKS[m[1]]
    amount = _parse_amount(m[2])
    if len(data) < _TS_WORDS + _SIG_WORDS:
        raise PayloadError("bad_length", "the invoice is too short to hold a timestamp and a signature")
    body, sig_words = data[:-_SIG_WORDS], data[-_SIG_WORDS:]
    sig_bytes = bytes(bech32.convertbits(sig_words, 5, 8, pad=False))
    signature, recid = sig_bytes[:64], sig_bytes[64]
    if recid > 3:
        raise PayloadError("bad_signature", f"recovery id {recid} is not 0-3")
    timestamp = _int(body[:_TS_WORDS])

    fields: dict[str, Any] = {}
    fallbacks: list[str] = []
    routes: list[tuple[RouteHop, ...]] = []
    i = _TS_WORDS
    while i < len(body):
        if i + 3 > len(body):
            raise PayloadError("bad_field", "the invoice ends inside a field header")
        tag, length = body[i], body[i + 1] << 5 | body[i + 2]
        value = body[i + 3 : i + 3 + length]
        if len(value) < length:
            raise PayloadError("bad_field", "an invoice field is longer than the invoice")
        i += 3 + length
        if tag == _TAG["p"] and length == 52:
            fields.setdefault("payment_hash", _bytes(value))
        elif tag == _TAG["s"] and length == 52:
            fields.setdefault("payment_secret", _bytes(value))
        elif tag == _TAG["h"] and length == 52:
            fields.setdefault("description_hash", _bytes(value))
        elif tag == _TAG["n"] and length == 53:
            fields.setdefault("payee", _bytes(value))
        elif tag == _TAG["d"] and "description" not in fields:
            try:
                fields["description"] = _bytes(value).decode("utf-8")
            except UnicodeDecodeError:
                raise PayloadError("bad_field", "the invoice description is not valid UTF-8") from None
        elif tag == _TAG["x"] and "expiry" not in fields:
            fields["expiry"] = _int(value)
        elif tag == _TAG["c"] and "min_final_cltv_expiry" not in fields:
            fields["min_final_cltv_expiry"] = _int(value)
        elif tag == _TAG["f"] and length >= 1:
            fb = _fallback(value[0], _bytes(value[1:]), network)
            if fb is not None:
                fallbacks.append(fb)
        elif tag == _TAG["r"]:
            hops = _routes(_bytes(value))
            if hops:
                routes.append(hops)
        elif tag == _TAG["9"] and "features" not in fields:
            fields["features"] = _int(value)
        elif tag == _TAG["m"] and "metadata" not in fields:
            fields["metadata"] = _bytes(value)
        # anything else: "MUST skip over unknown fields"

    if "payment_hash" not in fields:
        raise PayloadError("missing_field", "the invoice has no payment hash (p field)")
    _check_features(fields.get("features", 0))
    if fields.get("features", 0) >> 14 & 3 and "payment_secret" not in fields:
        # "MUST set an s field if and only if the payment_secret feature is set": a payer cannot
        # build the onion without it
        raise PayloadError("missing_field", "the invoice requires payment_secret but has no s field")

    msg_hash = _signing_hash(hrp, body)
    payee = fields.pop("payee", None)
    if payee is not None:
        try:
            key = PublicKey(payee)
        except ValueError:
            raise PayloadError(
                "bad_field", "the invoice's payee (n field) is not a valid public key"
            ) from None
        if not _verify(key, signature, msg_hash):
            raise PayloadError("bad_signature", "the invoice's signature does not match its payee (n field)")
    else:
        try:
            key = PublicKey.from_signature_and_message(sig_bytes, msg_hash, hasher=None)
        except Exception as exc:  # coincurve raises plain Exception for unrecoverable signatures
            raise PayloadError("bad_signature", "the invoice's signature is not recoverable") from exc
        payee = key.format(compressed=True)

    inv = Bolt11Invoice(
        invoice=text.lower(),
        network=network,
        amount_msat=amount,
        timestamp=timestamp,
        payee=payee,
        signature=signature,
        recovery_id=recid,
        fallbacks=tuple(fallbacks),
        routes=tuple(routes),
        **fields,
    )
    if now is not None:
        return _with_expired(inv, now)
    return inv


def _with_expired(inv: Bolt11Invoice, now: float) -> Bolt11Invoice:
    from dataclasses import replace

    return replace(inv, expired=now >= inv.expires_at)


def _verify(key: PublicKey, signature: bytes, msg_hash: bytes) -> bool:
    """A 64-byte r||s signature against ``key``: recover with each id and compare (same result as verify)."""
    want = key.format(compressed=True)
    for recid in range(4):
        try:
            got = PublicKey.from_signature_and_message(signature + bytes([recid]), msg_hash, hasher=None)
        except Exception:  # noqa: S112 - an id that does not recover is simply not this one
            continue
        if got.format(compressed=True) == want:
            return True
    return False


def _amount_hrp(msat: int) -> str:
    if msat <= 0:
        raise PayloadError("bad_amount", "an invoice amount must be positive")
    for mult in ("", "m", "u", "n"):
        if msat % _MSAT_PER[mult] == 0:
            return f"{msat // _MSAT_PER[mult]}{mult}"
    return f"{msat * 10}p"


def _field(tag: str, words: list[int]) -> list[int]:
    if len(words) >= 1024:
        raise PayloadError("bad_field", f"field {tag} is too long for BOLT11 (1023 words)")
    return [_TAG[tag], len(words) >> 5, len(words) & 31, *words]


def _data_field(tag: str, data: bytes) -> list[int]:
    return _field(tag, bech32.convertbits(data, 8, 5, pad=True))


def encode_bolt11(
    *,
    private_key: bytes,
    payment_hash: bytes,
    timestamp: int,
    network: str = "mainnet",
    amount_msat: int | None = None,
    payment_secret: bytes | None = None,
    description: str | None = None,
    description_hash: bytes | None = None,
    expiry: int | None = None,
    min_final_cltv_expiry: int = DEFAULT_MIN_FINAL_CLTV,
    fallback: str | None = None,
    features: int | None = None,
    metadata: bytes | None = None,
    routes: tuple[tuple[RouteHop, ...], ...] = (),
    include_payee: bool = False,
) -> str:
    """A signed invoice (lower case).

    Features default to var_onion_optin + payment_secret when a secret is given.
    """
    if network not in _PREFIX_BY_NETWORK:
        raise PayloadError("wrong_network", f"unknown lightning network {network!r}")
    if len(payment_hash) != 32 or (payment_secret is not None and len(payment_secret) != 32):
        raise PayloadError("bad_field", "payment hash and secret are 32 bytes")
    if (description is None) == (description_hash is None):
        raise PayloadError("missing_field", "an invoice has exactly one of description and description_hash")
    if not 0 <= timestamp < 1 << 35:
        raise PayloadError("bad_field", "timestamp out of range")
    hrp = "ln" + _PREFIX_BY_NETWORK[network] + ("" if amount_msat is None else _amount_hrp(amount_msat))
    key = PrivateKey(private_key)
    data = _words(timestamp, _TS_WORDS)
    if payment_secret is not None:
        data += _data_field("s", payment_secret)
    data += _data_field("p", payment_hash)
    if description is not None:
        data += _data_field("d", description.encode())
    if description_hash is not None:
        data += _data_field("h", description_hash)
    if expiry is not None:
        data += _field("x", _words(expiry))
    data += _field("c", _words(min_final_cltv_expiry))
    if fallback is not None:
        addr = parse_bitcoin_address(fallback)
        version = {"p2pkh": 17, "p2sh": 18}.get(addr.kind, addr.witness_version)
        assert version is not None
        data += _field("f", [version, *bech32.convertbits(addr.program, 8, 5, pad=True)])
    for route in routes:
        raw = b"".join(
            h.pubkey
            + h.short_channel_id.to_bytes(8, "big")
            + h.fee_base_msat.to_bytes(4, "big")
            + h.fee_proportional_millionths.to_bytes(4, "big")
            + h.cltv_expiry_delta.to_bytes(2, "big")
            for h in route
        )
        data += _data_field("r", raw)
    if metadata is not None:
        data += _data_field("m", metadata)
    if features is None:
        features = (1 << 8 | 1 << 14) if payment_secret is not None else 0
    if features:
        data += _field("9", _words(features))
    if include_payee:
        data += _data_field("n", key.public_key.format(compressed=True))
    sig = key.sign_recoverable(_signing_hash(hrp, data), hasher=None)
    return bech32.encode(hrp, data + bech32.convertbits(sig, 8, 5, pad=True), bech32.Variant.BECH32)
