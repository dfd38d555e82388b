package provider

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	k8sresource "k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kubeflow "github.com/kfstack/terraform-provider-kubeflow/runtime/api/kubeflow/v2beta1"
)

// The kubeflow_mpi_job model and the MPIJob it stands for, both ways: what
// to create from a configuration, and how a live job (imported, or edited
// out of band) maps back.

type mpiJobModel struct {
	ID                     types.String     `tfsdk:"id"`
	Name                   types.String     `tfsdk:"name"`
	Namespace              types.String     `tfsdk:"namespace"`
	Implementation         types.String     `tfsdk:"implementation"`
	SlotsPerWorker         types.Int64      `tfsdk:"slots_per_worker"`
	RunLauncherAsWorker    types.Bool       `tfsdk:"run_launcher_as_worker"`
	LauncherCreationPolicy types.String     `tfsdk:"launcher_creation_policy"`
	SSHAuthMountPath       types.String     `tfsdk:"ssh_auth_mount_path"`
	Launcher               *mpiReplicaModel `tfsdk:"launcher"`
	Worker                 *mpiReplicaModel `tfsdk:"worker"`
	RunPolicy              *mpiRunPolicy    `tfsdk:"run_policy"`
	Wait                   types.Bool       `tfsdk:"wait"`
	Phase                  types.String     `tfsdk:"phase"`
	Message                types.String     `tfsdk:"message"`
	ReplicaStatuses        types.Map        `tfsdk:"replica_statuses"`
	StartTime              types.String     `tfsdk:"start_time"`
	CompletionTime         types.String     `tfsdk:"completion_time"`
	Timeouts               timeouts.Value   `tfsdk:"timeouts"`
}

type mpiReplicaModel struct {
	Replicas      types.Int64       `tfsdk:"replicas"`
	Image         types.String      `tfsdk:"image"`
	Command       []types.String    `tfsdk:"command"`
	Args          []types.String    `tfsdk:"args"`
	Env           map[string]string `tfsdk:"env"`
	Resources     *mpiResources     `tfsdk:"resources"`
	NodeSelector  map[string]string `tfsdk:"node_selector"`
	Tolerations   []mpiToleration   `tfsdk:"tolerations"`
	Volumes       []mpiVolume       `tfsdk:"volumes"`
	RunAsUser     types.Int64       `tfsdk:"run_as_user"`
	RestartPolicy types.String      `tfsdk:"restart_policy"`
}

type mpiResources struct {
	CPU    types.String `tfsdk:"cpu"`
	Memory types.String `tfsdk:"memory"`
	GPU    types.Int64  `tfsdk:"gpu"`
	TPU    types.Int64  `tfsdk:"tpu"`
}

type mpiToleration struct {
	Key      types.String `tfsdk:"key"`
	Operator types.String `tfsdk:"operator"`
	Value    types.String `tfsdk:"value"`
	Effect   types.String `tfsdk:"effect"`
}

type mpiVolume struct {
	Name                  types.String `tfsdk:"name"`
	MountPath             types.String `tfsdk:"mount_path"`
	ReadOnly              types.Bool   `tfsdk:"read_only"`
	PersistentVolumeClaim types.String `tfsdk:"persistent_volume_claim"`
	ConfigMap             types.String `tfsdk:"config_map"`
	Secret                types.String `tfsdk:"secret"`
	EmptyDir              types.Bool   `tfsdk:"empty_dir"`
	HostPath              types.String `tfsdk:"host_path"`
}

type mpiRunPolicy struct {
	CleanPodPolicy          types.String         `tfsdk:"clean_pod_policy"`
	TTLSecondsAfterFinished types.Int64          `tfsdk:"ttl_seconds_after_finished"`
	ActiveDeadlineSeconds   types.Int64          `tfsdk:"active_deadline_seconds"`
	BackoffLimit            types.Int64          `tfsdk:"backoff_limit"`
	Suspend                 types.Bool           `tfsdk:"suspend"`
	ManagedBy               types.String         `tfsdk:"managed_by"`
	SchedulingPolicy        *mpiSchedulingPolicy `tfsdk:"scheduling_policy"`
}

