#!/usr/bin/env python3
"""Offline checks of the deployment manifests (no cluster, no Spin CLI here).

  validate_manifests.py crd CRD.yaml... -- MANIFEST.yaml...
      Every document of every MANIFEST must be a kind one of the CRDs defines, and valid against
      its openAPIV3Schema, strictly: a field the schema does not name is an error (a cluster
      would silently prune it). Before that, a broken SpinApp must fail, so the check can fail.

  validate_manifests.py spin SPIN.toml...
      A Spin manifest v2: an HTTP trigger on a route, naming a component that exists; every
      component's `source` and dependency `path` exists (relative to the manifest); each
      dependency names an interface the component imports (`wasm-tools component wit`).
"""

import copy
import json
import pathlib
import subprocess
import sys
import tomllib

import jsonschema
import yaml


def strict(schema):
    """The schema with `additionalProperties: false` wherever an object lists its properties
    and says nothing else about others (and does not preserve unknown fields)."""
    if isinstance(schema, dict):
        out = {k: strict(v) for k, v in schema.items() if not k.startswith("x-kubernetes-")}
        if (
            "properties" in schema
            and "additionalProperties" not in schema
            and not schema.get("x-kubernetes-preserve-unknown-fields")
        ):
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [strict(s) for s in schema]
    return schema


def crd_schemas(paths):
    """(apiVersion, kind) -> validator, for every served version of every CRD."""
    schemas = {}
    for path in paths:
        crd = yaml.safe_load(pathlib.Path(path).read_text())
        group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
        for version in crd["spec"]["versions"]:
            schema = strict(version["schema"]["openAPIV3Schema"])
            # metadata is Kubernetes' own ObjectMeta; the CRD leaves it open.
            schema.setdefault("properties", {})["metadata"] = {"type": "object"}
            schemas[(f"{group}/{version['name']}", kind)] = jsonschema.Draft7Validator(schema)
    return schemas


def check_docs(schemas, docs, where):
    errors = []
    for i, doc in enumerate(docs):
        if doc is None:
            continue
        key = (doc.get("apiVersion"), doc.get("kind"))
        validator = schemas.get(key)
        if validator is None:
            errors.append(f"{where} document {i + 1}: no schema for {key[0]} {key[1]}")
            continue
        for e in sorted(validator.iter_errors(doc), key=lambda e: list(e.path)):
            path = "/".join(str(p) for p in e.path) or "(root)"
            errors.append(f"{where} document {i + 1} ({key[1]} {doc.get('metadata', {}).get('name', '?')}): {path}: {e.message}")
    return errors


def crd_main(args):
    split = args.index("--")
    schemas = crd_schemas(args[:split])
    broken = {
        "apiVersion": "core.spinkube.dev/v1alpha1",
        "kind": "SpinApp",
        "metadata": {"name": "broken"},
        "spec": {"executor": "containerd-shim-spin", "replicas": "two", "imageTypo": "x"},
    }
    if len(check_docs(schemas, [broken], "self-check")) < 3:
        sys.exit("self-check: a SpinApp without image, with a string replica count and an unknown field passed")
    errors, count = [], 0
    for path in args[split + 1 :]:
        docs = list(yaml.safe_load_all(pathlib.Path(path).read_text()))
        count += sum(d is not None for d in docs)
        errors += check_docs(schemas, docs, path)
    if errors:
        sys.exit("\n".join(errors))
    if count == 0:
        sys.exit("no manifests to check")
    print(f"{count} manifest(s) valid against {len(schemas)} CRD schema(s), strictly")


def imports_of(component):
    wit = subprocess.run(["wasm-tools", "component", "wit", str(component)], capture_output=True, text=True, check=True)
    return {line.split()[1].rstrip(";") for line in wit.stdout.splitlines() if line.strip().startswith("import ")}


def spin_main(args):
    errors = []
    for path in map(pathlib.Path, args):
        manifest = tomllib.loads(path.read_text())
        base = path.parent
        where = str(path)
        if manifest.get("spin_manifest_version") != 2:
            errors.append(f"{where}: spin_manifest_version must be 2")
        if not manifest.get("application", {}).get("name"):
            errors.append(f"{where}: [application] needs a name")
        components = manifest.get("component", {})
        triggers = manifest.get("trigger", {}).get("http", [])
        if not triggers:
            errors.append(f"{where}: no [[trigger.http]]")
        for t in triggers:
            if not t.get("route"):
                errors.append(f"{where}: an HTTP trigger without a route")
            if t.get("component") not in components:
                errors.append(f"{where}: trigger names component {t.get('component')!r}, which is not defined")
        for name, c in components.items():
            source = base / c.get("source", "")
            if not source.is_file():
                errors.append(f"{where}: component {name}: source {source} does not exist")
                continue
            for key, value in c.get("environment", {}).items():
                if not isinstance(value, str):
                    errors.append(f"{where}: component {name}: environment {key} must be a string")
            deps = c.get("dependencies", {})
            imports = imports_of(source) if deps else set()
            for dep, spec in deps.items():
                dep_path = base / spec.get("path", "")
                if not dep_path.is_file():
                    errors.append(f"{where}: component {name}: dependency {dep}: {dep_path} does not exist")
                if not any(i == dep or i.startswith(dep + "@") for i in imports):
                    errors.append(f"{where}: component {name}: dependency {dep} is not one of its imports {sorted(imports)}")
    if errors:
        sys.exit("\n".join(errors))
    print(f"{len(args)} Spin manifest(s) valid")


if __name__ == "__main__":
    mode, rest = sys.argv[1], sys.argv[2:]
    {"crd": crd_main, "spin": spin_main}[mode](rest)
