package controller

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kfstack/terraform-provider-kubeflow/runtime/pipeline"
)

// WorkspaceMountPath is where a run's workspace is mounted in its task
// pods, the path KFP uses ({{$.workspace_path}}).
const WorkspaceMountPath = "/kfp-workspace"

// workspaceVolume is the pod volume of the run's workspace.
const workspaceVolume = "kfp-workspace"

// applyPodConfig adds a task's kfp-kubernetes settings (resolved for this
// task instance) to its pod. Volume names are derived from what they mount
// and never collide with the controller's own.
func applyPodConfig(pod *corev1.Pod, cfg *pipeline.PodConfig) error {
	if cfg == nil {
		return nil
	}
	spec := &pod.Spec
	main := mainContainerOf(spec)
	addVolume := func(kind, key string, src corev1.VolumeSource, mountPath, subPath string, readOnly bool) {
		name := volumeName(kind, key+"\x00"+mountPath)
		spec.Volumes = append(spec.Volumes, corev1.Volume{Name: name, VolumeSource: src})
		main.VolumeMounts = append(main.VolumeMounts, corev1.VolumeMount{Name: name, MountPath: mountPath, SubPath: subPath, ReadOnly: readOnly})
	}
	for _, v := range cfg.SecretVolumes {
		addVolume("secret", v.Name, corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: v.Name, Optional: boolPtr(v.Optional)}}, v.MountPath, "", true)
	}
	for _, v := range cfg.ConfigMapVolumes {
		addVolume("configmap", v.Name, corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: v.Name}, Optional: boolPtr(v.Optional)}}, v.MountPath, "", true)
	}
	for _, m := range cfg.PVCMounts {
		addVolume("pvc", m.ClaimName, corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: m.ClaimName}}, m.MountPath, m.SubPath, false)
	}
	for _, e := range cfg.SecretEnv {
		main.Env = append(main.Env, corev1.EnvVar{Name: e.Env, ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: e.Name}, Key: e.Key, Optional: boolPtr(e.Optional)}}})
	}
	for _, e := range cfg.ConfigMapEnv {
		main.Env = append(main.Env, corev1.EnvVar{Name: e.Env, ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: e.Name}, Key: e.Key, Optional: boolPtr(e.Optional)}}})
	}
	for _, f := range cfg.FieldPathEnv {
		main.Env = append(main.Env, corev1.EnvVar{Name: f.Name, ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: f.FieldPath}}})
	}
	for k, v := range cfg.NodeSelector {
		if spec.NodeSelector == nil {
			spec.NodeSelector = map[string]string{}
		}
		spec.NodeSelector[k] = v
	}
	// The controller's own labels and annotations win: they tie the pod
	// to its run.
	pod.Labels = mergeMissing(pod.Labels, cfg.Labels)
	pod.Annotations = mergeMissing(pod.Annotations, cfg.Annotations)
	for _, s := range cfg.ImagePullSecrets {
		spec.ImagePullSecrets = append(spec.ImagePullSecrets, corev1.LocalObjectReference{Name: s})
	}
	if cfg.ImagePullPolicy != "" {
		main.ImagePullPolicy = corev1.PullPolicy(cfg.ImagePullPolicy)
	}
	for i, t := range cfg.Tolerations {
		var tol corev1.Toleration
		if err := strictJSON(t, &tol); err != nil {
			return fmt.Errorf("kubernetes.tolerations[%d]: %w", i, err)
		}
		spec.Tolerations = append(spec.Tolerations, tol)
	}
	for _, v := range cfg.EphemeralVolumes {
		q, err := resource.ParseQuantity(v.Size)
		if err != nil {
			return fmt.Errorf("kubernetes.genericEphemeralVolume %s: size %q: %w", v.VolumeName, v.Size, err)
		}
		claim := corev1.PersistentVolumeClaimSpec{Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: q}}}
		for _, m := range v.AccessModes {
			claim.AccessModes = append(claim.AccessModes, corev1.PersistentVolumeAccessMode(m))
		}
		if !v.DefaultStorageClass && v.StorageClassName != "" {
			sc := v.StorageClassName
			claim.StorageClassName = &sc
		}
		tmpl := &corev1.PersistentVolumeClaimTemplate{Spec: claim}
		if v.Metadata != nil {
			tmpl.Labels, tmpl.Annotations = v.Metadata.Labels, v.Metadata.Annotations
		}
		spec.Volumes = append(spec.Volumes, corev1.Volume{Name: userVolume(v.VolumeName), VolumeSource: corev1.VolumeSource{Ephemeral: &corev1.EphemeralVolumeSource{VolumeClaimTemplate: tmpl}}})
		main.VolumeMounts = append(main.VolumeMounts, corev1.VolumeMount{Name: userVolume(v.VolumeName), MountPath: v.MountPath})
	}
	for _, d := range cfg.EmptyDirs {
		src := &corev1.EmptyDirVolumeSource{}
		if d.Medium != nil {
			src.Medium = corev1.StorageMedium(*d.Medium)
		}
		if d.SizeLimit != nil {
			q, err := resource.ParseQuantity(*d.SizeLimit)
			if err != nil {
				return fmt.Errorf("kubernetes.emptyDirMounts %s: size limit %q: %w", d.VolumeName, *d.SizeLimit, err)
			}
			src.SizeLimit = &q
		}
		spec.Volumes = append(spec.Volumes, corev1.Volume{Name: userVolume(d.VolumeName), VolumeSource: corev1.VolumeSource{EmptyDir: src}})
		main.VolumeMounts = append(main.VolumeMounts, corev1.VolumeMount{Name: userVolume(d.VolumeName), MountPath: d.MountPath})
	}
	if shm := cfg.SharedMemory; shm != nil {
		src := &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory}
		if shm.Size != "" {
			q, err := resource.ParseQuantity(shm.Size)
			if err != nil {
				return fmt.Errorf("kubernetes.enabledSharedMemory: size %q: %w", shm.Size, err)
			}
			src.SizeLimit = &q
		}
		name := shm.VolumeName
		if name == "" {
			name = "shm"
		}
		spec.Volumes = append(spec.Volumes, corev1.Volume{Name: userVolume(name), VolumeSource: corev1.VolumeSource{EmptyDir: src}})
		main.VolumeMounts = append(main.VolumeMounts, corev1.VolumeMount{Name: userVolume(name), MountPath: "/dev/shm"})
	}
	if err := applyAffinity(spec, cfg); err != nil {
		return err
	}
	if sc := cfg.SecurityContext; sc != nil {
		if main.SecurityContext == nil {
			main.SecurityContext = &corev1.SecurityContext{}
		}
		main.SecurityContext.RunAsUser, main.SecurityContext.RunAsGroup, main.SecurityContext.RunAsNonRoot = sc.RunAsUser, sc.RunAsGroup, sc.RunAsNonRoot
		// KFP drops every capability of a task whose security context is
		// set, and so does kfstack.
		main.SecurityContext.Capabilities = &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}
		main.SecurityContext.AllowPrivilegeEscalation = boolPtr(false)
	}
	for _, c := range cfg.InitContainers {
		ic := corev1.Container{Name: c.Name, Image: c.Image, Command: c.Command, Args: c.Args}
		for _, e := range c.Env {
			ic.Env = append(ic.Env, corev1.EnvVar{Name: e.Name, Value: e.Value})
		}
		for _, m := range c.VolumeMounts {
			name, ok := findVolume(spec, m.VolumeName)
			if !ok {
				return fmt.Errorf("kubernetes.initContainers %s: volume %q is not defined by the task's settings", c.Name, m.VolumeName)
			}
			ic.VolumeMounts = append(ic.VolumeMounts, corev1.VolumeMount{Name: name, MountPath: m.MountPath})
		}
		if c.RestartPolicy != nil {
			p := corev1.ContainerRestartPolicy(*c.RestartPolicy)
			ic.RestartPolicy = &p
		}
		if r := c.Resources; r != nil {
			var err error
			if ic.Resources.Requests, err = resourceList(r.Requests); err != nil {
				return fmt.Errorf("kubernetes.initContainers %s: %w", c.Name, err)
			}
			if ic.Resources.Limits, err = resourceList(r.Limits); err != nil {
				return fmt.Errorf("kubernetes.initContainers %s: %w", c.Name, err)
			}
		}
		// After the controller's init container, so the launcher is in
		// place whatever the user's containers do.
		spec.InitContainers = append(spec.InitContainers, ic)
	}
	for i, rc := range cfg.ResourceClaims {
		claim := corev1.PodResourceClaim{Name: fmt.Sprintf("claim-%d", i)}
		switch {
		case rc.JSON != nil:
			if err := strictJSON(rc.JSON, &claim); err != nil {
				return fmt.Errorf("kubernetes.podResourceClaims[%d]: %w", i, err)
			}
			if claim.Name == "" {
				claim.Name = fmt.Sprintf("claim-%d", i)
			}
		case rc.TemplateName != "":
			n := rc.TemplateName
			claim.ResourceClaimTemplateName = &n
		default:
			n := rc.ClaimName
			claim.ResourceClaimName = &n
		}
		spec.ResourceClaims = append(spec.ResourceClaims, claim)
		main.Resources.Claims = append(main.Resources.Claims, corev1.ResourceClaim{Name: claim.Name})
	}
	return nil
}

