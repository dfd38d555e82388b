package bootstrap

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/kfstack/terraform-provider-kubeflow/internal/imagerewrite"
)

// Manifests are release YAML files (Knative publishes its releases this
// way) built with kustomize in memory and applied server-side.
type Manifests struct {
	// Name identifies the set; its inventory is named after it.
	Name string
	// URLs of the YAML files: http(s) URLs or local paths.
	URLs []string
	// Patches are strategic-merge patches (YAML) applied by kustomize,
	// such as a ConfigMap's settings.
	Patches []string
	// Objects are objects built in Go (a component of this project has no
	// release file to fetch), built with the files and patched like them.
	Objects []*unstructured.Unstructured
	// Images rewrites the images of every pod template, for mirrors.
	Images imagerewrite.Rules
	// ApplyUnchanged applies every object on every install, not only those
	// that changed since the last one, so that an edit made out of band
	// (a Deployment's image or replicas) is put back. For sets without
	// admission webhooks of their own, where applying again is cheap.
	ApplyUnchanged bool
}

// KeepWhileInUseAnnotation ("true") on a CRD makes uninstall leave it,
// and its custom resources, in place while any custom resource of it
// exists, instead of deleting them first: for kinds that users make
// themselves (MPIJobs), which an uninstall of the platform must not take
// with it.
const KeepWhileInUseAnnotation = "kfstack.dev/keep-while-in-use"

// inventoryRef is one applied object and the hash of what was applied, so
// a later apply patches only what changed and a check finds what was
// deleted.
type inventoryRef struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Namespace  string `json:"namespace,omitempty"`
	Name       string `json:"name"`
	Hash       string `json:"hash"`
	// Adopted marks an object that existed, without this set's
	// InventoryAnnotation, before the set first applied it (a CRD
	// installed by another tool, a namespace created beforehand): it is
	// kept up to date, but uninstall leaves it, and the custom resources
	// of an adopted CRD, in place.
	Adopted bool `json:"adopted,omitempty"`
}

func inventoryName(set string) string { return "kfstack-inventory-" + set }

// InventoryAnnotation marks the objects a manifest set made, with the
// namespace and name of its inventory: an object that exists without it
// (or names another inventory) is adopted, not owned.
const InventoryAnnotation = "kfstack.dev/inventory"

// build fetches the files and builds them with kustomize.
func (m Manifests) build(ctx context.Context) ([]*unstructured.Unstructured, error) {
	if len(m.URLs) == 0 && len(m.Objects) == 0 {
		return nil, nil // an empty set: what it held before is deleted
	}
	fs := filesys.MakeFsInMemory()
	kustomization := "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n"
	for i, u := range m.URLs {
		data, err := fetch(ctx, u)
		if err != nil {
			return nil, fmt.Errorf("fetching %s: %w", u, err)
		}
		name := fmt.Sprintf("resource-%d.yaml", i)
		if err := fs.WriteFile("/app/"+name, data); err != nil {
			return nil, err
		}
		kustomization += "- " + name + "\n"
	}
	if len(m.Objects) > 0 {
		var data []byte
		for _, obj := range m.Objects {
			doc, err := yaml.Marshal(obj.Object)
			if err != nil {
				return nil, fmt.Errorf("encoding %s: %w", describe(obj), err)
			}
			data = append(append(data, "---\n"...), doc...)
		}
		if err := fs.WriteFile("/app/objects.yaml", data); err != nil {
			return nil, err
		}
		kustomization += "- objects.yaml\n"
	}
	if len(m.Patches) > 0 {
		kustomization += "patches:\n"
		for i, p := range m.Patches {
			name := fmt.Sprintf("patch-%d.yaml", i)
			if err := fs.WriteFile("/app/"+name, []byte(p)); err != nil {
				return nil, err
			}
			kustomization += "- path: " + name + "\n"
		}
	}
	if err := fs.WriteFile("/app/kustomization.yaml", []byte(kustomization)); err != nil {
		return nil, err
	}
	resmap, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(fs, "/app")
	if err != nil {
		return nil, fmt.Errorf("building %s with kustomize: %w", m.Name, err)
	}
	data, err := resmap.AsYaml()
	if err != nil {
		return nil, err
	}
	objects, err := decodeYAML(data)
	if err != nil {
		return nil, err
	}
	for _, obj := range objects {
		if err := rewriteImages(obj, m.Images); err != nil {
			return nil, err
		}
	}
	return objects, nil
}

