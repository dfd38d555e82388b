package provider

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/mapvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/setvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-framework/types/basetypes"
	"github.com/hashicorp/terraform-plugin-log/tflog"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	k8sresource "k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	k8sschema "k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/wait"
	rbacv1ac "k8s.io/client-go/applyconfigurations/rbac/v1"

	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/v1alpha1"
)

var (
	_ resource.ResourceWithConfigure      = (*profileResource)(nil)
	_ resource.ResourceWithImportState    = (*profileResource)(nil)
	_ resource.ResourceWithValidateConfig = (*profileResource)(nil)
)

// NewProfileResource returns the kubeflow_profile resource.
func NewProfileResource() resource.Resource {
	return &profileResource{}
}

type profileResource struct {
	conn *connection
}

// profileResourceModel is the profile and its timeouts.
type profileResourceModel struct {
	profileModel
	Timeouts timeouts.Value `tfsdk:"timeouts"`
}

const (
	defaultProfileCreateTimeout = 5 * time.Minute
	defaultProfileDeleteTimeout = 10 * time.Minute
)

func (r *profileResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_profile"
}

func quantityAttribute(description string) schema.StringAttribute {
	return schema.StringAttribute{
		Optional:            true,
		MarkdownDescription: description,
		Validators:          []validator.String{quantityValidator{}},
	}
}

func countAttribute(description string) schema.Int64Attribute {
	return schema.Int64Attribute{
		Optional:            true,
		MarkdownDescription: description,
		Validators:          []validator.Int64{int64validator.AtLeast(0)},
	}
}

func kindAttribute() schema.StringAttribute {
	return schema.StringAttribute{
		Optional:            true,
		Computed:            true,
		Default:             stringdefault.StaticString(kindUser),
		MarkdownDescription: "`user` (default) or `group`: whom `name` names, as the cluster's authenticator reports them.",
		Validators:          []validator.String{stringvalidator.OneOf(kindUser, kindGroup)},
	}
}

