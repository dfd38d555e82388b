package bootstrap

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"
)

// readinessInterval is how often readiness is checked; progressInterval how
// often what is still awaited is logged.
const (
	readinessInterval = 500 * time.Millisecond
	progressInterval  = 5 * time.Second
)

// waitReady waits until every object is ready, logging what it waits for.
// It never sleeps for a fixed time: it returns as soon as all are ready, and
// with the reasons of the ones that are not when ctx ends.
func (in *Installer) waitReady(ctx context.Context, objects []*unstructured.Unstructured, webhooks bool) error {
	// waiting is what the last whole pass found not ready: the deadline
	// may end a pass half way, which must not leave the error naming
	// nothing.
	waiting := unchecked(objects)
	lastLog := time.Time{}
	err := wait.PollUntilContextCancel(ctx, readinessInterval, true, func(ctx context.Context) (bool, error) {
		var pass []string
		defer func() {
			if ctx.Err() == nil {
				waiting = pass
			}
		}()
		for _, obj := range objects {
			live, err := in.get(ctx, obj)
			if apierrors.IsNotFound(err) {
				pass = append(pass, describe(obj)+": not found")
				continue
			}
			if err != nil {
				return false, err
			}
			why, err := in.notReady(ctx, live, webhooks)
			if err != nil {
				return false, err
			}
			if why != "" {
				pass = append(pass, describe(obj)+": "+why)
			}
		}
		if len(pass) > 0 && time.Since(lastLog) >= progressInterval {
			lastLog = time.Now()
			for _, w := range pass {
				in.log(ctx, "waiting for "+w, nil)
			}
		}
		return len(pass) == 0, nil
	})
	if err != nil && ctx.Err() != nil {
		return fmt.Errorf("timed out waiting for: %s", strings.Join(waiting, "; "))
	}
	return err
}

// waitGone waits until the objects are deleted (finalizers run, pods
// terminated), logging what is still there, so an uninstall that returns
// has really left nothing behind. Objects Helm keeps by policy
// (helm.sh/resource-policy: keep) are not waited for.
func (in *Installer) waitGone(ctx context.Context, objects []*unstructured.Unstructured) error {
	remaining := unchecked(objects) // as of the last whole pass
	lastLog := time.Time{}
	err := wait.PollUntilContextCancel(ctx, readinessInterval, true, func(ctx context.Context) (bool, error) {
		var pass []string
		defer func() {
			if ctx.Err() == nil {
				remaining = pass
			}
		}()
		for _, obj := range objects {
			if obj.GetAnnotations()["helm.sh/resource-policy"] == "keep" {
				continue
			}
			live, err := in.get(ctx, obj)
			if apierrors.IsNotFound(err) || meta.IsNoMatchError(err) {
				continue
			}
			if err != nil {
				return false, err
			}
			if live.GetDeletionTimestamp() == nil {
				// Deleted, yet here and not being deleted: made again after
				// the deletion by a controller that acted on a stale cache
				// (the ClusterRole aggregation controller applies an
				// aggregated role it still sees). Delete it again.
				in.log(ctx, "deleting again what was created again after its deletion: "+describe(obj), nil)
				if err := in.deleteLive(ctx, live); err != nil {
					return false, err
				}
			}
			pass = append(pass, describe(obj))
		}
		if len(pass) > 0 && time.Since(lastLog) >= progressInterval {
			lastLog = time.Now()
			in.log(ctx, "waiting for deletion of "+strings.Join(pass, ", "), nil)
		}
		return len(pass) == 0, nil
	})
	if err != nil && ctx.Err() != nil {
		return fmt.Errorf("timed out waiting for the deletion of: %s", strings.Join(remaining, "; "))
	}
	return err
}

// unchecked describes objects that no whole pass has looked at yet (the
// deadline came during the first).
func unchecked(objects []*unstructured.Unstructured) []string {
	out := make([]string, len(objects))
	for i, obj := range objects {
		out[i] = describe(obj) + ": not checked before the deadline"
	}
	return out
}

