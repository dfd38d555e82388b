#!/usr/bin/env bash
# make demo: start the local cluster, apply this folder with the provider
# just built (a dev override, no registry), and show what was made.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
: "${KFSTACK_PROVIDER_DIR:?set by make demo}" "${CLUSTER:?set by make demo}" "${RUNTIME:?set by make demo}" "${TERRAFORM:=terraform}"

echo "==> starting the local cluster (the first run builds Kubernetes: about 15 minutes)"
kubeconfig=$("$CLUSTER" up)
state=$(dirname "$(dirname "$kubeconfig")")
demo="$state/demo"
ui_port=${DEMO_UI_PORT:-8082}

# What an earlier demo left running against this cluster goes first.
stop_demo() {
  if [ -f "$demo/pids" ]; then
    while read -r pid; do kill "$pid" 2>/dev/null || true; done <"$demo/pids"
    rm -f "$demo/pids"
  fi
}
stop_demo
mkdir -p "$demo"

# The local cluster's nodes are simulated (KWOK), so the runtime controller
# runs here, as `make run` does in kubebuilder projects, with the local
# executor (tasks are processes of the controller; images are ignored).
# --allow-local-executor is what makes that possible: never give it to a
# controller in a shared cluster (docs/security.md). kubeflow_runtime
# installs the CRDs and RBAC with 0 replicas. The web UI runs here too, on
# 127.0.0.1 only, signing no one in (--auth=none): every request acts as a
# member of the platform-admins group, which owns the platform-sandbox
# profile. Both keep running after this script, in their own session;
# make cluster-down stops them with the cluster.
# The scikit-learn pipeline's tasks run with Debian's python3 and
# python3-sklearn (no package index needed: kfstack brings the kfp
# component runtime itself).
sklearn=true
python=/usr/bin/python3
if ! "$python" -c 'import sklearn' >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "==> installing Debian's python3-sklearn for the scikit-learn pipeline"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3 python3-sklearn >/dev/null
  fi
  if ! "$python" -c 'import sklearn' >/dev/null 2>&1; then
    sklearn=false
    echo "==> skipping the scikit-learn pipeline: it needs Debian's python3 with scikit-learn;"
    echo "    install it with: sudo apt-get install python3-sklearn   (then run make demo again)"
  fi
fi
python_flag=()
[ -x "$python" ] && python_flag=(--python "$python")

root="file://$demo/runs/artifacts"
KUBECONFIG=$kubeconfig setsid "$RUNTIME" controller --leader-elect --leader-election-namespace=kube-system \
  --metrics-bind-address=0 --health-probe-bind-address=0 --allow-local-executor --workdir "$demo/runs" --pipeline-root "$root" "${python_flag[@]}" \
  >"$demo/controller.log" 2>&1 </dev/null &
controller=$!
echo $controller >>"$demo/pids"
KUBECONFIG=$kubeconfig setsid "$RUNTIME" ui --auth=none --user=demo@example.com --groups=platform-admins \
  --bind-address="127.0.0.1:$ui_port" --health-probe-bind-address=0 --pipeline-root "$root" \
  >"$demo/ui.log" 2>&1 </dev/null &
echo $! >>"$demo/pids"

work=$(mktemp -d)
rc="$work/terraformrc"
trap 'rm -rf "$work"' EXIT
# Plan only once the controller has said on the PipelineRun CRD that it
# allows the local executor (kubeflow_run's plan reads it), or waits for
# the CRDs that this apply installs.
for _ in $(seq 600); do
  grep -q -e "the local executor is allowed" -e "waiting for the cluster to serve" "$demo/controller.log" && break
  kill -0 "$controller" 2>/dev/null || { cat "$demo/controller.log" >&2; exit 1; }
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

# The state in this folder is of the cluster it was applied to. A cluster
# made again (make cluster-down, then make demo) is another one: the old
# state would name objects it never had, so it is moved aside. A cluster is
# known by its CA, which each new cluster makes afresh.
cluster_id=$(grep certificate-authority-data "$kubeconfig" | sha256sum | cut -c1-16)
mkdir -p "$here/.terraform"
if [ -f "$here/terraform.tfstate" ] && [ -f "$here/.terraform/kfstack-demo-cluster" ] &&
  [ "$(cat "$here/.terraform/kfstack-demo-cluster")" != "$cluster_id" ]; then
  old="$here/terraform.tfstate.$(cat "$here/.terraform/kfstack-demo-cluster")"
  mv "$here/terraform.tfstate" "$old"
  rm -f "$here/terraform.tfstate.backup"
  echo "==> the state was of a local cluster that is gone; kept as $old"
fi
echo "$cluster_id" >"$here/.terraform/kfstack-demo-cluster"

echo "==> terraform apply examples/quickstart"
# get installs the local modules; init would look the provider up in a registry.
"$TERRAFORM" -chdir="$here" get >/dev/null
if ! "$TERRAFORM" -chdir="$here" apply -auto-approve -input=false -var "kubeconfig=$kubeconfig" \
  -var runtime_replicas=0 -var executor=local -var sklearn="$sklearn"; then
  echo "==> the controller's log:" >&2
  tail -n 30 "$demo/controller.log" >&2
  stop_demo
  exit 1
fi

echo
echo "==> what it made"
"$TERRAFORM" -chdir="$here" state list
echo
echo "==> the runs' outputs"
"$TERRAFORM" -chdir="$here" output run_outputs
echo
echo "==> the schedules' next fire times"
"$TERRAFORM" -chdir="$here" output schedules
if [ "$sklearn" = true ]; then
  echo
  echo "==> the scikit-learn run: the model kept, and the metrics of both models"
  "$TERRAFORM" -chdir="$here" output sklearn
fi
if command -v kubectl >/dev/null 2>&1; then
  kubectl --kubeconfig "$kubeconfig" get namespaces -l app.kubernetes.io/managed-by=kfstack
  kubectl --kubeconfig "$kubeconfig" get resourcequota,rolebindings -A -l app.kubernetes.io/managed-by=kfstack
  kubectl --kubeconfig "$kubeconfig" get nodes -L cloud.google.com/gke-nodepool,cloud.google.com/gke-accelerator,cloud.google.com/gke-tpu-accelerator
  kubectl --kubeconfig "$kubeconfig" get pipelines,pipelineruns,schedules -A
fi
echo
echo "The cluster keeps running: KUBECONFIG=$kubeconfig"
echo "The runtime controller keeps running here too (log: $demo/controller.log)."
echo
echo "==> the web UI: http://127.0.0.1:$ui_port/#/ns/platform-sandbox/runs"
echo "    (on this machine only; it signs no one in and acts as demo@example.com of group platform-admins; log: $demo/ui.log)"
echo
echo "Stop them all with: make cluster-down"
