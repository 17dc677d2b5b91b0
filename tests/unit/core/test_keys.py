"""The node key: secrets round-trip and refuse any other key or any change; signatures verify or are refused."""

from __future__ import annotations

import base64
import os
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.rsa import generate_private_key

from accord.core import keys
from accord.core import settings as core_settings
from accord.core.errors import BadRequest


@pytest.fixture(autouse=True)
def key_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh key directory for each test (ACCORD_NODE_KEY_DIR)."""
    path = tmp_path / "keys"
    monkeypatch.setenv("ACCORD_NODE_KEY_DIR", str(path))
    core_settings.get_settings.cache_clear()
    yield path
    core_settings.get_settings.cache_clear()


def use_key_dir(monkeypatch: pytest.MonkeyPatch, path: Path) -> None:
    monkeypatch.setenv("ACCORD_NODE_KEY_DIR", str(path))
    core_settings.get_settings.cache_clear()


def test_a_secret_round_trips_and_names_its_key(key_dir: Path) -> None:
    stored = keys.encrypt_secret("hunter2 ünïcode")
    assert stored.startswith("enc:v1:")
    assert "hunter2" not in stored
    assert keys.is_encrypted(stored)
    assert not keys.is_encrypted("hunter2")
    assert keys.decrypt_secret(stored) == "hunter2 ünïcode"
    assert keys.encrypt_secret("hunter2 ünïcode") != stored  # a fresh nonce each time
    assert keys.decrypt_secret(keys.encrypt_secret("")) == ""
    key_file = key_dir / keys.SECRET_FILE
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert [p.name for p in key_dir.iterdir() if not p.name.startswith(".")] == [keys.SECRET_FILE]


def test_another_nodes_key_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stored = keys.encrypt_secret("s3cret")
    use_key_dir(monkeypatch, tmp_path / "empty")
    with pytest.raises(keys.SecretError, match=r"there is no node key in .*empty"):
        keys.decrypt_secret(stored)
    use_key_dir(monkeypatch, tmp_path / "other")
    keys.encrypt_secret("x")  # makes this directory's own key
    with pytest.raises(keys.SecretError) as caught:
        keys.decrypt_secret(stored)
    assert caught.value.message == (
        f"cannot decrypt a stored secret: the node key in {tmp_path / 'other'} is not the one it was encrypted with"
    )
    assert "s3cret" not in caught.value.message


def test_a_changed_or_garbled_value_is_refused() -> None:
    stored = keys.encrypt_secret("s3cret")
    head, body = stored.rsplit(":", 1)
    flipped = body[:5] + ("A" if body[5] != "A" else "B") + body[6:]
    with pytest.raises(keys.SecretError, match="altered or damaged"):
        keys.decrypt_secret(f"{head}:{flipped}")
    other_id = head.replace(head.split(":")[2], "0" * 12)
    with pytest.raises(keys.SecretError, match="not the one it was encrypted with"):
        keys.decrypt_secret(f"{other_id}:{body}")
    for garbled in ("enc:v1:abc", "enc:v2:" + stored[7:], f"{head}:!!!", f"{head}:{body[:10]}", "enc:"):
        with pytest.raises(keys.SecretError, match="malformed"):
            keys.decrypt_secret(garbled)
    with pytest.raises(keys.SecretError, match="plain text"):
        keys.decrypt_secret("s3cret")


def test_a_damaged_key_file_is_named(key_dir: Path) -> None:
    key_dir.mkdir()
    (key_dir / keys.SECRET_FILE).write_text("not hex")
    with pytest.raises(keys.SecretError, match=r"secret key file .* is damaged"):
        keys.encrypt_secret("x")


def test_threads_creating_one_file_agree(tmp_path: Path) -> None:
    path = tmp_path / "k" / "shared.key"
    barrier = threading.Barrier(8)
    seen: list[bytes] = []

    def make(i: int) -> None:
        barrier.wait()
        seen.append(keys.read_or_create(path, f"content-{i}".encode))

    threads = [threading.Thread(target=make, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(seen)) == 1
    assert path.read_bytes() == seen[0]
    assert [p.name for p in path.parent.iterdir()] == ["shared.key"]  # no temporary file left


CHILD = """
import sys
from accord.core import keys
sys.stdin.readline()  # start together
print(keys.public_key_text(), keys.encrypt_secret("x").split(":")[2])
"""


def test_processes_creating_the_keys_at_once_agree(key_dir: Path) -> None:
    env = {**os.environ, "ACCORD_NODE_KEY_DIR": str(key_dir)}
    children = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, text=True
        )
        for _ in range(4)
    ]
    for child in children:
        assert child.stdin is not None
        child.stdin.write("go\n")
        child.stdin.flush()
    answers = {child.communicate(timeout=60)[0] for child in children}
    assert all(child.returncode == 0 for child in children)
    assert len(answers) == 1
    public, key_id = answers.pop().split()
    assert public == keys.public_key_text()
    assert key_id == keys.encrypt_secret("y").split(":")[2]


def test_a_signed_body_verifies_and_nothing_else_does() -> None:
    body = b'{"objects": []}'
    header = keys.sign_body(body)
    assert header.startswith("ed25519=")
    public = keys.public_key_text()
    keys.verify_body(public, body, header)
    with pytest.raises(keys.SignatureError, match="bad signature"):
        keys.verify_body(public, body + b" ", header)
    stranger = _text(Ed25519PrivateKey.generate())
    with pytest.raises(keys.SignatureError, match="bad signature"):
        keys.verify_body(stranger, body, header)
    for missing in (None, "", "  "):
        with pytest.raises(keys.SignatureError, match="unsigned response"):
            keys.verify_body(public, body, missing)
    for garbled in ("ed25519=", "rsa=" + header[8:], "ed25519=***", header[8:]):
        with pytest.raises(keys.SignatureError, match="bad signature"):
            keys.verify_body(public, body, garbled)


def _text(key: Ed25519PrivateKey) -> str:
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "ed25519:" + base64.b64encode(raw).decode()


def test_public_keys_are_accepted_in_each_form_and_normalised() -> None:
    private = Ed25519PrivateKey.generate()
    expected = _text(private)
    raw_b64 = expected.split(":", 1)[1]
    pem = (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    for given in (expected, f"  {expected}\n", raw_b64, "ED25519:" + raw_b64, pem, raw_b64.replace("+", "-")):
        assert keys.parse_public_key(given) == expected
    assert keys.parse_public_key(keys.public_key_text()) == keys.public_key_text()


def test_anything_else_is_not_a_public_key() -> None:
    rsa_pem = (
        generate_private_key(public_exponent=65537, key_size=2048)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    for garbage in ("", "hello", "ed25519:", "ed25519:" + base64.b64encode(b"x" * 31).decode(), "-----BEGIN junk"):
        with pytest.raises(BadRequest, match="not an Ed25519 public key"):
            keys.parse_public_key(garbage)
    with pytest.raises(BadRequest, match="not an Ed25519 key"):
        keys.parse_public_key(rsa_pem)
