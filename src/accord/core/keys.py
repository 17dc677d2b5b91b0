"""The node's keys, kept in files outside the database: secrets at rest (AES-GCM) and signed responses (Ed25519).

The key directory (setting node_key_dir, default var_dir/keys) holds, each file 0600 and created once:

- `secret.key`: the current secret-encryption key (32 random bytes, hex);
- `secret.key.old`: the key before the last rotation, still used to read what it encrypted;
- `secret.key.next`: present only while a rotation runs (or after one was interrupted);
- `signing.key`: the Ed25519 private key that signs TAXII responses (PKCS#8 PEM).

A stored secret names the key that encrypted it (a short fingerprint), so a value is read with whichever of these
files holds that key. A rotation writes the new key to `secret.key.next` (synced to disk) before the database
refers to it, re-encrypts every registered column in one transaction, and only after the commit moves the current
key to `secret.key.old` and the new one into place. A crash at any point leaves every value readable: before the
commit the database still uses the current key; after it, the new key is in `.next` until the next rotation
promotes it (or discards it, if no value uses it). The database alone is useless without this directory: back
it up separately (docs/keys.md).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import fcntl
import hashlib
import logging
import os
import secrets
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from accord.core.db import read_transaction, transaction
from accord.core.errors import AccordError, BadRequest
from accord.core.settings import get_settings

log = logging.getLogger("accord.keys")

SIGNATURE_HEADER = "X-Accord-Signature"
SECRET_FILE = "secret.key"  # noqa: S105 (a file name)
SIGNING_FILE = "signing.key"
_OLD, _NEXT = ".old", ".next"
_PREFIX = "enc:"
_FORMAT = "v1"
_NONCE = 12
_lock = threading.Lock()


class SecretError(AccordError):
    """A stored secret cannot be read: its key is missing or another, or the value is damaged."""

    status = 500


class SignatureError(AccordError):
    """A signed response is unsigned or its signature does not match the body and the peer's key."""

    status = 502


# ---------------------------------------------------------------------------------------------------- key files


def key_dir() -> Path:
    """Where the node's key files live (node_key_dir, else var_dir/keys)."""
    settings = get_settings()
    return settings.node_key_dir or settings.var_dir / "keys"


def _sync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_private(path: Path, data: bytes) -> Path:
    """A new 0600 file beside `path` holding `data`, synced to disk; its path (the caller moves it into place)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    return tmp


def read_or_create(path: Path, make: Callable[[], bytes]) -> bytes:
    """The content of a key file, created once (0600) from `make()` so that every process of the node shares it."""
    try:
        data = path.read_bytes().strip()
        if data:
            return data
    except FileNotFoundError:
        pass
    tmp = _write_private(path, make())
    try:
        os.link(tmp, path)  # atomic: the first process wins, the others read its key
        _sync_dir(path.parent)
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)
    return path.read_bytes().strip()


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes().strip() or None
    except FileNotFoundError:
        return None


# ------------------------------------------------------------------------------------------- secrets at rest


def _key_id(key: bytes) -> str:
    return hashlib.sha256(b"accord secret key id\0" + key).hexdigest()[:12]


def _parse_key(text: bytes, path: Path) -> bytes:
    try:
        key = bytes.fromhex(text.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        key = b""
    if len(key) != 32:
        raise SecretError(f"the secret key file {path} is damaged (expected 64 hex digits)")
    return key


@dataclass(slots=True)
class _Keyring:
    """The secret keys of one key directory that this process has read."""

    current: bytes | None = None
    stamp: tuple[int, int, int] | None = None  # of secret.key when `current` was read
    by_id: dict[str, bytes] = field(default_factory=dict)


_keyrings: dict[str, _Keyring] = {}


def _stamp(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def _load(directory: Path, *, create: bool) -> _Keyring:
    """Read the directory's secret keys (creating the current one if asked) into this process's keyring."""
    current_path = directory / SECRET_FILE
    with _lock:
        ring = _keyrings.setdefault(str(directory), _Keyring())
        if create:
            text: bytes | None = read_or_create(current_path, lambda: secrets.token_bytes(32).hex().encode())
        else:
            text = _read(current_path)
        ring.stamp = _stamp(current_path)
        ring.current = _parse_key(text, current_path) if text else None
        if ring.current is not None:
            ring.by_id[_key_id(ring.current)] = ring.current
        for suffix in (_OLD, _NEXT):
            path = directory / (SECRET_FILE + suffix)
            other = _read(path)
            if other:
                key = _parse_key(other, path)
                ring.by_id[_key_id(key)] = key
        return ring


def _current_key(directory: Path) -> bytes:
    ring = _keyrings.get(str(directory))
    # Another process may have rotated the key since it was read: a stat per encryption (rare) notices.
    if ring is None or ring.current is None or ring.stamp != _stamp(directory / SECRET_FILE):
        ring = _load(directory, create=True)
    assert ring.current is not None
    return ring.current


def _aad(key_id: str) -> bytes:
    return f"accord secret {_FORMAT} {key_id}".encode()


def _encrypt_with(key: bytes, plain: str) -> str:
    key_id = _key_id(key)
    nonce = secrets.token_bytes(_NONCE)
    sealed = AESGCM(key).encrypt(nonce, plain.encode(), _aad(key_id))
    return f"{_PREFIX}{_FORMAT}:{key_id}:{base64.urlsafe_b64encode(nonce + sealed).rstrip(b'=').decode()}"


def encrypt_secret(plain: str) -> str:
    """The secret encrypted with the node's current key, as text to store ("enc:v1:<key-id>:<base64url>")."""
    return _encrypt_with(_current_key(key_dir()), plain)


