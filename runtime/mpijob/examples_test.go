package mpijob_test

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kfstack/terraform-provider-kubeflow/internal/mpitest"
	kubeflow "github.com/kfstack/terraform-provider-kubeflow/runtime/api/kubeflow/v2beta1"
)

// TestUpstreamExamples applies each v2beta1 example of mpi-operator
// unchanged and checks that its objects are what mpi-operator makes (the
// Service, the hostfile, the SSH Secret, the worker pods and the launcher
// Job) and that it runs to Succeeded on KWOK's simulated pods, after which
// cleanPodPolicy Running removes the workers.
func TestUpstreamExamples(t *testing.T) {
	for _, file := range mpitest.Examples {
		t.Run(file, func(t *testing.T) {
			t.Parallel()
			ns := namespace(t)
			pods := recordPods(t, ns)
			manifest := mpitest.Read(t, file)
			want := mpitest.Job(t, file)
			kubeflow.SetDefaults(want)
			obj := createYAML(t, ns, manifest)
			name := obj.GetName()
			job := waitCondition(t, ns, name, kubeflow.JobSucceeded, time.Minute)

			ctx := context.Background()
			checkService(t, ns, name)
			checkConfigMap(t, ns, want)
			checkSecret(t, ns, name)
			for i := range int(want.WorkerReplicas()) {
				var pod *corev1.Pod
				waitFor(t, 10*time.Second, "worker pod recorded", func() (bool, string) {
					pod = pods.get(kubeflow.WorkerName(name, i))
					return pod != nil, ""
				})
				checkWorker(t, want, pod, i)
			}
			checkLauncher(t, want, launcherJob(t, ns, name).Spec.Template)

			if c := condition(t, job, kubeflow.JobCreated); c.Status != corev1.ConditionTrue || c.Reason != kubeflow.ReasonCreated {
				t.Errorf("Created: %+v", c)
			}
			if c := condition(t, job, kubeflow.JobSucceeded); c.Reason != kubeflow.ReasonSucceeded || !strings.HasPrefix(c.Message, fmt.Sprintf("MPIJob %s/%s successfully completed.", ns, name)) {
				t.Errorf("Succeeded: %+v", c)
			}
			if c := job.Status.Condition(kubeflow.JobRunning); c != nil && c.Status != corev1.ConditionFalse {
				t.Errorf("Running after success: %+v", c)
			}
			if ls := job.Status.ReplicaStatuses[kubeflow.MPIReplicaTypeLauncher]; ls == nil || ls.Succeeded != 1 {
				t.Errorf("launcher replica status %+v, want 1 succeeded", ls)
			}
			if job.Status.StartTime == nil || job.Status.CompletionTime == nil || job.Status.CompletionTime.Before(job.Status.StartTime) {
				t.Errorf("start %v, completion %v", job.Status.StartTime, job.Status.CompletionTime)
			}
			// cleanPodPolicy Running: the workers (sshd) go once the job
			// succeeded.
			waitFor(t, 30*time.Second, "workers deleted by cleanPodPolicy Running", func() (bool, string) {
				live := livePods(t, ns, name, kubeflow.RoleWorker)
				return len(live) == 0, fmt.Sprintf("%d workers left", len(live))
			})
			// The stored object is the manifest, unchanged but for the
			// CRD's defaults.
			stored := getJob(t, ns, name)
			if stored.Spec.SSHAuthMountPath != "/home/mpiuser/.ssh" || *stored.Spec.SlotsPerWorker != 1 {
				t.Errorf("stored spec %+v", stored.Spec)
			}
			_ = ctx
		})
	}
}

func checkService(t *testing.T, ns, name string) {
	t.Helper()
	svc := &corev1.Service{}
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, svc); err != nil {
		t.Fatal(err)
	}
	if svc.Spec.ClusterIP != corev1.ClusterIPNone || len(svc.Spec.Ports) != 0 {
		t.Errorf("Service %s is not headless: %+v", name, svc.Spec)
	}
	if want := map[string]string{kubeflow.OperatorNameLabel: "mpi-operator", kubeflow.JobNameLabel: name}; !equalMaps(svc.Spec.Selector, want) {
		t.Errorf("Service selector %v, want %v", svc.Spec.Selector, want)
	}
	if svc.Labels["app"] != name || !controlledBy(svc, name) {
		t.Errorf("Service labels %v, owners %v", svc.Labels, svc.OwnerReferences)
	}
}