// deleteLive deletes the object get returned, by UID: never a newer one of
// the same name.
func (in *Installer) deleteLive(ctx context.Context, live *unstructured.Unstructured) error {
	client, err := in.resourceFor(live)
	if err != nil {
		return err
	}
	uid := live.GetUID()
	err = client.Delete(ctx, live.GetName(), metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("deleting %s: %w", describe(live), err)
	}
	return nil
}

func (in *Installer) get(ctx context.Context, obj *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	client, err := in.resourceFor(obj)
	if err != nil {
		return nil, err
	}
	return client.Get(ctx, obj.GetName(), metav1.GetOptions{})
}

func describe(obj *unstructured.Unstructured) string {
	if ns := obj.GetNamespace(); ns != "" {
		return fmt.Sprintf("%s %s/%s", obj.GetKind(), ns, obj.GetName())
	}
	return fmt.Sprintf("%s %s", obj.GetKind(), obj.GetName())
}

// notReady says why a live object is not ready yet, or "" when it is.
// Kinds without a notion of readiness are ready once they exist.
func (in *Installer) notReady(ctx context.Context, obj *unstructured.Unstructured, webhooks bool) (string, error) {
	generation := obj.GetGeneration()
	observed, hasObserved, _ := unstructured.NestedInt64(obj.Object, "status", "observedGeneration")
	stale := hasObserved && observed < generation
	num := func(fields ...string) int64 {
		v, _, _ := unstructured.NestedInt64(obj.Object, fields...)
		return v
	}
	switch obj.GroupVersionKind().GroupKind().String() {
	case "CustomResourceDefinition.apiextensions.k8s.io":
		if !hasCondition(obj, "Established") {
			return "not Established", nil
		}
	case "Deployment.apps":
		replicas, found, _ := unstructured.NestedInt64(obj.Object, "spec", "replicas")
		if !found {
			replicas = 1
		}
		if stale || !hasObserved {
			return "rollout not observed yet", nil
		}
		if updated, available := num("status", "updatedReplicas"), num("status", "availableReplicas"); updated < replicas || available < replicas {
			return fmt.Sprintf("%d/%d available, %d/%d updated", available, replicas, updated, replicas), nil
		}
	case "StatefulSet.apps":
		replicas, found, _ := unstructured.NestedInt64(obj.Object, "spec", "replicas")
		if !found {
			replicas = 1
		}
		if stale || !hasObserved {
			return "rollout not observed yet", nil
		}
		if ready := num("status", "readyReplicas"); ready < replicas {
			return fmt.Sprintf("%d/%d ready", ready, replicas), nil
		}
	case "DaemonSet.apps":
		if stale || !hasObserved {
			return "rollout not observed yet", nil
		}
		desired := num("status", "desiredNumberScheduled")
		if available, updated := num("status", "numberAvailable"), num("status", "updatedNumberScheduled"); available < desired || updated < desired {
			return fmt.Sprintf("%d/%d available, %d/%d updated", available, desired, updated, desired), nil
		}
	case "Job.batch":
		if hasCondition(obj, "Failed") {
			return "", fmt.Errorf("%s failed", describe(obj))
		}
		if !hasCondition(obj, "Complete") {
			return "not complete", nil
		}
	case "ClusterIssuer.cert-manager.io", "Issuer.cert-manager.io":
		// cert-manager's controller marks an issuer Ready. Where webhooks
		// are not waited for (KWOK), no controller runs either.
		if webhooks && !hasCondition(obj, "Ready") {
			return "not Ready", nil
		}
	case "ValidatingWebhookConfiguration.admissionregistration.k8s.io", "MutatingWebhookConfiguration.admissionregistration.k8s.io":
		if webhooks {
			return in.webhookNotReady(ctx, obj)
		}
	}
	return "", nil
}