def is_encrypted(value: str) -> bool:
    """Whether a stored value is an encrypted secret (rather than legacy plain text)."""
    return value.startswith(_PREFIX)


def _split(stored: str) -> tuple[str, bytes]:
    """The key id and the sealed bytes of a stored secret; SecretError if it is not one."""
    if not is_encrypted(stored):
        raise SecretError("cannot decrypt a stored secret: it is plain text (run `accord db upgrade` to encrypt it)")
    parts = stored.split(":")
    malformed = SecretError("cannot decrypt a stored secret: it is malformed or damaged")
    if len(parts) != 4 or parts[1] != _FORMAT or not parts[2]:
        raise malformed
    try:
        raw = base64.urlsafe_b64decode(parts[3] + "=" * (-len(parts[3]) % 4))
    except (binascii.Error, ValueError):
        raise malformed from None
    if len(raw) < _NONCE + 16:
        raise malformed
    return parts[2], raw


def _key_for(directory: Path, key_id: str, keyring: dict[str, bytes] | None = None) -> bytes:
    if keyring is not None and key_id in keyring:
        return keyring[key_id]
    ring = _keyrings.get(str(directory))
    if ring is None or key_id not in ring.by_id:
        ring = _load(directory, create=False)  # rotated by another process since we read the directory
    key = ring.by_id.get(key_id)
    if key is None:
        if ring.current is None:
            raise SecretError(
                f"cannot decrypt a stored secret: there is no node key in {directory} (restore it from its backup)"
            )
        raise SecretError(
            f"cannot decrypt a stored secret: the node key in {directory} is not the one it was encrypted with"
        )
    return key


def _decrypt_with(directory: Path, stored: str, keyring: dict[str, bytes] | None = None) -> str:
    key_id, raw = _split(stored)
    key = _key_for(directory, key_id, keyring)
    try:
        return AESGCM(key).decrypt(raw[:_NONCE], raw[_NONCE:], _aad(key_id)).decode()
    except (InvalidTag, UnicodeDecodeError):
        raise SecretError("cannot decrypt a stored secret: it was altered or damaged") from None


def decrypt_secret(stored: str) -> str:
    """The plain secret of a stored value; SecretError (one line, never the value) if it cannot be read."""
    return _decrypt_with(key_dir(), stored)


# ------------------------------------------------------------------------------------------------- rotation

# Every column that holds encrypted secrets, as (table, column), named here in one place so that rotation, backup
# and restore see all of them whatever the process imported: a feed's password, a peer's token, a webhook's
# signing secret. A table that this database does not have yet is skipped.
_secret_columns: dict[tuple[str, str], None] = {
    ("feed", "password"): None,
    ("peer", "secret"): None,
    ("webhook", "secret"): None,
}


