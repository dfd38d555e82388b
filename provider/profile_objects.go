package provider

import (
	"context"
	"fmt"
	"slices"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	rbacv1ac "k8s.io/client-go/applyconfigurations/rbac/v1"

	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/v1alpha1"
)

// Names and labels of the objects a profile is made of.
const (
	managedByLabel   = "app.kubernetes.io/managed-by"
	managedByValue   = "kfstack"
	profileLabel     = "kfstack.dev/profile"
	ownerAnnotation  = "kfstack.dev/owner"
	istioInjection   = "istio-injection"
	gsaAnnotation    = "iam.gke.io/gcp-service-account"
	ownerBinding     = "kfstack-owner"
	runnerBinding    = "kfstack-pipeline-runner"
	quotaName        = "kfstack"
	limitRangeName   = "kfstack"
	authzPolicyName  = "kfstack-members"
	defaultRunnerSA  = "pipeline-runner"
	roleEdit         = "edit"
	roleView         = "view"
	kindUser         = "user"
	kindGroup        = "group"
	gpuResource      = "requests.nvidia.com/gpu"
	tpuResource      = "requests.google.com/tpu"
	userIDHeader     = "kubeflow-userid"
	istioSecurityAPI = "security.istio.io"
)

// contributorBinding is the RoleBinding that grants a role to the
// contributors who have it.
func contributorBinding(role string) string { return "kfstack-" + role }

// profileModel is a kubeflow_profile: one team's environment.
type profileModel struct {
	ID                  types.String       `tfsdk:"id"`
	Name                types.String       `tfsdk:"name"`
	Owner               *memberModel       `tfsdk:"owner"`
	Contributors        []contributorModel `tfsdk:"contributors"`
	Labels              types.Map          `tfsdk:"labels"`
	Annotations         types.Map          `tfsdk:"annotations"`
	ResourceQuota       *quotaModel        `tfsdk:"resource_quota"`
	DefaultLimits       *limitsModel       `tfsdk:"default_limits"`
	IstioInjection      types.Bool         `tfsdk:"istio_injection"`
	WorkloadIdentityGSA types.String       `tfsdk:"workload_identity_gsa"`
	ServiceAccount      types.String       `tfsdk:"service_account"`
	RunServiceAccounts  types.Set          `tfsdk:"run_service_accounts"`
}

type memberModel struct {
	Name types.String `tfsdk:"name"`
	Kind types.String `tfsdk:"kind"`
}

type contributorModel struct {
	Name types.String `tfsdk:"name"`
	Kind types.String `tfsdk:"kind"`
	Role types.String `tfsdk:"role"`
}

type quotaModel struct {
	CPU    types.String `tfsdk:"cpu"`
	Memory types.String `tfsdk:"memory"`
	GPU    types.Int64  `tfsdk:"gpu"`
	TPU    types.Int64  `tfsdk:"tpu"`
	Pods   types.Int64  `tfsdk:"pods"`
	Hard   types.Map    `tfsdk:"hard"`
}

type limitsModel struct {
	CPU           types.String `tfsdk:"cpu"`
	Memory        types.String `tfsdk:"memory"`
	RequestCPU    types.String `tfsdk:"request_cpu"`
	RequestMemory types.String `tfsdk:"request_memory"`
	MaxCPU        types.String `tfsdk:"max_cpu"`
	MaxMemory     types.String `tfsdk:"max_memory"`
}

// quotaKeys maps the typed quota attributes to ResourceQuota keys.
var quotaKeys = struct{ cpu, memory, gpu, tpu, pods corev1.ResourceName }{
	cpu: "requests.cpu", memory: "requests.memory", gpu: gpuResource, tpu: tpuResource, pods: "pods",
}

func typedQuotaKeys() []corev1.ResourceName {
	return []corev1.ResourceName{quotaKeys.cpu, quotaKeys.memory, quotaKeys.gpu, quotaKeys.tpu, quotaKeys.pods}
}

// profileObjects is what a profile applies, built from its model.
type profileObjects struct {
	namespace     *corev1ac.NamespaceApplyConfiguration
	bindings      map[string]*rbacv1ac.RoleBindingApplyConfiguration // by name; a nil value is deleted
	serviceAcct   *corev1ac.ServiceAccountApplyConfiguration
	quota         *corev1ac.ResourceQuotaApplyConfiguration // nil: deleted
	limits        *corev1ac.LimitRangeApplyConfiguration    // nil: deleted
	policyMembers []string                                  // users admitted by the Istio policy
	policyGroups  []string
}

