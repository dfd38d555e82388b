package pipeline

// The platform spec is the second YAML document of a compiled pipeline
// (PlatformSpec in pipeline_spec.proto). Its `kubernetes` platform holds
// what kfp-kubernetes adds to tasks, per executor label
// (KubernetesExecutorConfig in kubernetes_executor_config.proto), and the
// pipeline-level config (the workspace). These types follow the documented
// schema with camelCase names, as the SDK writes them; the decoder also
// reads the proto3 JSON forms (snake_case names, numbers as strings).

// PlatformSpec is the second document: platform name to its config.
type PlatformSpec struct {
	// Platforms maps a platform ("kubernetes") to its config.
	Platforms map[string]*SinglePlatformSpec `yaml:"platforms" json:"platforms,omitempty"`
}

// SinglePlatformSpec is one platform's config.
type SinglePlatformSpec struct {
	// DeploymentSpec holds the per-executor config.
	DeploymentSpec *PlatformDeploymentConfig `yaml:"deploymentSpec" json:"deploymentSpec,omitempty"`
	// Platform names the platform.
	Platform string `yaml:"platform" json:"platform,omitempty"`
	// Config is free-form, defined by the platform.
	Config map[string]any `yaml:"config" json:"config,omitempty"`
	// PipelineConfig holds pipeline-level options (the workspace).
	PipelineConfig *Config `yaml:"pipelineConfig" json:"pipelineConfig,omitempty"`
}

// PlatformDeploymentConfig maps executor labels to their Kubernetes config.
type PlatformDeploymentConfig struct {
	// Executors maps executor labels (exec-...) to their config.
	Executors map[string]*KubernetesExecutorConfig `yaml:"executors" json:"executors,omitempty"`
}

// Config holds pipeline-level options (KFP's PipelineConfig).
type Config struct {
	// SemaphoreKey and MutexName limit concurrent runs in KFP; kfstack
	// accepts and ignores them (runs are limited by --max-running-tasks).
	SemaphoreKey string `yaml:"semaphoreKey" json:"semaphoreKey,omitempty"`
	// MutexName, see SemaphoreKey.
	MutexName string `yaml:"mutexName" json:"mutexName,omitempty"`
	// ResourceTTL is how long run resources outlive the run, in seconds.
	ResourceTTL int32 `yaml:"resourceTtl" json:"resourceTtl,omitempty"`
	// Workspace is a volume shared by the run's tasks.
	Workspace *WorkspaceConfig `yaml:"workspace" json:"workspace,omitempty"`
}

// WorkspaceConfig is the run's shared volume.
type WorkspaceConfig struct {
	// Size is its size, a Kubernetes quantity.
	Size string `yaml:"size" json:"size,omitempty"`
	// Kubernetes patches the workspace PVC's spec.
	Kubernetes *KubernetesWorkspaceConfig `yaml:"kubernetes" json:"kubernetes,omitempty"`
}

// KubernetesWorkspaceConfig patches the workspace PVC.
type KubernetesWorkspaceConfig struct {
	// PVCSpecPatch is merged into the PVC's spec (storageClassName, accessModes).
	PVCSpecPatch map[string]any `yaml:"pvcSpecPatch" json:"pvcSpecPatch,omitempty"`
}