func (r *profileResource) Schema(ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "A profile is one team's environment on the platform: a namespace with its members, " +
			"GPU/TPU quota, default container limits, the `pipeline-runner` service account that pipelines run as, " +
			"and, where Istio is installed, an AuthorizationPolicy that admits the members only.\n\n" +
			"The owner is bound to the `admin` ClusterRole and contributors to `edit` or `view`; changing either " +
			"updates the bindings in place. Objects deleted or edited out of band show up in the next plan.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "The profile's name.",
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"name": schema.StringAttribute{
				Required:            true,
				MarkdownDescription: "Name of the profile and its namespace: a DNS-1123 label. Changing it replaces the profile.",
				Validators:          []validator.String{dnsLabelValidator{}},
				PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"owner": schema.SingleNestedAttribute{
				Required:            true,
				MarkdownDescription: "The profile's owner, bound to the `admin` ClusterRole in the namespace.",
				Attributes: map[string]schema.Attribute{
					"name": schema.StringAttribute{
						Required:            true,
						MarkdownDescription: "User or group name, such as `alice@example.com`.",
						Validators:          []validator.String{stringvalidator.LengthAtLeast(1)},
					},
					"kind": kindAttribute(),
				},
			},
			"contributors": schema.ListNestedAttribute{
				Optional:            true,
				MarkdownDescription: "Members besides the owner, each bound to the `edit` or `view` ClusterRole.",
				NestedObject: schema.NestedAttributeObject{
					Attributes: map[string]schema.Attribute{
						"name": schema.StringAttribute{
							Required:            true,
							MarkdownDescription: "User or group name.",
							Validators:          []validator.String{stringvalidator.LengthAtLeast(1)},
						},
						"kind": kindAttribute(),
						"role": schema.StringAttribute{
							Optional:            true,
							Computed:            true,
							Default:             stringdefault.StaticString(roleEdit),
							MarkdownDescription: "`edit` (default) or `view`.",
							Validators:          []validator.String{stringvalidator.OneOf(roleEdit, roleView)},
						},
					},
				},
			},
			"labels": schema.MapAttribute{
				ElementType:         types.StringType,
				Optional:            true,
				MarkdownDescription: "Labels of the namespace. Only these keys are compared with the cluster: labels others add are left alone.",
				Validators: []validator.Map{
					mapvalidator.KeysAre(labelKeyValidator{}),
					mapvalidator.ValueStringsAre(labelValueValidator{}),
				},
			},
			"annotations": schema.MapAttribute{
				ElementType:         types.StringType,
				Optional:            true,
				MarkdownDescription: "Annotations of the namespace. Only these keys are compared with the cluster.",
				Validators:          []validator.Map{mapvalidator.KeysAre(labelKeyValidator{})},
			},
			"resource_quota": schema.SingleNestedAttribute{
				Optional: true,
				MarkdownDescription: "The namespace's ResourceQuota. Accelerators are counted by their requests: " +
					"`gpu` sets `requests.nvidia.com/gpu`, `tpu` sets `requests.google.com/tpu`.",
				Attributes: map[string]schema.Attribute{
					"cpu":    quantityAttribute("Total CPU requests, such as `64` or `500m` (`requests.cpu`)."),
					"memory": quantityAttribute("Total memory requests, such as `256Gi` (`requests.memory`)."),
					"gpu":    countAttribute("NVIDIA GPUs (`requests.nvidia.com/gpu`)."),
					"tpu":    countAttribute("TPU chips (`requests.google.com/tpu`)."),
					"pods":   countAttribute("Number of pods (`pods`)."),
					"hard": schema.MapAttribute{
						ElementType:         types.StringType,
						Optional:            true,
						MarkdownDescription: "Any other ResourceQuota `hard` entries, such as `persistentvolumeclaims` or `requests.storage`.",
						Validators:          []validator.Map{mapvalidator.ValueStringsAre(quantityValidator{})},
					},
				},
			},
			"default_limits": schema.SingleNestedAttribute{
				Optional:            true,
				MarkdownDescription: "A LimitRange for containers: the limits and requests of containers that set none, and the most one may ask for.",
				Attributes: map[string]schema.Attribute{
					"cpu":            quantityAttribute("Default CPU limit."),
					"memory":         quantityAttribute("Default memory limit."),
					"request_cpu":    quantityAttribute("Default CPU request."),
					"request_memory": quantityAttribute("Default memory request."),
					"max_cpu":        quantityAttribute("Largest CPU limit a container may set."),
					"max_memory":     quantityAttribute("Largest memory limit a container may set."),
				},
			},
			"istio_injection": schema.BoolAttribute{
				Optional:            true,
				Computed:            true,
				Default:             booldefault.StaticBool(false),
				MarkdownDescription: "Label the namespace `istio-injection=enabled` so Istio injects sidecars into its pods.",
			},
			"workload_identity_gsa": schema.StringAttribute{
				Optional: true,
				MarkdownDescription: "Google service account (`name@project.iam.gserviceaccount.com`) that the pipeline service account " +
					"acts as through GKE Workload Identity.",
				Validators: []validator.String{stringvalidator.RegexMatches(gsaPattern, "must be a Google service account email, such as runner@my-project.iam.gserviceaccount.com")},
			},
			"service_account": schema.StringAttribute{
				Optional: true,
				Computed: true,
				Default:  stringdefault.StaticString(defaultRunnerSA),
				MarkdownDescription: "Name of the service account that pipelines of this profile run as; it is bound to `edit` in the namespace. " +
					"Runs that name no service account use it (the namespace annotation `" + v1alpha1.AnnotationDefaultServiceAccount + "`).",
				Validators: []validator.String{dnsLabelValidator{}},
			},
			"run_service_accounts": schema.SetAttribute{
				ElementType: types.StringType,
				Optional:    true,
				MarkdownDescription: "Other service accounts of the namespace that runs may name in `serviceAccountName` " +
					"(`kubeflow_run.service_account`), besides `service_account`. A run naming any other is refused by the runtime's " +
					"admission webhook and, without it, failed by the controller before any task starts. Stored in the namespace " +
					"annotation `" + v1alpha1.AnnotationAllowedServiceAccounts + "`, which members cannot edit; an edit out of band " +
					"shows in the next plan. The service accounts themselves are not created here.",
				Validators: []validator.Set{setvalidator.ValueStringsAre(dnsSubdomainValidator)},
			},
		},
		Blocks: map[string]schema.Block{
			"timeouts": timeouts.Block(ctx, timeouts.Opts{Create: true, Update: true, Delete: true}),
		},
	}
}

