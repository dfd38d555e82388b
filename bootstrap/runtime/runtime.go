// Package runtime is the kfstack runtime component: the Pipeline,
// PipelineRun and Schedule CRDs (runtime/api/crds) and the controller that drives them
// (kfstack-runtime controller), with its ServiceAccount, least-privilege
// RBAC, a metrics Service and its namespace, built in Go and applied
// server-side as one manifest set.
//
// Pipelines and PipelineRuns are validated by the OpenAPI schema and CEL
// rules of their CRDs. With Options.Webhooks the controller also serves
// validating admission webhooks (runtime/controller.SetupWebhooks), which
// refuse content that does not compile and changes to a run's settings;
// cert-manager issues their serving certificate and injects its CA. They
// are opt-in, so that nothing else waits for a webhook server before
// pipelines and runs are created.
package runtime

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/kfstack/terraform-provider-kubeflow/bootstrap"
	"github.com/kfstack/terraform-provider-kubeflow/internal/imagerewrite"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/crds"
	kubeflow "github.com/kfstack/terraform-provider-kubeflow/runtime/api/kubeflow/v2beta1"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/v1alpha1"
	apivalidation "github.com/kfstack/terraform-provider-kubeflow/runtime/api/validation"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/rbac"
)

// Name and DefaultNamespace describe the component.
const (
	Name             = "runtime"
	DefaultNamespace = "kfstack-system"
	// ImageRepository is where kfstack publishes the runtime image; its
	// tags are the runtime's (and the provider's) versions.
	ImageRepository = "ghcr.io/kfstack/kfstack-runtime"
	// ReleaseRegistry is the registry prefix that ImageRegistry replaces.
	ReleaseRegistry = "ghcr.io/kfstack"
	// ControllerName names the controller's Deployment, ServiceAccount,
	// Role and RoleBinding.
	ControllerName = "kfstack-runtime-controller"
	// MetricsServiceName names the Service of the Prometheus endpoint.
	MetricsServiceName = "kfstack-runtime-controller-metrics"
	// LeaderElectionID is the Lease the controller replicas elect a leader
	// with (kfstack-runtime controller's LeaderElectionID).
	LeaderElectionID = "kfstack-runtime-controller"
	// MetricsPort and ProbePort are the controller's listening ports; the
	// metrics are served over HTTPS to callers authorised for GET /metrics.
	MetricsPort = 8443
	ProbePort   = 8081
	// CacheKeySecretName names the Secret, in the runtime's namespace,
	// holding the key that signs task cache entries; the controller makes
	// it on first start.
	CacheKeySecretName = "kfstack-runtime-cache-key"
)

// MetricsReaderRoleName names the ClusterRole that lets a scraper (a
// Prometheus service account) read the controller's metrics: bind it with
// a ClusterRoleBinding.
func MetricsReaderRoleName(namespace string) string {
	return "kfstack-runtime-metrics-reader-" + namespace
}

// MetricsReaderRules are what reading the metrics takes: GET on the
// non-resource URL /metrics, which the controller checks with a
// SubjectAccessReview for every scrape.
func MetricsReaderRules() []rbacv1.PolicyRule {
	return []rbacv1.PolicyRule{{NonResourceURLs: []string{"/metrics"}, Verbs: []string{"get"}}}
}

