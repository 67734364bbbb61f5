"""Independent reference implementations, written from the specs for the differential tests.

Nothing here imports ``terminal``: each function re-derives from the spec text what the
parsers decide, in a different way where there is one (a plain loop for the bech32 checksum,
affine secp256k1 arithmetic in pure Python instead of libsecp256k1, Unicode character names
instead of the Script property). The fuzz suite (test_differential.py) and bench/fuzz.py
check every payload ``parse_payload`` accepts against these.

Sources: BIP173/BIP350 (bech32, bech32m, segwit addresses), the Bitcoin wiki's base58check,
EIP-55, BOLT 11 (lightning/bolts 11-payment-encoding.md, commit 14901bd of 2026-03-09), SEC 2
(secp256k1 parameters) and SEC 1 section 4.1.6 (public key recovery), NFC Forum NDEF 1.0.
"""

from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass, field
from typing import Any

# ---------------------------------------------------------------- bech32 / bech32m (BIP173, BIP350)

BECH32_ALPHABET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
BECH32_CONST, BECH32M_CONST = 1, 0x2BC830A3


def bech32_polymod(values: list[int]) -> int:
    generator = [0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3]
    chk = 1
    for value in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ value
        for i in range(5):
            if (top >> i) & 1:
                chk ^= generator[i]
    return chk


def bech32_decode(text: str, *, limit: int | None = 90) -> tuple[str, list[int], str] | None:
    """``(hrp, data without checksum, "bech32"|"bech32m")`` or None when invalid."""
    if any(ord(c) < 33 or ord(c) > 126 for c in text):
        return None
    if text.lower() != text and text.upper() != text:
        return None
    if limit is not None and len(text) > limit:
        return None
    text = text.lower()
    sep = text.rfind("1")
    if sep < 1 or sep + 7 > len(text):
        return None
    hrp, rest = text[:sep], text[sep + 1 :]
    if any(c not in BECH32_ALPHABET for c in rest):
        return None
    data = [BECH32_ALPHABET.index(c) for c in rest]
    expanded = [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]
    const = bech32_polymod(expanded + data)
    if const == BECH32_CONST:
        return hrp, data[:-6], "bech32"
    if const == BECH32M_CONST:
        return hrp, data[:-6], "bech32m"
    return None


def regroup(values: list[int], frm: int, to: int, *, pad: bool) -> list[int] | None:
    acc = bits = 0
    out: list[int] = []
    for v in values:
        if v >> frm:
            return None
        acc = acc << frm | v
        bits += frm
        while bits >= to:
            bits -= to
            out.append(acc >> bits & ((1 << to) - 1))
    if pad and bits:
        out.append(acc << (to - bits) & ((1 << to) - 1))
    elif not pad and (bits >= frm or acc & ((1 << bits) - 1)):
        return None
    return out


def segwit_address_ok(address: str) -> str | None:
    """The network ("mainnet", "testnet", "regtest") of a valid segwit address, else None."""
    decoded = bech32_decode(address)
    if decoded is None:
        return None
    hrp, data, variant = decoded
    network = {"bc": "mainnet", "tb": "testnet", "bcrt": "regtest"}.get(hrp)
    if network is None or not data or data[0] > 16:
        return None
    program = regroup(data[1:], 5, 8, pad=False)
    if program is None or not 2 <= len(program) <= 40:
        return None
    if data[0] == 0 and (len(program) not in (20, 32) or variant != "bech32"):
        return None
    if data[0] != 0 and variant != "bech32m":
        return None
    return network


# ---------------------------------------------------------------- base58check

