package provider

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	container "cloud.google.com/go/container/apiv1"
	"cloud.google.com/go/container/apiv1/containerpb"
	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/boolplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/setplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/kfstack/terraform-provider-kubeflow/internal/gkemachine"
)

var (
	_ resource.ResourceWithConfigure      = (*gkeNodePoolResource)(nil)
	_ resource.ResourceWithImportState    = (*gkeNodePoolResource)(nil)
	_ resource.ResourceWithValidateConfig = (*gkeNodePoolResource)(nil)
	_ resource.ResourceWithModifyPlan     = (*gkeNodePoolResource)(nil)
)

// NewGKENodePoolResource returns the kubeflow_gke_node_pool resource.
func NewGKENodePoolResource() resource.Resource {
	return &gkeNodePoolResource{}
}

type gkeNodePoolResource struct {
	conn *connection
}

const (
	defaultPoolCreateTimeout = 30 * time.Minute
	defaultPoolUpdateTimeout = 30 * time.Minute
	defaultPoolDeleteTimeout = 30 * time.Minute
)

func (r *gkeNodePoolResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_gke_node_pool"
}

func useState() []planmodifier.String {
	return []planmodifier.String{stringplanmodifier.UseStateForUnknown()}
}

func optionalComputedString(description string, validators ...validator.String) schema.StringAttribute {
	return schema.StringAttribute{Optional: true, Computed: true, MarkdownDescription: description, Validators: validators, PlanModifiers: useState()}
}

func optionalComputedInt(description string, validators ...validator.Int64) schema.Int64Attribute {
	return schema.Int64Attribute{Optional: true, Computed: true, MarkdownDescription: description, Validators: validators,
		PlanModifiers: []planmodifier.Int64{int64planmodifier.UseStateForUnknown()}}
}

func optionalComputedBool(description string) schema.BoolAttribute {
	return schema.BoolAttribute{Optional: true, Computed: true, MarkdownDescription: description,
		PlanModifiers: []planmodifier.Bool{boolplanmodifier.UseStateForUnknown()}}
}

func oneOf(values []string) validator.String { return stringvalidator.OneOf(values...) }