func (r *profileResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.conn = providerConnection(req.ProviderData, &resp.Diagnostics)
}

// ValidateConfig checks what single attributes cannot: members named twice,
// and requests above limits. It runs at plan time.
func (r *profileResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var owner types.Object
	var contributors types.List
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("owner"), &owner)...)
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("contributors"), &contributors)...)
	if resp.Diagnostics.HasError() {
		return
	}
	seen := map[string]string{}
	key := func(name, kind types.String) (string, bool) {
		if name.IsUnknown() || kind.IsUnknown() {
			return "", false
		}
		k := kind.ValueString()
		if k == "" {
			k = kindUser
		}
		return k + "/" + name.ValueString(), true
	}
	if !owner.IsNull() && !owner.IsUnknown() {
		var m memberModel
		resp.Diagnostics.Append(owner.As(ctx, &m, objectAsOptions)...)
		if k, ok := key(m.Name, m.Kind); ok {
			seen[k] = "the owner"
		}
	}
	if !contributors.IsNull() && !contributors.IsUnknown() {
		var list []types.Object
		resp.Diagnostics.Append(contributors.ElementsAs(ctx, &list, false)...)
		for i, obj := range list {
			if obj.IsUnknown() {
				continue
			}
			var c contributorModel
			resp.Diagnostics.Append(obj.As(ctx, &c, objectAsOptions)...)
			k, ok := key(c.Name, c.Kind)
			if !ok {
				continue
			}
			if prev, dup := seen[k]; dup {
				resp.Diagnostics.AddAttributeError(path.Root("contributors").AtListIndex(i).AtName("name"), "Duplicate member",
					fmt.Sprintf("contributors[%d].name: %q is already %s; a member can hold one role only.", i, c.Name.ValueString(), prev))
			}
			seen[k] = fmt.Sprintf("contributors[%d]", i)
		}
	}

	var annotations types.Map
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("annotations"), &annotations)...)
	if !annotations.IsNull() && !annotations.IsUnknown() {
		for key, attr := range map[string]string{
			v1alpha1.AnnotationDefaultServiceAccount:  "service_account",
			v1alpha1.AnnotationAllowedServiceAccounts: "run_service_accounts",
		} {
			if _, set := annotations.Elements()[key]; set {
				resp.Diagnostics.AddAttributeError(path.Root("annotations").AtMapKey(key), "Reserved annotation",
					fmt.Sprintf("annotations[%q]: the profile sets this annotation from %s; set that attribute instead.", key, attr))
			}
		}
	}

	var limits types.Object
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("default_limits"), &limits)...)
	if limits.IsNull() || limits.IsUnknown() || resp.Diagnostics.HasError() {
		return
	}
	var l limitsModel
	resp.Diagnostics.Append(limits.As(ctx, &l, objectAsOptions)...)
	notAbove := func(lowName string, low types.String, highName string, high types.String) {
		if low.IsNull() || low.IsUnknown() || high.IsNull() || high.IsUnknown() {
			return
		}
		lq, err1 := k8sresource.ParseQuantity(low.ValueString())
		hq, err2 := k8sresource.ParseQuantity(high.ValueString())
		if err1 == nil && err2 == nil && lq.Cmp(hq) > 0 {
			resp.Diagnostics.AddAttributeError(path.Root("default_limits").AtName(lowName), "Inconsistent limits",
				fmt.Sprintf("default_limits.%s (%s) is more than default_limits.%s (%s).", lowName, low.ValueString(), highName, high.ValueString()))
		}
	}
	notAbove("request_cpu", l.RequestCPU, "cpu", l.CPU)
	notAbove("request_memory", l.RequestMemory, "memory", l.Memory)
	notAbove("cpu", l.CPU, "max_cpu", l.MaxCPU)
	notAbove("memory", l.Memory, "max_memory", l.MaxMemory)
}