// webhookNotReady checks that every webhook of a configuration can answer:
// its CA bundle is set (cert-manager's cainjector, or istiod, fills it in)
// and its Service has a ready endpoint. Creating objects before that fails
// with "connection refused" or "x509: certificate signed by unknown
// authority" (kubeflow/manifests #2004, #2344).
func (in *Installer) webhookNotReady(ctx context.Context, obj *unstructured.Unstructured) (string, error) {
	hooks, _, _ := unstructured.NestedSlice(obj.Object, "webhooks")
	for _, h := range hooks {
		hook, ok := h.(map[string]any)
		if !ok {
			continue
		}
		name, _, _ := unstructured.NestedString(hook, "name")
		if caBundle, _, _ := unstructured.NestedString(hook, "clientConfig", "caBundle"); caBundle == "" {
			return fmt.Sprintf("webhook %s has no CA bundle yet", name), nil
		}
		svcNS, found, _ := unstructured.NestedString(hook, "clientConfig", "service", "namespace")
		if !found {
			continue // a URL webhook: nothing in the cluster to wait for
		}
		svcName, _, _ := unstructured.NestedString(hook, "clientConfig", "service", "name")
		ready, err := in.serviceHasReadyEndpoint(ctx, svcNS, svcName)
		if err != nil {
			return "", err
		}
		if !ready {
			return fmt.Sprintf("webhook %s: service %s/%s has no ready endpoint", name, svcNS, svcName), nil
		}
	}
	return "", nil
}

func (in *Installer) serviceHasReadyEndpoint(ctx context.Context, namespace, service string) (bool, error) {
	slices, err := in.core.DiscoveryV1().EndpointSlices(namespace).List(ctx, metav1.ListOptions{LabelSelector: "kubernetes.io/service-name=" + service})
	if err != nil {
		return false, fmt.Errorf("reading endpoints of service %s/%s: %w", namespace, service, err)
	}
	for _, s := range slices.Items {
		for _, e := range s.Endpoints {
			if e.Conditions.Ready == nil || *e.Conditions.Ready {
				return true, nil
			}
		}
	}
	return false, nil
}

func hasCondition(obj *unstructured.Unstructured, conditionType string) bool {
	conditions, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
	for _, c := range conditions {
		if m, ok := c.(map[string]any); ok && m["type"] == conditionType && m["status"] == "True" {
			return true
		}
	}
	return false
}

// compare reports how the live objects differ from the applied ones:
// deleted objects and, when objects hold their applied content, edits to
// what users and tools most often change by hand (ConfigMap data,
// container images). It also says whether all are ready.
func (in *Installer) compare(ctx context.Context, objects []*unstructured.Unstructured, webhooks bool) ([]string, bool, error) {
	var drift []string
	ready := true
	for _, obj := range objects {
		live, err := in.get(ctx, obj)
		if apierrors.IsNotFound(err) {
			drift = append(drift, describe(obj)+": deleted")
			ready = false
			continue
		}
		if err != nil {
			return nil, false, fmt.Errorf("reading %s: %w", describe(obj), err)
		}
		switch kind := obj.GetKind(); {
		case !hasContent(obj):
			// Only a reference (a manifest inventory): existence is
			// what can be compared.
		case kind == "ConfigMap":
			if !reflect.DeepEqual(orEmpty(obj.Object["data"]), orEmpty(live.Object["data"])) {
				drift = append(drift, describe(obj)+": data changed")
			}
		case kind == "Deployment" || kind == "StatefulSet" || kind == "DaemonSet":
			if want, got := images(obj), images(live); !reflect.DeepEqual(want, got) {
				drift = append(drift, fmt.Sprintf("%s: images %v, applied %v", describe(obj), got, want))
			}
		}
		why, err := in.notReady(ctx, live, webhooks)
		if err != nil || why != "" {
			ready = false
		}
	}
	return drift, ready, nil
}

// hasContent reports whether obj holds more than its identity.
func hasContent(obj *unstructured.Unstructured) bool {
	for k := range obj.Object {
		if k != "apiVersion" && k != "kind" && k != "metadata" {
			return true
		}
	}
	return false
}

func orEmpty(v any) any {
	if m, ok := v.(map[string]any); ok && len(m) > 0 {
		return m
	}
	return map[string]any{}
}

func images(obj *unstructured.Unstructured) []string {
	containers, _, _ := unstructured.NestedSlice(obj.Object, "spec", "template", "spec", "containers")
	var out []string
	for _, c := range containers {
		if m, ok := c.(map[string]any); ok {
			image, _ := m["image"].(string)
			out = append(out, image)
		}
	}
	return out
}