// KubernetesExecutorConfig is what kfp-kubernetes sets on the tasks of one
// executor. Names given as an InputParameterSpec are resolved per task at
// run time, in the task's DAG (like task inputs).
type KubernetesExecutorConfig struct {
	// SecretAsVolume mounts secrets.
	SecretAsVolume []*SecretAsVolume `yaml:"secretAsVolume" json:"secretAsVolume,omitempty"`
	// SecretAsEnv sets environment variables from secret keys.
	SecretAsEnv []*SecretAsEnv `yaml:"secretAsEnv" json:"secretAsEnv,omitempty"`
	// PvcMount mounts persistent volume claims.
	PvcMount []*PvcMount `yaml:"pvcMount" json:"pvcMount,omitempty"`
	// NodeSelector restricts the nodes.
	NodeSelector *NodeSelectorConfig `yaml:"nodeSelector" json:"nodeSelector,omitempty"`
	// PodMetadata adds labels and annotations.
	PodMetadata *PodMetadata `yaml:"podMetadata" json:"podMetadata,omitempty"`
	// ImagePullSecret names secrets for pulling the image.
	ImagePullSecret []*ImagePullSecret `yaml:"imagePullSecret" json:"imagePullSecret,omitempty"`
	// ImagePullPolicy is Always, Never or IfNotPresent.
	ImagePullPolicy string `yaml:"imagePullPolicy" json:"imagePullPolicy,omitempty"`
	// ConfigMapAsVolume mounts config maps.
	ConfigMapAsVolume []*ConfigMapAsVolume `yaml:"configMapAsVolume" json:"configMapAsVolume,omitempty"`
	// ConfigMapAsEnv sets environment variables from config map keys.
	ConfigMapAsEnv []*ConfigMapAsEnv `yaml:"configMapAsEnv" json:"configMapAsEnv,omitempty"`
	// ActiveDeadlineSeconds bounds the task's run time.
	ActiveDeadlineSeconds int64 `yaml:"activeDeadlineSeconds" json:"activeDeadlineSeconds,omitempty"`
	// FieldPathAsEnv sets environment variables from pod fields (downward API).
	FieldPathAsEnv []*FieldPathAsEnv `yaml:"fieldPathAsEnv" json:"fieldPathAsEnv,omitempty"`
	// Tolerations allow tainted nodes.
	Tolerations []*TolerationConfig `yaml:"tolerations" json:"tolerations,omitempty"`
	// GenericEphemeralVolume adds volumes claimed for the pod's lifetime.
	GenericEphemeralVolume []*GenericEphemeralVolume `yaml:"genericEphemeralVolume" json:"genericEphemeralVolume,omitempty"`
	// NodeAffinity adds node affinity terms.
	NodeAffinity []*NodeAffinityTerm `yaml:"nodeAffinity" json:"nodeAffinity,omitempty"`
	// PodAffinity adds pod (anti-)affinity terms.
	PodAffinity []*PodAffinityTerm `yaml:"podAffinity" json:"podAffinity,omitempty"`
	// EnabledSharedMemory mounts a memory-backed /dev/shm.
	EnabledSharedMemory *EnabledSharedMemory `yaml:"enabledSharedMemory" json:"enabledSharedMemory,omitempty"`
	// EmptyDirMounts mounts empty directories.
	EmptyDirMounts []*EmptyDirMount `yaml:"emptyDirMounts" json:"emptyDirMounts,omitempty"`
	// SecurityContext sets the user and group of the task's container.
	SecurityContext *SecurityContextConfig `yaml:"securityContext" json:"securityContext,omitempty"`
	// InitContainers run before the task's container.
	InitContainers []*InitContainerConfig `yaml:"initContainers" json:"initContainers,omitempty"`
	// PodResourceClaims claim dynamically allocated resources.
	PodResourceClaims []*PodResourceClaim `yaml:"podResourceClaims" json:"podResourceClaims,omitempty"`
}

// SecretAsVolume mounts a secret.
type SecretAsVolume struct {
	// SecretName is the deprecated literal name.
	SecretName string `yaml:"secretName" json:"secretName,omitempty"`
	// MountPath is where it is mounted.
	MountPath string `yaml:"mountPath" json:"mountPath,omitempty"`
	// Optional lets the task run when the secret is missing.
	Optional *bool `yaml:"optional" json:"optional,omitempty"`
	// SecretNameParameter is the name.
	SecretNameParameter *InputParameterSpec `yaml:"secretNameParameter" json:"secretNameParameter,omitempty"`
}

// SecretAsEnv sets environment variables from a secret.
type SecretAsEnv struct {
	// SecretName is the deprecated literal name.
	SecretName string `yaml:"secretName" json:"secretName,omitempty"`
	// KeyToEnv maps secret keys to variables.
	KeyToEnv []*SecretKeyToEnv `yaml:"keyToEnv" json:"keyToEnv,omitempty"`
	// Optional lets the task run when the secret is missing.
	Optional *bool `yaml:"optional" json:"optional,omitempty"`
	// SecretNameParameter is the name.
	SecretNameParameter *InputParameterSpec `yaml:"secretNameParameter" json:"secretNameParameter,omitempty"`
}