// applyAffinity sets node affinity (literal terms and JSON objects given at
// run time) and pod (anti-)affinity.
func applyAffinity(spec *corev1.PodSpec, cfg *pipeline.PodConfig) error {
	if len(cfg.NodeAffinity)+len(cfg.NodeAffinityJSON)+len(cfg.PodAffinity) == 0 {
		return nil
	}
	if spec.Affinity == nil {
		spec.Affinity = &corev1.Affinity{}
	}
	aff := spec.Affinity
	reqs := func(in []*pipeline.SelectorRequirement) []corev1.NodeSelectorRequirement {
		var out []corev1.NodeSelectorRequirement
		for _, r := range in {
			out = append(out, corev1.NodeSelectorRequirement{Key: r.Key, Operator: corev1.NodeSelectorOperator(r.Operator), Values: r.Values})
		}
		return out
	}
	for _, t := range cfg.NodeAffinity {
		if aff.NodeAffinity == nil {
			aff.NodeAffinity = &corev1.NodeAffinity{}
		}
		term := corev1.NodeSelectorTerm{MatchExpressions: reqs(t.MatchExpressions), MatchFields: reqs(t.MatchFields)}
		if t.Weight != nil {
			aff.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution = append(aff.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution,
				corev1.PreferredSchedulingTerm{Weight: *t.Weight, Preference: term})
			continue
		}
		if aff.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
			aff.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution = &corev1.NodeSelector{}
		}
		r := aff.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution
		r.NodeSelectorTerms = append(r.NodeSelectorTerms, term)
	}
	for i, raw := range cfg.NodeAffinityJSON {
		var na corev1.NodeAffinity
		if err := strictJSON(raw, &na); err != nil {
			return fmt.Errorf("kubernetes.nodeAffinity[%d].nodeAffinityJson: %w", i, err)
		}
		if aff.NodeAffinity == nil {
			aff.NodeAffinity = &corev1.NodeAffinity{}
		}
		if r := na.RequiredDuringSchedulingIgnoredDuringExecution; r != nil {
			if aff.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
				aff.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution = &corev1.NodeSelector{}
			}
			cur := aff.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution
			cur.NodeSelectorTerms = append(cur.NodeSelectorTerms, r.NodeSelectorTerms...)
		}
		aff.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution = append(aff.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution, na.PreferredDuringSchedulingIgnoredDuringExecution...)
	}
	for _, t := range cfg.PodAffinity {
		term := corev1.PodAffinityTerm{TopologyKey: t.TopologyKey, Namespaces: t.Namespaces}
		if len(t.MatchPodLabels)+len(t.MatchPodExpressions) > 0 {
			term.LabelSelector = labelSelector(t.MatchPodLabels, t.MatchPodExpressions)
		}
		if len(t.MatchNamespaceLabels)+len(t.MatchNamespaceExpressions) > 0 {
			term.NamespaceSelector = labelSelector(t.MatchNamespaceLabels, t.MatchNamespaceExpressions)
		}
		anti := t.Anti != nil && *t.Anti
		var required *[]corev1.PodAffinityTerm
		var preferred *[]corev1.WeightedPodAffinityTerm
		if anti {
			if aff.PodAntiAffinity == nil {
				aff.PodAntiAffinity = &corev1.PodAntiAffinity{}
			}
			required, preferred = &aff.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution, &aff.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution
		} else {
			if aff.PodAffinity == nil {
				aff.PodAffinity = &corev1.PodAffinity{}
			}
			required, preferred = &aff.PodAffinity.RequiredDuringSchedulingIgnoredDuringExecution, &aff.PodAffinity.PreferredDuringSchedulingIgnoredDuringExecution
		}
		if t.Weight != nil {
			*preferred = append(*preferred, corev1.WeightedPodAffinityTerm{Weight: *t.Weight, PodAffinityTerm: term})
		} else {
			*required = append(*required, term)
		}
	}
	return nil
}

