package controller

// What the controller may do, and nothing more. controller-gen turns these
// markers into runtime/rbac/role.yaml (`go generate ./runtime/...`, part
// of `make generate`; `make check-generate` fails when the file is stale),
// which kubeflow_runtime installs as the controller's ClusterRole and
// Role, and which every test that runs the controller runs it with
// (internal/runtimetest impersonates the installed ServiceAccount), so a
// verb missing here fails a test and a verb added here shows in review.
//
// Pipelines are read, never written but for their status: the members
// who made them own their spec; so are runs, but for those a schedule
// makes (below). Experiments are read by the run
// webhook, which refuses runs in an archived one. The finalizers subresource lets
// task pods carry an owner reference with blockOwnerDeletion, which
// OwnerReferencesPermissionEnforcement checks. Task pods are created and
// deleted, never updated (a new attempt is a new pod). ConfigMaps hold
// the content of pipeline versions (runtime/api/versions), kept out of
// the Pipeline so that many large versions stay under etcd's object size
// limit: the Pipeline reconciler creates one per version (immutable, so
// never updated) and deletes it once no kept version and no unfinished
// run needs it; a run reads its version's to run that content to its end
// even after the version is pruned. Namespaces are read for the service
// accounts a profile allows its runs
// (kfstack.dev/allowed-service-accounts). PersistentVolumeClaims are made
// and deleted by kfp-kubernetes' CreatePVC/DeletePVC tasks and for run
// workspaces, in the run's namespace, never listed or changed. No secrets outside its own
// namespace: secret parameters reach task pods through secretKeyRef,
// resolved by the kubelet. The metrics endpoint asks the API server who
// calls it and whether they may (TokenReview, SubjectAccessReview).
//
// +kubebuilder:rbac:groups=pipelines.kfstack.dev,resources=pipelines;pipelineruns,verbs=get;list;watch
// +kubebuilder:rbac:groups=pipelines.kfstack.dev,resources=pipelines/status;pipelineruns/status,verbs=update
// +kubebuilder:rbac:groups=pipelines.kfstack.dev,resources=pipelineruns/finalizers,verbs=update
//
// Schedules: the controller makes their runs (create), cancels a running
// one under Replace (patch of spec.cancel), deletes runs beyond the
// history limits, suspends a schedule after too many failed runs (patch)
// and writes its status; a schedule's runs carry an owner reference with
// blockOwnerDeletion (finalizers). The runs it makes pass the same
// admission and service account checks as a member's.
//
// +kubebuilder:rbac:groups=pipelines.kfstack.dev,resources=pipelineruns,verbs=create;delete;patch
// +kubebuilder:rbac:groups=pipelines.kfstack.dev,resources=schedules,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups=pipelines.kfstack.dev,resources=schedules/status;schedules/finalizers,verbs=update
// +kubebuilder:rbac:groups=pipelines.kfstack.dev,resources=experiments,verbs=get
// +kubebuilder:rbac:groups="",resources=pods,verbs=get;list;watch;create;delete
// +kubebuilder:rbac:groups="",resources=configmaps,verbs=get;list;watch;create;delete
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get
// +kubebuilder:rbac:groups="",resources=persistentvolumeclaims,verbs=get;create;delete
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=authentication.k8s.io,resources=tokenreviews,verbs=create
// +kubebuilder:rbac:groups=authorization.k8s.io,resources=subjectaccessreviews,verbs=create
//
// In the controller's own namespace only (the installer puts the Role
// there): leader election's Lease and the events it records on it, and
// the Secret of the task cache's signing key, which it reads and makes
// when missing (create cannot be limited to one name; the namespace holds
// nothing else a Secret could reach).
//
// +kubebuilder:rbac:groups=coordination.k8s.io,resources=leases,verbs=get;create;update,namespace=kfstack-system
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch,namespace=kfstack-system
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get,resourceNames=kfstack-runtime-cache-key,namespace=kfstack-system
// +kubebuilder:rbac:groups="",resources=secrets,verbs=create,namespace=kfstack-system

//go:generate go tool -modfile=../../tools/controller-gen/go.mod controller-gen rbac:roleName=kfstack-runtime-controller paths=. output:rbac:artifacts:config=../rbac
