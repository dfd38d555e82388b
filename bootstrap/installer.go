package bootstrap

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/releaseutil"
	"helm.sh/helm/v3/pkg/storage/driver"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"sigs.k8s.io/yaml"
)

// FieldManager is the server-side apply field manager of what the
// bootstrapper applies itself (CRDs, namespaces).
const FieldManager = "kfstack-bootstrap"

// Installer installs, checks and uninstalls components on one cluster.
type Installer struct {
	config   *rest.Config
	core     kubernetes.Interface
	dynamic  dynamic.Interface
	mapper   *restmapper.DeferredDiscoveryRESTMapper
	log      Logger
	cacheDir string
}

// NewInstaller returns an installer for the cluster that config reaches.
// Downloaded charts are cached below cacheDir (a temporary directory when
// empty); log receives progress (nothing when nil).
func NewInstaller(config *rest.Config, cacheDir string, log Logger) (*Installer, error) {
	core, err := kubernetes.NewForConfig(config)
	if err != nil {
		return nil, err
	}
	dyn, err := dynamic.NewForConfig(config)
	if err != nil {
		return nil, err
	}
	if cacheDir == "" {
		cacheDir = filepath.Join(os.TempDir(), "kfstack-charts")
	}
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return nil, err
	}
	if log == nil {
		log = func(context.Context, string, map[string]any) {}
	}
	return &Installer{
		config:   config,
		core:     core,
		dynamic:  dyn,
		mapper:   restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(core.Discovery())),
		log:      log,
		cacheDir: cacheDir,
	}, nil
}

func (r Release) namespace(c *Component) string {
	if r.Namespace != "" {
		return r.Namespace
	}
	return c.Namespace
}

// Install installs or upgrades every release of the component, in order,
// and waits until all of their objects are ready. A release that does not
// become ready is rolled back (or removed, if it was new), so a failed
// install leaves the cluster as it was.
func (in *Installer) Install(ctx context.Context, c *Component) (*Status, error) {
	status := &Status{}
	for _, r := range c.Releases {
		ns := r.namespace(c)
		cfg, err := in.helmConfig(ctx, ns)
		if err != nil {
			return nil, err
		}
		// The chart first: a wrong version or an unreachable mirror must
		// leave nothing behind, not even the namespace.
		ch, err := in.loadChart(ctx, r.Chart, cfg)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", c.Name, err)
		}
		if err := in.ensureNamespace(ctx, ns); err != nil {
			return nil, err
		}
		rel, err := in.unchangedRelease(ctx, cfg, ch, r, c.WaitForWebhooks)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", c.Name, err)
		}
		if rel == nil {
			if rel, err = in.upgradeInstall(ctx, cfg, ch, r, ns); err != nil {
				return nil, fmt.Errorf("%s: %w", c.Name, err)
			}
		}
		objects, err := in.releaseObjects(rel)
		if err != nil {
			return nil, err
		}
		if err := in.waitReady(ctx, c.awaited(objects), c.WaitForWebhooks); err != nil {
			undo := in.rollback(ctx, cfg, r.Name)
			if rel.Version == 1 {
				undo = in.undoInstall(ctx, cfg, r.Name)
			}
			return nil, errors.Join(fmt.Errorf("%s: release %s did not become ready: %w", c.Name, r.Name, err), undo)
		}
		status.Releases = append(status.Releases, releaseStatus(rel, len(objects)))
	}
	for _, m := range c.Manifests {
		objects, err := in.applyManifests(ctx, m, c.Namespace)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", c.Name, err)
		}
		if err := in.waitReady(ctx, c.awaited(objects), c.WaitForWebhooks); err != nil {
			return nil, fmt.Errorf("%s: %s did not become ready: %w", c.Name, m.Name, err)
		}
		refs, err := in.readInventory(ctx, m.Name, c.Namespace)
		if err != nil {
			return nil, err
		}
		status.Manifests = append(status.Manifests, ManifestStatus{Name: m.Name, Objects: len(objects), Adopted: adopted(refs)})
	}
	if c.SkipRollout {
		// Not waited for: say what is true now.
		checked, err := in.Check(ctx, c)
		if err != nil {
			return nil, err
		}
		status.Ready = checked != nil && checked.Ready
		return status, nil
	}
	status.Ready = true
	return status, nil
}

