package pipeline

import (
	"encoding/json"
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
)

// PodConfig is a task's KubernetesExecutorConfig with every name and JSON
// value resolved for one task instance: what the pod executor applies to
// the task's pod. Entries marked optional whose name had no value are
// dropped, as KFP does.
type PodConfig struct {
	// SecretVolumes mount secrets.
	SecretVolumes []ObjectVolume `json:"secretVolumes,omitempty"`
	// SecretEnv sets variables from secret keys.
	SecretEnv []KeyEnv `json:"secretEnv,omitempty"`
	// ConfigMapVolumes mount config maps.
	ConfigMapVolumes []ObjectVolume `json:"configMapVolumes,omitempty"`
	// ConfigMapEnv sets variables from config map keys.
	ConfigMapEnv []KeyEnv `json:"configMapEnv,omitempty"`
	// PVCMounts mount claims.
	PVCMounts []PVCMountResolved `json:"pvcMounts,omitempty"`
	// NodeSelector restricts the nodes.
	NodeSelector map[string]string `json:"nodeSelector,omitempty"`
	// Labels and Annotations go on the pod.
	Labels map[string]string `json:"labels,omitempty"`
	// Annotations go on the pod.
	Annotations map[string]string `json:"annotations,omitempty"`
	// ImagePullSecrets name pull secrets.
	ImagePullSecrets []string `json:"imagePullSecrets,omitempty"`
	// ImagePullPolicy of the task's container.
	ImagePullPolicy string `json:"imagePullPolicy,omitempty"`
	// FieldPathEnv sets variables from pod fields.
	FieldPathEnv []*FieldPathAsEnv `json:"fieldPathEnv,omitempty"`
	// Tolerations allow tainted nodes (literal ones; JSON ones decoded into
	// the same shape).
	Tolerations []map[string]any `json:"tolerations,omitempty"`
	// EphemeralVolumes are generic ephemeral volumes.
	EphemeralVolumes []*GenericEphemeralVolume `json:"ephemeralVolumes,omitempty"`
	// NodeAffinity are literal terms.
	NodeAffinity []*NodeAffinityTerm `json:"nodeAffinity,omitempty"`
	// NodeAffinityJSON are Kubernetes NodeAffinity objects given at run time.
	NodeAffinityJSON []map[string]any `json:"nodeAffinityJson,omitempty"`
	// PodAffinity are pod (anti-)affinity terms.
	PodAffinity []*PodAffinityTerm `json:"podAffinity,omitempty"`
	// SharedMemory mounts /dev/shm.
	SharedMemory *EnabledSharedMemory `json:"sharedMemory,omitempty"`
	// EmptyDirs mount empty directories.
	EmptyDirs []*EmptyDirMount `json:"emptyDirs,omitempty"`
	// SecurityContext sets the container's user.
	SecurityContext *SecurityContextConfig `json:"securityContext,omitempty"`
	// InitContainers run before the task.
	InitContainers []*InitContainerConfig `json:"initContainers,omitempty"`
	// ResourceClaims claim dynamically allocated resources.
	ResourceClaims []ResourceClaimResolved `json:"resourceClaims,omitempty"`
}

// ObjectVolume mounts a secret or config map.
type ObjectVolume struct {
	// Name is the object's name.
	Name string `json:"name"`
	// MountPath is where it is mounted.
	MountPath string `json:"mountPath"`
	// Optional lets the pod start without the object.
	Optional bool `json:"optional,omitempty"`
}

// KeyEnv sets a variable from a key of a secret or config map.
type KeyEnv struct {
	// Name is the object's name.
	Name string `json:"name"`
	// Key is the key in the object's data.
	Key string `json:"key"`
	// Env is the variable.
	Env string `json:"env"`
	// Optional lets the pod start without the object.
	Optional bool `json:"optional,omitempty"`
}