func fetch(ctx context.Context, location string) ([]byte, error) {
	if !strings.HasPrefix(location, "http://") && !strings.HasPrefix(location, "https://") {
		return os.ReadFile(location)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, location, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s", resp.Status)
	}
	return io.ReadAll(resp.Body)
}

// rewriteImages applies the mirror rules to a workload's pod template.
func rewriteImages(obj *unstructured.Unstructured, rules imagerewrite.Rules) error {
	if len(rules.Exact) == 0 && len(rules.Mirrors) == 0 {
		return nil
	}
	path := []string{"spec", "template", "spec"}
	switch obj.GetKind() {
	case "Deployment", "DaemonSet", "StatefulSet", "Job", "ReplicaSet":
	case "CronJob":
		path = []string{"spec", "jobTemplate", "spec", "template", "spec"}
	default:
		return nil
	}
	raw, found, err := unstructured.NestedMap(obj.Object, path...)
	if err != nil || !found {
		return err
	}
	var spec corev1.PodSpec
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(raw, &spec); err != nil {
		return err
	}
	if err := rules.RewritePodSpec(&spec); err != nil {
		return fmt.Errorf("rewriting the images of %s: %w", describe(obj), err)
	}
	for _, list := range []struct {
		field      string
		containers []corev1.Container
	}{{"containers", spec.Containers}, {"initContainers", spec.InitContainers}} {
		items, _, _ := unstructured.NestedSlice(raw, list.field)
		for i := range items {
			if c, ok := items[i].(map[string]any); ok && i < len(list.containers) {
				c["image"] = list.containers[i].Image
			}
		}
		if items != nil {
			if err := unstructured.SetNestedSlice(raw, items, list.field); err != nil {
				return err
			}
		}
	}
	return unstructured.SetNestedMap(obj.Object, raw, path...)
}

// applyOrder ranks kinds so that what others need comes first: namespaces,
// CRDs, then configuration and RBAC, then workloads, and admission
// webhooks last (applying them earlier would make the API server send the
// component's own objects to a webhook that is not running yet).
func applyOrder(kind string) int {
	switch kind {
	case "Namespace":
		return 0
	case "CustomResourceDefinition":
		return 1
	case "ServiceAccount", "ConfigMap", "Secret", "ClusterRole", "Role", "ClusterRoleBinding", "RoleBinding":
		return 2
	case "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration":
		return 5
	case "Deployment", "DaemonSet", "StatefulSet", "Service", "Job":
		return 3
	}
	return 4
}

func objectHash(obj *unstructured.Unstructured) (string, error) {
	data, err := json.Marshal(obj.Object)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:8]), nil
}