// awaited is what Install waits for among objects: all of them, or only
// the CRDs with SkipRollout.
func (c *Component) awaited(objects []*unstructured.Unstructured) []*unstructured.Unstructured {
	if c.SkipRollout {
		return crdsOf(objects)
	}
	return objects
}

// unchangedRelease returns the deployed release when an upgrade would
// change nothing: same chart and version, same values, every object
// still there as applied. Install then keeps it (after applying the
// chart's CRDs) instead of adding an identical revision, so that a change
// elsewhere in the component (its ClusterIssuer) does not upgrade the
// release. It returns nil when the release must be installed or upgraded.
func (in *Installer) unchangedRelease(ctx context.Context, cfg *action.Configuration, ch *chart.Chart, r Release, webhooks bool) (*release.Release, error) {
	last, err := cfg.Releases.Last(r.Name)
	if errors.Is(err, driver.ErrReleaseNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading release %s: %w", r.Name, err)
	}
	if last.Info == nil || last.Info.Status != release.StatusDeployed || last.Chart == nil || last.Chart.Metadata == nil {
		return nil, nil
	}
	if last.Chart.Metadata.Name != ch.Metadata.Name || last.Chart.Metadata.Version != ch.Metadata.Version {
		return nil, nil
	}
	same, err := sameValues(last.Config, r.Values)
	if err != nil || !same {
		return nil, err
	}
	objects, err := in.releaseObjects(last)
	if err != nil {
		return nil, err
	}
	drift, _, err := in.compare(ctx, objects, webhooks)
	if err != nil || len(drift) > 0 {
		return nil, err
	}
	if err := in.applyCRDs(ctx, ch); err != nil {
		return nil, err
	}
	in.log(ctx, "release unchanged: not upgrading", map[string]any{"release": r.Name, "revision": last.Version})
	return last, nil
}

// sameValues compares values as Helm stores them (JSON).
func sameValues(a, b map[string]any) (bool, error) {
	if a == nil {
		a = map[string]any{}
	}
	if b == nil {
		b = map[string]any{}
	}
	ja, err := json.Marshal(a)
	if err != nil {
		return false, err
	}
	jb, err := json.Marshal(b)
	if err != nil {
		return false, err
	}
	return string(ja) == string(jb), nil
}

func releaseStatus(rel *release.Release, objects int) ReleaseStatus {
	return ReleaseStatus{
		Name:         rel.Name,
		Namespace:    rel.Namespace,
		Revision:     rel.Version,
		ChartVersion: rel.Chart.Metadata.Version,
		AppVersion:   rel.Chart.Metadata.AppVersion,
		Objects:      objects,
	}
}

// Check reads what is installed and compares it with what was applied: a
// missing or failed release, a deleted object, an edited ConfigMap or
// container image. It returns nil, nil when no release of the component
// exists.
func (in *Installer) Check(ctx context.Context, c *Component) (*Status, error) {
	status := &Status{Ready: true}
	found := false
	for _, r := range c.Releases {
		ns := r.namespace(c)
		cfg, err := in.helmConfig(ctx, ns)
		if err != nil {
			return nil, err
		}
		rel, err := cfg.Releases.Last(r.Name)
		if errors.Is(err, driver.ErrReleaseNotFound) {
			status.Drift = append(status.Drift, fmt.Sprintf("release %s/%s: not installed", ns, r.Name))
			status.Ready = false
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading release %s: %w", r.Name, err)
		}
		found = true
		if rel.Info.Status != release.StatusDeployed {
			status.Drift = append(status.Drift, fmt.Sprintf("release %s/%s: %s", ns, r.Name, rel.Info.Status))
			status.Ready = false
		}
		objects, err := in.releaseObjects(rel)
		if err != nil {
			return nil, err
		}
		drift, ready, err := in.compare(ctx, objects, c.WaitForWebhooks)
		if err != nil {
			return nil, err
		}
		status.Drift = append(status.Drift, drift...)
		status.Ready = status.Ready && ready
		status.Releases = append(status.Releases, releaseStatus(rel, len(objects)))
	}
	for _, m := range c.Manifests {
		drift, ready, applied, err := in.checkManifests(ctx, m, c.Namespace, c.WaitForWebhooks)
		if err != nil {
			return nil, err
		}
		if !applied {
			status.Drift = append(status.Drift, m.Name+": not applied")
			status.Ready = false
			continue
		}
		found = true
		status.Drift = append(status.Drift, drift...)
		status.Ready = status.Ready && ready
		refs, err := in.readInventory(ctx, m.Name, c.Namespace)
		if err != nil {
			return nil, err
		}
		status.Manifests = append(status.Manifests, ManifestStatus{Name: m.Name, Objects: len(refs), Adopted: adopted(refs)})
	}
	if !found {
		return nil, nil
	}
	return status, nil
}

