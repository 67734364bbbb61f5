"""Lightning invoices (BOLT #11), decoded with signature check and encoded (signed) for emulators.

Reader rules applied (lightning/bolts 11-payment-encoding.md as of commit 14901bd, 2026-03-09):
bech32 without the 90-character limit, either case but never mixed; prefix ``ln`` +
``bc``/``tb``/``tbs``/``bcrt``; amount a positive integer without leading zeros and an optional
multiplier m/u/n/p (p only when the last digit is 0, so the amount is whole millisatoshi), at
most 21,000,000 BTC; ``p``, ``h``, ``s``, ``n`` of any other length than 52/52/52/53 fail;
exactly one ``s`` (payment secret) and exactly one of ``d``/``h``; ``x``, ``c`` and ``9`` in
their minimal length; unknown fields and ``f`` fields of unknown version are skipped; unknown
odd feature bits are ignored, unknown even ones fail; with ``n`` the signature is verified
against it and must be low-S, without ``n`` the payee is recovered from it (high-S accepted,
as the spec requires); coincurve (libsecp256k1) does the curve work.

Stricter than the text, on purpose: a field the spec lets a writer include once (``p s d h n x c
9 m``) may not repeat. Two payment hashes in one invoice let two programs disagree on what was
paid (lightning/bolts#1357); a till has no use for either reading.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field, replace
from typing import Any

from coincurve import PrivateKey, PublicKey
from coincurve.ecdsa import cdata_to_der, deserialize_compact

from terminal.domain.payloads import bech32
from terminal.domain.payloads._numbers import LN_MAX_MSAT, check_cap, format_minor
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
# var_onion_optin and payment_secret are ASSUMED now, so basic_mpp's one dependency
# (payment_secret) always holds and no dependency is left to check.
KNOWN_FEATURES = frozenset({8, 9, 14, 15, 16, 17, 24, 25, 48, 49})
DEFAULT_FEATURES = 1 << 8 | 1 << 14  # what the spec's examples set; older readers look for bit 14
_TAG = {c: bech32.CHARSET.index(c) for c in "psdnhxcfr9m"}
_NAME = {v: k for k, v in _TAG.items()}
_FIXED_LENGTH = {"p": 52, "s": 52, "h": 52, "n": 53}
_ONCE = frozenset("psdhnxc9m")
_FIELD_TITLE = {
    "p": "payment hash (p)",
    "s": "payment secret (s)",
    "d": "description (d)",
    "h": "description hash (h)",
    "n": "payee (n)",
    "x": "expiry (x)",
    "c": "final CLTV delta (c)",
    "9": "features (9)",
    "m": "metadata (m)",
}
_CURVE_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
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
    payment_secret: bytes  # always there: an invoice without one is refused
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
            "payment_secret": self.payment_secret.hex(),
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
        msat = int(digits) // 10
    else:
        msat = int(digits) * _MSAT_PER[mult]
    return check_cap(msat, LN_MAX_MSAT, what="the invoice amount", why="21,000,000 BTC")


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


def decode_bolt11(text: str, *, now: float | None = None) -> Bolt11Invoice:
    """Decode and verify an invoice. ``now`` (epoch seconds) sets ``expired``; otherwise it is None.

    The signature is checked before what the fields say: a forged or damaged invoice is
    reported as such whatever else is wrong with it.
    """
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
    problem: PayloadError | None = None  # the first field fault, raised once the signature is checked
    i = _TS_WORDS
    while i < len(body):
        if i + 3 > len(body):
            raise PayloadError("bad_field", "the invoice ends inside a field header")
        tag, length = body[i], body[i + 1] << 5 | body[i + 2]
        value = body[i + 3 : i + 3 + length]
        if len(value) < length:
            raise PayloadError("bad_field", "an invoice field is longer than the invoice")
        i += 3 + length
        name = _NAME.get(tag)
        if name is None:
            continue  # an unknown field: skipped, so that new fields stay compatible
        if problem is not None:
            continue
        problem = _field_problem(name, value, fields)
        if problem is not None:
            continue
        if name in _FIXED_LENGTH:
            fields[name] = _bytes(value)
        elif name == "d":
            fields["d"] = _bytes(value).decode("utf-8")  # checked by _field_problem
        elif name in "xc9":
            fields[name] = _int(value)
        elif name == "m":
            fields["m"] = _bytes(value)
        elif name == "f":
            fb = _fallback(value[0], _bytes(value[1:]), network) if value else None
            if fb is not None:
                fallbacks.append(fb)
        elif name == "r":
            hops = _routes(_bytes(value))
            if hops:
                routes.append(hops)

    msg_hash = _signing_hash(hrp, body)
    payee = fields.pop("n", None)
    if payee is not None:
        _verify(payee, signature, msg_hash)
    else:
        payee = _recover(sig_bytes, msg_hash)
    if problem is not None:
        raise problem

    if "p" not in fields:
        raise PayloadError("missing_field", "the invoice has no payment hash (p field)")
    if "s" not in fields:
        raise PayloadError(
            "missing_payment_secret",
            "the invoice has no payment secret (s field); BOLT 11 says it must not be paid",
        )
    if "d" not in fields and "h" not in fields:
        raise PayloadError("missing_field", "the invoice has no description (d) or description hash (h)")
    if "d" in fields and "h" in fields:
        raise PayloadError(
            "conflicting_fields", "the invoice has both a description (d) and a description hash (h)"
        )
    _check_features(fields.get("9", 0))

    inv = Bolt11Invoice(
        invoice=text.lower(),
        network=network,
        amount_msat=amount,
        timestamp=timestamp,
        payment_hash=fields["p"],
        payee=payee,
        signature=signature,
        recovery_id=recid,
        payment_secret=fields["s"],
        description=fields.get("d"),
        description_hash=fields.get("h"),
        expiry=fields.get("x", DEFAULT_EXPIRY),
        min_final_cltv_expiry=fields.get("c", DEFAULT_MIN_FINAL_CLTV),
        fallbacks=tuple(fallbacks),
        routes=tuple(routes),
        features=fields.get("9", 0),
        metadata=fields.get("m"),
    )
    if now is not None:
        return replace(inv, expired=now >= inv.expires_at)
    return inv


def _field_problem(name: str, value: list[int], fields: dict[str, Any]) -> PayloadError | None:
    """What is wrong with one known field, or None. ``fields`` holds the ones read so far."""
    title = _FIELD_TITLE.get(name, name)
    want = _FIXED_LENGTH.get(name)
    if want is not None and len(value) != want:
        code = "bad_payment_secret" if name == "s" else "bad_field"
        return PayloadError(
            code, f"the invoice's {title} has the wrong length ({len(value)} words, not {want})"
        )
    if name in _ONCE and name in fields:
        return PayloadError("duplicate_field", f"the invoice has more than one {title}")
    if name in "xc9" and value and value[0] == 0:
        # "SHOULD treat the invoice as invalid": the same number could be written two ways
        return PayloadError("non_minimal_field", f"the invoice's {title} is not minimally encoded")
    if name == "d":
        try:
            _bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            return PayloadError("bad_field", "the invoice description is not valid UTF-8")
    return None


def _verify(payee: bytes, signature: bytes, msg_hash: bytes) -> None:
    """With ``n`` the signature is verified against it, and must be low-S (BOLT 11)."""
    r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    if not (0 < r < _CURVE_ORDER and 0 < s < _CURVE_ORDER):
        raise PayloadError("bad_signature", "the invoice's signature is out of range")
    if s > _CURVE_ORDER // 2:
        raise PayloadError(
            "high_s_signature",
            "the invoice names its payee (n) but its signature is not in low-S form; it must not be paid",
        )
    try:
        key = PublicKey(payee)
    except ValueError:
        raise PayloadError("bad_field", "the invoice's payee (n field) is not a valid public key") from None
    if not key.verify(cdata_to_der(deserialize_compact(signature)), msg_hash, hasher=None):
        raise PayloadError("bad_signature", "the invoice's signature does not match its payee (n field)")


def _recover(sig_bytes: bytes, msg_hash: bytes) -> bytes:
    """The payee's node id from a 65-byte recoverable signature (high-S allowed: no ``n``)."""
    try:
        key = PublicKey.from_signature_and_message(sig_bytes, msg_hash, hasher=None)
    except Exception as exc:  # coincurve raises plain Exception for unrecoverable signatures
        raise PayloadError("bad_signature", "the invoice's signature is not recoverable") from exc
    payee: bytes = key.format(compressed=True)
    return payee


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
    payment_secret: bytes,
    timestamp: int,
    network: str = "mainnet",
    amount_msat: int | None = None,
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
    """A signed invoice (lower case) that every BOLT 11 reader takes.

    Exactly one ``s``: the secret is required (32 bytes; the caller draws it, this module
    keeps no randomness). ``expiry`` None leaves the default (3600 s); 0 is refused, since an
    invoice that expires at once is never what a merchant means. ``c`` is written only when it
    differs from the default 18, and no field is ever zero-length (some decoders choke on
    ``xqq``/``cqq``). Features default to var_onion_optin + payment_secret, as in the spec.
    """
    if network not in _PREFIX_BY_NETWORK:
        raise PayloadError("wrong_network", f"unknown lightning network {network!r}")
    if not isinstance(payment_secret, bytes) or len(payment_secret) != 32:
        raise PayloadError(
            "missing_payment_secret", "an invoice needs a 32-byte payment secret (BOLT 11: exactly one s)"
        )
    if len(payment_hash) != 32 or (description_hash is not None and len(description_hash) != 32):
        raise PayloadError("bad_field", "payment hash and description hash are 32 bytes")
    if (description is None) == (description_hash is None):
        raise PayloadError("missing_field", "an invoice has exactly one of description and description_hash")
    if not 0 <= timestamp < 1 << 35:
        raise PayloadError("bad_field", "timestamp out of range")
    if expiry is not None and expiry <= 0:
        raise PayloadError("bad_expiry", "an invoice must stay payable for at least one second (expiry > 0)")
    if min_final_cltv_expiry <= 0:
        raise PayloadError("bad_field", "min_final_cltv_expiry must be at least 1 block")
    if metadata is not None and not metadata:
        raise PayloadError("bad_field", "empty metadata: leave it out instead")
    if amount_msat is not None:
        check_cap(amount_msat, LN_MAX_MSAT, what="the invoice amount", why="21,000,000 BTC")
    features = DEFAULT_FEATURES if features is None else features
    _check_features(features)
    hrp = "ln" + _PREFIX_BY_NETWORK[network] + ("" if amount_msat is None else _amount_hrp(amount_msat))
    key = PrivateKey(private_key)
    data = _words(timestamp, _TS_WORDS)
    data += _data_field("s", payment_secret)
    data += _data_field("p", payment_hash)
    if description is not None:
        data += _data_field("d", description.encode())
    if description_hash is not None:
        data += _data_field("h", description_hash)
    if expiry is not None:
        data += _field("x", _words(expiry))
    if min_final_cltv_expiry != DEFAULT_MIN_FINAL_CLTV:
        data += _field("c", _words(min_final_cltv_expiry))
    if fallback is not None:
        addr = parse_bitcoin_address(fallback, network={"signet": "testnet"}.get(network, network))
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
    if features:
        data += _field("9", _words(features))
    if include_payee:
        data += _data_field("n", key.public_key.format(compressed=True))
    sig = key.sign_recoverable(_signing_hash(hrp, data), hasher=None)
    return bech32.encode(hrp, data + bech32.convertbits(sig, 8, 5, pad=True), bech32.Variant.BECH32)
