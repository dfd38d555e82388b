#!/usr/bin/env bash
# make demo: start the local cluster, apply this folder with the provider
# just built (a dev override, no registry), and show what was made.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
: "${KFSTACK_PROVIDER_DIR:?set by make demo}" "${CLUSTER:?set by make demo}" "${RUNTIME:?set by make demo}" "${TERRAFORM:=terraform}"

echo "==> starting the local cluster (the first run builds Kubernetes: about 15 minutes)"
kubeconfig=$("$CLUSTER" up)

# The local cluster's nodes are simulated (KWOK), so the runtime controller
# runs here, as `make run` does in kubebuilder projects, with the local
# executor (tasks are processes of the controller; images are ignored).
# --allow-local-executor is what makes that possible: never give it to a
# controller in a shared cluster (docs/security.md). kubeflow_runtime
# installs the CRDs and RBAC with 0 replicas.
work=$(mktemp -d)
rc="$work/terraformrc"
KUBECONFIG=$kubeconfig "$RUNTIME" controller --leader-elect --leader-election-namespace=kube-system \
  --metrics-bind-address=0 --health-probe-bind-address=0 --allow-local-executor --workdir "$work/runs" >"$work/controller.log" 2>&1 &
controller=$!
trap 'kill "$controller" 2>/dev/null; wait "$controller" 2>/dev/null; rm -rf "$work"' EXIT
# Plan only once the controller has said on the PipelineRun CRD that it
# allows the local executor (kubeflow_run's plan reads it), or waits for
# the CRDs that this apply installs.
for _ in $(seq 600); do
  grep -q -e "the local executor is allowed" -e "waiting for the cluster to serve" "$work/controller.log" && break
  kill -0 "$controller" 2>/dev/null || { cat "$work/controller.log" >&2; exit 1; }
  sleep 0.1
done

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
if ! "$TERRAFORM" -chdir="$here" apply -auto-approve -input=false -var "kubeconfig=$kubeconfig" \
  -var runtime_replicas=0 -var executor=local; then
  echo "==> the controller's log:" >&2
  tail -n 30 "$work/controller.log" >&2
  exit 1
fi

echo
echo "==> what it made"
"$TERRAFORM" -chdir="$here" state list
echo
echo "==> the runs' outputs"
"$TERRAFORM" -chdir="$here" output run_outputs
if command -v kubectl >/dev/null 2>&1; then
  kubectl --kubeconfig "$kubeconfig" get namespaces -l app.kubernetes.io/managed-by=kfstack
  kubectl --kubeconfig "$kubeconfig" get resourcequota,rolebindings -A -l app.kubernetes.io/managed-by=kfstack
  kubectl --kubeconfig "$kubeconfig" get nodes -L cloud.google.com/gke-nodepool,cloud.google.com/gke-accelerator,cloud.google.com/gke-tpu-accelerator
  kubectl --kubeconfig "$kubeconfig" get pipelines,pipelineruns -A
fi
echo
echo "The cluster keeps running: KUBECONFIG=$kubeconfig"
echo "The controller stopped with this script; runs applied later wait for one."
echo "Stop it with: make cluster-down"