// Options configure the component.
type Options struct {
	// Version is the runtime's version: the tag of the default image.
	Version string
	// Namespace holds the controller; DefaultNamespace when empty.
	Namespace string
	// Image of the controller, also copied into every task pod; the
	// release image of Version when empty.
	Image string
	// ImageRegistry replaces ReleaseRegistry in Image (air-gapped
	// mirrors).
	ImageRegistry string
	// Replicas of the controller; one leads, the others stand by. Zero
	// stops the controller and keeps everything else.
	Replicas int32
	// PipelineRoot is the artifact store of runs that name none: gs://,
	// s3:// or file://.
	PipelineRoot string
	// NodeSelector and Tolerations place the controller's pods.
	NodeSelector map[string]string
	Tolerations  []corev1.Toleration
	// Resources of the controller container; DefaultResources when nil.
	Resources *corev1.ResourceRequirements
	// SkipRollout returns from Install once the CRDs are Established,
	// without waiting for the controller to become available.
	SkipRollout bool
	// Webhooks registers the validating admission webhooks of Pipeline
	// and PipelineRun, served by the controller with a certificate from
	// a self-signed cert-manager Issuer; cert-manager must be installed.
	// Install then also waits until the webhooks can answer (their CA
	// bundle is injected and their Service has a ready endpoint), unless
	// SkipRollout.
	Webhooks bool
	// MaxRunningTasks caps the task pods unfinished at once across all
	// runs (--max-running-tasks); 0 for no cap.
	MaxRunningTasks int64
	// TaskImageMirrors pull the images of task pods from mirrors: a
	// registry prefix (docker.io, gcr.io/team) to the prefix that
	// replaces it (--image-mirror).
	TaskImageMirrors map[string]string
	// UI installs the web UI (ui.go); nil for none.
	UI *UIOptions
	// MPIJobs runs the MPIJob controller: "true", "false" or "auto" (the
	// default when empty: on unless another controller, such as
	// mpi-operator, installed the MPIJob CRD). Unless "false", the MPIJob
	// CRD is installed (an existing one adopted) with the controller's
	// permissions and the roles that let profile members use MPIJobs.
	MPIJobs string
	// MPIGangScheduler names the gang scheduler of MPI jobs ("volcano",
	// or a scheduler-plugins scheduler), which then get PodGroups.
	MPIGangScheduler string
}

// DefaultImage is the release image of a runtime version.
func DefaultImage(version string) string {
	return ImageRepository + ":" + version
}

// DefaultResources are the controller's requests and limits: it holds
// slim pods and compiled plans in memory, about 100 MiB for thousands of
// tasks (bench/RESULTS.md).
func DefaultResources() corev1.ResourceRequirements {
	return corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("128Mi")},
		Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("512Mi")},
	}
}

// CheckImage reports why image is not a usable image reference.
func CheckImage(image string) error {
	if _, err := imagerewrite.Normalize(image); err != nil {
		return fmt.Errorf("%q is not an image reference such as %s: %w", image, DefaultImage("v0.1.0"), err)
	}
	return nil
}

// PipelineRootSchemes are the artifact stores the runtime can open.
var PipelineRootSchemes = []string{"gs", "s3", "file"}

// CheckPipelineRoot reports why root is not a pipeline root the runtime
// can open (apivalidation.ParsePipelineRoot, as the controller checks it).
func CheckPipelineRoot(root string) error {
	if _, err := apivalidation.ParsePipelineRoot(root); err != nil {
		return fmt.Errorf("%q: %w", root, err)
	}
	return nil
}

// ResolvedImage is the controller's image: Image, or the release image of
// Version, after the registry override.
func (o Options) ResolvedImage() (string, error) {
	image := o.Image
	if image == "" {
		image = DefaultImage(o.Version)
	}
	if err := CheckImage(image); err != nil {
		return "", fmt.Errorf("image: %w", err)
	}
	if o.ImageRegistry == "" {
		return image, nil
	}
	rules := imagerewrite.Rules{Mirrors: map[string]string{ReleaseRegistry: strings.TrimSuffix(o.ImageRegistry, "/")}}
	if err := rules.Validate(); err != nil {
		return "", fmt.Errorf("image_registry: %w", err)
	}
	return rules.Rewrite(image)
}