type mpiSchedulingPolicy struct {
	MinAvailable           types.Int64  `tfsdk:"min_available"`
	Queue                  types.String `tfsdk:"queue"`
	PriorityClass          types.String `tfsdk:"priority_class"`
	ScheduleTimeoutSeconds types.Int64  `tfsdk:"schedule_timeout_seconds"`
}

func int32Ptr(v types.Int64) *int32 {
	if !known(v) {
		return nil
	}
	i := int32(v.ValueInt64())
	return &i
}

func int64Ptr(v types.Int64) *int64 {
	if !known(v) {
		return nil
	}
	i := v.ValueInt64()
	return &i
}

func stringsOf(vs []types.String) []string {
	var out []string
	for _, v := range vs {
		out = append(out, v.ValueString())
	}
	return out
}

// job builds the MPIJob the model describes. Unknown values are left
// unset (plan time).
func (m *mpiJobModel) job() (*kubeflow.MPIJob, error) {
	job := &kubeflow.MPIJob{
		TypeMeta:   metav1.TypeMeta{APIVersion: kubeflow.GroupVersion.String(), Kind: "MPIJob"},
		ObjectMeta: metav1.ObjectMeta{Name: m.Name.ValueString(), Namespace: m.Namespace.ValueString()},
		Spec: kubeflow.MPIJobSpec{
			MPIImplementation:      kubeflow.MPIImplementation(m.Implementation.ValueString()),
			SlotsPerWorker:         int32Ptr(m.SlotsPerWorker),
			LauncherCreationPolicy: kubeflow.LauncherCreationPolicy(m.LauncherCreationPolicy.ValueString()),
			SSHAuthMountPath:       m.SSHAuthMountPath.ValueString(),
			MPIReplicaSpecs:        map[kubeflow.MPIReplicaType]*kubeflow.ReplicaSpec{},
		},
	}
	if known(m.RunLauncherAsWorker) {
		v := m.RunLauncherAsWorker.ValueBool()
		job.Spec.RunLauncherAsWorker = &v
	}
	for t, r := range map[kubeflow.MPIReplicaType]*mpiReplicaModel{kubeflow.MPIReplicaTypeLauncher: m.Launcher, kubeflow.MPIReplicaTypeWorker: m.Worker} {
		if r == nil {
			continue
		}
		rs, err := r.replicaSpec(string(t))
		if err != nil {
			return nil, err
		}
		if t == kubeflow.MPIReplicaTypeLauncher {
			one := int32(1)
			rs.Replicas = &one
		}
		job.Spec.MPIReplicaSpecs[t] = rs
	}
	if p := m.RunPolicy; p != nil {
		rp := &job.Spec.RunPolicy
		if known(p.CleanPodPolicy) {
			c := kubeflow.CleanPodPolicy(p.CleanPodPolicy.ValueString())
			rp.CleanPodPolicy = &c
		}
		rp.TTLSecondsAfterFinished = int32Ptr(p.TTLSecondsAfterFinished)
		rp.ActiveDeadlineSeconds = int64Ptr(p.ActiveDeadlineSeconds)
		rp.BackoffLimit = int32Ptr(p.BackoffLimit)
		if known(p.Suspend) {
			s := p.Suspend.ValueBool()
			rp.Suspend = &s
		}
		if known(p.ManagedBy) {
			s := p.ManagedBy.ValueString()
			rp.ManagedBy = &s
		}
		if s := p.SchedulingPolicy; s != nil {
			rp.SchedulingPolicy = &kubeflow.SchedulingPolicy{
				MinAvailable: int32Ptr(s.MinAvailable), Queue: s.Queue.ValueString(),
				PriorityClass: s.PriorityClass.ValueString(), ScheduleTimeoutSeconds: int32Ptr(s.ScheduleTimeoutSeconds),
			}
		}
	}
	return job, nil
}