// PVCMountResolved mounts a claim.
type PVCMountResolved struct {
	// ClaimName is the claim.
	ClaimName string `json:"claimName"`
	// MountPath is where.
	MountPath string `json:"mountPath"`
	// SubPath mounts a directory of the volume.
	SubPath string `json:"subPath,omitempty"`
}

// ResourceClaimResolved is a pod resource claim.
type ResourceClaimResolved struct {
	// TemplateName names a ResourceClaimTemplate.
	TemplateName string `json:"templateName,omitempty"`
	// ClaimName names a ResourceClaim.
	ClaimName string `json:"claimName,omitempty"`
	// JSON is a Kubernetes PodResourceClaim given at run time.
	JSON map[string]any `json:"json,omitempty"`
}

// Empty reports whether the config asks for nothing.
func (p *PodConfig) Empty() bool {
	if p == nil {
		return true
	}
	b, _ := json.Marshal(p)
	return string(b) == "{}"
}

// NotHonouredLocally lists the features of p that a local process cannot
// have (no pod, no cluster), for the local executor to say so.
func (p *PodConfig) NotHonouredLocally() []string {
	if p == nil {
		return nil
	}
	var out []string
	add := func(cond bool, what string) {
		if cond {
			out = append(out, what)
		}
	}
	add(len(p.SecretVolumes) > 0, "secrets as volumes")
	add(len(p.SecretEnv) > 0, "secrets as environment variables")
	add(len(p.ConfigMapVolumes) > 0, "config maps as volumes")
	add(len(p.ConfigMapEnv) > 0, "config maps as environment variables")
	add(len(p.PVCMounts) > 0, "PVC mounts")
	add(len(p.NodeSelector) > 0, "node selector")
	add(len(p.ImagePullSecrets) > 0 || p.ImagePullPolicy != "", "image pull settings")
	add(len(p.Tolerations) > 0, "tolerations")
	add(len(p.EphemeralVolumes) > 0, "generic ephemeral volumes")
	add(len(p.NodeAffinity)+len(p.NodeAffinityJSON) > 0, "node affinity")
	add(len(p.PodAffinity) > 0, "pod affinity")
	add(p.SharedMemory != nil, "shared memory volume")
	add(len(p.EmptyDirs) > 0, "empty-dir mounts")
	add(p.SecurityContext != nil, "security context")
	add(len(p.InitContainers) > 0, "init containers")
	add(len(p.ResourceClaims) > 0, "resource claims")
	for _, f := range p.FieldPathEnv {
		if _, ok := p.LocalFieldPath(f.FieldPath); !ok {
			out = append(out, "field path "+f.FieldPath)
		}
	}
	return out
}

var metadataFieldRE = regexp.MustCompile(`^metadata\.(labels|annotations)\['([^']+)'\]$`)

// LocalFieldPath is the value a field path has for a local process: the
// pod's labels and annotations that the config sets.
func (p *PodConfig) LocalFieldPath(fieldPath string) (string, bool) {
	m := metadataFieldRE.FindStringSubmatch(fieldPath)
	if m == nil {
		return "", false
	}
	src := p.Labels
	if m[1] == "annotations" {
		src = p.Annotations
	}
	return src[m[2]], true
}

