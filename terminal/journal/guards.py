"""Replay guards: one-time tokens (a wallet token's nonce, a Bolt Card's SUN) and card tap
counters seen, so a recorded tap is refused before the backend is asked."""

from __future__ import annotations

from terminal.journal.base import Book
from terminal.journal.records import ReplayError, payload_hash


class ReplayGuards(Book):
    def remember_token(self, kind: str, token: str, reference: str) -> None:
        """Record a one-time token (a wallet token's nonce, a Bolt Card SUN); a second sighting
        raises :class:`ReplayError`. Only the token's hash is kept."""
        digest = payload_hash(token)
        with self._tx():
            row = self._db.execute(
                "SELECT reference FROM seen_tokens WHERE kind = ? AND token_hash = ?", (kind, digest)
            ).fetchone()
            if row is not None:
                raise ReplayError(
                    f"this {kind.replace('_', ' ')} was already presented (sale {row[0]})",
                    first_reference=row[0],
                )
            self._db.execute(
                "INSERT INTO seen_tokens (kind, token_hash, reference, at) VALUES (?, ?, ?, ?)",
                (kind, digest, reference, self._clock()),
            )

    def advance_counter(self, uid: str, counter: int, reference: str) -> None:
        """A Bolt Card's tap counter must grow with every tap; an old or repeated one is a replay."""
        with self._tx():
            row = self._db.execute(
                "SELECT counter, reference FROM card_counters WHERE uid = ?", (uid,)
            ).fetchone()
            if row is not None and counter <= row[0]:
                raise ReplayError(
                    f"card counter {counter} is not above the last one seen ({row[0]}): a replayed tap",
                    first_reference=row[1],
                )
            self._db.execute(
                "INSERT INTO card_counters (uid, counter, reference, at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT(uid) DO UPDATE SET counter = excluded.counter,"
                " reference = excluded.reference, at = excluded.at",
                (uid, counter, reference, self._clock()),
            )