func checkConfigMap(t *testing.T, ns string, job *kubeflow.MPIJob) {
	t.Helper()
	cm := &corev1.ConfigMap{}
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: job.Name + "-config"}, cm); err != nil {
		t.Fatal(err)
	}
	var hostfile strings.Builder
	for i := range int(job.WorkerReplicas()) {
		host := fmt.Sprintf("%s-worker-%d.%s.%s.svc", job.Name, i, job.Name, ns)
		if job.Spec.MPIImplementation == kubeflow.MPIImplementationOpenMPI {
			fmt.Fprintf(&hostfile, "%s slots=%d\n", host, *job.Spec.SlotsPerWorker)
		} else {
			fmt.Fprintf(&hostfile, "%s:%d\n", host, *job.Spec.SlotsPerWorker)
		}
	}
	if got := cm.Data["hostfile"]; got != hostfile.String() {
		t.Errorf("hostfile:\n%s\nwant:\n%s", got, hostfile.String())
	}
	if d := cm.Data["discover_hosts.sh"]; !strings.HasPrefix(d, "#!/bin/sh\n") {
		t.Errorf("discover_hosts.sh: %q", d)
	}
	if cm.Labels["app"] != job.Name || !controlledBy(cm, job.Name) {
		t.Errorf("ConfigMap labels %v, owners %v", cm.Labels, cm.OwnerReferences)
	}
}

func checkSecret(t *testing.T, ns, name string) {
	t.Helper()
	s := &corev1.Secret{}
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name + "-ssh"}, s); err != nil {
		t.Fatal(err)
	}
	if s.Type != corev1.SecretTypeSSHAuth || !controlledBy(s, name) {
		t.Fatalf("Secret type %s, owners %v", s.Type, s.OwnerReferences)
	}
	block, _ := pem.Decode(s.Data["ssh-privatekey"])
	if block == nil || block.Type != "EC PRIVATE KEY" {
		t.Fatalf("ssh-privatekey is not an EC private key in PEM: %q", s.Data["ssh-privatekey"])
	}
	key, err := x509.ParseECPrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	pub, _, _, _, err := ssh.ParseAuthorizedKey(s.Data["ssh-publickey"])
	if err != nil {
		t.Fatalf("ssh-publickey: %v", err)
	}
	mine, err := ssh.NewPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	if string(mine.Marshal()) != string(pub.Marshal()) || pub.Type() != "ecdsa-sha2-nistp521" {
		t.Errorf("public key %s does not match the private key", pub.Type())
	}
}

func checkWorker(t *testing.T, job *kubeflow.MPIJob, pod *corev1.Pod, i int) {
	t.Helper()
	name := kubeflow.WorkerName(job.Name, i)
	tmpl := job.Spec.MPIReplicaSpecs[kubeflow.MPIReplicaTypeWorker].Template
	for k, v := range map[string]string{
		kubeflow.OperatorNameLabel: "mpi-operator", kubeflow.JobNameLabel: job.Name, kubeflow.JobRoleLabel: "worker",
		kubeflow.ReplicaIndexLabel: fmt.Sprint(i), "sidecar.istio.io/inject": "false", "team": "vision",
	} {
		if pod.Labels[k] != v {
			t.Errorf("%s: label %s=%q, want %q", name, k, pod.Labels[k], v)
		}
	}
	spec := pod.Spec
	if spec.Hostname != name || spec.Subdomain != job.Name || !controlledBy(pod, job.Name) {
		t.Errorf("%s: hostname %q subdomain %q owners %v", name, spec.Hostname, spec.Subdomain, pod.OwnerReferences)
	}
	if spec.DNSConfig == nil || !slices.Contains(spec.DNSConfig.Searches, fmt.Sprintf("%s.%s.svc.cluster.local", job.Name, pod.Namespace)) {
		t.Errorf("%s: DNS config %+v", name, spec.DNSConfig)
	}
	if spec.RestartPolicy != corev1.RestartPolicyNever {
		t.Errorf("%s: restart policy %s", name, spec.RestartPolicy)
	}
	c := spec.Containers[0]
	want := tmpl.Spec.Containers[0]
	if !slices.Equal(c.Command, want.Command) || !slices.Equal(c.Args, want.Args) {
		t.Errorf("%s: command %v %v, want %v %v", name, c.Command, c.Args, want.Command, want.Args)
	}
	if envOf(c)["K_MPI_JOB_ROLE"] != "worker" {
		t.Errorf("%s: env %v", name, c.Env)
	}
	if *c.SecurityContext.RunAsUser != 1000 || !c.Resources.Limits.Cpu().Equal(resource.MustParse("1")) {
		t.Errorf("%s: the template's security context and resources are not kept: %+v %+v", name, c.SecurityContext, c.Resources)
	}
	checkSSHMount(t, name, job, spec)
	if want := rewritten(want.Image); c.Image != want {
		t.Errorf("%s: image %s, want %s (the runtime's image rules)", name, c.Image, want)
	}
}

