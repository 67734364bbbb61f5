"""The terminal's settings: one typed, strict model, loaded from layers.

Precedence, highest first: CLI flag > environment (``CRYPTOPOS_SECTION__KEY``) >
config file > built-in defaults. Every effective value remembers where it came
from, so ``cryptopos config show`` can say it. Unknown keys and bad values are
collected and reported together, each with its file (or variable) and key.
Secrets are ``SecretStr`` and never printed.

Errors::

    ConfigError            one or more problems; ``problems`` lists them all
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import tzinfo
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from terminal.domain.money import ASSETS, AssetKind

ENV_PREFIX = "CRYPTOPOS_"
ENV_SEP = "__"
DEFAULT_FILE = Path("config/terminal.toml")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


class MerchantSettings(_Section):
    id: str = Field("m_demo", min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    name: str = Field("Demo Café", min_length=1, max_length=80)
    # the business day: which day a sale belongs to (history --since, the Z-report); IANA name
    timezone: str = Field("UTC", min_length=1, max_length=64)
    # how money is shown (screens, receipts, reports): a CLDR locale such as de_DE; empty: 1,234.56 EUR
    locale: str = Field("", max_length=32)

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, v: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        name = v.strip()
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"{v!r} is not a time zone; use an IANA name such as Europe/Berlin, Asia/Tokyo or UTC"
            ) from None
        return name

    @field_validator("locale")
    @classmethod
    def _locale(cls, v: str) -> str:
        name = v.strip()
        if not name:
            return name
        from terminal.display import LocaleError, check_locale

        try:
            return check_locale(name)
        except LocaleError as exc:
            raise ValueError(str(exc)) from None

    def zone(self) -> tzinfo:
        """The merchant's time zone, which decides the business day."""
        from zoneinfo import ZoneInfo

        return ZoneInfo(self.timezone)


