"""The one error every payload parser raises.

Errors::

    PayloadError (ValueError)      ``code`` is stable and machine-readable, ``message`` is for people

Codes in use (see docs/payloads.md for the full table): ``empty``, ``too_long``,
``unsupported_scheme``, ``unrecognised``, ``bad_char``, ``mixed_case``, ``bad_checksum``,
``bad_length``, ``bad_hrp``, ``bad_address``, ``no_address``, ``bad_witness_version``,
``bad_padding``, ``wrong_network``, ``bad_amount``, ``amount_precision``, ``amount_too_large``,
``duplicate_param``, ``unknown_req_param``, ``bad_encoding``, ``unsafe_pop``,
``bad_lightning_invoice``, ``bad_signature``, ``high_s_signature``, ``missing_payment_secret``,
``bad_payment_secret``, ``unknown_feature``, ``missing_field``, ``bad_field``,
``duplicate_field``, ``conflicting_fields``, ``non_minimal_field``, ``bad_expiry``, ``bad_url``,
``bad_host``, ``lookalike_host``, ``bad_sun_header``, ``bad_cmac``, ``bad_sun``, ``bad_token``,
``unknown_key``, ``bad_ndef``, ``ndef_bad_length``, ``ndef_trailing_data``,
``unknown_uri_prefix``.
"""

from __future__ import annotations

__all__ = ["PayloadError"]


class PayloadError(ValueError):
    """A scanned or tapped payload that cannot be taken, and precisely why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message

    def __repr__(self) -> str:
        return f"PayloadError({self.code!r}, {self.message!r})"