func (r *gkeNodePoolResource) Schema(ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "A GKE node pool: CPU, GPU (`guest_accelerator`) or TPU (`placement_policy.tpu_topology`) nodes of a " +
			"`kubeflow_gke_cluster`. The attributes are those of terraform-provider-google's `google_container_node_pool`, so a " +
			"configuration moves over by renaming the type.\n\n" +
			"Everything GKE changes in place is updated in place: node count, autoscaling, management, labels, taints, " +
			"resource labels, machine type and disk, image type, locations, workload metadata, upgrade settings, the GPU driver " +
			"version and GPU sharing. What GKE cannot change (accelerator type and count, TPU topology, spot, service account, ...) " +
			"replaces the pool, and the plan says which attribute forces it. With `name_prefix` (or no name), a replacement gets a " +
			"new name, so `create_before_destroy` works.\n\n" +
			"GPU and TPU shapes are checked at plan time: the accelerator against the machine type, the TPU topology against the " +
			"TPU machine type, the node count and `max_node_count` of a multi-host slice (hosts = chips / chips per host).",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				Computed: true, PlanModifiers: useState(),
				MarkdownDescription: "`projects/{project}/locations/{location}/clusters/{cluster}/nodePools/{name}`.",
			},
			"project": schema.StringAttribute{
				Optional: true, Computed: true, PlanModifiers: useState(),
				MarkdownDescription: "The cluster's project; the provider's `google.project` (or the cluster id's) when unset. Changing it replaces the pool.",
			},
			"location": schema.StringAttribute{
				Optional: true, Computed: true, PlanModifiers: useState(),
				MarkdownDescription: "The cluster's region or zone; needed unless `cluster` is an id. Changing it replaces the pool.",
			},
			"cluster": schema.StringAttribute{
				Required:            true,
				MarkdownDescription: "The cluster: its name, or its id (`kubeflow_gke_cluster.this.id`). Changing it replaces the pool.",
			},
			"name": schema.StringAttribute{
				Optional: true, Computed: true, PlanModifiers: useState(),
				MarkdownDescription: "The pool's name (lower-case letters, digits and hyphens, at most 40). Unset: derived from " +
					"`name_prefix` or generated, and a replacement gets a new one. Changing it replaces the pool.",
				Validators: []validator.String{stringvalidator.RegexMatches(poolNamePattern, "must be lower-case letters, digits and hyphens, start with a letter and end with a letter or digit, at most 40 characters")},
			},
			"name_prefix": schema.StringAttribute{
				Optional:            true,
				MarkdownDescription: "Derive the name from this prefix and a random suffix, so that `create_before_destroy` can create the replacement before deleting the pool.",
				Validators: []validator.String{
					stringvalidator.RegexMatches(regexp.MustCompile(`^[a-z][-a-z0-9]{0,30}$`), "must start with a lower-case letter and have at most 31 lower-case letters, digits and hyphens"),
					stringvalidator.ConflictsWith(path.MatchRoot("name")),
				},
			},
			"node_count": optionalComputedInt("Nodes per zone; changed in place (resize). Not with `autoscaling`, which decides it.", int64validator.AtLeast(0)),
			"initial_node_count": schema.Int64Attribute{
				Optional: true, Computed: true, Validators: []validator.Int64{int64validator.AtLeast(0)},
				PlanModifiers:       []planmodifier.Int64{int64planmodifier.UseStateForUnknown()},
				MarkdownDescription: "Nodes per zone when the pool is created. Changing it replaces the pool.",
			},
			"node_locations": schema.SetAttribute{
				ElementType: types.StringType, Optional: true, Computed: true,
				PlanModifiers:       []planmodifier.Set{setplanmodifier.UseStateForUnknown()},
				MarkdownDescription: "Zones of the nodes; the cluster's when unset. Changed in place.",
			},
			"version":             optionalComputedString("Kubernetes version of the nodes (a prefix such as `1.37` is kept while the pool runs a version of it). Changed in place."),
			"instance_group_urls": schema.ListAttribute{ElementType: types.StringType, Computed: true, MarkdownDescription: "The pool's instance groups."},
		},
		Blocks: map[string]schema.Block{
			"autoscaling": schema.SingleNestedBlock{
				MarkdownDescription: "The cluster autoscaler's limits: per zone (`min_node_count`, `max_node_count`) or in total " +
					"(`total_*`), not both. A multi-host TPU slice scales as a whole, per zone: `max_node_count` = its hosts. Changed in place.",
				Attributes: map[string]schema.Attribute{
					"min_node_count":       optionalComputedInt("Fewest nodes per zone.", int64validator.AtLeast(0)),
					"max_node_count":       optionalComputedInt("Most nodes per zone.", int64validator.AtLeast(0)),
					"total_min_node_count": optionalComputedInt("Fewest nodes in all zones.", int64validator.AtLeast(0)),
					"total_max_node_count": optionalComputedInt("Most nodes in all zones.", int64validator.AtLeast(0)),
					"location_policy":      optionalComputedString("`BALANCED` (default) or `ANY`.", oneOf(locationPolicies)),
				},
			},
			"management": schema.SingleNestedBlock{
				MarkdownDescription: "Automatic repair and upgrade of nodes (both on by default). Changed in place.",
				Attributes: map[string]schema.Attribute{
					"auto_repair":  optionalComputedBool("Repair unhealthy nodes."),
					"auto_upgrade": optionalComputedBool("Upgrade nodes with the cluster."),
				},
			},
			"upgrade_settings": schema.SingleNestedBlock{
				MarkdownDescription: "How nodes are replaced in upgrades and machine changes. Changed in place.",
				Attributes: map[string]schema.Attribute{
					"max_surge":       optionalComputedInt("Extra nodes created at once.", int64validator.AtLeast(0)),
					"max_unavailable": optionalComputedInt("Nodes unavailable at once.", int64validator.AtLeast(0)),
					"strategy":        optionalComputedString("`SURGE` or `BLUE_GREEN`.", oneOf(upgradeStrategies)),
				},
			},
			"node_config":         nodeConfigBlock(),
			"placement_policy":    placementPolicyBlock(),
			"queued_provisioning": queuedProvisioningBlock(),
			"timeouts":            timeouts.Block(ctx, timeouts.Opts{Create: true, Update: true, Delete: true}),
		},
	}
}

