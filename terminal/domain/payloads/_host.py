"""Hosts and names a cashier's screen shows: never a look-alike.

A link in a payment code names the service the terminal (or the customer's wallet) will talk
to, and the screen shows it. ``ѕervice.com`` with a Cyrillic ``ѕ`` reads as ``service.com``.
So, for every host a parser accepts:

- an international host passes IDNA 2008 with the UTS #46 mapping (the ``idna`` package) and
  is returned, and shown, in its ASCII (punycode) form: ``xn--...``;
- each label must be single-script by UTS #39's "highly restrictive" rule: one script, or
  Latin with the Japanese (Han, Hiragana, Katakana), Chinese (Han, Bopomofo) or Korean (Han,
  Hangul) set, by Script_Extensions; characters common to all scripts (digits, ``-``) do not
  count, and a letter of no script or a modifier letter counts as a script of its own;
- an ASCII host is letters, digits and hyphens in labels of 1-63 (an ``xn--`` label must be
  valid punycode that passes the same checks), or an IPv4/IPv6 literal.

ENS names (EIP-681) are not DNS names and have no punycode form; ``check_ens_name`` applies
the script rule, refuses invisible and control characters, and takes a name only in its
normalised form (the UTS #46 mapping leaves it unchanged: no upper case, no fullwidth letters).

Script data: the ``regex`` package's Unicode ``Script_Extensions`` (the standard library
has none).
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import TYPE_CHECKING
from urllib.parse import SplitResult

from terminal.domain.payloads.errors import PayloadError

if TYPE_CHECKING:
    import regex

# ``idna`` (and ``regex``) are imported where a host needs them: most hosts are plain ASCII,
# and every parser of a link imports this module.

__all__ = ["check_ens_name", "check_host", "check_url_host", "mixed_script_label"]

# ISO 15924 codes of every script the regex module knows (Zyyy Common, Zinh Inherited and Zzzz
# Unknown are handled apart). Unknown characters count as a script of their own.
_SCRIPTS = (  # noqa: SIM905 - a table, kept compact
    "Latn Bopo Grek Copt Cyrl Armn Hebr Arab Syrc Thaa Nkoo Samr Mand Deva Beng Guru Gujr "
    "Orya Taml Telu Knda Mlym Sinh Thai Laoo Tibt Mymr Geor Hang Ethi Cher Cans Ogam Runr "
    "Tglg Hano Buhd Tagb Khmr Mong Limb Tale Talu Bugi Lana Bali Sund Batk Lepc Olck Brai "
    "Glag Tfng Hani Hira Kana Yiii Lisu Vaii Bamu Sylo Phag Saur Kali Rjng Java Cham Tavt "
    "Mtei Linb Lyci Cari Ital Goth Perm Ugar Xpeo Dsrt Shaw Osma Osge Elba Aghb Vith Todr "
    "Lina Cprt Armi Palm Nbat Hatr Phnx Lydi Sidt Mero Merc Khar Sarb Narb Mani Avst Prti "
    "Phli Phlp Orkh Hung Rohg Gara Yezi Sogo Sogd Ougr Chrs Elym Brah Kthi Sora Cakm Mahj "
    "Shrd Khoj Mult Sind Gran Tutg Newa Tirh Sidd Modi Takr Ahom Dogr Wara Diak Nand Zanb "
    "Soyo Pauc Sunu Bhks Marc Gonm Gong Tols Maka Kawi Xsux Pcun Cpmn Egyp Hluw Gukh Mroo "
    "Tnsa Bass Hmng Krai Medf Berf Miao Tang Nshu Kits Jurc Dupl Sgnw Hmnp Toto Wcho Nagm "
    "Onao Tayo Mend Adlm Seal "
).split()
# UTS #39 section 5.1: Han-based writing systems count as one script with their companions
_AUGMENT = {
    "Hani": ("Jpan", "Hanb", "Kore"),
    "Hira": ("Jpan",),
    "Kana": ("Jpan",),
    "Bopo": ("Hanb",),
    "Hang": ("Kore",),
}
_CJK_SETS = frozenset({"Jpan", "Hanb", "Kore"})
_LDH = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-")
# the common case, checked at once: lower-case LDH labels, none of them punycode
_PLAIN_HOST = re.compile(
    r"(?!.*xn--)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
)
# invisible or direction-changing characters: never in anything a cashier reads
_HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Co", "Cs", "Cn", "Zl", "Zp", "Zs"})


@lru_cache(maxsize=1)
def _script_patterns() -> tuple[regex.Pattern[str], tuple[tuple[str, regex.Pattern[str]], ...]]:
    """Compiled on first use: most payloads hold no international text, and start-up matters."""
    import regex

    neutral = regex.compile(r"[\p{scx=Zyyy}\p{scx=Zinh}]")
    return neutral, tuple((code, regex.compile(rf"\p{{scx={code}}}")) for code in _SCRIPTS)


_JAPANESE = frozenset({"Hani", "Hira", "Kana"})


@lru_cache(maxsize=4096)
def _scripts(ch: str) -> frozenset[str] | None:
    """The augmented Script_Extensions of one character; None for one that fits any script.

    Stricter than UTS #39 in one way: a *letter* that belongs to no script (``ʹ``), and a
    modifier letter outside Japanese writing (``ˋ``, Arabic tatweel), counts as a script of its
    own, since such letters pass for an accent or a stroke of the letters around them.
    """
    neutral, patterns = _script_patterns()
    letter = unicodedata.category(ch)[0] == "L"
    if neutral.match(ch):
        return frozenset({f"letter-of-no-script:{ord(ch):x}"}) if letter else None
    found: set[str] = set()
    for code, pattern in patterns:
        if pattern.match(ch):
            found.add(code)
            found.update(_AUGMENT.get(code, ()))
    if not found:
        return frozenset({f"unknown:{ord(ch):x}"})
    if unicodedata.category(ch) == "Lm" and not found & _JAPANESE:
        return frozenset({f"modifier:{ord(ch):x}"})
    return frozenset(found)


def mixed_script_label(label: str) -> bool:
    """True when ``label`` mixes scripts beyond UTS #39's highly restrictive level."""
    if label.isascii():
        return False
    sets = [s for s in map(_scripts, label) if s is not None]
    if not sets:
        return False
    if frozenset.intersection(*sets):
        return False
    non_latin = [s for s in sets if "Latn" not in s]
    return not (non_latin and frozenset.intersection(*non_latin) & _CJK_SETS)


