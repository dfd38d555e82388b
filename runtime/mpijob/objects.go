package mpijob

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"strconv"

	"golang.org/x/crypto/ssh"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kubeflow "github.com/kfstack/terraform-provider-kubeflow/runtime/api/kubeflow/v2beta1"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/v1alpha1"
)

// The objects an MPIJob makes, named, labelled, mounted and configured as
// mpi-operator's v2 controller makes them, so that images built for it
// (and tools that select its objects) work unchanged. What this runtime
// adds is marked where it is done.

// Environment of the launcher's main container, per implementation.
var (
	ompiEnv = []corev1.EnvVar{
		// Lets mpirun reach the workers by the names in the hostfile.
		{Name: "OMPI_MCA_orte_keep_fqdn_hostnames", Value: "true"},
		{Name: "OMPI_MCA_orte_default_hostfile", Value: kubeflow.ConfigMountPath + "/" + kubeflow.HostfileName},
		{Name: "OMPI_MCA_plm_rsh_args", Value: "-o ConnectionAttempts=10"},
	}
	intelEnv = []corev1.EnvVar{
		{Name: "I_MPI_HYDRA_HOST_FILE", Value: kubeflow.ConfigMountPath + "/" + kubeflow.HostfileName},
		{Name: "I_MPI_HYDRA_BOOTSTRAP_EXEC_EXTRA_ARGS", Value: "-o ConnectionAttempts=10"},
	}
	mpichEnv = []corev1.EnvVar{
		{Name: "HYDRA_HOST_FILE", Value: kubeflow.ConfigMountPath + "/" + kubeflow.HostfileName},
		{Name: "HYDRA_LAUNCH_EXTRA_ARGS", Value: "-o ConnectionAttempts=10"},
	}
	// A launcher that is not also a worker must not see the node's GPUs
	// through the container runtime.
	nvidiaDisableEnv = []corev1.EnvVar{{Name: "NVIDIA_VISIBLE_DEVICES"}, {Name: "NVIDIA_DRIVER_CAPABILITIES"}}
)

const (
	openMPISlotsEnv  = "OMPI_MCA_orte_set_default_slots"
	intelMPISlotsEnv = "I_MPI_PERHOST"
	sshPrivateKey    = "id_rsa"
	// IstioInjectLabel keeps Istio's sidecar out of launcher and worker
	// pods: MPI's SSH and its data connections go pod to pod on ports
	// that the mesh does not know (and the launcher Job would never
	// complete while a sidecar runs). A template that sets it, as a label
	// or an annotation, keeps its own value.
	IstioInjectLabel = "sidecar.istio.io/inject"
)

func controllerRef(job *kubeflow.MPIJob) metav1.OwnerReference {
	return *metav1.NewControllerRef(job, kubeflow.SchemeGroupVersionKind)
}

// objectLabels label what a job makes besides its pods: upstream's "app"
// label, and the operator name, by which the controller's cache selects
// these objects (this runtime's addition).
func objectLabels(job *kubeflow.MPIJob) map[string]string {
	return map[string]string{kubeflow.AppLabel: job.Name, kubeflow.OperatorNameLabel: kubeflow.OperatorName}
}

// podLabels are the labels of the job's pods of a role.
func podLabels(job, role string) map[string]string {
	return map[string]string{
		kubeflow.OperatorNameLabel: kubeflow.OperatorName,
		kubeflow.JobNameLabel:      job,
		kubeflow.JobRoleLabel:      role,
	}
}

// watched labels a pod template with the runtime's watch contract
// (v1alpha1.LabelRunUID, the job's UID): the manager's pod informer sees
// only pods that carry it (controller.TaskPodSelector).
func watched(tmpl *corev1.PodTemplateSpec, job *kubeflow.MPIJob) {
	tmpl.Labels[v1alpha1.LabelRunUID] = string(job.UID)
}

func hostSuffix(job *kubeflow.MPIJob) string {
	return "." + job.Name + "." + job.Namespace + ".svc"
}