// workspaceClaimName names a run's workspace PVC.
func workspaceClaimName(run string) string {
	name := run + "-workspace"
	if len(name) > 253 {
		sum := sha256.Sum256([]byte(run))
		name = strings.TrimRight(run[:230], "-.") + "-" + hex.EncodeToString(sum[:])[:8] + "-workspace"
	}
	return name
}

func labelSelector(labels map[string]string, exprs []*pipeline.SelectorRequirement) *metav1.LabelSelector {
	sel := &metav1.LabelSelector{MatchLabels: labels}
	for _, e := range exprs {
		sel.MatchExpressions = append(sel.MatchExpressions, metav1.LabelSelectorRequirement{Key: e.Key, Operator: metav1.LabelSelectorOperator(e.Operator), Values: e.Values})
	}
	return sel
}

func resourceList(m map[string]string) (corev1.ResourceList, error) {
	if len(m) == 0 {
		return nil, nil
	}
	out := corev1.ResourceList{}
	for k, v := range m {
		q, err := resource.ParseQuantity(v)
		if err != nil {
			return nil, fmt.Errorf("resource %s: %q is not a quantity", k, v)
		}
		out[corev1.ResourceName(k)] = q
	}
	return out, nil
}

// strictJSON decodes a value given at run time into a Kubernetes type,
// refusing unknown fields (a misspelt key would silently do nothing).
func strictJSON(v any, into any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(into); err != nil {
		return fmt.Errorf("%s: %w", b, err)
	}
	return nil
}

// volumeName names a volume of the user's settings from its kind and what
// it mounts: short, a DNS label, and never one of the controller's.
func volumeName(kind, key string) string {
	sum := sha256.Sum256([]byte(key))
	return "kfp-" + kind + "-" + hex.EncodeToString(sum[:])[:10]
}

// userVolume keeps the name the user gave a volume (init containers refer
// to it), under a prefix the controller never uses.
func userVolume(name string) string { return "user-" + name }

// findVolume finds a volume the task's own settings define; the
// controller's volumes (the launcher's, the operator's defaults) are not
// theirs to mount in an init container.
func findVolume(spec *corev1.PodSpec, name string) (string, bool) {
	for _, v := range spec.Volumes {
		if v.Name == userVolume(name) || (v.Name == name && (strings.HasPrefix(name, "kfp-") || strings.HasPrefix(name, "user-"))) {
			return v.Name, true
		}
	}
	return "", false
}

func mainContainerOf(spec *corev1.PodSpec) *corev1.Container {
	for i := range spec.Containers {
		if spec.Containers[i].Name == mainContainer {
			return &spec.Containers[i]
		}
	}
	return &spec.Containers[0]
}

func boolPtr(b bool) *bool { return &b }
