#!/usr/bin/env python3
"""Prints the workspace's integration-test targets as `cargo test` options (`--test NAME`, one
word per line), those of one package (`--only PACKAGE`) or of every other (`--except PACKAGE`).

scripts/test.sh runs the conformance crate's tests after the wasm builds and hosts they need, and
the rest while those are still building; the split comes from the manifests, so a new test target
lands in one of the two runs without anyone listing it.

    python3 scripts/test-targets.py --only authz-conformance
"""
import json
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("--only", "--except"):
        print(__doc__, file=sys.stderr)
        return 2
    mode, package = sys.argv[1], sys.argv[2]
    metadata = json.loads(subprocess.run(
        ["cargo", "metadata", "--no-deps", "--format-version", "1", "--locked"],
        check=True, capture_output=True, text=True, cwd=ROOT,
    ).stdout)
    names = [p["name"] for p in metadata["packages"]]
    if package not in names:
        print(f"no package {package} in the workspace ({', '.join(names)})", file=sys.stderr)
        return 1
    for p in metadata["packages"]:
        if (p["name"] == package) != (mode == "--only"):
            continue
        for target in p["targets"]:
            if "test" in target["kind"]:
                print("--test")
                print(target["name"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