func (r *profileResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan profileResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	timeout, diags := plan.Timeouts.Create(ctx, defaultProfileCreateTimeout)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	name := plan.Name.ValueString()
	summary := fmt.Sprintf("creating Profile (%s)", name)

	c, err := r.conn.get(ctx)
	if err != nil {
		resp.Diagnostics.AddError(summary, err.Error())
		return
	}
	objects, diags := plan.objects(ctx)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	if err := c.claimNamespace(ctx, name); err != nil {
		resp.Diagnostics.AddError(summary, c.explain(err).Error())
		return
	}
	if err := c.applyProfile(ctx, name, objects, nil); err != nil {
		// Leave nothing half-created: the namespace holds everything else.
		if delErr := c.deleteNamespace(ctx, name); delErr != nil {
			err = fmt.Errorf("%w (and removing the partly created namespace failed: %w)", err, c.explain(delErr))
		}
		resp.Diagnostics.AddError(summary, c.explain(err).Error())
		return
	}
	plan.ID = types.StringValue(name)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *profileResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state profileResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if r.conn.unknown {
		// The cluster may not exist yet (it is created in this apply):
		// keep what the state says until the connection is known.
		tflog.Info(ctx, "skipping refresh of profile: the provider's connection is not known yet", map[string]any{"name": state.Name.ValueString()})
		return
	}
	name := state.Name.ValueString()
	c, err := r.conn.get(ctx)
	if err != nil {
		resp.Diagnostics.AddError(fmt.Sprintf("reading Profile (%s)", name), err.Error())
		return
	}
	live, err := c.readProfile(ctx, name, state.ServiceAccount.ValueString())
	if isGone(err) {
		tflog.Warn(ctx, "profile namespace is gone; removing it from state", map[string]any{"name": name})
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		resp.Diagnostics.AddError(fmt.Sprintf("reading Profile (%s)", name), c.explain(err).Error())
		return
	}
	resp.Diagnostics.Append(state.applyLive(ctx, live)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

func (r *profileResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state profileResourceModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	timeout, diags := plan.Timeouts.Update(ctx, defaultProfileCreateTimeout)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	name := plan.Name.ValueString()
	summary := fmt.Sprintf("updating Profile (%s)", name)
	c, err := r.conn.get(ctx)
	if err != nil {
		resp.Diagnostics.AddError(summary, err.Error())
		return
	}
	objects, diags := plan.objects(ctx)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	var formerSA []string
	if old := state.ServiceAccount.ValueString(); old != "" && old != plan.ServiceAccount.ValueString() {
		formerSA = append(formerSA, old)
	}
	if err := c.applyProfile(ctx, name, objects, formerSA); err != nil {
		resp.Diagnostics.AddError(summary, c.explain(err).Error())
		return
	}
	plan.ID = types.StringValue(name)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *profileResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state profileResourceModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	timeout, diags := state.Timeouts.Delete(ctx, defaultProfileDeleteTimeout)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	name := state.Name.ValueString()
	c, err := r.conn.get(ctx)
	if err != nil {
		resp.Diagnostics.AddError(fmt.Sprintf("deleting Profile (%s)", name), err.Error())
		return
	}
	if err := c.deleteNamespace(ctx, name); err != nil {
		resp.Diagnostics.AddError(fmt.Sprintf("deleting Profile (%s)", name), c.explain(err).Error())
	}
}

func (r *profileResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	if errs := validation.IsDNS1123Label(req.ID); len(errs) > 0 {
		resp.Diagnostics.AddError("importing Profile", fmt.Sprintf("the import ID is the profile's name, a DNS-1123 label; %q: %s", req.ID, strings.Join(errs, "; ")))
		return
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("name"), req.ID)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), req.ID)...)
}

// objectAsOptions decode nested objects whose attributes may be unknown
// at validation time.
var objectAsOptions = basetypes.ObjectAsOptions{UnhandledNullAsEmpty: true, UnhandledUnknownAsEmpty: true}

// isGone reports whether the profile no longer exists: its namespace is
// not found or is being deleted.
func isGone(err error) bool {
	return apierrors.IsNotFound(err) || errors.Is(err, errNamespaceTerminating)
}

var errNamespaceTerminating = errors.New("namespace is being deleted")

// claimNamespace creates the profile's namespace. An existing namespace is
// never adopted silently: the user imports it. One that is still being
// deleted (a profile replaced under the same name) is waited for.
func (c *clients) claimNamespace(ctx context.Context, name string) error {
	c.profiles.invalidate()
	ns, err := c.core.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
	case err != nil:
		return err
	case ns.DeletionTimestamp != nil:
		tflog.Info(ctx, "waiting for the previous namespace to be deleted", map[string]any{"name": name})
		if err := c.waitNamespaceGone(ctx, name); err != nil {
			return err
		}
	default:
		return fmt.Errorf("namespace %q already exists; to manage it as a profile, import it: terraform import kubeflow_profile.<name> %s", name, name)
	}
	_, err = c.core.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: commonLabels(name)}}, metav1.CreateOptions{FieldManager: fieldManager})
	if err != nil {
		return fmt.Errorf("creating namespace: %w", err)
	}
	return nil
}