// Uninstall removes the component's releases in reverse order, and the
// CRDs the bootstrapper applied from their charts' crds/ folders, after
// the custom resources of those CRDs are gone.
func (in *Installer) Uninstall(ctx context.Context, c *Component) error {
	for i := len(c.Manifests) - 1; i >= 0; i-- {
		in.log(ctx, "deleting manifests", map[string]any{"manifests": c.Manifests[i].Name})
		if err := in.uninstallManifests(ctx, c.Manifests[i], c.Namespace); err != nil {
			return fmt.Errorf("%s: deleting %s: %w", c.Name, c.Manifests[i].Name, err)
		}
	}
	for i := len(c.Releases) - 1; i >= 0; i-- {
		r := c.Releases[i]
		cfg, err := in.helmConfig(ctx, r.namespace(c))
		if err != nil {
			return err
		}
		rel, err := cfg.Releases.Last(r.Name)
		if errors.Is(err, driver.ErrReleaseNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("reading release %s: %w", r.Name, err)
		}
		objects, err := in.releaseObjects(rel)
		if err != nil {
			return err
		}
		chartCRDs, err := chartCRDs(rel.Chart)
		if err != nil {
			return err
		}
		// Custom resources first, while the release's controllers and
		// webhooks still run to handle them.
		if err := in.deleteCustomResources(ctx, append(crdsOf(objects), chartCRDs...), webhooksOf(objects)); err != nil {
			return fmt.Errorf("%s: %w", c.Name, err)
		}
		in.log(ctx, "uninstalling release", map[string]any{"release": r.Name})
		uninstall := action.NewUninstall(cfg)
		uninstall.Timeout = 5 * time.Minute
		if _, err := uninstall.Run(r.Name); err != nil && !errors.Is(err, driver.ErrReleaseNotFound) {
			return fmt.Errorf("%s: uninstalling release %s: %w", c.Name, r.Name, err)
		}
		if err := in.waitGone(ctx, objects); err != nil {
			return fmt.Errorf("%s: uninstalling release %s: %w", c.Name, r.Name, err)
		}
		// CRDs that Helm keeps (helm.sh/resource-policy: keep, as Istio's
		// are) and those from the chart's crds/ folder go too, after the
		// workloads: an uninstall leaves nothing behind.
		var crds []*unstructured.Unstructured
		for _, obj := range objects {
			if obj.GetKind() == "CustomResourceDefinition" && obj.GetAnnotations()["helm.sh/resource-policy"] == "keep" {
				crds = append(crds, obj)
			}
		}
		if err := in.deleteCRDs(ctx, append(crds, chartCRDs...)); err != nil {
			return err
		}
	}
	return nil
}

// ensureNamespace creates a release's namespace if it is missing.
func (in *Installer) ensureNamespace(ctx context.Context, name string) error {
	_, err := in.core.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		_, err = in.core.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
			Name: name, Labels: map[string]string{"app.kubernetes.io/managed-by": "kfstack"},
		}}, metav1.CreateOptions{FieldManager: FieldManager})
		if apierrors.IsAlreadyExists(err) {
			err = nil
		}
	}
	if err != nil {
		return fmt.Errorf("creating namespace %s: %w", name, err)
	}
	return nil
}