// applyManifests builds and applies a manifest set, recording what it
// applied in an inventory ConfigMap in namespace. Objects whose content is
// unchanged since the last apply and that still exist are not patched
// again; objects a previous apply made that the new build lacks are
// deleted.
func (in *Installer) applyManifests(ctx context.Context, m Manifests, namespace string) ([]*unstructured.Unstructured, error) {
	objects, err := m.build(ctx)
	if err != nil {
		return nil, err
	}
	slices.SortStableFunc(objects, func(a, b *unstructured.Unstructured) int { return applyOrder(a.GetKind()) - applyOrder(b.GetKind()) })
	previous, err := in.readInventory(ctx, m.Name, namespace)
	if err != nil {
		return nil, err
	}
	applied := map[string]inventoryRef{}
	for _, ref := range previous {
		applied[refKey(ref)] = ref
	}
	inventory := make([]inventoryRef, 0, len(objects))
	for _, obj := range objects {
		hash, err := objectHash(obj)
		if err != nil {
			return nil, err
		}
		inventory = append(inventory, inventoryRef{APIVersion: obj.GetAPIVersion(), Kind: obj.GetKind(), Namespace: obj.GetNamespace(), Name: obj.GetName(), Hash: hash})
	}
	crdsApplied := false
	for i, obj := range objects {
		ref := &inventory[i]
		prev, known := applied[refKey(*ref)]
		if known && prev.Hash == ref.Hash && !m.ApplyUnchanged {
			if _, err := in.get(ctx, obj); err == nil {
				ref.Adopted = prev.Adopted
				continue
			}
		}
		if obj.GetKind() != "CustomResourceDefinition" && crdsApplied {
			// Custom resources need their CRDs established first.
			if err := in.waitReady(ctx, crdsOf(objects[:i]), false); err != nil {
				return nil, err
			}
			in.mapper.Reset()
			crdsApplied = false
		}
		client, err := in.resourceFor(obj)
		if err != nil {
			return nil, fmt.Errorf("finding the API of %s: %w", describe(obj), err)
		}
		owner := namespace + "/" + inventoryName(m.Name)
		if known {
			ref.Adopted = prev.Adopted
		} else if ref.Adopted, err = in.madeByOthers(ctx, client, obj, owner); err != nil {
			return nil, err
		}
		if ref.Adopted && !known {
			in.log(ctx, "adopting an object that already exists; uninstall will leave it in place", map[string]any{"object": describe(obj)})
		}
		if !ref.Adopted {
			obj = obj.DeepCopy()
			annotations := obj.GetAnnotations()
			if annotations == nil {
				annotations = map[string]string{}
			}
			annotations[InventoryAnnotation] = owner
			obj.SetAnnotations(annotations)
		}
		// Recorded before the apply: an apply interrupted from here on
		// still leaves an inventory that finds what it made.
		if err := in.writeInventory(ctx, m.Name, namespace, mergeRefs(previous, inventory[:i+1])); err != nil && !apierrors.IsNotFound(err) {
			return nil, err
		}
		if _, err := client.Apply(ctx, obj.GetName(), obj, metav1.ApplyOptions{FieldManager: FieldManager, Force: true}); err != nil {
			if strings.Contains(err.Error(), "failed calling webhook") {
				return nil, fmt.Errorf("applying %s: an admission webhook did not answer (waiting for webhooks, wait_for_webhooks in Terraform, makes the install wait until it can): %w", describe(obj), err)
			}
			return nil, fmt.Errorf("applying %s: %w", describe(obj), err)
		}
		if obj.GetKind() == "CustomResourceDefinition" {
			crdsApplied = true
		}
	}
	kept := map[string]bool{}
	for _, ref := range inventory {
		kept[refKey(ref)] = true
	}
	for _, ref := range previous {
		if !kept[refKey(ref)] && !ref.Adopted {
			if err := in.deleteRef(ctx, ref); err != nil {
				return nil, err
			}
		}
	}
	if err := in.writeInventory(ctx, m.Name, namespace, inventory); err != nil {
		return nil, err
	}
	return objects, nil
}

// madeByOthers reports whether obj already exists without the inventory
// annotation of owner: someone else made it (a CRD installed by hand or
// by another installation, a namespace created beforehand), and it is
// adopted. An object this set made in an apply that was interrupted
// before its inventory was written carries the annotation, and is not.
func (in *Installer) madeByOthers(ctx context.Context, client dynamic.ResourceInterface, obj *unstructured.Unstructured, owner string) (bool, error) {
	live, err := client.Get(ctx, obj.GetName(), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("reading %s: %w", describe(obj), err)
	}
	return live.GetAnnotations()[InventoryAnnotation] != owner, nil
}