func (o Options) validate() error {
	var errs []string
	if errs2 := validation.IsDNS1123Label(o.Namespace); len(errs2) > 0 {
		errs = append(errs, fmt.Sprintf("namespace: %q: %s", o.Namespace, strings.Join(errs2, "; ")))
	}
	if o.Version == "" && o.Image == "" {
		errs = append(errs, "version: a version (the release image's tag) or an image is needed")
	}
	if o.Replicas < 0 {
		errs = append(errs, fmt.Sprintf("replicas: %d is negative", o.Replicas))
	}
	if err := CheckWebhookReplicas(o.Webhooks, int64(o.Replicas)); err != nil {
		errs = append(errs, err.Error())
	}
	if err := CheckMPIJobs(o.MPIJobs); err != nil {
		errs = append(errs, "mpi_jobs: "+err.Error())
	}
	if o.PipelineRoot != "" {
		if err := CheckPipelineRoot(o.PipelineRoot); err != nil {
			errs = append(errs, "pipeline_root: "+err.Error())
		}
	}
	for k, v := range o.NodeSelector {
		if e := validation.IsQualifiedName(k); len(e) > 0 {
			errs = append(errs, fmt.Sprintf("node_selector: key %q: %s", k, strings.Join(e, "; ")))
		}
		if e := validation.IsValidLabelValue(v); len(e) > 0 {
			errs = append(errs, fmt.Sprintf("node_selector: value %q of %s: %s", v, k, strings.Join(e, "; ")))
		}
	}
	for i, t := range o.Tolerations {
		if err := CheckToleration(t); err != nil {
			errs = append(errs, fmt.Sprintf("tolerations[%d]: %v", i, err))
		}
	}
	if o.MaxRunningTasks < 0 {
		errs = append(errs, fmt.Sprintf("max_running_tasks: %d is negative", o.MaxRunningTasks))
	}
	if err := CheckTaskImageMirrors(o.TaskImageMirrors); err != nil {
		errs = append(errs, "task_image_mirrors: "+err.Error())
	}
	if err := CheckUI(o.UI); err != nil {
		errs = append(errs, "ui: "+err.Error())
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}

// CheckWebhookReplicas reports why webhooks cannot be on with replicas
// controller replicas: the webhooks' failure policy is Fail, so with no
// controller to answer, the API server would refuse every Pipeline and
// PipelineRun.
func CheckWebhookReplicas(webhooks bool, replicas int64) error {
	if webhooks && replicas == 0 {
		return fmt.Errorf("webhooks: the controller serves the admission webhooks, so they need replicas of at least 1 (with none, the API server would refuse every Pipeline, PipelineRun and Schedule); set webhooks = false to stop the controller")
	}
	return nil
}

// CheckToleration reports why t is not a toleration the API server
// accepts.
func CheckToleration(t corev1.Toleration) error {
	switch t.Operator {
	case corev1.TolerationOpEqual, "":
		if t.Key == "" {
			return fmt.Errorf("operator Equal needs a key")
		}
	case corev1.TolerationOpExists:
		if t.Value != "" {
			return fmt.Errorf("operator Exists takes no value")
		}
	default:
		return fmt.Errorf("operator %q is not Equal or Exists", t.Operator)
	}
	if t.Key != "" {
		if e := validation.IsQualifiedName(t.Key); len(e) > 0 {
			return fmt.Errorf("key %q: %s", t.Key, strings.Join(e, "; "))
		}
	}
	switch t.Effect {
	case "", corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute:
	default:
		return fmt.Errorf("effect %q is not NoSchedule, PreferNoSchedule or NoExecute", t.Effect)
	}
	if t.TolerationSeconds != nil && t.Effect != corev1.TaintEffectNoExecute {
		return fmt.Errorf("toleration_seconds needs the NoExecute effect")
	}
	return nil
}

// ClusterRoleName names the controller's ClusterRole and
// ClusterRoleBinding, which are cluster-wide: one per namespace the
// runtime is installed in.
func ClusterRoleName(namespace string) string {
	return "kfstack-runtime-controller-" + namespace
}

// Component returns the runtime component. Its one manifest set applies,
// in order, the namespace, the CRDs (waiting until Established), the
// ServiceAccount and RBAC, and the controller's Deployment and metrics
// Service; the component is ready when the CRDs are Established and the
// Deployment is Available. With Options.Webhooks it also applies the
// webhook Service, a self-signed cert-manager Issuer and the serving
// Certificate, and the ValidatingWebhookConfiguration (last), and is
// ready once the webhooks can answer. Uninstall deletes every Pipeline and
// PipelineRun while the controller still runs, then the rest in reverse
// order; CRDs that existed before the runtime first installed them
// (made by another field manager) are adopted: updated, but never
// deleted.
func Component(o Options) (*bootstrap.Component, error) {
	if o.Namespace == "" {
		o.Namespace = DefaultNamespace
	}
	if err := o.validate(); err != nil {
		return nil, err
	}
	image, err := o.ResolvedImage()
	if err != nil {
		return nil, err
	}
	objects, err := objects(o, image)
	if err != nil {
		return nil, err
	}
	return &bootstrap.Component{
		Name:      Name,
		Version:   o.Version,
		Namespace: o.Namespace,
		// Its pods need nothing from the other components; task pods that
		// write to s3:// or gs:// need their own credentials.
		Manifests:       []bootstrap.Manifests{{Name: "runtime", Objects: objects, ApplyUnchanged: true}},
		SkipRollout:     o.SkipRollout,
		WaitForWebhooks: o.Webhooks,
	}, nil
}

// CRDNames are the names of the runtime's CRDs.
func CRDNames() ([]string, error) {
	all, err := crds.All()
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(all))
	for _, c := range all {
		names = append(names, c.Name)
	}
	sort.Strings(names)
	return names, nil
}