// foldDeprecated moves the deprecated literal names into their parameter
// fields, so that resolution has one form.
func (k *KubernetesExecutorConfig) foldDeprecated() {
	constant := func(name string) *InputParameterSpec {
		return &InputParameterSpec{RuntimeValue: &RuntimeValue{Constant: name}}
	}
	for _, s := range k.SecretAsVolume {
		if s.SecretNameParameter == nil && s.SecretName != "" {
			s.SecretNameParameter = constant(s.SecretName)
		}
	}
	for _, s := range k.SecretAsEnv {
		if s.SecretNameParameter == nil && s.SecretName != "" {
			s.SecretNameParameter = constant(s.SecretName)
		}
	}
	for _, s := range k.ConfigMapAsVolume {
		if s.ConfigMapNameParameter == nil && s.ConfigMapName != "" {
			s.ConfigMapNameParameter = constant(s.ConfigMapName)
		}
	}
	for _, s := range k.ConfigMapAsEnv {
		if s.ConfigMapNameParameter == nil && s.ConfigMapName != "" {
			s.ConfigMapNameParameter = constant(s.ConfigMapName)
		}
	}
	for _, s := range k.ImagePullSecret {
		if s.SecretNameParameter == nil && s.SecretName != "" {
			s.SecretNameParameter = constant(s.SecretName)
		}
	}
	for _, m := range k.PvcMount {
		if m.PvcNameParameter != nil {
			continue
		}
		switch {
		case m.TaskOutputParameter != nil:
			m.PvcNameParameter = &InputParameterSpec{TaskOutputParameter: m.TaskOutputParameter}
		case m.ComponentInputParameter != "":
			m.PvcNameParameter = &InputParameterSpec{ComponentInputParameter: m.ComponentInputParameter}
		case m.Constant != "":
			m.PvcNameParameter = constant(m.Constant)
		}
	}
}

// platformRef is one run-time value of a KubernetesExecutorConfig, with
// the field it fills (for errors).
type platformRef struct {
	field string
	spec  *InputParameterSpec
}

// refs lists every value the config takes at run time.
func (k *KubernetesExecutorConfig) refs() []platformRef {
	var out []platformRef
	add := func(field string, s *InputParameterSpec) {
		if s != nil {
			out = append(out, platformRef{field, s})
		}
	}
	for i, s := range k.SecretAsVolume {
		add(fmt.Sprintf("secretAsVolume[%d].secretNameParameter", i), s.SecretNameParameter)
	}
	for i, s := range k.SecretAsEnv {
		add(fmt.Sprintf("secretAsEnv[%d].secretNameParameter", i), s.SecretNameParameter)
	}
	for i, s := range k.ConfigMapAsVolume {
		add(fmt.Sprintf("configMapAsVolume[%d].configMapNameParameter", i), s.ConfigMapNameParameter)
	}
	for i, s := range k.ConfigMapAsEnv {
		add(fmt.Sprintf("configMapAsEnv[%d].configMapNameParameter", i), s.ConfigMapNameParameter)
	}
	for i, s := range k.ImagePullSecret {
		add(fmt.Sprintf("imagePullSecret[%d].secretNameParameter", i), s.SecretNameParameter)
	}
	for i, m := range k.PvcMount {
		add(fmt.Sprintf("pvcMount[%d].pvcNameParameter", i), m.PvcNameParameter)
	}
	if k.NodeSelector != nil {
		add("nodeSelector.nodeSelectorJson", k.NodeSelector.NodeSelectorJSON)
	}
	for i, t := range k.Tolerations {
		add(fmt.Sprintf("tolerations[%d].tolerationJson", i), t.TolerationJSON)
	}
	for i, t := range k.NodeAffinity {
		add(fmt.Sprintf("nodeAffinity[%d].nodeAffinityJson", i), t.NodeAffinityJSON)
	}
	for i, r := range k.PodResourceClaims {
		add(fmt.Sprintf("podResourceClaims[%d].resourceClaimJson", i), r.ResourceClaimJSON)
	}
	return out
}

var (
	envNameRE  = regexp.MustCompile(`^[-._a-zA-Z][-._a-zA-Z0-9]*$`)
	dnsLabelRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
)

