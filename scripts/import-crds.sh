#!/usr/bin/env bash
# Regenerates imports/ with `cdk8s import`, one module name per CRD file (the four
# prometheus-operator files share an API group and would overwrite each other otherwise).
# Usage: scripts/import-crds.sh [CRD_DIR]   (default: ../shared/crds; without it the
# pinned upstream URLs listed under `imports:` in cdk8s.yaml are used: `npx cdk8s import`).
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${1:-../shared/crds}"
if [ ! -d "$dir" ]; then
  echo "no CRD folder at $dir: importing from the URLs in cdk8s.yaml" >&2
  exec npx cdk8s import -l typescript -o imports --no-check-upgrade
fi
rm -rf imports
mkdir -p imports
while read -r module file; do
  npx cdk8s import "$module:=$dir/$file" -l typescript -o imports --no-save --no-check-upgrade >/dev/null
done <<LIST
istio istio-crds.yaml
servicemonitor monitoring.coreos.com_servicemonitors.yaml
podmonitor monitoring.coreos.com_podmonitors.yaml
prometheusrule monitoring.coreos.com_prometheusrules.yaml
probe monitoring.coreos.com_probes.yaml
grafanadashboard grafana.integreatly.org_grafanadashboards.yaml
scaledobject keda.sh_scaledobjects.yaml
LIST
ls imports