class TerminalSettings(_Section):
    id: str = Field("t_demo_01", min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    fiat_currency: str = "EUR"
    accepted_assets: tuple[str, ...] = ("BTC", "BTC-LN", "ETH", "USDC", "SOL")
    readers: tuple[str, ...] = ("sim:nfc", "sim:qr")

    @field_validator("fiat_currency")
    @classmethod
    def _fiat(cls, v: str) -> str:
        code = v.strip().upper()
        fiats = sorted(c for c, a in ASSETS.items() if a.kind is AssetKind.FIAT)
        if code not in fiats:
            raise ValueError(f"{v!r} is not a supported fiat currency; use one of {', '.join(fiats)}")
        return code

    @field_validator("accepted_assets")
    @classmethod
    def _assets(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        cryptos = sorted(c for c, a in ASSETS.items() if a.kind is AssetKind.CRYPTO)
        out = []
        for item in v:
            code = item.strip().upper()
            if code not in cryptos:
                raise ValueError(
                    f"{item!r} is not a supported crypto asset; use some of {', '.join(cryptos)}"
                )
            out.append(code)
        if not out:
            raise ValueError("accept at least one asset")
        return tuple(out)

    @field_validator("readers")
    @classmethod
    def _readers(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        from drivers import registry  # cheap: imports no driver library

        for dev in v:
            registry.check_device_string(dev)
        return v


class BackendSettings(_Section):
    url: str = "embedded"
    api_version: Literal["auto", "v1", "v2"] = "auto"

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        if v == "embedded":
            return v
        if not v.startswith(("http://", "https://")) or "://" not in v or len(v.split("://", 1)[1]) == 0:
            raise ValueError(f"{v!r} is neither 'embedded' nor an http(s) URL")
        return v.rstrip("/")


class SigningSettings(_Section):
    key_id: str = Field("t_demo_01", min_length=1, max_length=64)
    secret: SecretStr = SecretStr("demo-secret-do-not-use-in-production")

    @field_validator("secret")
    @classmethod
    def _secret(cls, v: SecretStr) -> SecretStr:
        if len(v.get_secret_value()) < 16:
            raise ValueError("the signing secret must be at least 16 characters")
        return v


class TimeoutSettings(_Section):
    connect_s: float = Field(2.0, gt=0, le=60)
    request_s: float = Field(10.0, gt=0, le=300)  # waiting for the answer (httpx's read phase)
    write_s: float = Field(5.0, gt=0, le=60)
    payment_wait_s: float = Field(120.0, gt=0, le=3600)


class RetrySettings(_Section):
    max_attempts: int = Field(4, ge=1, le=10)
    base_s: float = Field(0.1, gt=0, le=10)
    cap_s: float = Field(2.0, gt=0, le=60)
    max_retry_after_s: float = Field(10.0, ge=0, le=300)
    budget_ratio: float = Field(0.2, ge=0, le=1)
    breaker_failures: int = Field(5, ge=1, le=100)
    breaker_reset_s: float = Field(10.0, gt=0, le=600)


# Payload kinds a terminal can see; which of them may be taken offline is a merchant's choice.
PAYLOAD_KINDS = ("bolt_card", "lnurl_withdraw", "wallet_token", "test_card")


# The shipped offline caps, in major units of each currency. Stated per currency because one
# number cannot be read in every currency ("50.00" is no yen amount) and would not mean the same
# risk in each: a sale is compared with the caps of its own currency, never converted.
DEFAULT_MAX_PAYMENT = {
    "CHF": "50.00",
    "EUR": "50.00",
    "GBP": "40.00",
    "JPY": "7500",
    "KWD": "15.000",
    "USD": "50.00",
}
DEFAULT_MAX_TOTAL = {
    "CHF": "200.00",
    "EUR": "200.00",
    "GBP": "170.00",
    "JPY": "30000",
    "KWD": "60.000",
    "USD": "200.00",
}
_PER_CURRENCY_HINT = (
    'state it per currency: a table such as max_payment = { EUR = "50.00", JPY = "7500" } '
    "(in the environment: EUR=50.00,JPY=7500)"
)


def _fiat_codes() -> list[str]:
    return sorted(c for c, a in ASSETS.items() if a.kind is AssetKind.FIAT)


def parse_caps(value: Any) -> dict[str, str]:
    """A per-currency table of amounts, each exact in its currency's decimals; every problem at once."""
    from terminal.domain.money import Money, MoneyError

    if isinstance(value, str):
        text = value.strip()
        if "=" not in text:
            raise ValueError(f"{value!r} is one amount for every currency; {_PER_CURRENCY_HINT}")
        pairs = [part.partition("=") for part in text.split(",") if part.strip()]
        value = {code.strip(): amount.strip() for code, _, amount in pairs}
    if not isinstance(value, Mapping):
        raise ValueError(f"expected a table of amounts per currency; {_PER_CURRENCY_HINT}")
    out: dict[str, str] = {}
    problems: list[str] = []
    for raw_code, raw_amount in value.items():
        code = str(raw_code).strip().upper()
        if code not in _fiat_codes():
            problems.append(f"{raw_code!r} is not a fiat currency; use some of {', '.join(_fiat_codes())}")
            continue
        if isinstance(raw_amount, bool) or not isinstance(raw_amount, str | int):
            problems.append(f'{code}: write the amount as text, e.g. {code} = "{DEFAULT_MAX_PAYMENT[code]}"')
            continue
        try:
            money = Money.parse(str(raw_amount), code)
        except MoneyError as exc:
            problems.append(f"{code} = {str(raw_amount)!r}: {exc}")
            continue
        out[code] = money.amount_str()
    if problems:
        raise ValueError("; ".join(problems))
    return out


class OfflineSettings(_Section):
    """Taking payments while the backend is unreachable: off unless the merchant opts in."""

    enabled: bool = False
    # currency -> major units; a sale in a currency without both caps is never taken offline
    max_payment: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_MAX_PAYMENT))
    max_total: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_MAX_TOTAL))
    allowed_kinds: tuple[str, ...] = ("bolt_card",)

    @field_validator("max_payment", "max_total", mode="before")
    @classmethod
    def _caps(cls, v: Any) -> dict[str, str]:
        return parse_caps(v)

    @field_validator("allowed_kinds")
    @classmethod
    def _kinds(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        bad = [k for k in v if k not in PAYLOAD_KINDS]
        if bad:
            raise ValueError(f"unknown payload kind(s) {', '.join(bad)}; known: {', '.join(PAYLOAD_KINDS)}")
        return v


class StaffSettings(_Section):
    """Staff at the till: the TUI locks after ``idle_lock_s`` without a key press (PCI DSS
    asks for 15 minutes at most)."""

    idle_lock_s: float = Field(900.0, ge=10, le=3600)


class JournalSettings(_Section):
    path: Path = Path("var/journal.sqlite3")


class PrinterSettings(_Section):
    """The receipt printer: a device string (drivers.printer), its python-escpos profile, and
    how it draws the receipt's QR code."""

    device: str = "printer:none"
    profile: str = Field("default", min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    qr: Literal["auto", "native", "raster"] = "auto"  # auto: native where the profile has GS ( k
    columns: int = Field(0, ge=0, le=96)  # characters per line; 0: the profile's
    auto: bool = False  # the TUI prints an approved sale's receipt without a key

    @field_validator("device")
    @classmethod
    def _device(cls, v: str) -> str:
        from drivers.printer import check_printer_string  # cheap: imports no printer library

        check_printer_string(v)
        return v.strip()

    @field_validator("profile")
    @classmethod
    def _profile(cls, v: str) -> str:
        if v == "default":
            return v
        # python-escpos's printer database knows the profiles; without the extra, printing will
        # say what to install, and `config check` cannot tell more
        from drivers.printer.encode import known_profiles
        from drivers.registry import MissingExtraError

        try:
            known = known_profiles()
        except MissingExtraError:
            return v
        if v not in known:
            raise ValueError(f"unknown printer profile {v!r}; known: {', '.join(known)}")
        return v

    @field_validator("columns")
    @classmethod
    def _columns(cls, v: int) -> int:
        if 0 < v < 16:
            raise ValueError("a receipt needs at least 16 columns (0: the profile's own)")
        return v


class LoggingSettings(_Section):
    """Structured (JSON) logs in a rotating file (:mod:`terminal.logs`)."""

    path: Path | None = None  # default: logs/terminal.log beside the journal
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    max_bytes: int = Field(5_000_000, ge=10_000, le=1_000_000_000)  # then the file rotates
    backups: int = Field(5, ge=0, le=100)  # old files kept


class Settings(_Section):
    merchant: MerchantSettings = MerchantSettings()
    terminal: TerminalSettings = TerminalSettings()
    backend: BackendSettings = BackendSettings()
    signing: SigningSettings = SigningSettings()
    timeouts: TimeoutSettings = TimeoutSettings()
    retry: RetrySettings = RetrySettings()
    journal: JournalSettings = JournalSettings()
    offline: OfflineSettings = OfflineSettings()
    printer: PrinterSettings = PrinterSettings()
    logging: LoggingSettings = LoggingSettings()

    def log_path(self) -> Path:
        """Where the terminal's log goes: ``[logging] path``, or ``logs/terminal.log`` beside
        the journal (a till's state lives together)."""
        return self.logging.path or self.journal.path.parent / "logs" / "terminal.log"

    staff: StaffSettings = StaffSettings()


# Keys whose value is itself a table (per-currency amounts): read whole, not as sub-keys.
TABLE_KEYS = frozenset({"offline.max_payment", "offline.max_total"})

# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    source: str  # "config/terminal.toml", "env CRYPTOPOS_X", "--flag", "default"
    key: str  # dotted: "timeouts.request_s"
    message: str

    def __str__(self) -> str:
        return f"{self.source}: {self.key}: {self.message}"


class ConfigError(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        n = len(problems)
        super().__init__(f"{n} problem{'s' if n != 1 else ''} in the configuration:\n{lines}")


@dataclass
class LoadedSettings:
    settings: Settings
    sources: dict[str, str] = field(default_factory=dict)  # dotted key -> source

    def source_of(self, key: str) -> str:
        return self.sources.get(key, "default")


def _flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in data.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping) and key not in TABLE_KEYS:
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def _nest(flat: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, v in flat.items():
        *parents, leaf = key.split(".")
        node = out
        for p in parents:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):  # a scalar where a section belongs; validation reports it
                break
        else:
            node[leaf] = v
    return out


def _known_keys() -> dict[str, type[BaseModel] | None]:
    keys: dict[str, type[BaseModel] | None] = {}
    for sname, sfield in Settings.model_fields.items():
        section = sfield.annotation
        assert isinstance(section, type) and issubclass(section, BaseModel)
        keys[sname] = section
        for fname in section.model_fields:
            keys[f"{sname}.{fname}"] = None
    return keys


def _env_value(raw: str, key: str) -> Any:
    """Environment values are text; lists may be JSON or comma-separated."""
    section, _, name = key.partition(".")
    section_model = _known_keys().get(section)
    if section_model is not None and name in section_model.model_fields:
        ann = str(section_model.model_fields[name].annotation)
        if key in TABLE_KEYS:
            text = raw.strip()
            if text.startswith("{"):
                try:
                    return json.loads(text)
                except json.JSONDecodeError:
                    return raw
            return raw  # CODE=AMOUNT,... is read by the field's own parser
        if "tuple" in ann or "list" in ann:
            text = raw.strip()
            if text.startswith("["):
                try:
                    return json.loads(text)
                except json.JSONDecodeError:
                    return raw  # validation will say what is wrong
            return [part.strip() for part in text.split(",") if part.strip()]
    return raw


def read_file(path: Path) -> tuple[dict[str, Any], list[Problem]]:
    """Read one TOML file, flattened to dotted keys. Problems are returned, not raised."""
    src = str(path)
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        return {}, [Problem(src, "-", "file not found")]
    except IsADirectoryError:
        return {}, [Problem(src, "-", "is a directory, not a TOML file")]
    except tomllib.TOMLDecodeError as exc:
        return {}, [Problem(src, "-", f"not valid TOML: {exc}")]
    except OSError as exc:
        return {}, [Problem(src, "-", f"cannot read: {exc.strerror}")]
    return _flatten(data), []


def load_settings(
    *,
    file: Path | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, tuple[Any, str]] | None = None,
) -> LoadedSettings:
    """Build the effective settings.

    ``file``: the TOML file, or ``None`` for ``$CRYPTOPOS_CONFIG`` or ``config/terminal.toml``
    when present. ``env``: the environment (default ``os.environ``). ``overrides``: dotted key ->
    (value, flag name) from the command line.
    """
    env = os.environ if env is None else env
    problems: list[Problem] = []
    flat: dict[str, Any] = {}
    sources: dict[str, str] = {}

    if file is None:
        from_env = env.get(ENV_PREFIX + "CONFIG")
        if from_env:
            file = Path(from_env)
        elif DEFAULT_FILE.is_file():
            file = DEFAULT_FILE
    if file is not None:
        data, file_problems = read_file(file)
        problems += file_problems
        for k, v in data.items():
            flat[k] = v
            sources[k] = str(file)

    for name, raw in env.items():
        if not name.startswith(ENV_PREFIX) or name == ENV_PREFIX + "CONFIG":
            continue
        key = name[len(ENV_PREFIX) :].lower().replace(ENV_SEP, ".")
        flat[key] = _env_value(raw, key)
        sources[key] = f"env {name}"

    for key, (value, flag) in (overrides or {}).items():
        if value is None:
            continue
        flat[key] = value
        sources[key] = flag

    known = _known_keys()
    for key in list(flat):
        if key not in known:
            section = key.split(".")[0]
            hint = ""
            if section in known and known[section] is not None:
                model = known[section]
                assert model is not None
                hint = f"; known keys in [{section}]: {', '.join(model.model_fields)}"
            else:
                hint = f"; known sections: {', '.join(Settings.model_fields)}"
            problems.append(Problem(sources[key], key, f"unknown key{hint}"))
            del flat[key]
        elif known[key] is not None:
            problems.append(Problem(sources[key], key, "is a section; give it keys, not a value"))
            del flat[key]

    settings: Settings | None = None
    try:
        settings = Settings.model_validate(_nest(flat))
    except ValidationError as exc:
        for err in exc.errors(include_url=False, include_input=False):
            key = ".".join(str(p) for p in err["loc"][:2])
            msg = err["msg"].removeprefix("Value error, ")
            problems.append(Problem(sources.get(key, "default"), key, msg))
    if settings is not None:
        problems += _cross_problems(settings, sources)
    if problems:
        raise ConfigError(problems)
    assert settings is not None
    return LoadedSettings(settings, sources)


def _cross_problems(settings: Settings, sources: Mapping[str, str]) -> list[Problem]:
    """What no single key is wrong about, but a sale would be refused for: checked here so that
    ``config check`` and every command refuse the same configurations."""
    problems = []
    fiat, offline = settings.terminal.fiat_currency, settings.offline
    if offline.enabled:
        for key, caps in (("max_payment", offline.max_payment), ("max_total", offline.max_total)):
            if fiat not in caps:
                dotted = f"offline.{key}"
                problems.append(
                    Problem(
                        sources.get(dotted, "default"),
                        dotted,
                        f"offline payments are on and the terminal sells in {fiat}, but there is no "
                        f'{fiat} cap; add {fiat} = "..." to [offline.{key}]',
                    )
                )
    return problems


def effective_rows(loaded: LoadedSettings) -> list[tuple[str, str, str]]:
    """(key, value shown to people, source) for every setting; secrets masked."""
    rows = []
    dumped = loaded.settings.model_dump(mode="python")
    for section, values in dumped.items():
        for name, value in values.items():
            key = f"{section}.{name}"
            if isinstance(value, SecretStr):
                shown = "********" if value.get_secret_value() else "(empty)"
            elif isinstance(value, tuple | list):
                shown = ", ".join(str(v) for v in value)
            elif isinstance(value, dict):
                shown = ", ".join(f"{k} {v}" for k, v in value.items())
            else:
                shown = str(value)
            rows.append((key, shown, loaded.source_of(key)))
    return rows