var poolNamePattern = regexp.MustCompile(`^[a-z](?:[-a-z0-9]{0,38}[a-z0-9])?$`)

func nodeConfigBlock() schema.SingleNestedBlock {
	replaces := "Changing it replaces the pool."
	return schema.SingleNestedBlock{
		MarkdownDescription: "The nodes' machine. Changed in place except where an attribute says otherwise.",
		Attributes: map[string]schema.Attribute{
			"machine_type": optionalComputedString("Machine type, such as `e2-standard-8`, `g2-standard-24` (2 L4), `a3-highgpu-8g` or `ct5lp-hightpu-4t` (default `e2-medium`). " +
				"Changed in place between machines of the same accelerators; to or from a TPU machine, or to other attached GPUs, replaces the pool."),
			"disk_size_gb": optionalComputedInt("Boot disk size in GB (at least 10; default 100).", int64validator.AtLeast(10)),
			"disk_type":    optionalComputedString("Boot disk type: "+strings.Join(diskTypes, ", ")+".", oneOf(diskTypes)),
			"image_type":   optionalComputedString("Node image: "+strings.Join(imageTypes, ", ")+".", oneOf(imageTypes)),
			"spot":         optionalComputedBool("Spot VMs. " + replaces),
			"labels": schema.MapAttribute{ElementType: types.StringType, Optional: true,
				MarkdownDescription: "Kubernetes labels of the nodes (beside GKE's own). Changed in place."},
			"resource_labels": schema.MapAttribute{ElementType: types.StringType, Optional: true,
				MarkdownDescription: "Google Cloud labels of the nodes' VMs. Changed in place."},
			"service_account": optionalComputedString("Google service account of the nodes. " + replaces),
			"oauth_scopes": schema.SetAttribute{ElementType: types.StringType, Optional: true, Computed: true,
				PlanModifiers:       []planmodifier.Set{setplanmodifier.UseStateForUnknown()},
				MarkdownDescription: "OAuth scopes of the nodes (default: cloud-platform). " + replaces},
		},
		Blocks: map[string]schema.Block{
			"taint": schema.ListNestedBlock{
				MarkdownDescription: "Kubernetes taints of the nodes (beside GKE's `nvidia.com/gpu` and `google.com/tpu`). Changed in place.",
				NestedObject: schema.NestedBlockObject{Attributes: map[string]schema.Attribute{
					"key":    schema.StringAttribute{Required: true, MarkdownDescription: "Taint key."},
					"value":  schema.StringAttribute{Required: true, MarkdownDescription: "Taint value."},
					"effect": schema.StringAttribute{Required: true, MarkdownDescription: "`NO_SCHEDULE`, `PREFER_NO_SCHEDULE` or `NO_EXECUTE`.", Validators: []validator.String{oneOf(taintEffects)}},
				}},
			},
			"workload_metadata_config": schema.SingleNestedBlock{
				MarkdownDescription: "How pods reach the metadata server: `GKE_METADATA` for Workload Identity. Changed in place.",
				Attributes: map[string]schema.Attribute{
					"mode": schema.StringAttribute{Optional: true, MarkdownDescription: "`GKE_METADATA`, `GCE_METADATA` or `MODE_UNSPECIFIED`.", Validators: []validator.String{oneOf(metadataModes)}},
				},
			},
			"guest_accelerator": schema.ListNestedBlock{
				MarkdownDescription: "GPUs of each node. On G2, A2 and A3 machines they come with the machine type (the block may be " +
					"left out; if set it must match); on N1 they are attached. The type, count and partition size replace the pool; " +
					"the driver version and sharing change in place.",
				NestedObject: schema.NestedBlockObject{
					Attributes: map[string]schema.Attribute{
						"type":               optionalComputedString("Accelerator type, such as `nvidia-l4`, `nvidia-tesla-a100`, `nvidia-h100-80gb`; on G2, A2 and A3 machines the machine type's when unset."),
						"count":              optionalComputedInt("GPUs per node; on G2, A2 and A3 machines the machine type's when unset.", int64validator.AtLeast(1)),
						"gpu_partition_size": schema.StringAttribute{Optional: true, MarkdownDescription: "Multi-instance GPU partition, such as `1g.5gb` (A100, H100)."},
					},
					Blocks: map[string]schema.Block{
						"gpu_driver_installation_config": schema.SingleNestedBlock{
							MarkdownDescription: "Driver GKE installs. Changed in place.",
							Attributes: map[string]schema.Attribute{
								"gpu_driver_version": schema.StringAttribute{Optional: true, MarkdownDescription: "`DEFAULT`, `LATEST`, `INSTALLATION_DISABLED` or `GPU_DRIVER_VERSION_UNSPECIFIED`."},
							},
						},
						"gpu_sharing_config": schema.SingleNestedBlock{
							MarkdownDescription: "Share each GPU among containers. Changed in place.",
							Attributes: map[string]schema.Attribute{
								"gpu_sharing_strategy":       schema.StringAttribute{Optional: true, MarkdownDescription: "`TIME_SHARING` or `MPS`."},
								"max_shared_clients_per_gpu": schema.Int64Attribute{Optional: true, MarkdownDescription: "Containers per GPU (2 or more; MPS at most 48)."},
							},
						},
					},
				},
			},
			"reservation_affinity": schema.SingleNestedBlock{
				MarkdownDescription: "Which Compute Engine reservations the nodes use. " + replaces,
				Attributes: map[string]schema.Attribute{
					"consume_reservation_type": schema.StringAttribute{Optional: true, MarkdownDescription: "`NO_RESERVATION`, `ANY_RESERVATION` or `SPECIFIC_RESERVATION`.", Validators: []validator.String{oneOf(reservationTypes)}},
					"key":                      schema.StringAttribute{Optional: true, MarkdownDescription: "Label key of a specific reservation, such as `compute.googleapis.com/reservation-name`."},
					"values":                   schema.SetAttribute{ElementType: types.StringType, Optional: true, MarkdownDescription: "Label values of a specific reservation."},
				},
			},
		},
	}
}