@dataclass(frozen=True, slots=True)
class Rotation:
    """What a rotation did: the new and previous key ids and how many stored secrets it re-encrypted."""

    key_id: str
    previous_key_id: str
    reencrypted: int
    by_column: dict[str, int]


def _present_columns(conn: sa.Connection) -> list[tuple[str, str]]:
    """The registered columns that exist in this database (a feature's table may not be migrated in yet)."""
    inspector = sa.inspect(conn)
    present = []
    for table_name, column in _secret_columns:
        if inspector.has_table(table_name) and column in {c["name"] for c in inspector.get_columns(table_name)}:
            present.append((table_name, column))
    return present


def _stored_values(conn: sa.Connection, table_name: str, column: str) -> tuple[sa.TableClause, list[str]]:
    table = sa.table(table_name, sa.column(column, sa.Text))
    col = table.c[column]
    return table, list(conn.execute(sa.select(col).where(col.is_not(None)).distinct()).scalars())


def count_unreadable_secrets(conn: sa.Connection) -> int:
    """How many stored secrets (of the registered columns present) the key directory cannot decrypt."""
    directory = key_dir()
    unreadable = 0
    for table_name, column in _present_columns(conn):
        for value in _stored_values(conn, table_name, column)[1]:
            try:
                _decrypt_with(directory, value)
            except SecretError:
                unreadable += 1
    return unreadable


def reencrypt_secrets(conn: sa.Connection, keyring: dict[str, bytes], new_key: bytes) -> dict[str, int]:
    """Re-encrypt every registered secret column with `new_key` (reading with `keyring`); counts per column.

    Plain-text values found in a registered column are encrypted too (and logged, without their value).
    """
    directory = key_dir()
    counts: dict[str, int] = {}
    for table_name, column in _present_columns(conn):
        table, values = _stored_values(conn, table_name, column)
        changes = []
        for value in values:
            if is_encrypted(value):
                try:
                    plain = _decrypt_with(directory, value, keyring)
                except SecretError as exc:
                    raise SecretError(f"{table_name}.{column}: {exc.message}; nothing was rotated") from None
            else:
                log.warning("%s.%s held a secret in plain text; it is encrypted now", table_name, column)
                plain = value
            changes.append({"old": value, "new": _encrypt_with(new_key, plain)})
        if changes:
            col = table.c[column]
            # Each stored ciphertext is unique (random nonce), so the value itself finds its row(s).
            statement = sa.update(table).where(col == sa.bindparam("old")).values({column: sa.bindparam("new")})
            conn.execute(statement, changes)
        counts[f"{table_name}.{column}"] = len(changes)
    return counts