// mergeRefs is previous with refs added or replacing those of the same
// object.
func mergeRefs(previous, refs []inventoryRef) []inventoryRef {
	out := slices.Clone(refs)
	seen := map[string]bool{}
	for _, r := range refs {
		seen[refKey(r)] = true
	}
	for _, r := range previous {
		if !seen[refKey(r)] {
			out = append(out, r)
		}
	}
	return out
}

func crdsOf(objects []*unstructured.Unstructured) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, o := range objects {
		if o.GetKind() == "CustomResourceDefinition" {
			out = append(out, o)
		}
	}
	return out
}

// adopted names the adopted objects among refs, as "Kind name".
func adopted(refs []inventoryRef) []string {
	var out []string
	for _, r := range refs {
		if r.Adopted {
			out = append(out, r.Kind+" "+r.Name)
		}
	}
	return out
}

func refKey(r inventoryRef) string {
	return r.APIVersion + "/" + r.Kind + "/" + r.Namespace + "/" + r.Name
}

func refObject(r inventoryRef) *unstructured.Unstructured {
	obj := &unstructured.Unstructured{}
	obj.SetAPIVersion(r.APIVersion)
	obj.SetKind(r.Kind)
	obj.SetNamespace(r.Namespace)
	obj.SetName(r.Name)
	return obj
}

// Inventory returns the objects (identity only) that a manifest set of
// the component last applied, as recorded in its inventory; nil when it
// was never applied.
func (in *Installer) Inventory(ctx context.Context, c *Component, set string) ([]*unstructured.Unstructured, error) {
	refs, err := in.readInventory(ctx, set, c.Namespace)
	if err != nil || refs == nil {
		return nil, err
	}
	out := make([]*unstructured.Unstructured, 0, len(refs))
	for _, r := range refs {
		out = append(out, refObject(r))
	}
	return out, nil
}

func (in *Installer) readInventory(ctx context.Context, set, namespace string) ([]inventoryRef, error) {
	cm, err := in.core.CoreV1().ConfigMaps(namespace).Get(ctx, inventoryName(set), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the inventory of %s: %w", set, err)
	}
	var refs []inventoryRef
	if err := json.Unmarshal([]byte(cm.Data["objects"]), &refs); err != nil {
		return nil, fmt.Errorf("reading the inventory of %s: %w", set, err)
	}
	return refs, nil
}

func (in *Installer) writeInventory(ctx context.Context, set, namespace string, refs []inventoryRef) error {
	data, err := json.Marshal(refs)
	if err != nil {
		return err
	}
	cm := corev1ac.ConfigMap(inventoryName(set), namespace).
		WithLabels(map[string]string{"app.kubernetes.io/managed-by": "kfstack"}).
		WithData(map[string]string{"objects": string(data)})
	if _, err := in.core.CoreV1().ConfigMaps(namespace).Apply(ctx, cm, metav1.ApplyOptions{FieldManager: FieldManager, Force: true}); err != nil {
		return fmt.Errorf("writing the inventory of %s: %w", set, err)
	}
	return nil
}

func (in *Installer) deleteRef(ctx context.Context, ref inventoryRef) error {
	client, err := in.resourceFor(refObject(ref))
	if meta.IsNoMatchError(err) {
		return nil // its API is gone, and so is the object
	}
	if err != nil {
		return err
	}
	if err := client.Delete(ctx, ref.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting %s %s: %w", ref.Kind, ref.Name, err)
	}
	return nil
}

// checkManifests reports the inventory's objects that were deleted, and
// whether all are ready. found is false when nothing was ever applied.
func (in *Installer) checkManifests(ctx context.Context, m Manifests, namespace string, webhooks bool) (drift []string, ready, found bool, err error) {
	refs, err := in.readInventory(ctx, m.Name, namespace)
	if err != nil || refs == nil {
		return nil, false, false, err
	}
	var objects []*unstructured.Unstructured
	for _, r := range refs {
		objects = append(objects, refObject(r))
	}
	drift, ready, err = in.compare(ctx, objects, webhooks)
	return drift, ready, true, err
}