// SecretKeyToEnv maps one secret key to a variable.
type SecretKeyToEnv struct {
	// SecretKey is the key in the secret's data.
	SecretKey string `yaml:"secretKey" json:"secretKey,omitempty"`
	// EnvVar is the variable.
	EnvVar string `yaml:"envVar" json:"envVar,omitempty"`
}

// PvcMount mounts a persistent volume claim.
type PvcMount struct {
	// TaskOutputParameter is the deprecated form of PvcNameParameter.
	TaskOutputParameter *TaskOutputParameterSpec `yaml:"taskOutputParameter" json:"taskOutputParameter,omitempty"`
	// Constant is the deprecated form of PvcNameParameter.
	Constant string `yaml:"constant" json:"constant,omitempty"`
	// ComponentInputParameter is the deprecated form of PvcNameParameter.
	ComponentInputParameter string `yaml:"componentInputParameter" json:"componentInputParameter,omitempty"`
	// MountPath is where it is mounted.
	MountPath string `yaml:"mountPath" json:"mountPath,omitempty"`
	// PvcNameParameter is the claim's name.
	PvcNameParameter *InputParameterSpec `yaml:"pvcNameParameter" json:"pvcNameParameter,omitempty"`
	// SubPath mounts a directory of the volume.
	SubPath string `yaml:"subPath" json:"subPath,omitempty"`
}

// NodeSelectorConfig restricts the nodes.
type NodeSelectorConfig struct {
	// Labels are label key and value pairs.
	Labels map[string]string `yaml:"labels" json:"labels,omitempty"`
	// NodeSelectorJSON is a struct of labels, given at run time; it wins over Labels.
	NodeSelectorJSON *InputParameterSpec `yaml:"nodeSelectorJson" json:"nodeSelectorJson,omitempty"`
}

// PodMetadata adds labels and annotations to the task's pod.
type PodMetadata struct {
	// Labels are added to the pod.
	Labels map[string]string `yaml:"labels" json:"labels,omitempty"`
	// Annotations are added to the pod.
	Annotations map[string]string `yaml:"annotations" json:"annotations,omitempty"`
}

// ConfigMapAsVolume mounts a config map.
type ConfigMapAsVolume struct {
	// ConfigMapName is the deprecated literal name.
	ConfigMapName string `yaml:"configMapName" json:"configMapName,omitempty"`
	// MountPath is where it is mounted.
	MountPath string `yaml:"mountPath" json:"mountPath,omitempty"`
	// Optional lets the task run when the config map is missing.
	Optional *bool `yaml:"optional" json:"optional,omitempty"`
	// ConfigMapNameParameter is the name.
	ConfigMapNameParameter *InputParameterSpec `yaml:"configMapNameParameter" json:"configMapNameParameter,omitempty"`
}

// ConfigMapAsEnv sets environment variables from a config map.
type ConfigMapAsEnv struct {
	// ConfigMapName is the deprecated literal name.
	ConfigMapName string `yaml:"configMapName" json:"configMapName,omitempty"`
	// KeyToEnv maps config map keys to variables.
	KeyToEnv []*ConfigMapKeyToEnv `yaml:"keyToEnv" json:"keyToEnv,omitempty"`
	// ConfigMapNameParameter is the name.
	ConfigMapNameParameter *InputParameterSpec `yaml:"configMapNameParameter" json:"configMapNameParameter,omitempty"`
	// Optional lets the task run when the config map is missing.
	Optional *bool `yaml:"optional" json:"optional,omitempty"`
}

// ConfigMapKeyToEnv maps one config map key to a variable.
type ConfigMapKeyToEnv struct {
	// ConfigMapKey is the key.
	ConfigMapKey string `yaml:"configMapKey" json:"configMapKey,omitempty"`
	// EnvVar is the variable.
	EnvVar string `yaml:"envVar" json:"envVar,omitempty"`
}