func stringMap(ctx context.Context, m types.Map) (map[string]string, diag.Diagnostics) {
	out := map[string]string{}
	if m.IsNull() || m.IsUnknown() {
		return out, nil
	}
	diags := m.ElementsAs(ctx, &out, false)
	return out, diags
}

func commonLabels(profile string) map[string]string {
	return map[string]string{managedByLabel: managedByValue, profileLabel: profile}
}

func rbacSubject(name, kind string) *rbacv1ac.SubjectApplyConfiguration {
	s := rbacv1ac.Subject().WithName(name).WithAPIGroup(rbacv1.GroupName)
	if kind == kindGroup {
		return s.WithKind(rbacv1.GroupKind)
	}
	return s.WithKind(rbacv1.UserKind)
}

func (m *profileModel) objects(ctx context.Context) (*profileObjects, diag.Diagnostics) {
	var diags diag.Diagnostics
	ns := m.Name.ValueString()
	userLabels, d := stringMap(ctx, m.Labels)
	diags.Append(d...)
	userAnnotations, d := stringMap(ctx, m.Annotations)
	diags.Append(d...)
	if diags.HasError() {
		return nil, diags
	}

	labels := commonLabels(ns)
	for k, v := range userLabels {
		labels[k] = v
	}
	if m.IstioInjection.ValueBool() {
		labels[istioInjection] = "enabled"
	}
	annotations := map[string]string{ownerAnnotation: m.Owner.Name.ValueString()}
	for k, v := range userAnnotations {
		annotations[k] = v
	}
	// Which service accounts the profile's runs may name: the runtime's
	// admission webhook and controller read these, and members cannot
	// change a namespace's annotations.
	annotations[v1alpha1.AnnotationDefaultServiceAccount] = m.ServiceAccount.ValueString()
	var allowed []string
	if !m.RunServiceAccounts.IsNull() && !m.RunServiceAccounts.IsUnknown() {
		diags.Append(m.RunServiceAccounts.ElementsAs(ctx, &allowed, false)...)
	}
	slices.Sort(allowed)
	annotations[v1alpha1.AnnotationAllowedServiceAccounts] = v1alpha1.FormatAllowedServiceAccounts(allowed)
	out := &profileObjects{
		namespace: corev1ac.Namespace(ns).WithLabels(labels).WithAnnotations(annotations),
		bindings:  map[string]*rbacv1ac.RoleBindingApplyConfiguration{},
	}

	binding := func(name, clusterRole string, subjects ...*rbacv1ac.SubjectApplyConfiguration) *rbacv1ac.RoleBindingApplyConfiguration {
		return rbacv1ac.RoleBinding(name, ns).WithLabels(commonLabels(ns)).
			WithRoleRef(rbacv1ac.RoleRef().WithAPIGroup(rbacv1.GroupName).WithKind("ClusterRole").WithName(clusterRole)).
			WithSubjects(subjects...)
	}
	out.bindings[ownerBinding] = binding(ownerBinding, "admin", rbacSubject(m.Owner.Name.ValueString(), m.Owner.Kind.ValueString()))
	if m.Owner.Kind.ValueString() == kindGroup {
		out.policyGroups = append(out.policyGroups, m.Owner.Name.ValueString())
	} else {
		out.policyMembers = append(out.policyMembers, m.Owner.Name.ValueString())
	}
	for _, role := range []string{roleEdit, roleView} {
		var subjects []*rbacv1ac.SubjectApplyConfiguration
		for _, c := range m.Contributors {
			if c.Role.ValueString() == role {
				subjects = append(subjects, rbacSubject(c.Name.ValueString(), c.Kind.ValueString()))
				if c.Kind.ValueString() == kindGroup {
					out.policyGroups = append(out.policyGroups, c.Name.ValueString())
				} else {
					out.policyMembers = append(out.policyMembers, c.Name.ValueString())
				}
			}
		}
		if len(subjects) > 0 {
			out.bindings[contributorBinding(role)] = binding(contributorBinding(role), role, subjects...)
		} else {
			out.bindings[contributorBinding(role)] = nil
		}
	}

	sa := m.ServiceAccount.ValueString()
	out.serviceAcct = corev1ac.ServiceAccount(sa, ns).WithLabels(commonLabels(ns))
	if gsa := m.WorkloadIdentityGSA.ValueString(); gsa != "" {
		out.serviceAcct.WithAnnotations(map[string]string{gsaAnnotation: gsa})
	}
	out.bindings[runnerBinding] = binding(runnerBinding, "edit",
		rbacv1ac.Subject().WithKind(rbacv1.ServiceAccountKind).WithName(sa).WithNamespace(ns))

	if q := m.ResourceQuota; q != nil {
		hard := corev1.ResourceList{}
		setQ := func(key corev1.ResourceName, v types.String) {
			if !v.IsNull() {
				hard[key] = resource.MustParse(v.ValueString())
			}
		}
		setI := func(key corev1.ResourceName, v types.Int64) {
			if !v.IsNull() {
				hard[key] = *resource.NewQuantity(v.ValueInt64(), resource.DecimalSI)
			}
		}
		setQ(quotaKeys.cpu, q.CPU)
		setQ(quotaKeys.memory, q.Memory)
		setI(quotaKeys.gpu, q.GPU)
		setI(quotaKeys.tpu, q.TPU)
		setI(quotaKeys.pods, q.Pods)
		free, d := stringMap(ctx, q.Hard)
		diags.Append(d...)
		for k, v := range free {
			qty, err := resource.ParseQuantity(v)
			if err != nil {
				diags.AddError("Invalid quota", fmt.Sprintf("resource_quota.hard[%q]: %v", k, err))
				continue
			}
			hard[corev1.ResourceName(k)] = qty
		}
		out.quota = corev1ac.ResourceQuota(quotaName, ns).WithLabels(commonLabels(ns)).
			WithSpec(corev1ac.ResourceQuotaSpec().WithHard(hard))
	}

	if l := m.DefaultLimits; l != nil {
		item := corev1ac.LimitRangeItem().WithType(corev1.LimitTypeContainer)
		list := func(cpu, memory types.String) corev1.ResourceList {
			rl := corev1.ResourceList{}
			if !cpu.IsNull() {
				rl[corev1.ResourceCPU] = resource.MustParse(cpu.ValueString())
			}
			if !memory.IsNull() {
				rl[corev1.ResourceMemory] = resource.MustParse(memory.ValueString())
			}
			return rl
		}
		if rl := list(l.CPU, l.Memory); len(rl) > 0 {
			item.WithDefault(rl)
		}
		if rl := list(l.RequestCPU, l.RequestMemory); len(rl) > 0 {
			item.WithDefaultRequest(rl)
		}
		if rl := list(l.MaxCPU, l.MaxMemory); len(rl) > 0 {
			item.WithMax(rl)
		}
		out.limits = corev1ac.LimitRange(limitRangeName, ns).WithLabels(commonLabels(ns)).
			WithSpec(corev1ac.LimitRangeSpec().WithLimits(item))
	}
	return out, diags
}