var crdResource = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// applyCRDs applies the chart's crds/ folder (its dependencies' too)
// server-side, then waits until each CRD is Established, so the chart's
// custom resources are accepted and CRD changes reach the cluster on
// upgrades.
func (in *Installer) applyCRDs(ctx context.Context, ch *chart.Chart) error {
	crds, err := chartCRDs(ch)
	if err != nil {
		return err
	}
	for _, crd := range crds {
		in.log(ctx, "applying CRD", map[string]any{"crd": crd.GetName()})
		if _, err := in.dynamic.Resource(crdResource).Apply(ctx, crd.GetName(), crd, metav1.ApplyOptions{FieldManager: FieldManager, Force: true}); err != nil {
			return fmt.Errorf("applying CRD %s: %w", crd.GetName(), err)
		}
	}
	if len(crds) > 0 {
		in.mapper.Reset()
	}
	return in.waitReady(ctx, crds, false)
}

func (in *Installer) deleteCRDs(ctx context.Context, crds []*unstructured.Unstructured) error {
	for _, crd := range crds {
		err := in.dynamic.Resource(crdResource).Delete(ctx, crd.GetName(), metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("deleting CRD %s: %w", crd.GetName(), err)
		}
	}
	// The API server deletes the CRDs' custom resources first; a CRD is
	// gone only when they are.
	for _, crd := range crds {
		err := wait.PollUntilContextCancel(ctx, readinessInterval, true, func(ctx context.Context) (bool, error) {
			_, err := in.dynamic.Resource(crdResource).Get(ctx, crd.GetName(), metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return true, nil
			}
			return false, err
		})
		if err != nil {
			return fmt.Errorf("waiting for CRD %s to be deleted: %w", crd.GetName(), err)
		}
	}
	return nil
}

// deleteCustomResources deletes every object of the CRDs' kinds, in every
// namespace, and waits until they are gone, so that their controllers
// still run while their finalizers are handled. A CRD that does not
// exist is skipped. If there are any, the component's admission webhook
// configurations go first: a webhook that validates deletions but no
// longer answers (its server stopped, or never ran) would refuse them.
func (in *Installer) deleteCustomResources(ctx context.Context, crds, webhooks []*unstructured.Unstructured) error {
	var found []*unstructured.Unstructured
	for _, ref := range crds {
		live, err := in.dynamic.Resource(crdResource).Get(ctx, ref.GetName(), metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return fmt.Errorf("reading CRD %s: %w", ref.GetName(), err)
		}
		gvr, kind, ok := servedResource(live)
		if !ok {
			continue
		}
		list, err := in.dynamic.Resource(gvr).List(ctx, metav1.ListOptions{})
		if err != nil {
			return fmt.Errorf("listing %s: %w", gvr.GroupResource(), err)
		}
		if len(list.Items) > 0 {
			in.log(ctx, "deleting custom resources before their CRD", map[string]any{"crd": ref.GetName(), "count": len(list.Items)})
		}
		for i := range list.Items {
			obj := &list.Items[i]
			obj.SetAPIVersion(gvr.GroupVersion().String())
			obj.SetKind(kind)
			found = append(found, obj)
		}
	}
	if len(found) == 0 {
		return nil
	}
	for _, hook := range webhooks {
		client, err := in.resourceFor(hook)
		if err != nil {
			return fmt.Errorf("finding the API of %s: %w", describe(hook), err)
		}
		if err := client.Delete(ctx, hook.GetName(), metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("deleting %s: %w", describe(hook), err)
		}
	}
	for _, obj := range found {
		client, err := in.resourceFor(obj)
		if err != nil {
			return fmt.Errorf("finding the API of %s: %w", describe(obj), err)
		}
		if err := client.Delete(ctx, obj.GetName(), metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("deleting %s: %w", describe(obj), err)
		}
	}
	return in.waitGone(ctx, found)
}

// webhooksOf returns the admission webhook configurations among objects.
func webhooksOf(objects []*unstructured.Unstructured) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, o := range objects {
		if k := o.GetKind(); k == "ValidatingWebhookConfiguration" || k == "MutatingWebhookConfiguration" {
			out = append(out, o)
		}
	}
	return out
}

