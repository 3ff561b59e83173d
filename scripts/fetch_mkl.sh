#!/usr/bin/env bash
# Puts Intel oneMKL (static libraries and headers) and Intel OpenMP from their PyPI wheels into
# $MKLROOT (default $COGWAY_CACHE/mkl), laid out as an MKL install (include/, lib/), for CTranslate2's
# int8 kernels: ct2rs's `system-mkl` feature finds it through $MKLROOT, and the gateway links it
# statically (no .so to ship). The wheels are pinned by version and sha256 and deleted once unpacked;
# a stamp skips the whole step when the pins did not change. Idempotent; run by scripts/setup.sh.
set -euo pipefail

cache=${COGWAY_CACHE:-$HOME/.cache/cogway}
root=${MKLROOT:-$cache/mkl}
python=${COGWAY_PYTHON:-python3}

# name==version sha256 of the manylinux x86_64 wheel
wheels=(
  "mkl-static==2026.2.0 090e439bf202b45579c75d2ba50ff7ead05752d553a06aba79c3ed2b5247921b"
  "mkl-include==2026.2.0 889cc72057a1671fee1e9a8beb2fc4e0d222ba78c08b6d69584dae03fbec4822"
  "intel-openmp==2026.2.0 2308a1a3e74718a9cd8cccf218c34d8cd80b43d3b89dfbb01b38dee205c50980"
)
want=$(printf '%s\n' "${wheels[@]}" | sha256sum | cut -d' ' -f1)
if [ "$(cat "$root/.wheels.sha256" 2>/dev/null)" = "$want" ]; then
  exit 0
fi
if [ "$(uname -m)" != x86_64 ]; then
  echo "fetch_mkl: MKL is x86_64 only; build with --no-default-features --features ruy elsewhere" >&2
  exit 1
fi

echo "setup: fetching Intel oneMKL and OpenMP from PyPI into $root"
download=$(mktemp -d)
trap 'rm -rf "$download"' EXIT
for entry in "${wheels[@]}"; do
  "$python" -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: \
    --platform manylinux_2_28_x86_64 --python-version 3.11 -d "$download" "${entry%% *}"
done

rm -rf "$root.partial"
mkdir -p "$root.partial"
# Only what a static link of CTranslate2 needs: headers, the ILP64 and LP64 interfaces, the threading
# layers, the core and libiomp5.a (the wheels' shared libraries and offload runtimes are left out).
"$python" - "$download" "$root.partial" "${wheels[@]}" <<'EOF'
import hashlib, pathlib, sys, zipfile

download, dest = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
pins = dict(entry.split(" ") for entry in sys.argv[3:])
keep_libs = {
    "libmkl_core.a", "libmkl_intel_ilp64.a", "libmkl_intel_lp64.a", "libmkl_intel_thread.a",
    "libmkl_sequential.a", "libmkl_gnu_thread.a", "libiomp5.a",
}
for pin, digest in pins.items():
    name, version = pin.split("==")
    stem = f"{name.replace('-', '_')}-{version}-"
    found = [p for p in download.iterdir() if p.name.startswith(stem) and p.suffix == ".whl"]
    if len(found) != 1:
        sys.exit(f"fetch_mkl: expected one wheel for {pin}, found {[p.name for p in found]}")
    sha = hashlib.sha256(found[0].read_bytes()).hexdigest()
    if sha != digest:
        sys.exit(f"fetch_mkl: {found[0].name} has sha256 {sha}, pinned {digest}")
    with zipfile.ZipFile(found[0]) as wheel:
        for info in wheel.infolist():
            parts = info.filename.split("/")
            # <name>-<version>.data/data/{include,lib}/<file>
            if len(parts) != 4 or parts[1] != "data" or parts[2] not in ("include", "lib"):
                continue
            if parts[2] == "lib" and parts[3] not in keep_libs:
                continue
            if parts[2] == "include" and not parts[3].endswith(".h"):
                continue
            target = dest / parts[2] / parts[3]
            target.parent.mkdir(parents=True, exist_ok=True)
            with wheel.open(info) as src, open(target, "wb") as out:
                while chunk := src.read(1 << 20):
                    out.write(chunk)
missing = [lib for lib in keep_libs if not (dest / "lib" / lib).is_file()]
if missing or not (dest / "include" / "mkl.h").is_file():
    sys.exit(f"fetch_mkl: the wheels lacked {missing or ['mkl.h']}")
EOF
echo "$want" > "$root.partial/.wheels.sha256"
rm -rf "$root"
mv "$root.partial" "$root"
