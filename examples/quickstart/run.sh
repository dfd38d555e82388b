#!/usr/bin/env bash
# make demo: start the local cluster, apply this folder with the provider
# just built (a dev override, no registry), and show what was made.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
: "${KFSTACK_PROVIDER_DIR:?set by make demo}" "${CLUSTER:?set by make demo}" "${TERRAFORM:=terraform}"

echo "==> starting the local cluster (the first run builds Kubernetes: about 15 minutes)"
kubeconfig=$("$CLUSTER" up)

rc=$(mktemp)
trap 'rm -f "$rc"' EXIT
cat >"$rc" <<RC
provider_installation {
  dev_overrides {
    "kfstack/kubeflow" = "$KFSTACK_PROVIDER_DIR"
  }
  direct {}
}
RC
export TF_CLI_CONFIG_FILE=$rc

echo "==> terraform apply examples/quickstart"
# get installs the local modules; init would look the provider up in a registry.
"$TERRAFORM" -chdir="$here" get >/dev/null
"$TERRAFORM" -chdir="$here" apply -auto-approve -input=false -var "kubeconfig=$kubeconfig"

echo
echo "==> what it made"
"$TERRAFORM" -chdir="$here" state list
if command -v kubectl >/dev/null 2>&1; then
  kubectl --kubeconfig "$kubeconfig" get namespaces -l app.kubernetes.io/managed-by=kfstack
  kubectl --kubeconfig "$kubeconfig" get resourcequota,rolebindings -A -l app.kubernetes.io/managed-by=kfstack
  kubectl --kubeconfig "$kubeconfig" get nodes -L cloud.google.com/gke-nodepool,cloud.google.com/gke-accelerator,cloud.google.com/gke-tpu-accelerator
fi
echo
echo "The cluster keeps running: KUBECONFIG=$kubeconfig"
echo "Stop it with: make cluster-down"