// liveProfile is what the cluster holds of a profile.
type liveProfile struct {
	namespace   *corev1.Namespace
	bindings    map[string]*rbacv1.RoleBinding
	serviceAcct *corev1.ServiceAccount
	quota       *corev1.ResourceQuota
	limits      *corev1.LimitRange
}

// applyLive sets the model from what the cluster holds. Labels and
// annotations are compared only for the keys the configuration manages,
// because the cluster and other tools add their own.
func (m *profileModel) applyLive(ctx context.Context, live *liveProfile) diag.Diagnostics {
	var diags diag.Diagnostics
	ns := live.namespace
	m.ID = types.StringValue(ns.Name)
	m.Name = types.StringValue(ns.Name)
	m.Labels, diags = liveMapFor(ctx, m.Labels, ns.Labels)
	annotations, d := liveMapFor(ctx, m.Annotations, ns.Annotations)
	diags.Append(d...)
	m.Annotations = annotations
	m.IstioInjection = types.BoolValue(ns.Labels[istioInjection] == "enabled")
	m.RunServiceAccounts = liveRunServiceAccounts(m.RunServiceAccounts, ns.Annotations)

	m.Owner = nil
	if b := live.bindings[ownerBinding]; b != nil && len(b.Subjects) > 0 {
		m.Owner = &memberModel{Name: types.StringValue(b.Subjects[0].Name), Kind: types.StringValue(memberKind(b.Subjects[0].Kind))}
	}
	m.Contributors = liveContributors(m.Contributors, live.bindings)

	if live.serviceAcct != nil {
		m.ServiceAccount = types.StringValue(live.serviceAcct.Name)
		if gsa, ok := live.serviceAcct.Annotations[gsaAnnotation]; ok {
			m.WorkloadIdentityGSA = types.StringValue(gsa)
		} else {
			m.WorkloadIdentityGSA = types.StringNull()
		}
	} else {
		// The service account was deleted out of band: the next plan
		// recreates it.
		m.ServiceAccount = types.StringNull()
	}

	m.ResourceQuota = liveQuota(m.ResourceQuota, live.quota)
	m.DefaultLimits = liveLimits(m.DefaultLimits, live.limits)
	return diags
}