// check reports the static problems of a config: paths, names, enums and
// quantities that no pod could be created with.
func (k *KubernetesExecutorConfig) check(add func(field, format string, args ...any)) {
	mount := func(field, p string) {
		if p == "" || !path.IsAbs(p) {
			add(field, "mount path %q must be an absolute path", p)
		}
	}
	quantity := func(field, q string) {
		if q == "" {
			return
		}
		if _, err := resource.ParseQuantity(q); err != nil {
			add(field, "%q is not a Kubernetes quantity", q)
		}
	}
	env := func(field, name string) {
		if !envNameRE.MatchString(name) {
			add(field, "%q is not a valid environment variable name", name)
		}
	}
	volume := func(field, name string) {
		if !dnsLabelRE.MatchString(name) || len(name) > 58 {
			add(field, "volume name %q must be a DNS label (lower case letters, digits, '-') of at most 58 characters", name)
		}
	}
	for i, s := range k.SecretAsVolume {
		mount(fmt.Sprintf("secretAsVolume[%d].mountPath", i), s.MountPath)
		if s.SecretNameParameter == nil {
			add(fmt.Sprintf("secretAsVolume[%d]", i), "names no secret")
		}
	}
	for i, s := range k.SecretAsEnv {
		if s.SecretNameParameter == nil {
			add(fmt.Sprintf("secretAsEnv[%d]", i), "names no secret")
		}
		for j, e := range s.KeyToEnv {
			env(fmt.Sprintf("secretAsEnv[%d].keyToEnv[%d].envVar", i, j), e.EnvVar)
		}
	}
	for i, s := range k.ConfigMapAsVolume {
		mount(fmt.Sprintf("configMapAsVolume[%d].mountPath", i), s.MountPath)
		if s.ConfigMapNameParameter == nil {
			add(fmt.Sprintf("configMapAsVolume[%d]", i), "names no config map")
		}
	}
	for i, s := range k.ConfigMapAsEnv {
		if s.ConfigMapNameParameter == nil {
			add(fmt.Sprintf("configMapAsEnv[%d]", i), "names no config map")
		}
		for j, e := range s.KeyToEnv {
			env(fmt.Sprintf("configMapAsEnv[%d].keyToEnv[%d].envVar", i, j), e.EnvVar)
		}
	}
	for i, m := range k.PvcMount {
		mount(fmt.Sprintf("pvcMount[%d].mountPath", i), m.MountPath)
		if m.PvcNameParameter == nil {
			add(fmt.Sprintf("pvcMount[%d]", i), "names no PVC")
		}
		if strings.HasPrefix(m.SubPath, "/") || slices.Contains(strings.Split(m.SubPath, "/"), "..") {
			add(fmt.Sprintf("pvcMount[%d].subPath", i), "sub path %q must be relative and stay inside the volume", m.SubPath)
		}
	}
	switch k.ImagePullPolicy {
	case "", "Always", "Never", "IfNotPresent":
	default:
		add("imagePullPolicy", "%q is not Always, Never or IfNotPresent", k.ImagePullPolicy)
	}
	if k.ActiveDeadlineSeconds < 0 {
		add("activeDeadlineSeconds", "must not be negative, is %d", k.ActiveDeadlineSeconds)
	}
	for i, f := range k.FieldPathAsEnv {
		env(fmt.Sprintf("fieldPathAsEnv[%d].name", i), f.Name)
		if !strings.HasPrefix(f.FieldPath, "metadata.") && !strings.HasPrefix(f.FieldPath, "spec.") && !strings.HasPrefix(f.FieldPath, "status.") {
			add(fmt.Sprintf("fieldPathAsEnv[%d].fieldPath", i), "%q is not a pod field path (metadata.*, spec.*, status.*)", f.FieldPath)
		}
	}
	for i, t := range k.Tolerations {
		field := fmt.Sprintf("tolerations[%d]", i)
		if t.TolerationJSON != nil {
			continue
		}
		switch t.Operator {
		case "", "Equal", "Exists":
		default:
			add(field+".operator", "%q is not Equal or Exists", t.Operator)
		}
		switch t.Effect {
		case "", "NoSchedule", "PreferNoSchedule", "NoExecute":
		default:
			add(field+".effect", "%q is not NoSchedule, PreferNoSchedule or NoExecute", t.Effect)
		}
	}
	selector := func(field string, reqs []*SelectorRequirement) {
		for j, r := range reqs {
			switch r.Operator {
			case "In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt":
			default:
				add(fmt.Sprintf("%s[%d].operator", field, j), "%q is not In, NotIn, Exists, DoesNotExist, Gt or Lt", r.Operator)
			}
		}
	}
	for i, t := range k.NodeAffinity {
		selector(fmt.Sprintf("nodeAffinity[%d].matchExpressions", i), t.MatchExpressions)
		selector(fmt.Sprintf("nodeAffinity[%d].matchFields", i), t.MatchFields)
		if t.Weight != nil && (*t.Weight < 1 || *t.Weight > 100) {
			add(fmt.Sprintf("nodeAffinity[%d].weight", i), "must be 1 to 100, is %d", *t.Weight)
		}
	}
	for i, t := range k.PodAffinity {
		selector(fmt.Sprintf("podAffinity[%d].matchPodExpressions", i), t.MatchPodExpressions)
		if t.TopologyKey == "" {
			add(fmt.Sprintf("podAffinity[%d].topologyKey", i), "a pod affinity term needs a topology key")
		}
	}
	for i, v := range k.GenericEphemeralVolume {
		volume(fmt.Sprintf("genericEphemeralVolume[%d].volumeName", i), v.VolumeName)
		mount(fmt.Sprintf("genericEphemeralVolume[%d].mountPath", i), v.MountPath)
		quantity(fmt.Sprintf("genericEphemeralVolume[%d].size", i), v.Size)
		if v.Size == "" {
			add(fmt.Sprintf("genericEphemeralVolume[%d].size", i), "an ephemeral volume needs a size")
		}
	}
	if s := k.EnabledSharedMemory; s != nil {
		quantity("enabledSharedMemory.size", s.Size)
	}
	for i, d := range k.EmptyDirMounts {
		volume(fmt.Sprintf("emptyDirMounts[%d].volumeName", i), d.VolumeName)
		mount(fmt.Sprintf("emptyDirMounts[%d].mountPath", i), d.MountPath)
		if d.SizeLimit != nil {
			quantity(fmt.Sprintf("emptyDirMounts[%d].sizeLimit", i), *d.SizeLimit)
		}
		if d.Medium != nil && *d.Medium != "" && *d.Medium != "Memory" {
			add(fmt.Sprintf("emptyDirMounts[%d].medium", i), "%q is not \"\" or Memory", *d.Medium)
		}
	}
	for i, c := range k.InitContainers {
		field := fmt.Sprintf("initContainers[%d]", i)
		if !dnsLabelRE.MatchString(c.Name) || strings.HasPrefix(c.Name, "kfstack-") {
			add(field+".name", "%q must be a DNS label not starting with kfstack-", c.Name)
		}
		if c.Image == "" {
			add(field+".image", "an init container needs an image")
		}
		if c.RestartPolicy != nil && *c.RestartPolicy != "Always" {
			add(field+".restartPolicy", "only Always is supported, got %q", *c.RestartPolicy)
		}
		if c.Resources != nil {
			for _, m := range []map[string]string{c.Resources.Requests, c.Resources.Limits} {
				for name, q := range m {
					quantity(field+".resources."+name, q)
				}
			}
		}
	}
	for i, r := range k.PodResourceClaims {
		if r.ResourceClaimJSON == nil && (r.ResourceClaimTemplateName == "") == (r.ResourceClaimName == "") {
			add(fmt.Sprintf("podResourceClaims[%d]", i), "needs exactly one of resourceClaimTemplateName, resourceClaimName or resourceClaimJson")
		}
	}
}