def _check_ascii_label(label: str, *, what: str) -> None:
    if not 1 <= len(label) <= 63 or not set(label) <= _LDH or label[0] == "-" or label[-1] == "-":
        raise PayloadError("bad_host", f"{what} has a host name that is not valid ({label[:30]!r})")
    if label.startswith("xn--"):
        import idna

        try:
            unicode_label = idna.decode(label)
        except (idna.IDNAError, UnicodeError):
            raise PayloadError("bad_host", f"{what} has a host label that is not valid punycode") from None
        if mixed_script_label(unicode_label):
            raise PayloadError(
                "lookalike_host", f"{what} has a host that mixes alphabets ({unicode_label!r}): a look-alike"
            )


def check_host(host: str, *, what: str) -> str:
    """``host`` (as ``urlsplit().hostname`` gives it) in the ASCII form to connect to and show."""
    if not host:
        raise PayloadError("bad_url", f"{what} has no host")
    if len(host) <= 253 and _PLAIN_HOST.fullmatch(host):
        return host
    if ":" in host:  # urlsplit strips the brackets of an IPv6 literal
        import ipaddress  # rare: not worth its import time on every start

        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise PayloadError("bad_host", f"{what} has a malformed IPv6 address") from None
        return f"[{host}]"
    if not host.isascii():
        if any(unicodedata.category(c) in _HIDDEN_CATEGORIES for c in host):
            raise PayloadError("bad_host", f"{what} has a host with invisible or control characters")
        import idna

        try:
            ascii_host = idna.encode(host, uts46=True, std3_rules=True).decode("ascii")
        except (idna.IDNAError, UnicodeError):
            raise PayloadError(
                "bad_host", f"{what} has an international host name that is not valid"
            ) from None
        for label in idna.decode(ascii_host).split("."):
            if mixed_script_label(label):
                raise PayloadError(
                    "lookalike_host", f"{what} has a host that mixes alphabets ({label!r}): a look-alike"
                )
        host = ascii_host
    host = host.lower()
    labels = host[:-1].split(".") if host.endswith(".") else host.split(".")
    if len(host) > 253:
        raise PayloadError("bad_host", f"{what} has a host name longer than 253 characters")
    for label in labels:
        _check_ascii_label(label, what=what)
    return host


def check_ens_name(name: str, *, what: str) -> str:
    """An ENS name as written, if every label is readable and single-script."""
    if len(name) > 255:
        raise PayloadError("bad_address", f"{what} is too long for an ENS name")
    if any(unicodedata.category(c) in _HIDDEN_CATEGORIES for c in name):
        raise PayloadError("bad_address", f"{what} has invisible or control characters")
    import idna

    try:
        # ENS normalisation (ENSIP-15) builds on UTS #46: a name that the mapping changes (upper
        # case, fullwidth "ａ", decomposed accents) is not the name it looks like
        normal = idna.uts46_remap(name, std3_rules=False, transitional=False)
    except (idna.IDNAError, UnicodeError):
        normal = ""
    if normal != name:
        raise PayloadError("bad_address", f"{what} is not a normalised ENS name (UTS #46: lower case, NFC)")
    for label in name.split("."):
        if not label:
            raise PayloadError("bad_address", f"{what} has an empty label")
        if mixed_script_label(label):
            raise PayloadError("lookalike_host", f"{what} mixes alphabets ({label!r}): a look-alike name")
    return name


def check_url_host(url: str, parts: SplitResult, *, scheme: str, what: str) -> str:
    """``url`` (split as ``parts``) with ``scheme`` and its host in ASCII form.

    A user name before the host is refused: ``https://service.com@evil.example/`` goes to
    ``evil.example``; no payment link needs one, and on a screen it is a classic disguise.
    """
    if "@" in parts.netloc:
        raise PayloadError("bad_url", f"{what} has a user name before its host (a disguised address)")
    host = check_host(parts.hostname or "", what=what)
    port = parts.port
    netloc = host if port is None else f"{host}:{port}"
    if netloc == parts.netloc and parts.scheme == scheme:
        return url  # already as shown: no need to rebuild it
    return parts._replace(scheme=scheme, netloc=netloc).geturl()