@contextlib.contextmanager
def _rotation_lock(directory: Path) -> Iterator[None]:
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(directory / ".rotate.lock", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # one rotation at a time on this node
        yield
    finally:
        os.close(fd)


def _promote(directory: Path) -> None:
    """Make secret.key.next the current key, keeping the current one as secret.key.old (each step atomic)."""
    current, old, nxt = (directory / (SECRET_FILE + s) for s in ("", _OLD, _NEXT))
    tmp = directory / f".{SECRET_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
    os.link(current, tmp)
    os.replace(tmp, old)
    os.replace(nxt, current)  # secret.key exists at every instant
    _sync_dir(directory)


def _in_use(conn: sa.Connection, key_id: str) -> bool:
    marker = f"{_PREFIX}{_FORMAT}:{key_id}:%"
    for table_name, column in _present_columns(conn):
        col = sa.column(column, sa.Text)
        if conn.execute(sa.select(col).select_from(sa.table(table_name)).where(col.like(marker)).limit(1)).first():
            return True
    return False


def _finish_interrupted(engine: sa.Engine | None, directory: Path) -> None:
    """A secret.key.next left by an interrupted rotation: promoted if its commit happened, else discarded."""
    text = _read(directory / (SECRET_FILE + _NEXT))
    if text is None:
        return
    with read_transaction(engine) as conn:
        committed = _in_use(conn, _key_id(_parse_key(text, directory / (SECRET_FILE + _NEXT))))
    if committed:
        log.warning("finishing an interrupted key rotation in %s", directory)
        _promote(directory)
    else:
        (directory / (SECRET_FILE + _NEXT)).unlink()


def rotate_secret_key(engine: sa.Engine | None = None) -> Rotation:
    """Make a new secret-encryption key and re-encrypt every registered secret with it, in one transaction."""
    directory = key_dir()
    with _rotation_lock(directory):
        _finish_interrupted(engine, directory)
        ring = _load(directory, create=True)
        assert ring.current is not None
        previous = ring.current
        new_key = secrets.token_bytes(32)
        nxt = directory / (SECRET_FILE + _NEXT)
        os.replace(_write_private(nxt, new_key.hex().encode()), nxt)  # on disk before the database refers to it
        _sync_dir(directory)
        try:
            with transaction(engine) as conn:
                counts = reencrypt_secrets(conn, {**ring.by_id, _key_id(new_key): new_key}, new_key)
        except BaseException:
            # Usually nothing committed and .next is discarded; but a commit whose answer was lost may have
            # happened, so ask the database (if that fails too, .next stays for the next rotation to settle).
            with contextlib.suppress(Exception):
                _finish_interrupted(engine, directory)
            raise
        _promote(directory)
        _load(directory, create=False)
    return Rotation(_key_id(new_key), _key_id(previous), sum(counts.values()), counts)


# --------------------------------------------------------------------------------------------------- signing

_signing_keys: dict[str, Ed25519PrivateKey] = {}


def _new_signing_key() -> bytes:
    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _signing_key() -> Ed25519PrivateKey:
    directory = key_dir()
    found = _signing_keys.get(str(directory))
    if found is not None:
        return found
    with _lock:
        path = directory / SIGNING_FILE
        key = serialization.load_pem_private_key(read_or_create(path, _new_signing_key), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise SecretError(f"the signing key file {path} does not hold an Ed25519 private key")
        _signing_keys[str(directory)] = key
        return key


def sign_body(body: bytes) -> str:
    """The X-Accord-Signature header value for a response body ("ed25519=<base64 signature>")."""
    return "ed25519=" + base64.b64encode(_signing_key().sign(body)).decode()


def _key_text(key: Ed25519PublicKey) -> str:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "ed25519:" + base64.b64encode(raw).decode()


def public_key_text() -> str:
    """The node's public signing key as "ed25519:<base64 of the raw 32 bytes>"."""
    return _key_text(_signing_key().public_key())


def _public_key(text: str) -> Ed25519PublicKey:
    value = text.strip()
    bad = BadRequest(
        "not an Ed25519 public key: give what `accord node key` prints (ed25519:<base64>), "
        "the base64 of its 32 bytes, or a PEM public key"
    )
    if value.startswith("-----BEGIN"):
        try:
            key = serialization.load_pem_public_key(value.encode())
        except (ValueError, TypeError):
            raise bad from None
        if not isinstance(key, Ed25519PublicKey):
            raise BadRequest("the PEM public key is not an Ed25519 key")
        return key
    if value.lower().startswith("ed25519:"):
        value = value[len("ed25519:") :]
    try:
        raw = base64.b64decode(value.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        raise bad from None
    if len(raw) != 32:
        raise bad
    return Ed25519PublicKey.from_public_bytes(raw)


def parse_public_key(text: str) -> str:
    """A public key given by a user, normalised to "ed25519:<base64>"; BadRequest if it is not one."""
    return _key_text(_public_key(text))


def verify_body(public_key: str, body: bytes, header: str | None) -> None:
    """Check a response's X-Accord-Signature against the peer's public key; SignatureError if unsigned or wrong."""
    if not header or not header.strip():
        raise SignatureError("unsigned response")
    scheme, _, value = header.strip().partition("=")
    if scheme.strip().lower() != "ed25519" or not value:
        raise SignatureError("bad signature")
    try:
        signature = base64.b64decode(value.strip(), validate=True)
        _public_key(public_key).verify(signature, body)
    except (binascii.Error, ValueError, InvalidSignature):
        raise SignatureError("bad signature") from None