// liveRunServiceAccounts reads the allowed service accounts back from
// the namespace's annotation, so an edit out of band shows in the plan.
// An empty list stays as configured (null or empty).
func liveRunServiceAccounts(prior types.Set, annotations map[string]string) types.Set {
	allowed := v1alpha1.ServiceAccountPolicyOf(annotations).Allowed
	if len(allowed) == 0 && (prior.IsNull() || len(prior.Elements()) == 0) {
		if prior.IsUnknown() {
			return types.SetNull(types.StringType)
		}
		return prior
	}
	values := make([]attr.Value, 0, len(allowed))
	for _, name := range allowed {
		values = append(values, types.StringValue(name))
	}
	return types.SetValueMust(types.StringType, values)
}

func memberKind(rbacKind string) string {
	if rbacKind == rbacv1.GroupKind {
		return kindGroup
	}
	return kindUser
}

// liveMapFor returns the live values of the keys that prior holds.
func liveMapFor(ctx context.Context, prior types.Map, live map[string]string) (types.Map, diag.Diagnostics) {
	if prior.IsNull() || prior.IsUnknown() {
		return prior, nil
	}
	keys, diags := stringMap(ctx, prior)
	out := map[string]attr.Value{}
	for k := range keys {
		if v, ok := live[k]; ok {
			out[k] = types.StringValue(v)
		}
	}
	m, d := types.MapValue(types.StringType, out)
	diags.Append(d...)
	return m, diags
}

// liveContributors lists the contributors the bindings grant, in the
// order of prior, then any that prior does not know.
func liveContributors(prior []contributorModel, bindings map[string]*rbacv1.RoleBinding) []contributorModel {
	type member struct{ name, kind, role string }
	var live []member
	for _, role := range []string{roleEdit, roleView} {
		if b := bindings[contributorBinding(role)]; b != nil {
			for _, s := range b.Subjects {
				live = append(live, member{s.Name, memberKind(s.Kind), role})
			}
		}
	}
	var out []contributorModel
	used := make([]bool, len(live))
	add := func(i int) {
		used[i] = true
		out = append(out, contributorModel{Name: types.StringValue(live[i].name), Kind: types.StringValue(live[i].kind), Role: types.StringValue(live[i].role)})
	}
	for _, p := range prior {
		i := slices.Index(live, member{p.Name.ValueString(), p.Kind.ValueString(), p.Role.ValueString()})
		if i >= 0 && !used[i] {
			add(i)
		}
	}
	for i := range live {
		if !used[i] {
			add(i)
		}
	}
	if out == nil && prior != nil {
		return []contributorModel{}
	}
	return out
}

// sameQuantity keeps the configured spelling of a quantity ("1000m") when
// the cluster holds the same amount in its canonical form ("1").
func sameQuantity(prior types.String, live resource.Quantity) types.String {
	if !prior.IsNull() {
		if q, err := resource.ParseQuantity(prior.ValueString()); err == nil && q.Cmp(live) == 0 {
			return prior
		}
	}
	return types.StringValue(live.String())
}