func placementPolicyBlock() schema.SingleNestedBlock {
	return schema.SingleNestedBlock{
		MarkdownDescription: "Placement of the nodes; for TPUs, the slice topology. Changing it replaces the pool.",
		Attributes: map[string]schema.Attribute{
			"type": schema.StringAttribute{Optional: true, MarkdownDescription: "`COMPACT` (needed with `tpu_topology`) or `TYPE_UNSPECIFIED`.", Validators: []validator.String{oneOf(placementTypes)}},
			"tpu_topology": schema.StringAttribute{Optional: true, MarkdownDescription: "TPU slice topology, such as `2x2` (one host of `ct5lp-hightpu-4t`), `4x4` (4 hosts) " +
				"or `2x2x2` (v5p). A multi-host slice is one pool of chips / chips-per-host nodes in one zone."},
			"policy_name": schema.StringAttribute{Optional: true, MarkdownDescription: "A resource policy of the project to use."},
		},
	}
}

func queuedProvisioningBlock() schema.SingleNestedBlock {
	return schema.SingleNestedBlock{
		MarkdownDescription: "Queued provisioning (Dynamic Workload Scheduler): nodes are created for ProvisioningRequests. Needs " +
			"`autoscaling` and no reservation. Changing it replaces the pool.",
		Attributes: map[string]schema.Attribute{
			"enabled": schema.BoolAttribute{Optional: true, MarkdownDescription: "Turn queued provisioning on."},
		},
	}
}

func (r *gkeNodePoolResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.conn = providerConnection(req.ProviderData, &resp.Diagnostics)
}