func rewritten(image string) string {
	if to, ok := testRules[image]; ok {
		return to
	}
	return image
}

func checkSSHMount(t *testing.T, name string, job *kubeflow.MPIJob, spec corev1.PodSpec) {
	t.Helper()
	var vol *corev1.Volume
	for i := range spec.Volumes {
		if spec.Volumes[i].Name == "ssh-auth" {
			vol = &spec.Volumes[i]
		}
	}
	if vol == nil || vol.Secret == nil || vol.Secret.SecretName != job.Name+"-ssh" {
		t.Fatalf("%s: no ssh-auth Secret volume: %+v", name, spec.Volumes)
	}
	paths := map[string]string{}
	for _, it := range vol.Secret.Items {
		paths[it.Path] = it.Key
	}
	if !equalMaps(paths, map[string]string{"id_rsa": "ssh-privatekey", "id_rsa.pub": "ssh-publickey", "authorized_keys": "ssh-publickey"}) {
		t.Errorf("%s: ssh-auth items %v", name, paths)
	}
	if job.Spec.SSHAuthMountPath != "/root/.ssh" && vol.Secret.DefaultMode != nil && *vol.Secret.DefaultMode != 0o644 {
		t.Errorf("%s: a non-root mount path keeps the default mode, got %o", name, *vol.Secret.DefaultMode)
	}
	mounted := false
	for _, m := range spec.Containers[0].VolumeMounts {
		mounted = mounted || (m.Name == "ssh-auth" && m.MountPath == job.Spec.SSHAuthMountPath)
	}
	if !mounted {
		t.Errorf("%s: ssh-auth not mounted at %s: %+v", name, job.Spec.SSHAuthMountPath, spec.Containers[0].VolumeMounts)
	}
}

func checkLauncher(t *testing.T, job *kubeflow.MPIJob, tmpl corev1.PodTemplateSpec) {
	t.Helper()
	name := job.Name + "-launcher"
	spec := tmpl.Spec
	if spec.Hostname != name || spec.Subdomain != job.Name {
		t.Errorf("launcher hostname %q subdomain %q", spec.Hostname, spec.Subdomain)
	}
	if tmpl.Labels[kubeflow.JobRoleLabel] != "launcher" || tmpl.Labels[kubeflow.JobNameLabel] != job.Name || tmpl.Labels["sidecar.istio.io/inject"] != "false" {
		t.Errorf("launcher labels %v", tmpl.Labels)
	}
	if spec.RestartPolicy != corev1.RestartPolicyOnFailure {
		t.Errorf("launcher restart policy %s, want OnFailure (the default)", spec.RestartPolicy)
	}
	env := envOf(spec.Containers[0])
	want := map[string]string{"K_MPI_JOB_ROLE": "launcher", "NVIDIA_VISIBLE_DEVICES": "", "NVIDIA_DRIVER_CAPABILITIES": ""}
	switch job.Spec.MPIImplementation {
	case kubeflow.MPIImplementationOpenMPI:
		want["OMPI_MCA_orte_keep_fqdn_hostnames"] = "true"
		want["OMPI_MCA_orte_default_hostfile"] = "/etc/mpi/hostfile"
		want["OMPI_MCA_plm_rsh_args"] = "-o ConnectionAttempts=10"
		want["OMPI_MCA_orte_set_default_slots"] = "1"
	case kubeflow.MPIImplementationMPICH:
		want["HYDRA_HOST_FILE"] = "/etc/mpi/hostfile"
		want["HYDRA_LAUNCH_EXTRA_ARGS"] = "-o ConnectionAttempts=10"
	}
	for k, v := range want {
		if got, ok := env[k]; !ok || got != v {
			t.Errorf("launcher env %s=%q (set: %v), want %q", k, got, ok, v)
		}
	}
	mounted := false
	for _, m := range spec.Containers[0].VolumeMounts {
		mounted = mounted || (m.Name == "mpi-job-config" && m.MountPath == "/etc/mpi")
	}
	if !mounted {
		t.Errorf("the hostfile is not mounted at /etc/mpi: %+v", spec.Containers[0].VolumeMounts)
	}
	checkSSHMount(t, name, job, spec)
}

func controlledBy(obj metav1.Object, name string) bool {
	ref := metav1.GetControllerOf(obj)
	return ref != nil && ref.Kind == "MPIJob" && ref.Name == name && ref.APIVersion == "kubeflow.org/v2beta1"
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
