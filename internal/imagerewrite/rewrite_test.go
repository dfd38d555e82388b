package imagerewrite

import (
	"encoding/json"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

const digest = "sha256:4b7ce07a0a6cc6c4f1a0e7b0e4f7d1e5d34c9b2f0c7e4b1a8d2c3f4e5a6b7c8d"

func TestNormalize(t *testing.T) {
	for in, want := range map[string]string{
		"alpine":                               "docker.io/library/alpine:latest",
		"alpine:3.20":                          "docker.io/library/alpine:3.20",
		"library/bash":                         "docker.io/library/bash:latest",
		"docker.io/alpine":                     "docker.io/library/alpine:latest",
		"index.docker.io/library/alpine:3":     "docker.io/library/alpine:3",
		"jetbrainsinfra/jq":                    "docker.io/jetbrainsinfra/jq:latest",
		"gcr.io/my-image":                      "gcr.io/my-image:latest",
		"localhost:5000/team/app:v1":           "localhost:5000/team/app:v1",
		"localhost/app":                        "localhost/app:latest",
		"alpine@" + digest:                     "docker.io/library/alpine@" + digest,
		"python:3.11@" + digest:                "docker.io/library/python:3.11@" + digest,
		"registry.example.com:443/a/b/c:1.0.0": "registry.example.com:443/a/b/c:1.0.0",
	} {
		got, err := Normalize(in)
		if err != nil {
			t.Errorf("Normalize(%q): %v", in, err)
			continue
		}
		if got != want {
			t.Errorf("Normalize(%q) = %q, want %q", in, got, want)
		}
	}
	for _, bad := range []string{"", "alpine/UPPER", "alpine:", "a b", "alpine@sha256:short"} {
		if got, err := Normalize(bad); err == nil {
			t.Errorf("Normalize(%q) = %q, want an error", bad, got)
		}
	}
}

func TestRewrite(t *testing.T) {
	rules := Rules{
		Exact: map[string]string{
			"alpine":                    "kfstack.local/base:dev",
			"docker.io/library/bash":    "kfstack.local/base:dev",
			"python:3.11":               "mirror.example.com/python:3.11-slim",
			"gcr.io/pinned@" + digest:   "mirror.example.com/pinned:v1",
			"localhost:5000/app:v1":     "kfstack.local/app:v1",
			"index.docker.io/curlimage": "kfstack.local/curl:dev",
		},
		Mirrors: map[string]string{
			"docker.io":                   "mirror.example.com:5000/dockerhub",
			"gcr.io":                      "mirror.example.com:5000/gcr/",
			"gcr.io/team":                 "team-mirror.example.com",
			"registry.access.redhat.com":  "mirror.example.com:5000/redhat",
			"localhost:5000":              "mirror.example.com/local",
			"quay.io/prometheus/node":     "mirror.example.com/node-exporter",
			"index.docker.io/bitnami":     "bitnami.example.com",
			"ghcr.io/org/exact-component": "mirror.example.com/exact",
		},
	}
	if err := rules.Validate(); err != nil {
		t.Fatal(err)
	}
	for in, want := range map[string]string{
		// Exact rules match the normalised reference.
		"alpine":                         "kfstack.local/base:dev",
		"alpine:latest":                  "kfstack.local/base:dev",
		"docker.io/library/alpine":       "kfstack.local/base:dev",
		"index.docker.io/library/alpine": "kfstack.local/base:dev",
		"library/bash":                   "kfstack.local/base:dev",
		"bash:latest":                    "kfstack.local/base:dev",
		"python:3.11":                    "mirror.example.com/python:3.11-slim",
		"gcr.io/pinned@" + digest:        "mirror.example.com/pinned:v1",
		"localhost:5000/app:v1":          "kfstack.local/app:v1",
		"curlimage:latest":               "kfstack.local/curl:dev",
		// Another tag of an exact rule's image falls through to mirrors.
		"alpine:3.20": "mirror.example.com:5000/dockerhub/library/alpine:3.20",
		"python:3.12": "mirror.example.com:5000/dockerhub/library/python:3.12",
		// Mirrors keep the tag and the digest as written.
		"jetbrainsinfra/jq":                                 "mirror.example.com:5000/dockerhub/jetbrainsinfra/jq",
		"bitnami/redis:7":                                   "bitnami.example.com/redis:7",
		"gcr.io/my-image":                                   "mirror.example.com:5000/gcr/my-image",
		"gcr.io/project/img@" + digest:                      "mirror.example.com:5000/gcr/project/img@" + digest,
		"gcr.io/pinned:v2":                                  "mirror.example.com:5000/gcr/pinned:v2",
		"gcr.io/team/app:1.0@" + digest:                     "team-mirror.example.com/app:1.0@" + digest,
		"gcr.io/teamwork/app":                               "mirror.example.com:5000/gcr/teamwork/app",
		"registry.access.redhat.com/ubi9/python-311:latest": "mirror.example.com:5000/redhat/ubi9/python-311:latest",
		"localhost:5000/other:v1":                           "mirror.example.com/local/other:v1",
		"quay.io/prometheus/node":                           "mirror.example.com/node-exporter",
		"quay.io/prometheus/node:v1.8":                      "mirror.example.com/node-exporter:v1.8",
		"ghcr.io/org/exact-component:v2":                    "mirror.example.com/exact:v2",
		// A port is part of the host: localhost:5001 is another registry.
		"localhost:5001/other:v1": "localhost:5001/other:v1",
		// No rule: kept exactly as written, not normalised.
		"quay.io/prometheus/node-exporter:v1": "quay.io/prometheus/node-exporter:v1",
		"quay.io/jetstack/cert-manager":       "quay.io/jetstack/cert-manager",
	} {
		got, err := rules.Rewrite(in)
		if err != nil {
			t.Errorf("Rewrite(%q): %v", in, err)
			continue
		}
		if got != want {
			t.Errorf("Rewrite(%q) = %q, want %q", in, got, want)
		}
	}
	if _, err := rules.Rewrite("Not A Reference"); err == nil {
		t.Error("Rewrite of an invalid reference: want an error")
	}
}

func TestRewriteWithoutRules(t *testing.T) {
	// Without rules nothing is parsed: a Pod with an odd image is left to
	// the kubelet to judge, as it would be without this package.
	for _, image := range []string{"alpine", "Not A Reference", ""} {
		got, err := Rules{}.Rewrite(image)
		if err != nil || got != image {
			t.Errorf("Rewrite(%q) = %q, %v; want it unchanged", image, got, err)
		}
	}
}

func TestValidate(t *testing.T) {
	for name, tc := range map[string]struct {
		rules Rules
		want  string
	}{
		"exact key":         {Rules{Exact: map[string]string{"Bad Ref": "alpine"}}, `exact rule "Bad Ref"`},
		"exact value":       {Rules{Exact: map[string]string{"alpine": "::"}}, `replacement "::"`},
		"exact duplicates":  {Rules{Exact: map[string]string{"alpine": "a.io/x:1", "docker.io/library/alpine:latest": "b.io/y:1"}}, "already maps"},
		"mirror key tag":    {Rules{Mirrors: map[string]string{"gcr.io/x:v1": "mirror.io"}}, `mirror "gcr.io/x:v1"`},
		"mirror key empty":  {Rules{Mirrors: map[string]string{"": "mirror.io"}}, "empty prefix"},
		"mirror value tag":  {Rules{Mirrors: map[string]string{"gcr.io": "mirror.io/x:v1"}}, `replacement "mirror.io/x:v1"`},
		"mirror value host": {Rules{Mirrors: map[string]string{"gcr.io": "just-a-path"}}, `replacement "just-a-path"`},
	} {
		t.Run(name, func(t *testing.T) {
			err := tc.rules.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate() = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestRewritePodSpec(t *testing.T) {
	var rules Rules
	if err := json.Unmarshal([]byte(`{
		"exact": {"alpine": "kfstack.local/base:dev"},
		"mirrors": {"docker.io": "mirror.example.com/hub"}
	}`), &rules); err != nil {
		t.Fatal(err)
	}
	spec := &corev1.PodSpec{
		InitContainers: []corev1.Container{{Name: "launcher", Image: "kfstack.local/runtime:dev"}},
		Containers: []corev1.Container{
			{Name: "main", Image: "alpine"},
			{Name: "sidecar", Image: "python:3.11"},
		},
		EphemeralContainers: []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "debug", Image: "busybox:1.36"}}},
	}
	if err := rules.RewritePodSpec(spec); err != nil {
		t.Fatal(err)
	}
	got := []string{spec.InitContainers[0].Image, spec.Containers[0].Image, spec.Containers[1].Image, spec.EphemeralContainers[0].Image}
	want := []string{"kfstack.local/runtime:dev", "kfstack.local/base:dev", "mirror.example.com/hub/library/python:3.11", "mirror.example.com/hub/library/busybox:1.36"}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("image %d = %q, want %q", i, got[i], want[i])
		}
	}

	bad := &corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: "Bad Image"}, {Name: "ok", Image: "alpine"}}}
	err := rules.RewritePodSpec(bad)
	if err == nil || !strings.Contains(err.Error(), "container main") {
		t.Errorf("RewritePodSpec with a bad image: %v, want an error naming container main", err)
	}
	if bad.Containers[1].Image != "kfstack.local/base:dev" {
		t.Errorf("the valid container's image = %q, want it rewritten", bad.Containers[1].Image)
	}
}
