"""Bitcoin address checksums: base58check (P2PKH/P2SH) and bech32/bech32m (bc1)."""

from __future__ import annotations

import functools
import hashlib

_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B58_INDEX = {c: i for i, c in enumerate(_B58)}
_BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_BECH32_INDEX = {c: i for i, c in enumerate(_BECH32)}
_BECH32_CONST = 1
_BECH32M_CONST = 0x2BC830A3


@functools.lru_cache(maxsize=16384)
def is_base58check_address(addr: str) -> bool:
    """True for a mainnet P2PKH (1...) or P2SH (3...) address with a valid double-SHA-256 checksum."""
    num = 0
    for ch in addr:
        digit = _B58_INDEX.get(ch)
        if digit is None:
            return False
        num = num * 58 + digit
    leading = len(addr) - len(addr.lstrip("1"))
    try:
        body = num.to_bytes(25 - leading, "big") if leading < 25 else b""
    except OverflowError:
        return False
    raw = b"\x00" * leading + body
    if len(raw) != 25 or raw[0] not in (0x00, 0x05):
        return False
    check = hashlib.sha256(hashlib.sha256(raw[:21]).digest()).digest()[:4]
    return check == raw[21:]


def _polymod(values: list[int]) -> int:
    gen = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
    chk = 1
    for v in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ v
        for i in range(5):
            if (top >> i) & 1:
                chk ^= gen[i]
    return chk


@functools.lru_cache(maxsize=16384)
def is_bech32_address(addr: str) -> bool:
    """True for a bc1 segwit address whose bech32 (v0) or bech32m (v1+) checksum is valid."""
    if addr.lower() != addr and addr.upper() != addr:
        return False
    addr = addr.lower()
    if not addr.startswith("bc1") or not 14 <= len(addr) <= 74:
        return False
    try:
        data = [_BECH32_INDEX[c] for c in addr[3:]]
    except KeyError:
        return False
    hrp = [ord(c) >> 5 for c in "bc"] + [0] + [ord(c) & 31 for c in "bc"]
    const = _polymod(hrp + data)
    if not data:
        return False
    version = data[0]
    if version == 0:
        return const == _BECH32_CONST
    return version <= 16 and const == _BECH32M_CONST