// hostEntry is one line of the hostfile.
func hostEntry(job *kubeflow.MPIJob, host string, slots int32) string {
	if job.Spec.MPIImplementation == kubeflow.MPIImplementationOpenMPI {
		return fmt.Sprintf("%s%s slots=%d\n", host, hostSuffix(job), slots)
	}
	return fmt.Sprintf("%s%s:%d\n", host, hostSuffix(job), slots)
}

// newConfigMap holds the hostfile (every worker, and the launcher first
// when it runs as a worker) and discover_hosts.sh, which lists the hosts
// running now (for elastic Horovod).
func newConfigMap(job *kubeflow.MPIJob, runningWorkers []string) *corev1.ConfigMap {
	slots := *job.Spec.SlotsPerWorker
	var hostfile, discover bytes.Buffer
	discover.WriteString("#!/bin/sh\n")
	if job.LauncherRunsAsWorker() {
		hostfile.WriteString(hostEntry(job, job.Name+kubeflow.LauncherSuffix, slots))
		fmt.Fprintf(&discover, "echo %s%s%s\n", job.Name, kubeflow.LauncherSuffix, hostSuffix(job))
	}
	for i := range int(job.WorkerReplicas()) {
		hostfile.WriteString(hostEntry(job, kubeflow.WorkerName(job.Name, i), slots))
	}
	for _, name := range runningWorkers {
		fmt.Fprintf(&discover, "echo %s%s\n", name, hostSuffix(job))
	}
	return &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{
			Name: job.Name + kubeflow.ConfigSuffix, Namespace: job.Namespace,
			Labels: objectLabels(job), OwnerReferences: []metav1.OwnerReference{controllerRef(job)},
		},
		Data: map[string]string{
			kubeflow.HostfileName:            hostfile.String(),
			kubeflow.DiscoverHostsScriptName: discover.String(),
		},
	}
}

// newService is the headless Service that gives the launcher and the
// workers their DNS names (<pod>.<job>.<namespace>.svc).
func newService(job *kubeflow.MPIJob) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{
			Name: job.Name, Namespace: job.Namespace,
			Labels: objectLabels(job), OwnerReferences: []metav1.OwnerReference{controllerRef(job)},
		},
		Spec: corev1.ServiceSpec{
			ClusterIP: corev1.ClusterIPNone,
			Selector:  map[string]string{kubeflow.OperatorNameLabel: kubeflow.OperatorName, kubeflow.JobNameLabel: job.Name},
		},
	}
}

// newSSHSecret is a fresh ECDSA P-521 key pair for the job's SSH, as a
// kubernetes.io/ssh-auth Secret.
func newSSHSecret(job *kubeflow.MPIJob) (*corev1.Secret, error) {
	key, err := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating the SSH key: %w", err)
	}
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encoding the SSH key: %w", err)
	}
	pub, err := ssh.NewPublicKey(&key.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("encoding the SSH public key: %w", err)
	}
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Name: job.Name + kubeflow.SSHAuthSecretSuffix, Namespace: job.Namespace,
			Labels: objectLabels(job), OwnerReferences: []metav1.OwnerReference{controllerRef(job)},
		},
		Type: corev1.SecretTypeSSHAuth,
		Data: map[string][]byte{
			corev1.SSHAuthPrivateKey: pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}),
			kubeflow.SSHPublicKey:    ssh.MarshalAuthorizedKey(pub),
		},
	}, nil
}

// setupSSH mounts the job's SSH Secret into the main container at
// sshAuthMountPath: the private key as id_rsa, the public key as
// id_rsa.pub and authorized_keys. Under /root/.ssh the files are 0600;
// elsewhere they keep the default 0644 and root ownership, which ssh and
// sshd accept from a non-root user (who does not own them).
func setupSSH(spec *corev1.PodSpec, job *kubeflow.MPIJob) {
	var mode *int32
	if job.Spec.SSHAuthMountPath == kubeflow.DefaultSSHAuthMountPath {
		m := int32(0o600)
		mode = &m
	}
	spec.Volumes = append(spec.Volumes, corev1.Volume{
		Name: kubeflow.SSHAuthVolumeName,
		VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
			SecretName:  job.Name + kubeflow.SSHAuthSecretSuffix,
			DefaultMode: mode,
			Items: []corev1.KeyToPath{
				{Key: corev1.SSHAuthPrivateKey, Path: sshPrivateKey},
				{Key: kubeflow.SSHPublicKey, Path: sshPrivateKey + ".pub"},
				{Key: kubeflow.SSHPublicKey, Path: "authorized_keys"},
			},
		}},
	})
	c := &spec.Containers[0]
	c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: kubeflow.SSHAuthVolumeName, MountPath: job.Spec.SSHAuthMountPath})
}