// replicaSpec is the Launcher or Worker spec: one container named after
// the role ("launcher", "worker"), as upstream's examples name them.
func (r *mpiReplicaModel) replicaSpec(role string) (*kubeflow.ReplicaSpec, error) {
	c := corev1.Container{
		Name:    strings.ToLower(role),
		Image:   r.Image.ValueString(),
		Command: stringsOf(r.Command),
		Args:    stringsOf(r.Args),
	}
	names := make([]string, 0, len(r.Env))
	for k := range r.Env {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		c.Env = append(c.Env, corev1.EnvVar{Name: k, Value: r.Env[k]})
	}
	if res := r.Resources; res != nil {
		l := corev1.ResourceList{}
		for name, v := range map[corev1.ResourceName]types.String{corev1.ResourceCPU: res.CPU, corev1.ResourceMemory: res.Memory} {
			if known(v) {
				q, err := k8sresource.ParseQuantity(v.ValueString())
				if err != nil {
					return nil, fmt.Errorf("%s.resources.%s: %q is not a quantity", strings.ToLower(role), name, v.ValueString())
				}
				l[name] = q
			}
		}
		for name, v := range map[corev1.ResourceName]types.Int64{"nvidia.com/gpu": res.GPU, "google.com/tpu": res.TPU} {
			if known(v) && v.ValueInt64() > 0 {
				l[name] = *k8sresource.NewQuantity(v.ValueInt64(), k8sresource.DecimalSI)
			}
		}
		if len(l) > 0 {
			c.Resources = corev1.ResourceRequirements{Requests: l, Limits: l.DeepCopy()}
		}
	}
	if known(r.RunAsUser) {
		uid := r.RunAsUser.ValueInt64()
		c.SecurityContext = &corev1.SecurityContext{RunAsUser: &uid}
	}
	spec := corev1.PodSpec{Containers: []corev1.Container{c}, NodeSelector: r.NodeSelector}
	for _, t := range r.Tolerations {
		spec.Tolerations = append(spec.Tolerations, corev1.Toleration{
			Key: t.Key.ValueString(), Operator: corev1.TolerationOperator(t.Operator.ValueString()),
			Value: t.Value.ValueString(), Effect: corev1.TaintEffect(t.Effect.ValueString()),
		})
	}
	for _, v := range r.Volumes {
		vol := corev1.Volume{Name: v.Name.ValueString()}
		switch {
		case known(v.PersistentVolumeClaim):
			vol.PersistentVolumeClaim = &corev1.PersistentVolumeClaimVolumeSource{ClaimName: v.PersistentVolumeClaim.ValueString()}
		case known(v.ConfigMap):
			vol.ConfigMap = &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: v.ConfigMap.ValueString()}}
		case known(v.Secret):
			vol.Secret = &corev1.SecretVolumeSource{SecretName: v.Secret.ValueString()}
		case known(v.HostPath):
			vol.HostPath = &corev1.HostPathVolumeSource{Path: v.HostPath.ValueString()}
		default:
			vol.EmptyDir = &corev1.EmptyDirVolumeSource{}
		}
		spec.Volumes = append(spec.Volumes, vol)
		spec.Containers[0].VolumeMounts = append(spec.Containers[0].VolumeMounts, corev1.VolumeMount{Name: vol.Name, MountPath: v.MountPath.ValueString(), ReadOnly: v.ReadOnly.ValueBool()})
	}
	rs := &kubeflow.ReplicaSpec{Replicas: int32Ptr(r.Replicas), Template: corev1.PodTemplateSpec{Spec: spec}, RestartPolicy: kubeflow.RestartPolicy(r.RestartPolicy.ValueString())}
	return rs, nil
}