// PlatformValue is a resolved run-time value of the config: ok is false
// when the binding had no value (an optional input left unset).
type PlatformValue struct {
	Value any
	OK    bool
}

// Resolve fills the config's run-time values in, for one task instance:
// value returns the resolved binding of each InputParameterSpec.
func (k *KubernetesExecutorConfig) Resolve(value func(*InputParameterSpec) PlatformValue) (*PodConfig, error) {
	if k == nil {
		return nil, nil
	}
	p := &PodConfig{ImagePullPolicy: k.ImagePullPolicy, SharedMemory: k.EnabledSharedMemory, SecurityContext: k.SecurityContext,
		EphemeralVolumes: k.GenericEphemeralVolume, EmptyDirs: k.EmptyDirMounts, InitContainers: k.InitContainers,
		PodAffinity: k.PodAffinity, FieldPathEnv: k.FieldPathAsEnv}
	name := func(field string, s *InputParameterSpec, optional bool) (string, bool, error) {
		v := value(s)
		str := ""
		if v.OK && v.Value != nil {
			str = FormatParameter(v.Value)
		}
		if str == "" {
			if optional {
				return "", false, nil
			}
			return "", false, fmt.Errorf("%s: has no value", field)
		}
		return str, true, nil
	}
	object := func(field string, s *InputParameterSpec) (any, bool, error) {
		if s == nil {
			return nil, false, nil
		}
		v := value(s)
		if !v.OK || v.Value == nil {
			return nil, false, nil
		}
		if str, isStr := v.Value.(string); isStr {
			if strings.TrimSpace(str) == "" {
				return nil, false, nil
			}
			var out any
			if err := json.Unmarshal([]byte(str), &out); err != nil {
				return nil, false, fmt.Errorf("%s: %q is not JSON", field, str)
			}
			return out, true, nil
		}
		return v.Value, true, nil
	}
	isOpt := func(b *bool) bool { return b != nil && *b }
	for i, s := range k.SecretAsVolume {
		n, ok, err := name(fmt.Sprintf("secretAsVolume[%d].secretNameParameter", i), s.SecretNameParameter, isOpt(s.Optional))
		if err != nil {
			return nil, err
		}
		if ok {
			p.SecretVolumes = append(p.SecretVolumes, ObjectVolume{Name: n, MountPath: s.MountPath, Optional: isOpt(s.Optional)})
		}
	}
	for i, s := range k.SecretAsEnv {
		n, ok, err := name(fmt.Sprintf("secretAsEnv[%d].secretNameParameter", i), s.SecretNameParameter, isOpt(s.Optional))
		if err != nil {
			return nil, err
		}
		for _, e := range s.KeyToEnv {
			if ok {
				p.SecretEnv = append(p.SecretEnv, KeyEnv{Name: n, Key: e.SecretKey, Env: e.EnvVar, Optional: isOpt(s.Optional)})
			}
		}
	}
	for i, s := range k.ConfigMapAsVolume {
		n, ok, err := name(fmt.Sprintf("configMapAsVolume[%d].configMapNameParameter", i), s.ConfigMapNameParameter, isOpt(s.Optional))
		if err != nil {
			return nil, err
		}
		if ok {
			p.ConfigMapVolumes = append(p.ConfigMapVolumes, ObjectVolume{Name: n, MountPath: s.MountPath, Optional: isOpt(s.Optional)})
		}
	}
	for i, s := range k.ConfigMapAsEnv {
		n, ok, err := name(fmt.Sprintf("configMapAsEnv[%d].configMapNameParameter", i), s.ConfigMapNameParameter, isOpt(s.Optional))
		if err != nil {
			return nil, err
		}
		for _, e := range s.KeyToEnv {
			if ok {
				p.ConfigMapEnv = append(p.ConfigMapEnv, KeyEnv{Name: n, Key: e.ConfigMapKey, Env: e.EnvVar, Optional: isOpt(s.Optional)})
			}
		}
	}
	for i, s := range k.ImagePullSecret {
		n, ok, err := name(fmt.Sprintf("imagePullSecret[%d].secretNameParameter", i), s.SecretNameParameter, true)
		if err != nil {
			return nil, err
		}
		if ok {
			p.ImagePullSecrets = append(p.ImagePullSecrets, n)
		}
	}
	for i, m := range k.PvcMount {
		n, _, err := name(fmt.Sprintf("pvcMount[%d].pvcNameParameter", i), m.PvcNameParameter, false)
		if err != nil {
			return nil, err
		}
		p.PVCMounts = append(p.PVCMounts, PVCMountResolved{ClaimName: n, MountPath: m.MountPath, SubPath: m.SubPath})
	}
	if ns := k.NodeSelector; ns != nil {
		sel, ok, err := object("nodeSelector.nodeSelectorJson", ns.NodeSelectorJSON)
		if err != nil {
			return nil, err
		}
		if ok {
			m, isMap := sel.(map[string]any)
			if !isMap {
				return nil, fmt.Errorf("nodeSelector.nodeSelectorJson: expected a struct of labels, got %s", describe(NormalizeValue(sel)))
			}
			p.NodeSelector = map[string]string{}
			for key, v := range m {
				p.NodeSelector[key] = FormatParameter(v)
			}
		} else if len(ns.Labels) > 0 {
			p.NodeSelector = ns.Labels
		}
	}
	if md := k.PodMetadata; md != nil {
		p.Labels, p.Annotations = md.Labels, md.Annotations
	}
	for i, t := range k.Tolerations {
		field := fmt.Sprintf("tolerations[%d].tolerationJson", i)
		if t.TolerationJSON == nil {
			m := map[string]any{"key": t.Key, "operator": t.Operator, "value": t.Value, "effect": t.Effect}
			if t.TolerationSeconds != nil {
				m["tolerationSeconds"] = float64(*t.TolerationSeconds)
			}
			p.Tolerations = append(p.Tolerations, m)
			continue
		}
		v, ok, err := object(field, t.TolerationJSON)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		switch x := NormalizeValue(v).(type) {
		case map[string]any:
			p.Tolerations = append(p.Tolerations, x)
		case []any:
			for _, e := range x {
				m, isMap := e.(map[string]any)
				if !isMap {
					return nil, fmt.Errorf("%s: expected a toleration struct, got %s", field, describe(e))
				}
				p.Tolerations = append(p.Tolerations, m)
			}
		default:
			return nil, fmt.Errorf("%s: expected a toleration struct or a list of them, got %s", field, describe(x))
		}
	}
	for i, t := range k.NodeAffinity {
		if t.NodeAffinityJSON == nil {
			p.NodeAffinity = append(p.NodeAffinity, t)
			continue
		}
		field := fmt.Sprintf("nodeAffinity[%d].nodeAffinityJson", i)
		v, ok, err := object(field, t.NodeAffinityJSON)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		m, isMap := NormalizeValue(v).(map[string]any)
		if !isMap {
			return nil, fmt.Errorf("%s: expected a NodeAffinity struct, got %s", field, describe(NormalizeValue(v)))
		}
		p.NodeAffinityJSON = append(p.NodeAffinityJSON, m)
	}
	for i, r := range k.PodResourceClaims {
		if r.ResourceClaimJSON == nil {
			p.ResourceClaims = append(p.ResourceClaims, ResourceClaimResolved{TemplateName: r.ResourceClaimTemplateName, ClaimName: r.ResourceClaimName})
			continue
		}
		field := fmt.Sprintf("podResourceClaims[%d].resourceClaimJson", i)
		v, ok, err := object(field, r.ResourceClaimJSON)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		m, isMap := NormalizeValue(v).(map[string]any)
		if !isMap {
			return nil, fmt.Errorf("%s: expected a PodResourceClaim struct, got %s", field, describe(NormalizeValue(v)))
		}
		p.ResourceClaims = append(p.ResourceClaims, ResourceClaimResolved{JSON: m})
	}
	return p, nil
}
