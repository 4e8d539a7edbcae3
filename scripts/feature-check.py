#!/usr/bin/env python3
"""Fails when building `authz` alone would compile a dependency with other features than the
test build does.

CI builds the workspace once (`cargo test --workspace --exclude authz-benches`), then installs
`authz` from the same target directory (scripts/install-check.sh). Cargo reuses a compiled
dependency only when its features are the same; a dev-dependency of the tests (proptest) turns
features on that `authz`'s own graph lacks, and one such difference (fnv's) recompiled gimli,
Cranelift and wasmtime: minutes of a fresh machine's CI. cli/Cargo.toml names those features;
this check keeps it complete.

    python3 scripts/feature-check.py
"""
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent

# As scripts/test.sh builds the tests and scripts/install-check.sh installs authz: with the
# gRPC API.
TESTED = ["--workspace", "--exclude", "authz-benches", "--features", "authz-conformance/grpc"]
INSTALLED = ["-p", "authz", "--features", "grpc"]


def features(selection, edges):
    """{"name vX.Y.Z": {feature sets}} of every package the selection builds over those edges."""
    out = subprocess.run(
        ["cargo", "tree", *selection, "--locked", "-e", edges, "--prefix", "none",
         "--format", "{p}|{f}"],
        check=True, capture_output=True, text=True, cwd=ROOT,
    ).stdout
    graph = {}
    for line in out.splitlines():
        if "|" not in line:
            continue
        package, feats = line.replace(" (*)", "").split("|", 1)
        package = package.split(" (")[0]  # drop a path or "(proc-macro)"
        graph.setdefault(package, set()).add(feats)
    return graph


def main():
    tested = features(TESTED, "normal,build,dev")
    # `cargo install` builds no test: the binary's graph has no dev-dependencies.
    installed = features(INSTALLED, "normal,build")
    drift = {p: (installed[p], tested[p]) for p in installed if p in tested and installed[p] != tested[p]}
    if drift:
        for package, (alone, together) in sorted(drift.items()):
            print(f"{package}: `-p authz` builds it with {sorted(alone)}, the tests with {sorted(together)}",
                  file=sys.stderr)
        print("add the missing features to cli/Cargo.toml's unification block", file=sys.stderr)
        return 1
    print(f"feature check: the {len(installed)} packages `authz` builds have the tests' features")
    return 0


if __name__ == "__main__":
    sys.exit(main())