BASE58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def base58_decode(text: str) -> bytes | None:
    num = 0
    for c in text:
        if c not in BASE58_ALPHABET:
            return None
        num = num * 58 + BASE58_ALPHABET.index(c)
    raw = num.to_bytes((num.bit_length() + 7) // 8, "big") if num else b""
    zeros = len(text) - len(text.lstrip("1"))
    return b"\x00" * zeros + raw


def base58check_address_ok(address: str) -> str | None:
    raw = base58_decode(address)
    if raw is None or len(raw) != 25:
        return None
    body, check = raw[:21], raw[21:]
    if hashlib.sha256(hashlib.sha256(body).digest()).digest()[:4] != check:
        return None
    return {0x00: "mainnet", 0x05: "mainnet", 0x6F: "testnet", 0xC4: "testnet"}.get(body[0])


def bitcoin_address_network(address: str) -> str | None:
    return segwit_address_ok(address) or base58check_address_ok(address)


def base58_encode(raw: bytes) -> str:
    num = int.from_bytes(raw, "big")
    out = ""
    while num:
        num, rem = divmod(num, 58)
        out = BASE58_ALPHABET[rem] + out
    return "1" * (len(raw) - len(raw.lstrip(b"\x00"))) + out


def solana_key_ok(text: str) -> bool:
    """A 32-byte key in canonical base58 (the one spelling that decodes to it)."""
    raw = base58_decode(text)
    return raw is not None and len(raw) == 32 and base58_encode(raw) == text


# ---------------------------------------------------------------- EIP-55


def keccak256(data: bytes) -> bytes:
    from Crypto.Hash import keccak  # pycryptodome: the hash only, the rule is below

    return keccak.new(data=data, digest_bits=256).digest()


def eip55(address: str) -> str:
    lower = address[2:].lower()
    digest = keccak256(lower.encode("ascii"))
    out = []
    for i, c in enumerate(lower):
        nibble = digest[i // 2] >> (4 if i % 2 == 0 else 0) & 0xF
        out.append(c.upper() if c.isalpha() and nibble >= 8 else c)
    return "0x" + "".join(out)


def eth_address_ok(address: str) -> bool:
    body = address[2:]
    if (
        not address.startswith("0x")
        or len(body) != 40
        or any(c not in "0123456789abcdefABCDEF" for c in body)
    ):
        return False
    return body in (body.lower(), body.upper()) or eip55(address) == address


# ---------------------------------------------------------------- secp256k1 (SEC 2), pure Python

P = 2**256 - 2**32 - 977
N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
G = (
    0x79BE667EF9DCBBAC55A06295CE870B07029BFCDB2DCE28D959F2815B16F81798,
    0x483ADA7726A3C4655DA4FBFC0E1108A8FD17B448A68554199C47D08FFB10D4B8,
)
Point = tuple[int, int] | None


def _add(a: Point, b: Point) -> Point:
    if a is None:
        return b
    if b is None:
        return a
    if a[0] == b[0] and (a[1] + b[1]) % P == 0:
        return None
    if a == b:
        lam = 3 * a[0] * a[0] * pow(2 * a[1], -1, P) % P
    else:
        lam = (b[1] - a[1]) * pow(b[0] - a[0], -1, P) % P
    x = (lam * lam - a[0] - b[0]) % P
    return x, (lam * (a[0] - x) - a[1]) % P


def _jdouble(x: int, y: int, z: int) -> tuple[int, int, int]:
    if not y:
        return 0, 1, 0
    ysq = y * y % P
    s = 4 * x * ysq % P
    m = 3 * x * x % P
    nx = (m * m - 2 * s) % P
    return nx, (m * (s - nx) - 8 * ysq * ysq) % P, 2 * y * z % P


def _jadd(a: tuple[int, int, int], b: tuple[int, int, int]) -> tuple[int, int, int]:
    x1, y1, z1 = a
    x2, y2, z2 = b
    if not z1:
        return b
    if not z2:
        return a
    z1s, z2s = z1 * z1 % P, z2 * z2 % P
    u1, u2 = x1 * z2s % P, x2 * z1s % P
    s1, s2 = y1 * z2s * z2 % P, y2 * z1s * z1 % P
    if u1 == u2:
        return _jdouble(x1, y1, z1) if s1 == s2 else (0, 1, 0)
    h, r = (u2 - u1) % P, (s2 - s1) % P
    h2 = h * h % P
    h3 = h * h2 % P
    u1h2 = u1 * h2 % P
    nx = (r * r - h3 - 2 * u1h2) % P
    return nx, (r * (u1h2 - nx) - s1 * h3) % P, h * z1 * z2 % P


def _mul(k: int, point: Point) -> Point:
    """Double-and-add in Jacobian coordinates (one inversion at the end); affine ``_add`` is the check."""
    if point is None or k % N == 0:
        return None
    acc = (0, 1, 0)
    base = (point[0], point[1], 1)
    for bit in bin(k % N)[2:]:
        acc = _jdouble(*acc)
        if bit == "1":
            acc = _jadd(acc, base)
    x, y, z = acc
    if not z:
        return None
    zi = pow(z, -1, P)
    return x * zi * zi % P, y * zi * zi * zi % P


def _mul2(a: int, p1: Point, b: int, p2: Point) -> Point:
    """a*p1 + b*p2 in one double-and-add pass (Shamir's trick): half the doublings of two _mul."""
    assert p1 is not None and p2 is not None
    a, b = a % N, b % N
    j1, j2 = (p1[0], p1[1], 1), (p2[0], p2[1], 1)
    both = _jadd(j1, j2)
    acc = (0, 1, 0)
    for i in range(max(a.bit_length(), b.bit_length()) - 1, -1, -1):
        acc = _jdouble(*acc)
        bits = (a >> i & 1, b >> i & 1)
        if bits == (1, 1):
            acc = _jadd(acc, both)
        elif bits == (1, 0):
            acc = _jadd(acc, j1)
        elif bits == (0, 1):
            acc = _jadd(acc, j2)
    x, y, z = acc
    if not z:
        return None
    zi = pow(z, -1, P)
    return x * zi * zi % P, y * zi * zi * zi % P


def _lift_x(x: int, odd: bool) -> Point:
    if x >= P:
        return None
    y2 = (pow(x, 3, P) + 7) % P
    y = pow(y2, (P + 1) // 4, P)
    if y * y % P != y2:
        return None
    return (x, y if (y & 1) == odd else P - y)


def pubkey_bytes(point: Point) -> bytes:
    assert point is not None
    return bytes([2 + (point[1] & 1)]) + point[0].to_bytes(32, "big")


def parse_pubkey(data: bytes) -> Point:
    if len(data) != 33 or data[0] not in (2, 3):
        return None
    return _lift_x(int.from_bytes(data[1:], "big"), data[0] == 3)


def ecdsa_recover(digest: bytes, r: int, s: int, recid: int) -> bytes | None:
    """SEC 1, 4.1.6: Q = r^-1 (sR - eG), with R from r (+ N when recid >= 2) and recid's parity."""
    if not (0 < r < N and 0 < s < N) or recid > 3:
        return None
    x = r + N if recid >= 2 else r
    big_r = _lift_x(x, bool(recid & 1))
    if big_r is None:
        return None
    e = int.from_bytes(digest, "big")
    r_inv = pow(r, -1, N)
    q = _mul2(s * r_inv, big_r, -e * r_inv, G)
    return None if q is None else pubkey_bytes(q)


def ecdsa_verify(digest: bytes, r: int, s: int, pubkey: bytes) -> bool:
    q = parse_pubkey(pubkey)
    if q is None or not (0 < r < N and 0 < s < N):
        return False
    w = pow(s, -1, N)
    e = int.from_bytes(digest, "big")
    point = _mul2(e * w, G, r * w, q)
    return point is not None and point[0] % N == r


# ---------------------------------------------------------------- BOLT 11


@dataclass
class RefInvoice:
    network: str
    amount_msat: int | None
    timestamp: int
    fields: dict[str, list[Any]] = field(default_factory=dict)  # tag letter -> every value, in order
    payee: bytes = b""
    r: int = 0
    s: int = 0
    recid: int = 0
    has_n: bool = False


_TAGS = {BECH32_ALPHABET.index(c): c for c in "psdnhxcfr9m"}
_ORDER_BY_MULT = {"": 10**11, "m": 10**8, "u": 10**5, "n": 100, "p": None}


def _words_to_bytes(words: list[int]) -> bytes:
    out = regroup(words, 5, 8, pad=True)
    assert out is not None
    data = bytes(out)
    return data[: len(words) * 5 // 8]


def bolt11_decode(text: str) -> RefInvoice | str:
    """The invoice, or a short reason when BOLT 11 (as of 2026-03-09) says it must not be paid."""
    if text.lower().startswith("lightning:"):
        text = text[10:]
    decoded = bech32_decode(text, limit=None)
    if decoded is None or decoded[2] != "bech32":
        return "bech32"
    hrp, data, _ = decoded
    network = None
    for prefix, net in (("lnbcrt", "regtest"), ("lntbs", "signet"), ("lntb", "testnet"), ("lnbc", "mainnet")):
        if hrp.startswith(prefix):
            network, amount_text = net, hrp[len(prefix) :]
            break
    if network is None:
        return "prefix"
    amount: int | None = None
    if amount_text:
        mult = amount_text[-1] if amount_text[-1] in "munp" else ""
        digits = amount_text[: len(amount_text) - len(mult)]
        if not digits.isdigit() or not digits.isascii() or digits[0] == "0":
            return "amount"
        if mult == "p":
            if digits[-1] != "0":
                return "amount"
            amount = int(digits) // 10
        else:
            amount = int(digits) * (_ORDER_BY_MULT[mult] or 0)
    if len(data) < 7 + 104:
        return "length"
    body, sig_words = data[:-104], data[-104:]
    sig = _words_to_bytes(sig_words)
    inv = RefInvoice(network=network, amount_msat=amount, timestamp=0)
    for w in body[:7]:
        inv.timestamp = inv.timestamp * 32 + w
    pos = 7
    while pos < len(body):
        if pos + 3 > len(body):
            return "field header"
        tag, length = body[pos], body[pos + 1] * 32 + body[pos + 2]
        value = body[pos + 3 : pos + 3 + length]
        if len(value) != length:
            return "field length"
        pos += 3 + length
        letter = _TAGS.get(tag)
        if letter is not None:
            inv.fields.setdefault(letter, []).append(value)
    inv.r, inv.s, inv.recid = int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:64], "big"), sig[64]
    to_sign = hrp.encode() + bytes(regroup(body, 5, 8, pad=True) or [])
    digest = hashlib.sha256(to_sign).digest()
    fixed = {"p": 52, "s": 52, "h": 52, "n": 53}
    for letter, size in fixed.items():
        if any(len(v) != size for v in inv.fields.get(letter, [])):
            return f"{letter} length"
    n_values = inv.fields.get("n", [])
    if n_values:
        inv.has_n = True
        inv.payee = _words_to_bytes(n_values[0])
        if inv.s > N // 2:
            return "high-S with n"
        if not ecdsa_verify(digest, inv.r, inv.s, inv.payee):
            return "signature"
    else:
        recovered = ecdsa_recover(digest, inv.r, inv.s, inv.recid)
        if recovered is None:
            return "signature"
        inv.payee = recovered
    if len(inv.fields.get("p", [])) != 1:
        return "p count"
    if len(inv.fields.get("s", [])) != 1:
        return "s count"
    if len(inv.fields.get("d", [])) + len(inv.fields.get("h", [])) != 1:
        return "description"
    # stricter than the text on purpose, as the decoder under test (see bolt11.py): no repeats
    if any(len(inv.fields.get(letter, [])) > 1 for letter in "psdhnxc9m"):
        return "repeated field"
    if any(inv.fields[letter][0][:1] == [0] for letter in "xc9" if letter in inv.fields):
        return "non-minimal"
    for d in inv.fields.get("d", []):
        try:
            _words_to_bytes(d).decode("utf-8")
        except UnicodeDecodeError:
            return "description utf-8"
    features = bolt11_number(inv.fields["9"][0]) if "9" in inv.fields else 0
    known_even = {8, 14, 16, 24, 48}
    if any(features >> bit & 1 and bit not in known_even for bit in range(0, features.bit_length(), 2)):
        return "unknown even feature"
    if inv.amount_msat is not None and inv.amount_msat > 21_000_000 * 10**11:
        return "amount beyond supply"
    return inv


def bolt11_number(words: list[int]) -> int:
    n = 0
    for w in words:
        n = n * 32 + w
    return n


def bolt11_summary(inv: RefInvoice) -> dict[str, Any]:
    """The fields a payer uses, in the same shape as ``Bolt11Invoice``'s attributes."""
    f = inv.fields

    def one(letter: str) -> list[int] | None:
        return f[letter][0] if letter in f else None

    d, h, x, c, m = one("d"), one("h"), one("x"), one("c"), one("m")
    features = one("9")
    return {
        "network": inv.network,
        "amount_msat": inv.amount_msat,
        "timestamp": inv.timestamp,
        "payment_hash": _words_to_bytes(f["p"][0]),
        "payment_secret": _words_to_bytes(f["s"][0]),
        "description": None if d is None else _words_to_bytes(d).decode("utf-8"),
        "description_hash": None if h is None else _words_to_bytes(h),
        "expiry": 3600 if x is None else bolt11_number(x),
        "min_final_cltv_expiry": 18 if c is None else bolt11_number(c),
        "features": 0 if features is None else bolt11_number(features),
        "metadata": None if m is None else _words_to_bytes(m),
        "payee": inv.payee,
        "route_blobs": [_words_to_bytes(r) for r in f.get("r", [])],
        "fallback_words": [list(v) for v in f.get("f", [])],
    }


# ---------------------------------------------------------------- NDEF (NFC Forum NDEF 1.0, section 3.2)


def ndef_encode(records: list[tuple[int, bytes, bytes, bytes]]) -> bytes:
    """``[(tnf, type, id, payload)]`` -> the message in its canonical layout."""
    out = bytearray()
    for i, (tnf, rtype, rid, payload) in enumerate(records):
        header = tnf
        if i == 0:
            header |= 0x80
        if i == len(records) - 1:
            header |= 0x40
        short = len(payload) < 256
        if short:
            header |= 0x10
        if rid:
            header |= 0x08
        out.append(header)
        out.append(len(rtype))
        out += bytes([len(payload)]) if short else len(payload).to_bytes(4, "big")
        if rid:
            out.append(len(rid))
        out += rtype + rid + payload
    return bytes(out)


# ---------------------------------------------------------------- hosts (scripts by character name)


def _script_by_name(ch: str) -> str | None:
    """A rough script from the character's Unicode name; None for digits, marks, punctuation."""
    if ch.isascii():
        return "LATIN" if ch.isalpha() else None
    if unicodedata.category(ch)[0] in "MNPSZ":
        return None
    name = unicodedata.name(ch, "")
    if name.startswith(("CJK ", "IDEOGRAPHIC")):
        return "HAN"
    if name.startswith("KATAKANA-HIRAGANA"):
        return "KATAKANA"
    return name.split(" ")[0] if name else "UNNAMED"


_HAN_FRIENDS = {"HAN", "HIRAGANA", "KATAKANA", "BOPOMOFO", "HANGUL"}


def label_single_script(label: str) -> bool:
    scripts = {s for s in map(_script_by_name, label) if s is not None}
    if len(scripts) <= 1:
        return True
    return scripts <= _HAN_FRIENDS | {"LATIN"}


def host_ok(host: str) -> bool:
    """ASCII letters/digits/hyphens (or an IP literal), and every ``xn--`` label valid IDNA, one script."""
    import idna

    if host.startswith("[") and host.endswith("]"):
        return True
    if not host.isascii():
        return False
    for label in host.rstrip(".").split("."):
        if not label or len(label) > 63 or label[0] == "-" or label[-1] == "-":
            return False
        if any(not (c.isalnum() or c == "-") for c in label):
            return False
        if label.startswith("xn--"):
            try:
                text = idna.decode(label)
            except (idna.IDNAError, UnicodeError):
                return False
            if not label_single_script(text):
                return False
    return True