// fieldAttributes maps MPIJob fields (as v2beta1.Validate names them) to
// the attributes that set them; the longest matching prefix wins.
var fieldAttributes = map[string]path.Path{
	"metadata.name":                                                    path.Root("name"),
	"spec.slotsPerWorker":                                              path.Root("slots_per_worker"),
	"spec.sshAuthMountPath":                                            path.Root("ssh_auth_mount_path"),
	"spec.mpiImplementation":                                           path.Root("implementation"),
	"spec.launcherCreationPolicy":                                      path.Root("launcher_creation_policy"),
	"spec.runLauncherAsWorker":                                         path.Root("run_launcher_as_worker"),
	"spec.runPolicy":                                                   path.Root("run_policy"),
	"spec.runPolicy.cleanPodPolicy":                                    path.Root("run_policy").AtName("clean_pod_policy"),
	"spec.runPolicy.activeDeadlineSeconds":                             path.Root("run_policy").AtName("active_deadline_seconds"),
	"spec.runPolicy.backoffLimit":                                      path.Root("run_policy").AtName("backoff_limit"),
	"spec.runPolicy.ttlSecondsAfterFinished":                           path.Root("run_policy").AtName("ttl_seconds_after_finished"),
	"spec.runPolicy.managedBy":                                         path.Root("run_policy").AtName("managed_by"),
	"spec.runPolicy.schedulingPolicy":                                  path.Root("run_policy").AtName("scheduling_policy"),
	"spec.runPolicy.schedulingPolicy.minAvailable":                     path.Root("run_policy").AtName("scheduling_policy").AtName("min_available"),
	"spec.mpiReplicaSpecs":                                             path.Root("worker"),
	"spec.mpiReplicaSpecs[Launcher]":                                   path.Root("launcher"),
	"spec.mpiReplicaSpecs[Launcher].restartPolicy":                     path.Root("launcher").AtName("restart_policy"),
	"spec.mpiReplicaSpecs[Launcher].template.spec.containers[0].image": path.Root("launcher").AtName("image"),
	"spec.mpiReplicaSpecs[Worker]":                                     path.Root("worker"),
	"spec.mpiReplicaSpecs[Worker].replicas":                            path.Root("worker").AtName("replicas"),
	"spec.mpiReplicaSpecs[Worker].restartPolicy":                       path.Root("worker").AtName("restart_policy"),
	"spec.mpiReplicaSpecs[Worker].template.spec.containers[0].image":   path.Root("worker").AtName("image"),
}

// attributeOf is the attribute of a field error.
func attributeOf(fieldPath string) path.Path {
	best, at := "", path.Empty()
	for prefix, p := range fieldAttributes {
		if (fieldPath == prefix || strings.HasPrefix(fieldPath, prefix+".") || strings.HasPrefix(fieldPath, prefix+"[")) && len(prefix) > len(best) {
			best, at = prefix, p
		}
	}
	return at
}

// addFieldErrors reports validation errors on their attributes.
func addFieldErrors(diags *diag.Diagnostics, errs field.ErrorList) {
	for _, e := range errs {
		at := attributeOf(e.Field)
		name := strings.TrimPrefix(strings.ReplaceAll(at.String(), "\"", ""), ".")
		if name == "" {
			name = e.Field
		}
		diags.AddAttributeError(at, "Invalid MPI job", fmt.Sprintf("%s: %s (%s)", name, e.ErrorBody(), e.Field))
	}
}

// phaseOf is the job's phase: its latest decisive condition.
func phaseOf(st kubeflow.JobStatus) (string, string) {
	for _, t := range []kubeflow.JobConditionType{kubeflow.JobSucceeded, kubeflow.JobFailed, kubeflow.JobSuspended, kubeflow.JobRestarting, kubeflow.JobRunning, kubeflow.JobCreated} {
		if c := st.Condition(t); c != nil && c.Status == corev1.ConditionTrue {
			return string(t), c.Message
		}
	}
	return "Pending", ""
}