// problemPath turns a gkemachine.Problem path (node_config.guest_accelerator.0.type)
// into an attribute path.
func problemPath(p string) path.Path {
	parts := strings.Split(p, ".")
	out := path.Root(parts[0])
	for _, part := range parts[1:] {
		if i, err := strconv.Atoi(part); err == nil {
			out = out.AtListIndex(i)
		} else {
			out = out.AtName(part)
		}
	}
	return out
}

// ValidateConfig checks at plan time what GKE would refuse at apply time:
// GPU and TPU shapes, autoscaling limits, and combinations of settings.
func (r *gkeNodePoolResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	if blocksUnknown(ctx, req.Config) {
		// A dynamic block over values not known yet: checked at plan time.
		return
	}
	var m gkeNodePoolModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if m.Autoscaling != nil && isSet(m.NodeCount) {
		resp.Diagnostics.AddAttributeError(path.Root("node_count"), "Conflicting node count",
			"node_count: cannot be set with autoscaling, which decides the size; set initial_node_count for the size at creation.")
	}
	if c := m.NodeConfig; c != nil {
		machine, err := gkemachine.Lookup(c.MachineType.ValueString())
		attached := isSet(c.MachineType) && err == nil && machine.GPU != ""
		for i, a := range c.GuestAccelerator {
			at := path.Root("node_config").AtName("guest_accelerator").AtListIndex(i)
			if a.Type.IsNull() && !attached && !c.MachineType.IsUnknown() {
				resp.Diagnostics.AddAttributeError(at.AtName("type"), "Missing accelerator type",
					fmt.Sprintf("node_config.guest_accelerator.%d.type: needed, such as nvidia-tesla-t4, unless the machine type comes with GPUs (g2-*, a2-*, a3-*).", i))
			}
			if a.Count.IsNull() && !attached && !c.MachineType.IsUnknown() {
				resp.Diagnostics.AddAttributeError(at.AtName("count"), "Missing accelerator count",
					fmt.Sprintf("node_config.guest_accelerator.%d.count: needed (GPUs per node), unless the machine type comes with GPUs (g2-*, a2-*, a3-*).", i))
			}
		}
		if ra := c.ReservationAffinity; ra != nil && ra.ConsumeReservationType.ValueString() == "SPECIFIC_RESERVATION" && (ra.Key.IsNull() || ra.Values.IsNull()) {
			resp.Diagnostics.AddAttributeError(path.Root("node_config").AtName("reservation_affinity").AtName("key"), "Incomplete reservation",
				"node_config.reservation_affinity.key: SPECIFIC_RESERVATION needs key (compute.googleapis.com/reservation-name) and values (the reservation's name).")
		}
	}
	if p := m.PlacementPolicy; p != nil && isSet(p.TPUTopology) && !p.Type.IsUnknown() && p.Type.ValueString() != "COMPACT" {
		resp.Diagnostics.AddAttributeError(path.Root("placement_policy").AtName("type"), "TPU topology needs compact placement",
			fmt.Sprintf("placement_policy.type: tpu_topology = %q needs type = \"COMPACT\".", p.TPUTopology.ValueString()))
	}
	if q := m.QueuedProvisioning; q != nil && q.Enabled.ValueBool() {
		if m.Autoscaling == nil {
			resp.Diagnostics.AddAttributeError(path.Root("queued_provisioning").AtName("enabled"), "Queued provisioning needs autoscaling",
				"queued_provisioning.enabled: queued provisioning needs autoscaling, through which it creates nodes for ProvisioningRequests: add an autoscaling block (and leave node_count unset).")
		}
		if c := m.NodeConfig; c != nil && c.ReservationAffinity != nil && c.ReservationAffinity.ConsumeReservationType.ValueString() != "NO_RESERVATION" {
			resp.Diagnostics.AddAttributeError(path.Root("queued_provisioning").AtName("enabled"), "Queued provisioning uses no reservation",
				"queued_provisioning.enabled: queued provisioning needs node_config.reservation_affinity.consume_reservation_type = \"NO_RESERVATION\".")
		}
	}
	shape, known := m.shape()
	if !known {
		return
	}
	problems, _ := shape.Check()
	for _, p := range problems {
		resp.Diagnostics.AddAttributeError(problemPath(p.Path), "Invalid node pool shape", p.Path+": "+p.Message+".")
	}
}