func labels(o Options) map[string]string {
	l := map[string]string{
		"app.kubernetes.io/name":       "kfstack-runtime",
		"app.kubernetes.io/part-of":    "kfstack",
		"app.kubernetes.io/managed-by": "kfstack",
	}
	if o.Version != "" && len(validation.IsValidLabelValue(o.Version)) == 0 {
		l["app.kubernetes.io/version"] = o.Version
	}
	return l
}

// selector selects the controller's pods; it never changes, since a
// Deployment's selector is immutable.
func selector() map[string]string {
	return map[string]string{"app.kubernetes.io/name": "kfstack-runtime", "app.kubernetes.io/component": "controller"}
}

func withLabels(base map[string]string, more map[string]string) map[string]string {
	out := make(map[string]string, len(base)+len(more))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range more {
		out[k] = v
	}
	return out
}

// Rules are the controller's cluster-wide permissions, generated from the
// +kubebuilder:rbac markers of runtime/controller (runtime/rbac): it reads
// Pipelines and PipelineRuns and writes only their status; for Schedules
// it creates their runs, cancels them under Replace, deletes them beyond
// the history limits and suspends a Schedule after too many failures; it creates,
// reads and deletes task pods and the ConfigMaps holding pipeline
// versions' content; it records events; it asks the API server
// who calls its metrics endpoint and whether they may (TokenReview,
// SubjectAccessReview).
func Rules() []rbacv1.PolicyRule {
	return rbac.ClusterRules()
}

// WebhookRules are what the admission webhooks need beyond Rules: the
// Schedule webhook asks the API server whether a schedule's author may
// create PipelineRuns in its namespace (a schedule runs only what its
// author could run).
func WebhookRules() []rbacv1.PolicyRule {
	return []rbacv1.PolicyRule{
		{APIGroups: []string{"authorization.k8s.io"}, Resources: []string{"subjectaccessreviews"}, Verbs: []string{"create"}},
	}
}

func clusterRules(o Options) []rbacv1.PolicyRule {
	if o.Webhooks {
		return append(Rules(), WebhookRules()...)
	}
	return Rules()
}

// LeaderElectionRules are the controller's permissions in its own
// namespace: its Lease, the events leader election records on it, and the
// Secret of the task cache's signing key, which it reads and makes when
// missing (create cannot be limited to one name; the namespace holds
// nothing else a Secret could reach).
func LeaderElectionRules() []rbacv1.PolicyRule {
	return rbac.NamespaceRules()
}

// Aggregation labels: Kubernetes' admin, edit and view ClusterRoles take
// the rules of every ClusterRole labelled for them.
const (
	AggregateToAdmin = "rbac.authorization.k8s.io/aggregate-to-admin"
	AggregateToEdit  = "rbac.authorization.k8s.io/aggregate-to-edit"
	AggregateToView  = "rbac.authorization.k8s.io/aggregate-to-view"
)