// keepOutOfMesh labels a pod template so that Istio injects no sidecar,
// unless the template decides itself.
func keepOutOfMesh(meta *metav1.ObjectMeta) {
	if _, ok := meta.Annotations[IstioInjectLabel]; ok {
		return
	}
	if _, ok := meta.Labels[IstioInjectLabel]; ok {
		return
	}
	if meta.Labels == nil {
		meta.Labels = map[string]string{}
	}
	meta.Labels[IstioInjectLabel] = "false"
}

func restartPolicyOf(rs *kubeflow.ReplicaSpec) corev1.RestartPolicy {
	if rs.RestartPolicy == kubeflow.RestartPolicyExitCode {
		return corev1.RestartPolicyNever
	}
	return corev1.RestartPolicy(rs.RestartPolicy)
}

// newWorker is worker i: the Worker template with the job's labels, its
// hostname and the Service as subdomain, the job's DNS search domain,
// sshd as the default command, K_MPI_JOB_ROLE=worker and the SSH keys.
func (r *Reconciler) newWorker(job *kubeflow.MPIJob, i int) (*corev1.Pod, error) {
	rs := job.Spec.MPIReplicaSpecs[kubeflow.MPIReplicaTypeWorker]
	tmpl := rs.Template.DeepCopy()
	name := kubeflow.WorkerName(job.Name, i)
	if tmpl.Labels == nil {
		tmpl.Labels = map[string]string{}
	}
	for k, v := range podLabels(job.Name, kubeflow.RoleWorker) {
		tmpl.Labels[k] = v
	}
	watched(tmpl, job)
	tmpl.Labels[kubeflow.ReplicaIndexLabel] = strconv.Itoa(i)
	spec := &tmpl.Spec
	spec.Hostname, spec.Subdomain = name, job.Name
	if spec.HostNetwork {
		spec.DNSPolicy = corev1.DNSClusterFirstWithHostNet
	}
	// Intel MPI and MPICH reach the launcher by its bare hostname.
	search := job.Name + "." + job.Namespace + ".svc.cluster.local"
	if spec.DNSConfig == nil {
		spec.DNSConfig = &corev1.PodDNSConfig{}
	}
	spec.DNSConfig.Searches = append(spec.DNSConfig.Searches, search)
	spec.RestartPolicy = restartPolicyOf(rs)
	c := &spec.Containers[0]
	if len(c.Command) == 0 && len(c.Args) == 0 {
		c.Command = []string{"/usr/sbin/sshd", "-De"}
	}
	c.Env = append(c.Env, corev1.EnvVar{Name: kubeflow.RoleEnv, Value: kubeflow.RoleWorker})
	setupSSH(spec, job)
	r.gang.decorate(tmpl, job.Name)
	keepOutOfMesh(&tmpl.ObjectMeta)
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: job.Namespace,
			Labels: tmpl.Labels, Annotations: tmpl.Annotations,
			OwnerReferences: []metav1.OwnerReference{controllerRef(job)},
		},
		Spec: *spec,
	}
	if err := r.podDefaults(&pod.ObjectMeta, &pod.Spec); err != nil {
		return nil, err
	}
	return pod, nil
}