// blocksUnknown reports whether a block of the pool is unknown as a whole
// (a dynamic block over unknown values).
func blocksUnknown(ctx context.Context, config interface {
	GetAttribute(context.Context, path.Path, any) diag.Diagnostics
}) bool {
	for _, name := range []string{"autoscaling", "management", "upgrade_settings", "node_config", "placement_policy", "queued_provisioning"} {
		var v types.Object
		if config.GetAttribute(ctx, path.Root(name), &v).HasError() || v.IsUnknown() {
			return true
		}
	}
	var c types.Object
	if config.GetAttribute(ctx, path.Root("node_config"), &c).HasError() {
		return true
	}
	for _, v := range c.Attributes() {
		if v.IsUnknown() {
			if _, isBlock := v.(types.List); isBlock {
				return true
			}
			if _, isBlock := v.(types.Object); isBlock {
				return true
			}
		}
	}
	return false
}

// clusterID resolves the pool's cluster from the model and the provider.
func (r *gkeNodePoolResource) clusterID(m *gkeNodePoolModel) (gkeClusterID, error) {
	project := m.Project.ValueString()
	if project == "" {
		project = r.conn.google.project()
	}
	return parseClusterRef(m.Cluster.ValueString(), project, m.Location.ValueString())
}

func (r *gkeNodePoolResource) client(ctx context.Context, m *gkeNodePoolModel) (*container.ClusterManagerClient, gkeClusterID, error) {
	id, err := r.clusterID(m)
	if err != nil {
		return nil, id, err
	}
	_, c, err := r.conn.google.get(ctx)
	return c, id, err
}

func randomSuffix() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (r *gkeNodePoolResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan gkeNodePoolModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	timeout, diags := plan.Timeouts.Create(ctx, defaultPoolCreateTimeout)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	name := plan.Name.ValueString()
	if plan.Name.IsNull() || plan.Name.IsUnknown() {
		prefix := plan.NamePrefix.ValueString()
		if prefix == "" {
			prefix = "tf-"
		} else if !strings.HasSuffix(prefix, "-") {
			prefix += "-"
		}
		name = prefix + randomSuffix()
	}
	summary := fmt.Sprintf("creating GKE node pool (%s)", name)
	c, id, err := r.client(ctx, &plan)
	if err != nil {
		resp.Diagnostics.AddError(summary, err.Error())
		return
	}
	np, diags := plan.request(ctx, name)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	what := "creating " + describePool(id, name)
	op, err := startOperation(ctx, c, id, what, func(ctx context.Context) (*containerpb.Operation, error) {
		return c.CreateNodePool(ctx, &containerpb.CreateNodePoolRequest{Parent: id.String(), NodePool: np})
	})
	if status.Code(err) == codes.AlreadyExists {
		// An apply interrupted while GKE created the pool left its
		// operation running: wait for it instead of failing.
		pending, listErr := pendingOperation(ctx, c, id, containerpb.Operation_CREATE_NODE_POOL, id.pool(name))
		if listErr == nil && pending != nil {
			tflog.Info(ctx, fmt.Sprintf("%s: found the pending operation %s of an earlier apply; waiting for it", what, pending.GetName()))
			op, err = pending, nil
		} else {
			resp.Diagnostics.AddError(summary, fmt.Sprintf("%s already exists. To manage it here, import it: terraform import <address> %s. "+
				"With create_before_destroy, use name_prefix (or no name) so that the replacement gets a new name.", describePool(id, name), id.pool(name)))
			return
		}
	}
	if err != nil {
		resp.Diagnostics.AddError(summary, explainGoogle(err))
		return
	}
	waitErr := waitOperation(ctx, c, id, op, what)
	// Whatever the operation's end, a pool that exists goes into state:
	// a failed one is then tainted and replaced by the next apply, never
	// left behind unmanaged.
	live, getErr := c.GetNodePool(context.WithoutCancel(ctx), &containerpb.GetNodePoolRequest{Name: id.pool(name)})
	if getErr == nil {
		plan.applyLive(id, live, r.nodesPerZone(ctx, id, live))
		resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
	}
	if waitErr != nil {
		resp.Diagnostics.AddError(summary, waitErr.Error())
	} else if getErr != nil {
		resp.Diagnostics.AddError(summary, "reading the new pool: "+explainGoogle(getErr))
	}
}