// applyProfile applies every object of the profile with server-side apply
// and deletes the optional ones the configuration no longer has. Fields the
// provider stops setting are removed by the API server, because it owns
// them as the kfstack field manager.
func (c *clients) applyProfile(ctx context.Context, ns string, o *profileObjects, formerServiceAccounts []string) error {
	defer c.profiles.invalidate()
	apply := metav1.ApplyOptions{FieldManager: fieldManager, Force: true}
	if _, err := c.core.CoreV1().Namespaces().Apply(ctx, o.namespace, apply); err != nil {
		return fmt.Errorf("applying namespace: %w", err)
	}
	if _, err := c.core.CoreV1().ServiceAccounts(ns).Apply(ctx, o.serviceAcct, apply); err != nil {
		return fmt.Errorf("applying service account: %w", err)
	}
	for _, name := range sortedKeys(o.bindings) {
		b := o.bindings[name]
		if b == nil {
			if err := ignoreNotFound(c.core.RbacV1().RoleBindings(ns).Delete(ctx, name, metav1.DeleteOptions{})); err != nil {
				return fmt.Errorf("deleting RoleBinding %s: %w", name, err)
			}
			continue
		}
		if err := c.applyRoleBinding(ctx, ns, b); err != nil {
			return err
		}
	}
	for _, sa := range formerServiceAccounts {
		if err := ignoreNotFound(c.core.CoreV1().ServiceAccounts(ns).Delete(ctx, sa, metav1.DeleteOptions{})); err != nil {
			return fmt.Errorf("deleting former service account %s: %w", sa, err)
		}
	}
	if o.quota != nil {
		if _, err := c.core.CoreV1().ResourceQuotas(ns).Apply(ctx, o.quota, apply); err != nil {
			return fmt.Errorf("applying ResourceQuota: %w", err)
		}
	} else if err := ignoreNotFound(c.core.CoreV1().ResourceQuotas(ns).Delete(ctx, quotaName, metav1.DeleteOptions{})); err != nil {
		return fmt.Errorf("deleting ResourceQuota: %w", err)
	}
	if o.limits != nil {
		if _, err := c.core.CoreV1().LimitRanges(ns).Apply(ctx, o.limits, apply); err != nil {
			return fmt.Errorf("applying LimitRange: %w", err)
		}
	} else if err := ignoreNotFound(c.core.CoreV1().LimitRanges(ns).Delete(ctx, limitRangeName, metav1.DeleteOptions{})); err != nil {
		return fmt.Errorf("deleting LimitRange: %w", err)
	}
	return c.applyAuthorizationPolicy(ctx, ns, o)
}

// applyRoleBinding applies a binding. The role a binding refers to cannot
// change, so a binding edited out of band to refer to another role is
// recreated.
func (c *clients) applyRoleBinding(ctx context.Context, ns string, b *rbacv1ac.RoleBindingApplyConfiguration) error {
	bindings := c.core.RbacV1().RoleBindings(ns)
	apply := metav1.ApplyOptions{FieldManager: fieldManager, Force: true}
	_, err := bindings.Apply(ctx, b, apply)
	if apierrors.IsInvalid(err) {
		if err := ignoreNotFound(bindings.Delete(ctx, *b.Name, metav1.DeleteOptions{})); err != nil {
			return fmt.Errorf("deleting RoleBinding %s to recreate it: %w", *b.Name, err)
		}
		_, err = bindings.Apply(ctx, b, apply)
	}
	if err != nil {
		return fmt.Errorf("applying RoleBinding %s: %w", *b.Name, err)
	}
	return nil
}