// MemberRoleName names the ClusterRole that the members with role ("view"
// or "edit") get through aggregation, one per runtime namespace as the
// controller's own.
func MemberRoleName(namespace, role string) string {
	return "kfstack-runtime-" + role + "-" + namespace
}

// MemberRules are what a profile's members may do with the runtime's
// kinds: every kind of every CRD in runtime/api/crds, so a kind added
// there (schedules, MPI jobs, experiments) reaches members with no change
// here. view reads; edit also creates, changes and deletes. Neither
// reaches a status (or any other subresource): the controller alone
// writes it, so a run's phase and outputs can be trusted.
func MemberRules(role string) ([]rbacv1.PolicyRule, error) {
	all, err := crds.All()
	if err != nil {
		return nil, err
	}
	byGroup := map[string][]string{}
	for _, crd := range all {
		byGroup[crd.Spec.Group] = append(byGroup[crd.Spec.Group], crd.Spec.Names.Plural)
	}
	verbs := map[string][]string{
		"view": {"get", "list", "watch"},
		"edit": {"create", "update", "patch", "delete", "deletecollection"},
	}[role]
	if verbs == nil {
		return nil, fmt.Errorf("member role %q is not view or edit", role)
	}
	groups := make([]string, 0, len(byGroup))
	for g := range byGroup {
		groups = append(groups, g)
	}
	sort.Strings(groups)
	rules := make([]rbacv1.PolicyRule, 0, len(groups))
	for _, g := range groups {
		resources := byGroup[g]
		sort.Strings(resources)
		rules = append(rules, rbacv1.PolicyRule{APIGroups: []string{g}, Resources: resources, Verbs: verbs})
	}
	return rules, nil
}

// memberRoles are the aggregated ClusterRoles: view's rules reach view,
// edit and admin; edit's reach edit and admin, as Kubernetes' own
// system:aggregate-to-* roles do.
func memberRoles(namespace string, common map[string]string) ([]kruntime.Object, error) {
	aggregate := map[string][]string{
		"view": {AggregateToView, AggregateToEdit, AggregateToAdmin},
		"edit": {AggregateToEdit, AggregateToAdmin},
	}
	var out []kruntime.Object
	for _, role := range []string{"view", "edit"} {
		rules, err := MemberRules(role)
		if err != nil {
			return nil, err
		}
		l := withLabels(common, nil)
		for _, label := range aggregate[role] {
			l[label] = "true"
		}
		out = append(out, &rbacv1.ClusterRole{
			TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRole"},
			ObjectMeta: metav1.ObjectMeta{Name: MemberRoleName(namespace, role), Labels: l},
			Rules:      rules,
		})
	}
	return out, nil
}

// Args are the controller's command-line arguments.
func Args(o Options, image string) []string {
	args := []string{
		"controller",
		"--leader-elect",
		"--leader-election-namespace=" + o.Namespace,
		fmt.Sprintf("--metrics-bind-address=:%d", MetricsPort),
		fmt.Sprintf("--health-probe-bind-address=:%d", ProbePort),
		"--runtime-image=" + image,
		"--runtime-binary=" + v1alpha1.RuntimeBinaryPath,
		"--cache-key-secret=" + o.Namespace + "/" + CacheKeySecretName,
	}
	if o.PipelineRoot != "" {
		args = append(args, "--pipeline-root="+o.PipelineRoot)
	}
	if o.Webhooks {
		args = append(args, webhookArgs()...)
	}
	if o.MaxRunningTasks > 0 {
		args = append(args, fmt.Sprintf("--max-running-tasks=%d", o.MaxRunningTasks))
	}
	args = append(args, mpiJobArgs(o)...)
	prefixes := make([]string, 0, len(o.TaskImageMirrors))
	for prefix := range o.TaskImageMirrors {
		prefixes = append(prefixes, prefix)
	}
	sort.Strings(prefixes)
	for _, prefix := range prefixes {
		args = append(args, "--image-mirror="+prefix+"="+o.TaskImageMirrors[prefix])
	}
	return args
}