var replicaStatusType = types.ObjectType{AttrTypes: map[string]attr.Type{"active": types.Int64Type, "succeeded": types.Int64Type, "failed": types.Int64Type}}

// applyStatus copies the job's status into the model.
func (m *mpiJobModel) applyStatus(ctx context.Context, job *kubeflow.MPIJob) (diags diag.Diagnostics) {
	phase, msg := phaseOf(job.Status)
	m.Phase, m.Message = types.StringValue(phase), types.StringValue(msg)
	statuses := map[string]attr.Value{}
	for t, s := range job.Status.ReplicaStatuses {
		if s == nil {
			continue
		}
		v, d := types.ObjectValue(replicaStatusType.AttrTypes, map[string]attr.Value{
			"active": types.Int64Value(int64(s.Active)), "succeeded": types.Int64Value(int64(s.Succeeded)), "failed": types.Int64Value(int64(s.Failed)),
		})
		diags.Append(d...)
		statuses[string(t)] = v
	}
	mv, d := types.MapValue(replicaStatusType, statuses)
	diags.Append(d...)
	m.ReplicaStatuses = mv
	m.StartTime, m.CompletionTime = timeString(job.Status.StartTime), timeString(job.Status.CompletionTime)
	_ = ctx
	return diags
}

func timeString(t *metav1.Time) types.String {
	if t == nil {
		return types.StringValue("")
	}
	return types.StringValue(t.UTC().Format("2006-01-02T15:04:05Z"))
}

// absPath matches an absolute path.
var absPath = regexp.MustCompile(`^/`)

// mpiJobsScheme knows MPIJob.
var mpiJobsScheme = func() *runtime.Scheme {
	s := runtime.NewScheme()
	if err := kubeflow.AddToScheme(s); err != nil {
		panic(err)
	}
	return s
}()

// mpiJobs returns a typed client for kubeflow.org/v2beta1, sharing the
// connection's REST mapper (reset when the CRD came after discovery).
func (c *clients) mpiJobs() (client.Client, error) {
	gk := kubeflow.SchemeGroupVersionKind.GroupKind()
	if _, err := c.mapper.RESTMapping(gk, kubeflow.GroupVersion.Version); meta.IsNoMatchError(err) {
		c.mapper.Reset()
	}
	cl, err := client.New(c.rest, client.Options{Scheme: mpiJobsScheme, Mapper: c.mapper})
	if err != nil {
		return nil, fmt.Errorf("creating the MPIJob client: %w", err)
	}
	return cl, nil
}

// errNoMPIJobs explains a cluster without the MPIJob CRD.
var errNoMPIJobs = errors.New("the cluster does not serve kubeflow.org/v2beta1 MPIJobs: install the runtime (kubeflow_runtime, mpi_jobs not false) or mpi-operator first")

func (c *clients) explainMPIJobs(err error) error {
	if err != nil && (strings.Contains(err.Error(), "no matches for kind") || strings.Contains(err.Error(), "the server could not find the requested resource")) {
		return fmt.Errorf("%w (%w)", errNoMPIJobs, err)
	}
	return c.explain(err)
}

