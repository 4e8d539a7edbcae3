#!/usr/bin/env python3
"""Offline checks of the deployment manifests (no cluster, no Spin CLI here).

  validate_manifests.py crd CRD.yaml... -- MANIFEST.yaml...
      Every document of every MANIFEST must be a kind one of the CRDs defines, and valid against
      its openAPIV3Schema, strictly: a field the schema does not name is an error (a cluster
      would silently prune it). Before that, a broken document of each kind must fail, so the
      check can fail.

  validate_manifests.py wadm OAM_SCHEMA.json MANIFEST.yaml -- IMAGE=FILE...
      A wadm (wasmCloud 1.x) application, against wadm's JSON schema; then every `link` trait:
      its target is a component of the manifest, each linked interface is an import of a source
      component and an export of the target (`wasm-tools component wit` on the files the
      images map to). A broken copy (a link to another package) must fail first.

  validate_manifests.py workload MANIFEST.yaml -- IMAGE=FILE...
      A wasmCloud 2.x WorkloadDeployment's links by name (its schema is checked in `crd` mode):
      every import of a component that the host does not provide (`wasi:*`) is exported, under
      exactly that name, by another component of the workload, and every host interface is
      exported by one. A copy without its last component must fail first.

  validate_manifests.py spin SPIN.toml...
      A Spin manifest v2: an HTTP trigger on a route, naming a component that exists; every
      component's `source` and dependency `path` exists (relative to the manifest); each
      dependency names an interface the component imports (`wasm-tools component wit`).
"""

import copy
import functools
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
    # The check can fail: for every kind, a document with a field its schema does not name.
    for api_version, kind in schemas:
        broken = {"apiVersion": api_version, "kind": kind, "metadata": {"name": "broken"}, "spec": {"imageTypo": "x"}}
        if not check_docs(schemas, [broken], "self-check"):
            sys.exit(f"self-check: a {kind} with an unknown field passed")
    if ("core.spinkube.dev/v1alpha1", "SpinApp") in schemas:
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


@functools.cache
def world(component):
    """{"import": {...}, "export": {...}}: a component's world, with versions (one `wasm-tools
    component wit` per file, however many links name it)."""
    wit = subprocess.run(["wasm-tools", "component", "wit", str(component)], capture_output=True, text=True, check=True)
    lines = [line.split() for line in wit.stdout.splitlines()]
    return {kind: {w[1].rstrip(";") for w in lines if len(w) > 1 and w[0] == kind} for kind in ("import", "export")}


def world_of(component, kind):
    """The `import`s or `export`s (kind) of a component's world, with their versions."""
    return world(str(component))[kind]


def imports_of(component):
    return world_of(component, "import")


def unversioned(name):
    return name.split("@")[0]


def image_files(args):
    files = {}
    for arg in args:
        image, _, path = arg.partition("=")
        if not image or not pathlib.Path(path).is_file():
            sys.exit(f"IMAGE=FILE expected, with an existing file: {arg}")
        files[image] = path
    return files


def wadm_errors(validator, doc, files, where):
    errors = [f"{where}: {'/'.join(map(str, e.path)) or '(root)'}: {e.message}" for e in validator.iter_errors(doc)]
    if errors:
        return errors
    components = {c["name"]: c for c in doc["spec"]["components"]}
    if len(components) != len(doc["spec"]["components"]):
        errors.append(f"{where}: two components share a name")

    def linked(component, kind):
        image = component["properties"].get("image")
        if component["type"] != "component" or image not in files:
            return None  # a provider, or an image with no file: nothing to check against
        return {unversioned(n) for n in world_of(files[image], kind)}

    for name, c in components.items():
        for t in c.get("traits", []):
            if t["type"] != "link":
                continue
            p = t["properties"]
            target = components.get(p["target"]["name"])
            if target is None:
                errors.append(f"{where}: {name}: link target {p['target']['name']!r} is not a component of the manifest")
                continue
            imports, exports = linked(c, "import"), linked(target, "export")
            for iface in p["interfaces"]:
                full = f"{p['namespace']}:{p['package']}/{iface}"
                if imports is not None and full not in imports:
                    errors.append(f"{where}: {name}: links {full}, which it does not import ({sorted(imports)})")
                if exports is not None and full not in exports:
                    errors.append(f"{where}: {name}: links {full} to {p['target']['name']}, which does not export it ({sorted(exports)})")
    return errors


def wadm_main(args):
    split = args.index("--")
    schema_path, manifests, files = args[0], args[1:split], image_files(args[split + 1 :])
    validator = jsonschema.Draft7Validator(json.loads(pathlib.Path(schema_path).read_text()))
    errors, count = [], 0
    for path in manifests:
        doc = yaml.safe_load(pathlib.Path(path).read_text())
        broken = copy.deepcopy(doc)
        for c in broken["spec"]["components"]:
            for t in c.get("traits", []):
                if t["type"] == "link" and t["properties"]["namespace"] != "wasi":
                    t["properties"]["package"] = "other"
        broken["spec"]["components"][0]["properties"]["imageTypo"] = "x"
        if len(wadm_errors(validator, broken, files, "self-check")) < 1:
            sys.exit(f"self-check: a copy of {path} with an unknown property passed")
        del broken["spec"]["components"][0]["properties"]["imageTypo"]
        if not wadm_errors(validator, broken, files, "self-check"):
            sys.exit(f"self-check: a copy of {path} linking another package passed")
        errors += wadm_errors(validator, doc, files, path)
        count += 1
    if errors:
        sys.exit("\n".join(errors))
    print(f"{count} wadm manifest(s) valid against wadm's schema, every link against the components' worlds")


def workload_errors(doc, files, where):
    errors = []
    spec = doc["spec"]["template"]["spec"]
    worlds = {}
    for c in spec["components"]:
        if c["image"] not in files:
            errors.append(f"{where}: component {c['name']}: no file for image {c['image']}")
            continue
        worlds[c["name"]] = (world_of(files[c["image"]], "import"), world_of(files[c["image"]], "export"))
    for name, (imports, _) in worlds.items():
        for imported in sorted(i for i in imports if not i.startswith("wasi:")):
            exporters = [other for other, (_, exports) in worlds.items() if other != name and imported in exports]
            if len(exporters) != 1:
                errors.append(f"{where}: component {name} imports {imported}, exported by {len(exporters)} other components (exactly one must)")
    for h in spec.get("hostInterfaces", []):
        for iface in h["interfaces"]:
            full = f"{h['namespace']}:{h['package']}/{iface}"
            if not any(full in map(unversioned, exports) for _, exports in worlds.values()):
                errors.append(f"{where}: host interface {full} is exported by no component")
    return errors


def workload_main(args):
    split = args.index("--")
    manifests, files = args[:split], image_files(args[split + 1 :])
    errors = []
    for path in manifests:
        doc = yaml.safe_load(pathlib.Path(path).read_text())
        broken = copy.deepcopy(doc)
        broken["spec"]["template"]["spec"]["components"].pop()
        if not workload_errors(broken, files, "self-check"):
            sys.exit(f"self-check: a copy of {path} without its last component passed")
        errors += workload_errors(doc, files, path)
    if errors:
        sys.exit("\n".join(errors))
    print(f"{len(manifests)} WorkloadDeployment(s): every component import is another component's export")


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
    {"crd": crd_main, "spin": spin_main, "wadm": wadm_main, "workload": workload_main}[mode](rest)