// newLauncherJob is the launcher: a Job of one pod from the Launcher
// template with the job's labels, hostname and subdomain, the MPI
// implementation's environment, the hostfile mounted at /etc/mpi and the
// SSH keys; backoffLimit, activeDeadlineSeconds and
// ttlSecondsAfterFinished come from runPolicy. It is never created for a
// suspended job (mpi-operator creates it suspended, kubeflow/mpi-operator#615).
func (r *Reconciler) newLauncherJob(job *kubeflow.MPIJob) (*batchv1.Job, error) {
	rs := job.Spec.MPIReplicaSpecs[kubeflow.MPIReplicaTypeLauncher]
	tmpl := rs.Template.DeepCopy()
	name := job.Name + kubeflow.LauncherSuffix
	if tmpl.Labels == nil {
		tmpl.Labels = map[string]string{}
	}
	for k, v := range podLabels(job.Name, kubeflow.RoleLauncher) {
		tmpl.Labels[k] = v
	}
	watched(tmpl, job)
	r.gang.decorate(tmpl, job.Name)
	spec := &tmpl.Spec
	spec.Hostname, spec.Subdomain = name, job.Name
	if spec.HostNetwork {
		spec.DNSPolicy = corev1.DNSClusterFirstWithHostNet
	}
	c := &spec.Containers[0]
	c.Env = append(c.Env, corev1.EnvVar{Name: kubeflow.RoleEnv, Value: kubeflow.RoleLauncher})
	slots := strconv.Itoa(int(*job.Spec.SlotsPerWorker))
	switch job.Spec.MPIImplementation {
	case kubeflow.MPIImplementationOpenMPI:
		c.Env = append(append(c.Env, ompiEnv...), corev1.EnvVar{Name: openMPISlotsEnv, Value: slots})
	case kubeflow.MPIImplementationIntel:
		c.Env = append(append(c.Env, intelEnv...), corev1.EnvVar{Name: intelMPISlotsEnv, Value: slots})
	case kubeflow.MPIImplementationMPICH:
		c.Env = append(c.Env, mpichEnv...)
	}
	if !job.LauncherRunsAsWorker() {
		c.Env = append(c.Env, nvidiaDisableEnv...)
	}
	setupSSH(spec, job)
	spec.RestartPolicy = restartPolicyOf(rs)
	spec.Volumes = append(spec.Volumes, corev1.Volume{
		Name: kubeflow.ConfigVolumeName,
		VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: job.Name + kubeflow.ConfigSuffix},
			Items: []corev1.KeyToPath{
				{Key: kubeflow.HostfileName, Path: kubeflow.HostfileName, Mode: ptr(int32(0o444))},
				{Key: kubeflow.DiscoverHostsScriptName, Path: kubeflow.DiscoverHostsScriptName, Mode: ptr(int32(0o555))},
			},
		}},
	})
	c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: kubeflow.ConfigVolumeName, MountPath: kubeflow.ConfigMountPath})
	keepOutOfMesh(&tmpl.ObjectMeta)
	if err := r.podDefaults(&tmpl.ObjectMeta, spec); err != nil {
		return nil, err
	}
	rp := job.Spec.RunPolicy
	launcher := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: job.Namespace,
			Labels: objectLabels(job), OwnerReferences: []metav1.OwnerReference{controllerRef(job)},
		},
		Spec: batchv1.JobSpec{
			TTLSecondsAfterFinished: rp.TTLSecondsAfterFinished,
			ActiveDeadlineSeconds:   rp.ActiveDeadlineSeconds,
			BackoffLimit:            rp.BackoffLimit,
			Template:                corev1.PodTemplateSpec{ObjectMeta: tmpl.ObjectMeta, Spec: *spec},
		},
	}
	if rs.RestartPolicy == kubeflow.RestartPolicyExitCode {
		launcher.Spec.PodFailurePolicy = exitCodePolicy(c.Name)
	}
	return launcher, nil
}

// exitCodePolicy is restart policy ExitCode for the launcher Job: exit
// codes 1-127 are permanent errors that fail the job at once, 128-255
// (signals: OOM kills, preemption) are retried within backoffLimit.
func exitCodePolicy(container string) *batchv1.PodFailurePolicy {
	keep := []int32{0}
	for code := int32(128); code <= 255; code++ {
		keep = append(keep, code)
	}
	return &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{{
		Action:      batchv1.PodFailurePolicyActionFailJob,
		OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{ContainerName: &container, Operator: batchv1.PodFailurePolicyOnExitCodesOpNotIn, Values: keep},
	}}}
}

func ptr[T any](v T) *T { return &v }