// fromJob maps a live job's spec back into the model (import, and edits
// made out of band, which then plan a replacement), keeping the model's
// spelling where the live value means the same.
func (m *mpiJobModel) fromJob(job *kubeflow.MPIJob) {
	s := job.Spec
	m.Implementation = types.StringValue(orDefault(string(s.MPIImplementation), string(kubeflow.MPIImplementationOpenMPI)))
	m.SlotsPerWorker = types.Int64Value(int64(derefInt32(s.SlotsPerWorker, 1)))
	m.RunLauncherAsWorker = types.BoolValue(s.RunLauncherAsWorker != nil && *s.RunLauncherAsWorker)
	m.LauncherCreationPolicy = types.StringValue(orDefault(string(s.LauncherCreationPolicy), string(kubeflow.LauncherCreationPolicyAtStartup)))
	m.SSHAuthMountPath = types.StringValue(orDefault(s.SSHAuthMountPath, kubeflow.DefaultSSHAuthMountPath))
	if l := s.MPIReplicaSpecs[kubeflow.MPIReplicaTypeLauncher]; l != nil {
		m.Launcher = replicaFrom(l, m.Launcher, false)
	}
	if w := s.MPIReplicaSpecs[kubeflow.MPIReplicaTypeWorker]; w != nil {
		m.Worker = replicaFrom(w, m.Worker, true)
	} else {
		m.Worker = nil
	}
	rp := s.RunPolicy
	cur := m.RunPolicy
	if cur == nil {
		cur = &mpiRunPolicy{}
	}
	p := &mpiRunPolicy{
		CleanPodPolicy:          types.StringNull(),
		TTLSecondsAfterFinished: int64Of(rp.TTLSecondsAfterFinished),
		ActiveDeadlineSeconds:   types.Int64PointerValue(rp.ActiveDeadlineSeconds),
		BackoffLimit:            int64Of(rp.BackoffLimit),
		Suspend:                 types.BoolValue(rp.Suspend != nil && *rp.Suspend),
		ManagedBy:               types.StringPointerValue(rp.ManagedBy),
		SchedulingPolicy:        cur.SchedulingPolicy,
	}
	if rp.CleanPodPolicy != nil {
		p.CleanPodPolicy = types.StringValue(string(*rp.CleanPodPolicy))
	}
	if sp := rp.SchedulingPolicy; sp != nil {
		p.SchedulingPolicy = &mpiSchedulingPolicy{
			MinAvailable: int64Of(sp.MinAvailable), Queue: optionalString(types.StringNull(), sp.Queue),
			PriorityClass: optionalString(types.StringNull(), sp.PriorityClass), ScheduleTimeoutSeconds: int64Of(sp.ScheduleTimeoutSeconds),
		}
	} else {
		p.SchedulingPolicy = nil
	}
	if m.RunPolicy != nil || p.CleanPodPolicy.ValueString() != "" || !p.TTLSecondsAfterFinished.IsNull() || !p.ActiveDeadlineSeconds.IsNull() ||
		!p.BackoffLimit.IsNull() || p.Suspend.ValueBool() || !p.ManagedBy.IsNull() || p.SchedulingPolicy != nil {
		m.RunPolicy = p
	}
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func derefInt32(p *int32, def int32) int32 {
	if p == nil {
		return def
	}
	return *p
}

func int64Of(p *int32) types.Int64 {
	if p == nil {
		return types.Int64Null()
	}
	return types.Int64Value(int64(*p))
}

func stringValues(in []string) []types.String {
	var out []types.String
	for _, s := range in {
		out = append(out, types.StringValue(s))
	}
	return out
}

// replicaFrom maps a live replica spec back, keeping cur's spelling.
func replicaFrom(rs *kubeflow.ReplicaSpec, cur *mpiReplicaModel, worker bool) *mpiReplicaModel {
	if cur == nil {
		cur = &mpiReplicaModel{}
	}
	out := &mpiReplicaModel{Replicas: types.Int64Null(), Image: types.StringNull(), RunAsUser: types.Int64Null(), RestartPolicy: optionalString(types.StringNull(), string(rs.RestartPolicy))}
	out.Replicas = types.Int64Value(int64(derefInt32(rs.Replicas, 0)))
	if !worker {
		out.Replicas = types.Int64Value(int64(derefInt32(rs.Replicas, 1)))
	}
	spec := rs.Template.Spec
	if len(spec.Containers) == 0 {
		return out
	}
	c := spec.Containers[0]
	out.Image = types.StringValue(c.Image)
	out.Command, out.Args = stringValues(c.Command), stringValues(c.Args)
	if len(c.Env) > 0 {
		out.Env = map[string]string{}
		for _, e := range c.Env {
			out.Env[e.Name] = e.Value
		}
	}
	if len(spec.NodeSelector) > 0 {
		out.NodeSelector = spec.NodeSelector
	}
	if sc := c.SecurityContext; sc != nil && sc.RunAsUser != nil {
		out.RunAsUser = types.Int64Value(*sc.RunAsUser)
	}
	if l := c.Resources.Limits; len(l) > 0 {
		res := &mpiResources{CPU: types.StringNull(), Memory: types.StringNull(), GPU: types.Int64Null(), TPU: types.Int64Null()}
		keep := func(name corev1.ResourceName, curV types.String) types.String {
			q, ok := l[name]
			if !ok {
				return types.StringNull()
			}
			if known(curV) {
				if c, err := k8sresource.ParseQuantity(curV.ValueString()); err == nil && c.Cmp(q) == 0 {
					return curV
				}
			}
			return types.StringValue(q.String())
		}
		var curRes mpiResources
		if cur.Resources != nil {
			curRes = *cur.Resources
		}
		res.CPU, res.Memory = keep(corev1.ResourceCPU, curRes.CPU), keep(corev1.ResourceMemory, curRes.Memory)
		if q, ok := l["nvidia.com/gpu"]; ok {
			res.GPU = types.Int64Value(q.Value())
		}
		if q, ok := l["google.com/tpu"]; ok {
			res.TPU = types.Int64Value(q.Value())
		}
		out.Resources = res
	}
	for _, t := range spec.Tolerations {
		out.Tolerations = append(out.Tolerations, mpiToleration{
			Key: optionalString(types.StringNull(), t.Key), Operator: optionalString(types.StringNull(), string(t.Operator)),
			Value: optionalString(types.StringNull(), t.Value), Effect: optionalString(types.StringNull(), string(t.Effect)),
		})
	}
	mounts := map[string]corev1.VolumeMount{}
	for _, vm := range c.VolumeMounts {
		mounts[vm.Name] = vm
	}
	for _, v := range spec.Volumes {
		vm, ok := mounts[v.Name]
		if !ok {
			continue
		}
		mv := mpiVolume{Name: types.StringValue(v.Name), MountPath: types.StringValue(vm.MountPath), ReadOnly: types.BoolNull(),
			PersistentVolumeClaim: types.StringNull(), ConfigMap: types.StringNull(), Secret: types.StringNull(), HostPath: types.StringNull(), EmptyDir: types.BoolNull()}
		if vm.ReadOnly {
			mv.ReadOnly = types.BoolValue(true)
		}
		switch {
		case v.PersistentVolumeClaim != nil:
			mv.PersistentVolumeClaim = types.StringValue(v.PersistentVolumeClaim.ClaimName)
		case v.ConfigMap != nil:
			mv.ConfigMap = types.StringValue(v.ConfigMap.Name)
		case v.Secret != nil:
			mv.Secret = types.StringValue(v.Secret.SecretName)
		case v.HostPath != nil:
			mv.HostPath = types.StringValue(v.HostPath.Path)
		}
		out.Volumes = append(out.Volumes, mv)
	}
	// Keep the configuration's read_only = false and empty_dir spelling.
	for i := range out.Volumes {
		if i < len(cur.Volumes) && cur.Volumes[i].Name.Equal(out.Volumes[i].Name) {
			if out.Volumes[i].ReadOnly.IsNull() && known(cur.Volumes[i].ReadOnly) && !cur.Volumes[i].ReadOnly.ValueBool() {
				out.Volumes[i].ReadOnly = cur.Volumes[i].ReadOnly
			}
			out.Volumes[i].EmptyDir = cur.Volumes[i].EmptyDir
		}
	}
	return out
}