// uninstallManifests deletes what the inventory lists in reverse apply
// order, webhooks first and CRDs and namespaces last, then the inventory.
func (in *Installer) uninstallManifests(ctx context.Context, m Manifests, namespace string) error {
	refs, err := in.readInventory(ctx, m.Name, namespace)
	if err != nil || refs == nil {
		return err
	}
	slices.SortStableFunc(refs, func(a, b inventoryRef) int { return applyOrder(b.Kind) - applyOrder(a.Kind) })
	// Custom resources first, while the controllers that handle them (their
	// finalizers) still run; then the rest, CRDs last.
	var crds, owned []*unstructured.Unstructured
	for _, ref := range refs {
		if ref.Adopted {
			continue
		}
		owned = append(owned, refObject(ref))
		if ref.Kind == "CustomResourceDefinition" {
			crds = append(crds, refObject(ref))
		}
	}
	if crds, err = in.unusedCRDs(ctx, crds); err != nil {
		return err
	}
	if err := in.deleteCustomResources(ctx, crds, webhooksOf(owned)); err != nil {
		return err
	}
	// Then the rest in reverse apply order, CRDs after everything else
	// is gone, and the namespace that holds the inventory last, once no
	// CRD is being deleted: a namespace deleted while CRDs go can meet
	// stale discovery, which makes its controller back off for minutes.
	var objects []*unstructured.Unstructured
	for _, ref := range refs {
		if ref.Adopted || ref.Kind == "CustomResourceDefinition" || (ref.Kind == "Namespace" && ref.Name == namespace) {
			continue
		}
		if err := in.deleteRef(ctx, ref); err != nil {
			return err
		}
		objects = append(objects, refObject(ref))
	}
	if err := in.waitGone(ctx, objects); err != nil {
		return err
	}
	for _, crd := range crds {
		if err := ignoreNotFound(in.dynamic.Resource(crdResource).Delete(ctx, crd.GetName(), metav1.DeleteOptions{})); err != nil {
			return fmt.Errorf("deleting CRD %s: %w", crd.GetName(), err)
		}
	}
	if err := in.waitGone(ctx, crds); err != nil {
		return err
	}
	if err := ignoreNotFound(in.core.CoreV1().ConfigMaps(namespace).Delete(ctx, inventoryName(m.Name), metav1.DeleteOptions{})); err != nil {
		return err
	}
	for _, ref := range refs {
		if ref.Kind == "Namespace" && ref.Name == namespace && !ref.Adopted {
			if err := in.deleteRef(ctx, ref); err != nil {
				return err
			}
			return in.waitGone(ctx, []*unstructured.Unstructured{refObject(ref)})
		}
	}
	return nil
}

// unusedCRDs are crds but those marked KeepWhileInUseAnnotation that
// custom resources still use, which are left in place (the log says why).
func (in *Installer) unusedCRDs(ctx context.Context, crds []*unstructured.Unstructured) ([]*unstructured.Unstructured, error) {
	var out []*unstructured.Unstructured
	for _, ref := range crds {
		live, err := in.dynamic.Resource(crdResource).Get(ctx, ref.GetName(), metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading CRD %s: %w", ref.GetName(), err)
		}
		if gvr, _, ok := servedResource(live); ok && live.GetAnnotations()[KeepWhileInUseAnnotation] == "true" {
			list, err := in.dynamic.Resource(gvr).List(ctx, metav1.ListOptions{Limit: 1})
			if err != nil {
				return nil, fmt.Errorf("listing %s: %w", gvr.GroupResource(), err)
			}
			if len(list.Items) > 0 {
				in.log(ctx, "keeping a CRD that custom resources still use; delete them, then the CRD, to remove it", map[string]any{"crd": ref.GetName(), "example": list.Items[0].GetNamespace() + "/" + list.Items[0].GetName()})
				continue
			}
		}
		out = append(out, ref)
	}
	return out, nil
}

func ignoreNotFound(err error) error {
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}