// ParseArgs reads back from the controller's arguments the options that
// Args puts there: what a Deployment edited out of band now runs with.
// Arguments it does not know are ignored; an unparsable value counts as
// unset.
func ParseArgs(args []string) Options {
	var o Options
	for _, arg := range args {
		name, value, _ := strings.Cut(arg, "=")
		switch name {
		case "--pipeline-root":
			o.PipelineRoot = value
		case "--max-running-tasks":
			o.MaxRunningTasks, _ = strconv.ParseInt(value, 10, 64)
		case "--image-mirror":
			if prefix, mirror, ok := strings.Cut(value, "="); ok {
				if o.TaskImageMirrors == nil {
					o.TaskImageMirrors = map[string]string{}
				}
				o.TaskImageMirrors[prefix] = mirror
			}
		case "--webhook-port":
			o.Webhooks = value != "" && value != "0"
		case "--mpi-jobs":
			o.MPIJobs = value
		case "--mpi-gang-scheduler":
			o.MPIGangScheduler = value
		}
	}
	return o
}

// CheckTaskImageMirrors reports task image mirrors the controller would
// refuse.
func CheckTaskImageMirrors(mirrors map[string]string) error {
	return imagerewrite.Rules{Mirrors: mirrors}.Validate()
}

func objects(o Options, image string) ([]*unstructured.Unstructured, error) {
	ns := o.Namespace
	common := labels(o)
	meta := func(name string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: name, Namespace: ns, Labels: common}
	}
	resources := DefaultResources()
	if o.Resources != nil {
		resources = *o.Resources
	}
	yes, no := true, false
	uid := int64(65532)
	replicas := o.Replicas
	podLabels := withLabels(common, selector())
	probe := func(path string, period int32) *corev1.Probe {
		return &corev1.Probe{
			ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: path, Port: intstr.FromString("health")}},
			PeriodSeconds: period, TimeoutSeconds: 2, FailureThreshold: 3,
		}
	}
	liveness := probe("/healthz", 20)
	liveness.InitialDelaySeconds = 15
	readiness := probe("/readyz", 10)
	readiness.InitialDelaySeconds = 5

	typed := []kruntime.Object{
		&corev1.Namespace{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"}, ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: common}},
		&corev1.ServiceAccount{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"}, ObjectMeta: meta(ControllerName)},
		&rbacv1.ClusterRole{
			TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRole"},
			ObjectMeta: metav1.ObjectMeta{Name: ClusterRoleName(ns), Labels: common},
			Rules:      clusterRules(o),
		},
		&rbacv1.ClusterRoleBinding{
			TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRoleBinding"},
			ObjectMeta: metav1.ObjectMeta{Name: ClusterRoleName(ns), Labels: common},
			RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: ClusterRoleName(ns)},
			Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: ControllerName, Namespace: ns}},
		},
		&rbacv1.Role{
			TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "Role"},
			ObjectMeta: meta(ControllerName),
			Rules:      LeaderElectionRules(),
		},
		&rbacv1.RoleBinding{
			TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "RoleBinding"},
			ObjectMeta: meta(ControllerName),
			RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: ControllerName},
			Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: ControllerName, Namespace: ns}},
		},
		&appsv1.Deployment{
			TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
			ObjectMeta: meta(ControllerName),
			Spec: appsv1.DeploymentSpec{
				Replicas: &replicas,
				Selector: &metav1.LabelSelector{MatchLabels: selector()},
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: podLabels},
					Spec: corev1.PodSpec{
						ServiceAccountName:            ControllerName,
						TerminationGracePeriodSeconds: ptr(int64(10)),
						NodeSelector:                  o.NodeSelector,
						Tolerations:                   o.Tolerations,
						SecurityContext: &corev1.PodSecurityContext{
							RunAsNonRoot:   &yes,
							RunAsUser:      &uid,
							RunAsGroup:     &uid,
							SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
						},
						Containers: []corev1.Container{{
							Name:    "controller",
							Image:   image,
							Command: []string{v1alpha1.RuntimeBinaryPath},
							Args:    Args(o, image),
							Ports: []corev1.ContainerPort{
								{Name: "https", ContainerPort: MetricsPort, Protocol: corev1.ProtocolTCP},
								{Name: "health", ContainerPort: ProbePort, Protocol: corev1.ProtocolTCP},
							},
							LivenessProbe:  liveness,
							ReadinessProbe: readiness,
							Resources:      resources,
							// Nothing writable is mounted: the local executor is
							// never on in the cluster (no --allow-local-executor),
							// and there is no default file:// pipeline root.
							SecurityContext: &corev1.SecurityContext{
								AllowPrivilegeEscalation: &no,
								ReadOnlyRootFilesystem:   &yes,
								Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
							},
						}},
					},
				},
			},
		},
		&corev1.Service{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
			ObjectMeta: meta(MetricsServiceName),
			Spec: corev1.ServiceSpec{
				Selector: selector(),
				Ports:    []corev1.ServicePort{{Name: "https", Port: MetricsPort, TargetPort: intstr.FromString("https"), Protocol: corev1.ProtocolTCP}},
			},
		},
		&rbacv1.ClusterRole{
			TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRole"},
			ObjectMeta: metav1.ObjectMeta{Name: MetricsReaderRoleName(ns), Labels: common},
			Rules:      MetricsReaderRules(),
		},
	}
	members, err := memberRoles(ns, common)
	if err != nil {
		return nil, err
	}
	typed = append(typed, members...)
	var certManager []*unstructured.Unstructured
	if o.Webhooks {
		for _, obj := range typed {
			if d, ok := obj.(*appsv1.Deployment); ok {
				addWebhookServer(d)
			}
		}
		more, issuer := webhookObjects(ns, common)
		addMPIJobWebhook(o, more)
		typed = append(typed, more...)
		certManager = append(certManager, issuer...)
	}
	// After the webhooks: the UI's Deployment does not serve them.
	if o.UI != nil {
		more, istio := uiObjects(o, image, common)
		typed = append(typed, more...)
		certManager = append(certManager, istio...)
	}
	all, err := crds.All()
	if err != nil {
		return nil, err
	}
	for _, crd := range all {
		if crd.Name == kubeflow.CRDName && !mpiJobsOn(o) {
			continue
		}
		crd.TypeMeta = metav1.TypeMeta{APIVersion: "apiextensions.k8s.io/v1", Kind: "CustomResourceDefinition"}
		crd.Labels = withLabels(crd.Labels, common)
		if crd.Name == kubeflow.CRDName {
			crd.Annotations = withLabels(crd.Annotations, map[string]string{bootstrap.KeepWhileInUseAnnotation: "true"})
		}
		typed = append(typed, crd)
	}
	typed = append(typed, mpiJobObjects(o, common)...)
	out, err := encode(typed)
	if err != nil {
		return nil, err
	}
	return append(out, certManager...), nil
}

// encode turns typed objects into what a manifest set applies.
func encode(typed []kruntime.Object) ([]*unstructured.Unstructured, error) {
	out := make([]*unstructured.Unstructured, 0, len(typed))
	for _, obj := range typed {
		raw, err := kruntime.DefaultUnstructuredConverter.ToUnstructured(obj)
		if err != nil {
			return nil, fmt.Errorf("encoding %T: %w", obj, err)
		}
		// What the API server fills in is not part of what is applied.
		delete(raw, "status")
		if m, ok := raw["metadata"].(map[string]any); ok {
			delete(m, "creationTimestamp")
		}
		if tmpl, found, _ := unstructured.NestedMap(raw, "spec", "template", "metadata"); found {
			delete(tmpl, "creationTimestamp")
			if err := unstructured.SetNestedMap(raw, tmpl, "spec", "template", "metadata"); err != nil {
				return nil, err
			}
		}
		out = append(out, &unstructured.Unstructured{Object: raw})
	}
	return out, nil
}

func ptr[T any](v T) *T { return &v }
