"""MAVLink 2 message signing for one link: the shared secret, our link id, and what unsigned input gets.

The secret never sits in the city config: the config names a file or an environment variable
holding the 32-byte key as 64 hex digits, the key ArduPilot keeps after SETUP_SIGNING.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

KEY_BYTES = 32
EPOCH_2015 = 1420070400  # MAVLink signing timestamps count 10 µs units from 2015-01-01 UTC


class SigningError(ValueError):
    """A key that cannot be read or is not 32 bytes; the message says where it was looked for."""


@dataclass(frozen=True)
class Signing:
    key: bytes = field(repr=False)
    link_id: int = 0
    refuse_unsigned: bool = True

    def __post_init__(self) -> None:
        if len(self.key) != KEY_BYTES:
            raise SigningError(f"signing key is {len(self.key)} bytes; expected {KEY_BYTES}")
        if not 0 <= self.link_id <= 255:
            raise SigningError(f"signing link_id {self.link_id} is not in 0..255")

    def apply(self, mav, sign_outgoing: bool) -> None:
        """Set up one pymavlink MAVLink object (what mavutil's setup_signing does for a connection)."""
        state = mav.signing
        state.secret_key = self.key
        state.link_id = self.link_id
        state.sign_outgoing = sign_outgoing
        state.allow_unsigned_callback = None if self.refuse_unsigned else _accept_unsigned
        state.timestamp = timestamp_now()


def _accept_unsigned(mav, msg_id: int) -> bool:
    return True


def timestamp_now() -> int:
    """Now as a signing timestamp; a vehicle drops a new stream more than a minute older than its own."""
    return int((max(time.time(), EPOCH_2015) - EPOCH_2015) * 100_000)


def parse_key(text: str, where: str) -> bytes:
    """64 hex digits (whitespace around them ignored) → the 32-byte key."""
    digits = text.strip()
    try:
        key = bytes.fromhex(digits)
    except ValueError:
        key = b""
    if len(key) != KEY_BYTES:
        raise SigningError(f"{where}: expected {2 * KEY_BYTES} hex digits (a 32-byte key), "
                           f"found {len(digits)} characters that are not that")
    return key


def key_from_file(path: Path) -> bytes:
    try:
        return parse_key(path.read_text(encoding="ascii"), f"key file {path}")
    except (OSError, UnicodeDecodeError) as exc:
        raise SigningError(f"key file {path}: cannot read it ({exc.__class__.__name__})") from None


def key_from_env(name: str) -> bytes:
    value = os.environ.get(name)
    if value is None:
        raise SigningError(f"environment variable {name} is not set")
    return parse_key(value, f"environment variable {name}")