// GenericEphemeralVolume is a volume claimed for the pod's lifetime.
type GenericEphemeralVolume struct {
	// VolumeName names the volume.
	VolumeName string `yaml:"volumeName" json:"volumeName,omitempty"`
	// MountPath is where it is mounted.
	MountPath string `yaml:"mountPath" json:"mountPath,omitempty"`
	// AccessModes of the claim.
	AccessModes []string `yaml:"accessModes" json:"accessModes,omitempty"`
	// Size requested.
	Size string `yaml:"size" json:"size,omitempty"`
	// DefaultStorageClass leaves the storage class to the cluster.
	DefaultStorageClass bool `yaml:"defaultStorageClass" json:"defaultStorageClass,omitempty"`
	// StorageClassName is the class, unless DefaultStorageClass.
	StorageClassName string `yaml:"storageClassName" json:"storageClassName,omitempty"`
	// Metadata labels and annotates the claim.
	Metadata *PodMetadata `yaml:"metadata" json:"metadata,omitempty"`
}

// ImagePullSecret names a pull secret.
type ImagePullSecret struct {
	// SecretName is the deprecated literal name.
	SecretName string `yaml:"secretName" json:"secretName,omitempty"`
	// SecretNameParameter is the name.
	SecretNameParameter *InputParameterSpec `yaml:"secretNameParameter" json:"secretNameParameter,omitempty"`
}

// FieldPathAsEnv sets a variable from a pod field.
type FieldPathAsEnv struct {
	// Name is the variable.
	Name string `yaml:"name" json:"name,omitempty"`
	// FieldPath is e.g. metadata.labels['x'].
	FieldPath string `yaml:"fieldPath" json:"fieldPath,omitempty"`
}

// TolerationConfig is a toleration, literal or given as JSON at run time.
type TolerationConfig struct {
	// Key is the taint key.
	Key string `yaml:"key" json:"key,omitempty"`
	// Operator is Equal or Exists.
	Operator string `yaml:"operator" json:"operator,omitempty"`
	// Value is the taint value.
	Value string `yaml:"value" json:"value,omitempty"`
	// Effect is NoSchedule, PreferNoSchedule or NoExecute.
	Effect string `yaml:"effect" json:"effect,omitempty"`
	// TolerationSeconds bounds a NoExecute toleration.
	TolerationSeconds *int64 `yaml:"tolerationSeconds" json:"tolerationSeconds,omitempty"`
	// TolerationJSON is a Kubernetes toleration (or a list of them) given at run time; it wins.
	TolerationJSON *InputParameterSpec `yaml:"tolerationJson" json:"tolerationJson,omitempty"`
}

// SelectorRequirement is a label or field selector requirement.
type SelectorRequirement struct {
	// Key is the label or field.
	Key string `yaml:"key" json:"key,omitempty"`
	// Operator is In, NotIn, Exists, DoesNotExist, Gt or Lt.
	Operator string `yaml:"operator" json:"operator,omitempty"`
	// Values are the operands.
	Values []string `yaml:"values" json:"values,omitempty"`
}

// NodeAffinityTerm is a node affinity term.
type NodeAffinityTerm struct {
	// MatchExpressions select by node labels.
	MatchExpressions []*SelectorRequirement `yaml:"matchExpressions" json:"matchExpressions,omitempty"`
	// MatchFields select by node fields.
	MatchFields []*SelectorRequirement `yaml:"matchFields" json:"matchFields,omitempty"`
	// Weight makes the term preferred instead of required.
	Weight *int32 `yaml:"weight" json:"weight,omitempty"`
	// NodeAffinityJSON is a Kubernetes NodeAffinity given at run time; it wins.
	NodeAffinityJSON *InputParameterSpec `yaml:"nodeAffinityJson" json:"nodeAffinityJson,omitempty"`
}

// PodAffinityTerm is a pod (anti-)affinity term.
type PodAffinityTerm struct {
	// MatchPodExpressions select pods by label expressions.
	MatchPodExpressions []*SelectorRequirement `yaml:"matchPodExpressions" json:"matchPodExpressions,omitempty"`
	// MatchPodLabels select pods by labels.
	MatchPodLabels map[string]string `yaml:"matchPodLabels" json:"matchPodLabels,omitempty"`
	// TopologyKey is the domain (e.g. kubernetes.io/hostname).
	TopologyKey string `yaml:"topologyKey" json:"topologyKey,omitempty"`
	// Namespaces limit where matching pods are looked for.
	Namespaces []string `yaml:"namespaces" json:"namespaces,omitempty"`
	// MatchNamespaceExpressions select namespaces by label expressions.
	MatchNamespaceExpressions []*SelectorRequirement `yaml:"matchNamespaceExpressions" json:"matchNamespaceExpressions,omitempty"`
	// MatchNamespaceLabels select namespaces by labels.
	MatchNamespaceLabels map[string]string `yaml:"matchNamespaceLabels" json:"matchNamespaceLabels,omitempty"`
	// Weight makes the term preferred instead of required.
	Weight *int32 `yaml:"weight" json:"weight,omitempty"`
	// Anti makes it an anti-affinity.
	Anti *bool `yaml:"anti" json:"anti,omitempty"`
}