// applyAuthorizationPolicy applies the members' AuthorizationPolicy when
// the cluster serves Istio's security API.
func (c *clients) applyAuthorizationPolicy(ctx context.Context, ns string, o *profileObjects) error {
	gvr, ok, err := c.istioAuthorizationPolicies()
	if err != nil || !ok {
		return err
	}
	obj := &unstructured.Unstructured{Object: authorizationPolicy(ns, o.policyMembers, o.policyGroups)}
	obj.SetAPIVersion(gvr.GroupVersion().String())
	obj.SetKind("AuthorizationPolicy")
	if _, err := c.dynamic.Resource(gvr).Namespace(ns).Apply(ctx, authzPolicyName, obj, metav1.ApplyOptions{FieldManager: fieldManager, Force: true}); err != nil {
		return fmt.Errorf("applying Istio AuthorizationPolicy: %w", err)
	}
	return nil
}

// istioAuthorizationPolicies finds the served version of Istio's
// AuthorizationPolicy, if Istio is installed.
func (c *clients) istioAuthorizationPolicies() (k8sschema.GroupVersionResource, bool, error) {
	mapping, err := c.mapper.RESTMapping(k8sschema.GroupKind{Group: istioSecurityAPI, Kind: "AuthorizationPolicy"}, "v1", "v1beta1")
	if meta.IsNoMatchError(err) {
		return k8sschema.GroupVersionResource{}, false, nil
	}
	if err != nil {
		return k8sschema.GroupVersionResource{}, false, fmt.Errorf("discovering Istio's AuthorizationPolicy API: %w", err)
	}
	return mapping.Resource, true, nil
}

// readProfile reads the objects of a profile. A missing or terminating
// namespace is reported as gone (see isGone).
func (c *clients) readProfile(ctx context.Context, ns, serviceAccount string) (*liveProfile, error) {
	if snap := c.profileSnapshot(ctx); snap != nil {
		if live, ok := snap.profile(ns, serviceAccount); ok {
			if live.namespace.DeletionTimestamp != nil {
				return nil, errNamespaceTerminating
			}
			return live, nil
		}
	}
	namespace, err := c.core.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	if namespace.DeletionTimestamp != nil {
		return nil, errNamespaceTerminating
	}
	live := &liveProfile{namespace: namespace, bindings: map[string]*rbacv1.RoleBinding{}}
	for _, name := range []string{ownerBinding, contributorBinding(roleEdit), contributorBinding(roleView), runnerBinding} {
		b, err := c.core.RbacV1().RoleBindings(ns).Get(ctx, name, metav1.GetOptions{})
		if err := ignoreNotFound(err); err != nil {
			return nil, fmt.Errorf("reading RoleBinding %s: %w", name, err)
		}
		if err == nil {
			live.bindings[name] = b
		}
	}
	if serviceAccount == "" {
		// Imported or read as data: the runner binding names the account.
		serviceAccount = defaultRunnerSA
		if b := live.bindings[runnerBinding]; b != nil && len(b.Subjects) > 0 {
			serviceAccount = b.Subjects[0].Name
		}
	}
	if sa, err := c.core.CoreV1().ServiceAccounts(ns).Get(ctx, serviceAccount, metav1.GetOptions{}); err == nil {
		live.serviceAcct = sa
	} else if !apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("reading service account: %w", err)
	}
	if q, err := c.core.CoreV1().ResourceQuotas(ns).Get(ctx, quotaName, metav1.GetOptions{}); err == nil {
		live.quota = q
	} else if !apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("reading ResourceQuota: %w", err)
	}
	if l, err := c.core.CoreV1().LimitRanges(ns).Get(ctx, limitRangeName, metav1.GetOptions{}); err == nil {
		live.limits = l
	} else if !apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("reading LimitRange: %w", err)
	}
	return live, nil
}

// deleteNamespace deletes a namespace and waits until it is gone, so that
// a profile recreated under the same name does not meet its remains.
func (c *clients) deleteNamespace(ctx context.Context, name string) error {
	defer c.profiles.invalidate()
	err := c.core.CoreV1().Namespaces().Delete(ctx, name, metav1.DeleteOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	return c.waitNamespaceGone(ctx, name)
}

func (c *clients) waitNamespaceGone(ctx context.Context, name string) error {
	err := wait.PollUntilContextCancel(ctx, 250*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		_, err := c.core.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		return false, err
	})
	if err != nil && ctx.Err() != nil {
		return fmt.Errorf("namespace %s still exists when the timeout ran out (raise timeouts.delete if its objects take long to finalize)", name)
	}
	return err
}

func ignoreNotFound(err error) error {
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
