package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestControllerRefusesBadOptions: flags and files that no controller can
// run with stop it before it contacts any cluster, naming what is wrong.
func TestControllerRefusesBadOptions(t *testing.T) {
	dir := t.TempDir()
	badPolicy := filepath.Join(dir, "policy.yaml")
	writeFile(t, badPolicy, "imagePullPolicy: Sometimes\n", 0o644)
	unknownField := filepath.Join(dir, "unknown.yaml")
	writeFile(t, unknownField, "nodeSelectors: {pool: gpu}\n", 0o644)
	danglingMount := filepath.Join(dir, "mount.yaml")
	writeFile(t, danglingMount, "volumeMounts: [{name: data, mountPath: /data}]\n", 0o644)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--image-map", "alpine"}, `"alpine" is not FROM=TO`},
		{[]string{"--image-map", "alpine=a:1", "--image-map", "alpine=b:1"}, "alpine is given twice"},
		{[]string{"--image-mirror", "docker.io=not a registry"}, `mirror "docker.io"`},
		{[]string{"--image-map", "Alpine=base:1"}, `exact rule "Alpine"`},
		{[]string{"--task-pod-defaults", filepath.Join(dir, "missing.yaml")}, "reading --task-pod-defaults"},
		{[]string{"--task-pod-defaults", badPolicy}, `imagePullPolicy "Sometimes"`},
		{[]string{"--task-pod-defaults", unknownField}, `unknown field "nodeSelectors"`},
		{[]string{"--task-pod-defaults", danglingMount}, `volume mount "data" names no volume`},
		{[]string{"--webhook-port", "70000"}, "--webhook-port 70000 is not a port"},
		{[]string{"--allowed-file-root", "data/artifacts"}, `allowed file root "data/artifacts" is not an absolute directory`},
		{[]string{"--cache-key-secret", "just-a-name"}, `--cache-key-secret: "just-a-name" is not NAMESPACE/NAME`},
		{[]string{"--webhook-port", "9443", "--webhook-cert-dir", dir}, "--webhook-cert-dir " + dir + ": the webhook server needs tls.crt there"},
	} {
		code, out := runCLI(t, append([]string{"controller"}, tc.args...)...)
		if code != 2 || !strings.Contains(out, tc.want) {
			t.Errorf("controller %v: exit %d, output %q; want exit 2 and %q", tc.args, code, out, tc.want)
		}
	}
}