// EnabledSharedMemory mounts a memory-backed /dev/shm.
type EnabledSharedMemory struct {
	// VolumeName names the volume.
	VolumeName string `yaml:"volumeName" json:"volumeName,omitempty"`
	// Size bounds it.
	Size string `yaml:"size" json:"size,omitempty"`
}

// EmptyDirMount mounts an empty directory.
type EmptyDirMount struct {
	// VolumeName names the volume.
	VolumeName string `yaml:"volumeName" json:"volumeName,omitempty"`
	// MountPath is where it is mounted.
	MountPath string `yaml:"mountPath" json:"mountPath,omitempty"`
	// Medium is "" (disk) or Memory.
	Medium *string `yaml:"medium" json:"medium,omitempty"`
	// SizeLimit bounds it.
	SizeLimit *string `yaml:"sizeLimit" json:"sizeLimit,omitempty"`
}

// SecurityContextConfig sets the task container's user.
type SecurityContextConfig struct {
	// RunAsUser is the UID.
	RunAsUser *int64 `yaml:"runAsUser" json:"runAsUser,omitempty"`
	// RunAsGroup is the GID.
	RunAsGroup *int64 `yaml:"runAsGroup" json:"runAsGroup,omitempty"`
	// RunAsNonRoot refuses to start as root.
	RunAsNonRoot *bool `yaml:"runAsNonRoot" json:"runAsNonRoot,omitempty"`
}

// InitContainerConfig is a user init container (or a sidecar with
// restartPolicy Always).
type InitContainerConfig struct {
	// Name is unique in the pod.
	Name string `yaml:"name" json:"name,omitempty"`
	// Image is its image.
	Image string `yaml:"image" json:"image,omitempty"`
	// Command is its entrypoint.
	Command []string `yaml:"command" json:"command,omitempty"`
	// Args are its arguments.
	Args []string `yaml:"args" json:"args,omitempty"`
	// Env sets variables.
	Env []EnvVar `yaml:"env" json:"env,omitempty"`
	// VolumeMounts mount volumes defined by the other fields.
	VolumeMounts []*InitVolumeMount `yaml:"volumeMounts" json:"volumeMounts,omitempty"`
	// RestartPolicy "Always" makes it a sidecar.
	RestartPolicy *string `yaml:"restartPolicy" json:"restartPolicy,omitempty"`
	// Resources are its requests and limits.
	Resources *InitResources `yaml:"resources" json:"resources,omitempty"`
}

// InitVolumeMount mounts a pod volume into an init container.
type InitVolumeMount struct {
	// VolumeName names a volume of the pod.
	VolumeName string `yaml:"volumeName" json:"volumeName,omitempty"`
	// MountPath is where.
	MountPath string `yaml:"mountPath" json:"mountPath,omitempty"`
}

// InitResources are an init container's requests and limits.
type InitResources struct {
	// Requests by resource name.
	Requests map[string]string `yaml:"requests" json:"requests,omitempty"`
	// Limits by resource name.
	Limits map[string]string `yaml:"limits" json:"limits,omitempty"`
}

// PodResourceClaim claims a dynamically allocated resource.
type PodResourceClaim struct {
	// ResourceClaimTemplateName names a template in the namespace.
	ResourceClaimTemplateName string `yaml:"resourceClaimTemplateName" json:"resourceClaimTemplateName,omitempty"`
	// ResourceClaimName names an existing claim.
	ResourceClaimName string `yaml:"resourceClaimName" json:"resourceClaimName,omitempty"`
	// ResourceClaimJSON is a claim given at run time; it wins.
	ResourceClaimJSON *InputParameterSpec `yaml:"resourceClaimJson" json:"resourceClaimJson,omitempty"`
}