func (r *gkeNodePoolResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state gkeNodePoolModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if r.conn.googleUnknown {
		tflog.Info(ctx, "skipping refresh of node pool: the provider's Google settings are not known yet")
		return
	}
	c, id, err := r.client(ctx, &state)
	summary := fmt.Sprintf("reading GKE node pool (%s)", state.Name.ValueString())
	if err != nil {
		resp.Diagnostics.AddError(summary, err.Error())
		return
	}
	live, err := c.GetNodePool(ctx, &containerpb.GetNodePoolRequest{Name: id.pool(state.Name.ValueString())})
	if isNotFound(err) {
		tflog.Warn(ctx, "node pool is gone; removing it from state", map[string]any{"pool": id.pool(state.Name.ValueString())})
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		resp.Diagnostics.AddError(summary, explainGoogle(err))
		return
	}
	if imported, _ := req.Private.GetKey(ctx, importedKey); string(imported) == `true` {
		state.importBlocks(live)
		resp.Diagnostics.Append(resp.Private.SetKey(ctx, importedKey, nil)...)
	}
	state.applyLive(id, live, r.nodesPerZone(ctx, id, live))
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

// importedKey marks, in private state, a resource just imported.
const importedKey = "imported"

// importBlocks starts the blocks an imported pool has: node_config
// always, placement_policy and queued_provisioning when set; applyLive
// then fills them. Management and upgrade settings stay out: GKE always
// reports them, and a configuration that leaves them out would show a diff.
func (m *gkeNodePoolModel) importBlocks(np *containerpb.NodePool) {
	m.NodeConfig = &nodeConfigModel{Labels: types.MapNull(types.StringType), ResourceLabels: types.MapNull(types.StringType)}
	if w := np.GetConfig().GetWorkloadMetadataConfig(); w != nil {
		m.NodeConfig.WorkloadMetadataConfig = &workloadMetadataModel{}
	}
	if r := np.GetConfig().GetReservationAffinity(); r != nil {
		m.NodeConfig.ReservationAffinity = &reservationAffinityModel{}
	}
	if !attachedOnly(np.GetConfig()) {
		for range np.GetConfig().GetAccelerators() {
			m.NodeConfig.GuestAccelerator = append(m.NodeConfig.GuestAccelerator, guestAcceleratorModel{})
		}
	}
	if p := np.GetPlacementPolicy(); p.GetTpuTopology() != "" || p.GetType() != containerpb.NodePool_PlacementPolicy_TYPE_UNSPECIFIED {
		m.PlacementPolicy = &placementPolicyModel{}
	}
	if np.GetQueuedProvisioning().GetEnabled() {
		m.QueuedProvisioning = &queuedProvisioningModel{}
	}
}

// Update changes in place what changed, one GKE call per kind of change
// (GKE takes one at a time), each waited for.
func (r *gkeNodePoolResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, state gkeNodePoolModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	timeout, diags := plan.Timeouts.Update(ctx, defaultPoolUpdateTimeout)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	name := state.Name.ValueString()
	summary := fmt.Sprintf("updating GKE node pool (%s)", name)
	c, id, err := r.client(ctx, &state)
	if err != nil {
		resp.Diagnostics.AddError(summary, err.Error())
		return
	}
	poolName := id.pool(name)
	run := func(what string, start func(context.Context) (*containerpb.Operation, error)) bool {
		what = fmt.Sprintf("updating %s (%s)", describePool(id, name), what)
		op, err := startOperation(ctx, c, id, what, start)
		if err == nil {
			err = waitOperation(ctx, c, id, op, what)
		}
		if err != nil {
			resp.Diagnostics.AddError(summary, fmt.Sprintf("%s: %s", what, explainGoogle(err)))
			return false
		}
		return true
	}
	for _, u := range poolUpdates(ctx, &plan, &state, poolName) {
		if !run(u.what, func(ctx context.Context) (*containerpb.Operation, error) { return u.call(ctx, c) }) {
			break
		}
	}
	live, err := c.GetNodePool(context.WithoutCancel(ctx), &containerpb.GetNodePoolRequest{Name: poolName})
	if err != nil {
		resp.Diagnostics.AddError(summary, "reading the pool after the update: "+explainGoogle(err))
		return
	}
	if resp.Diagnostics.HasError() {
		// Record what GKE holds now, so the next plan shows what is left.
		state.applyLive(id, live, r.nodesPerZone(ctx, id, live))
		resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
		return
	}
	plan.applyLive(id, live, r.nodesPerZone(ctx, id, live))
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *gkeNodePoolResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state gkeNodePoolModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	timeout, diags := state.Timeouts.Delete(ctx, defaultPoolDeleteTimeout)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	name := state.Name.ValueString()
	summary := fmt.Sprintf("deleting GKE node pool (%s)", name)
	c, id, err := r.client(ctx, &state)
	if err != nil {
		resp.Diagnostics.AddError(summary, err.Error())
		return
	}
	what := "deleting " + describePool(id, name)
	op, err := startOperation(ctx, c, id, what, func(ctx context.Context) (*containerpb.Operation, error) {
		return c.DeleteNodePool(ctx, &containerpb.DeleteNodePoolRequest{Name: id.pool(name)})
	})
	if isNotFound(err) {
		return
	}
	if err == nil {
		err = waitOperation(ctx, c, id, op, what)
	}
	if err != nil {
		resp.Diagnostics.AddError(summary, explainGoogle(err))
	}
}

// ImportState takes google's ids: projects/P/locations/L/clusters/C/nodePools/N,
// P/L/C/N or L/C/N (with the provider's project).
func (r *gkeNodePoolResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	var project, location, cluster, name string
	if m := poolIDPattern.FindStringSubmatch(req.ID); m != nil {
		project, location, cluster, name = m[1], m[2], m[3], m[4]
	} else {
		parts := strings.Split(req.ID, "/")
		switch len(parts) {
		case 4:
			project, location, cluster, name = parts[0], parts[1], parts[2], parts[3]
		case 3:
			project, location, cluster, name = r.conn.google.project(), parts[0], parts[1], parts[2]
		}
	}
	if name == "" || project == "" {
		resp.Diagnostics.AddError("importing GKE node pool", fmt.Sprintf("the import ID is projects/PROJECT/locations/LOCATION/clusters/CLUSTER/nodePools/NAME "+
			"(or PROJECT/LOCATION/CLUSTER/NAME, or LOCATION/CLUSTER/NAME with google.project set); got %q", req.ID))
		return
	}
	id := gkeClusterID{Project: project, Location: location, Name: cluster}
	for attr, v := range map[string]string{"project": project, "location": location, "cluster": cluster, "name": name, "id": id.pool(name)} {
		resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root(attr), v)...)
	}
	// The next Read fills the blocks GKE reports, not only the configured ones.
	resp.Diagnostics.Append(resp.Private.SetKey(ctx, importedKey, []byte(`true`))...)
}

// explainGoogle says what a GKE error means, without credentials.
func explainGoogle(err error) string {
	st, ok := status.FromError(err)
	if !ok {
		return err.Error()
	}
	switch st.Code() {
	case codes.Unauthenticated:
		return "the GKE API rejected the Google credentials (check google.credentials, google.access_token or Application Default Credentials): " + st.Message()
	case codes.PermissionDenied:
		return "the Google identity may not do this (it needs roles/container.admin or the permission named here): " + st.Message()
	case codes.Unavailable:
		return "cannot reach the GKE API: " + st.Message()
	}
	return fmt.Sprintf("%s (%s)", st.Message(), st.Code())
}

// sameStrings compares sets of strings given in any order.
func sameStrings(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}