// servedResource returns the resource and kind a CRD serves, at its
// storage version.
func servedResource(crd *unstructured.Unstructured) (schema.GroupVersionResource, string, bool) {
	group, _, _ := unstructured.NestedString(crd.Object, "spec", "group")
	plural, _, _ := unstructured.NestedString(crd.Object, "spec", "names", "plural")
	kind, _, _ := unstructured.NestedString(crd.Object, "spec", "names", "kind")
	versions, _, _ := unstructured.NestedSlice(crd.Object, "spec", "versions")
	for _, v := range versions {
		m, _ := v.(map[string]any)
		if served, _ := m["served"].(bool); !served {
			continue
		}
		name, _ := m["name"].(string)
		if storage, _ := m["storage"].(bool); storage || len(versions) == 1 {
			return schema.GroupVersionResource{Group: group, Version: name, Resource: plural}, kind, true
		}
	}
	for _, v := range versions {
		if m, _ := v.(map[string]any); m["served"] == true {
			name, _ := m["name"].(string)
			return schema.GroupVersionResource{Group: group, Version: name, Resource: plural}, kind, true
		}
	}
	return schema.GroupVersionResource{}, "", false
}

func chartCRDs(ch *chart.Chart) ([]*unstructured.Unstructured, error) {
	var out []*unstructured.Unstructured
	for _, file := range ch.CRDObjects() {
		objs, err := decodeYAML(file.File.Data)
		if err != nil {
			return nil, fmt.Errorf("reading CRDs of chart %s (%s): %w", ch.Name(), file.Filename, err)
		}
		out = append(out, objs...)
	}
	return out, nil
}

// releaseObjects returns the objects of a release's manifest, with the
// release's namespace set on namespaced objects that name none.
func (in *Installer) releaseObjects(rel *release.Release) ([]*unstructured.Unstructured, error) {
	var out []*unstructured.Unstructured
	for _, doc := range releaseutil.SplitManifests(rel.Manifest) {
		objs, err := decodeYAML([]byte(doc))
		if err != nil {
			return nil, fmt.Errorf("reading the manifest of release %s: %w", rel.Name, err)
		}
		for _, obj := range objs {
			if obj.GetNamespace() == "" {
				namespaced, err := in.namespaced(obj)
				if err != nil {
					return nil, err
				}
				if namespaced {
					obj.SetNamespace(rel.Namespace)
				}
			}
			out = append(out, obj)
		}
	}
	return out, nil
}

func (in *Installer) namespaced(obj *unstructured.Unstructured) (bool, error) {
	gvk := obj.GroupVersionKind()
	mapping, err := in.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if meta.IsNoMatchError(err) {
		in.mapper.Reset()
		mapping, err = in.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	}
	if err != nil {
		return false, fmt.Errorf("finding the API of %s %s: %w", gvk.Kind, obj.GetName(), err)
	}
	return mapping.Scope.Name() == meta.RESTScopeNameNamespace, nil
}

// resourceFor returns the dynamic client of an object's kind.
func (in *Installer) resourceFor(obj *unstructured.Unstructured) (dynamic.ResourceInterface, error) {
	gvk := obj.GroupVersionKind()
	mapping, err := in.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if meta.IsNoMatchError(err) {
		in.mapper.Reset()
		mapping, err = in.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	}
	if err != nil {
		return nil, err
	}
	if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
		return in.dynamic.Resource(mapping.Resource).Namespace(obj.GetNamespace()), nil
	}
	return in.dynamic.Resource(mapping.Resource), nil
}

// decodeYAML decodes a multi-document YAML stream into objects, skipping
// empty documents.
func decodeYAML(data []byte) ([]*unstructured.Unstructured, error) {
	var out []*unstructured.Unstructured
	for _, doc := range releaseutil.SplitManifests(string(data)) {
		obj := map[string]any{}
		if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
			return nil, err
		}
		if len(obj) == 0 {
			continue
		}
		u := &unstructured.Unstructured{Object: obj}
		if u.IsList() {
			list, err := u.ToList()
			if err != nil {
				return nil, err
			}
			for i := range list.Items {
				out = append(out, &list.Items[i])
			}
			continue
		}
		out = append(out, u)
	}
	return out, nil
}