func liveQuota(prior *quotaModel, rq *corev1.ResourceQuota) *quotaModel {
	if rq == nil {
		return nil
	}
	if prior == nil {
		prior = &quotaModel{Hard: types.MapNull(types.StringType)}
	}
	hard := rq.Spec.Hard
	q := &quotaModel{CPU: types.StringNull(), Memory: types.StringNull(), GPU: types.Int64Null(), TPU: types.Int64Null(), Pods: types.Int64Null()}
	if v, ok := hard[quotaKeys.cpu]; ok {
		q.CPU = sameQuantity(prior.CPU, v)
	}
	if v, ok := hard[quotaKeys.memory]; ok {
		q.Memory = sameQuantity(prior.Memory, v)
	}
	if v, ok := hard[quotaKeys.gpu]; ok {
		q.GPU = types.Int64Value(v.Value())
	}
	if v, ok := hard[quotaKeys.tpu]; ok {
		q.TPU = types.Int64Value(v.Value())
	}
	if v, ok := hard[quotaKeys.pods]; ok {
		q.Pods = types.Int64Value(v.Value())
	}
	priorHard := map[string]string{}
	if !prior.Hard.IsNull() {
		_ = prior.Hard.ElementsAs(context.Background(), &priorHard, false)
	}
	free := map[string]attr.Value{}
	for key, v := range hard {
		if slices.Contains(typedQuotaKeys(), key) {
			continue
		}
		if configured, ok := priorHard[string(key)]; ok {
			free[string(key)] = sameQuantity(types.StringValue(configured), v)
		} else {
			free[string(key)] = types.StringValue(v.String())
		}
	}
	if len(free) == 0 && prior.Hard.IsNull() {
		q.Hard = types.MapNull(types.StringType)
	} else {
		q.Hard = types.MapValueMust(types.StringType, free)
	}
	return q
}

func liveLimits(prior *limitsModel, lr *corev1.LimitRange) *limitsModel {
	if lr == nil {
		return nil
	}
	if prior == nil {
		prior = &limitsModel{}
	}
	l := &limitsModel{}
	var item corev1.LimitRangeItem
	for _, it := range lr.Spec.Limits {
		if it.Type == corev1.LimitTypeContainer {
			item = it
		}
	}
	// The API server defaults a missing default limit to the max, and a
	// missing default request to the default limit: a value that is only
	// such a copy stays null, as configured.
	get := func(priorV types.String, list corev1.ResourceList, name corev1.ResourceName, defaultedFrom corev1.ResourceList) types.String {
		v, ok := list[name]
		if !ok {
			return types.StringNull()
		}
		if from, copied := defaultedFrom[name]; priorV.IsNull() && copied && from.Cmp(v) == 0 {
			return types.StringNull()
		}
		return sameQuantity(priorV, v)
	}
	l.MaxCPU = get(prior.MaxCPU, item.Max, corev1.ResourceCPU, nil)
	l.MaxMemory = get(prior.MaxMemory, item.Max, corev1.ResourceMemory, nil)
	l.CPU = get(prior.CPU, item.Default, corev1.ResourceCPU, item.Max)
	l.Memory = get(prior.Memory, item.Default, corev1.ResourceMemory, item.Max)
	l.RequestCPU = get(prior.RequestCPU, item.DefaultRequest, corev1.ResourceCPU, item.Default)
	l.RequestMemory = get(prior.RequestMemory, item.DefaultRequest, corev1.ResourceMemory, item.Default)
	return l
}

// authorizationPolicy is the Istio AuthorizationPolicy that admits the
// profile's members, identified by the header Kubeflow's gateway sets, and
// the profile's own workloads.
func authorizationPolicy(ns string, users, groups []string) map[string]any {
	var rules []any
	if len(users) > 0 {
		rules = append(rules, map[string]any{"when": []any{map[string]any{
			"key": "request.headers[" + userIDHeader + "]", "values": toAny(users),
		}}})
	}
	if len(groups) > 0 {
		rules = append(rules, map[string]any{"when": []any{map[string]any{
			"key": "request.auth.claims[groups]", "values": toAny(groups),
		}}})
	}
	rules = append(rules, map[string]any{"from": []any{map[string]any{
		"source": map[string]any{"namespaces": []any{ns}},
	}}})
	return map[string]any{
		"metadata": map[string]any{"name": authzPolicyName, "namespace": ns, "labels": toAnyMap(commonLabels(ns))},
		"spec":     map[string]any{"action": "ALLOW", "rules": rules},
	}
}

func toAny(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

func toAnyMap(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
