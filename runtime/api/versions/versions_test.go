package versions

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/v1alpha1"
)

func pipelineObj(name string) *v1alpha1.Pipeline {
	return &v1alpha1.Pipeline{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: name, UID: "5c1e2f3a-9b8d-4e7f-a6c5-0d1e2f3a4b5c"}}
}

// TestRoundTrip: content stored in a version's ConfigMap reads back equal,
// and the ConfigMap cannot be changed later.
func TestRoundTrip(t *testing.T) {
	p := pipelineObj("train")
	for _, content := range []v1alpha1.PipelineSpec{
		{Spec: "pipelineInfo: {name: train}\n" + strings.Repeat("# a long comment line of the spec\n", 20000)},
		{DAG: `{"name":"train","tasks":[{"name":"a","image":"busybox"}]}`},
	} {
		cm, err := ConfigMap(p, 7, content)
		if err != nil {
			t.Fatal(err)
		}
		if cm.Name != "train-5c1e2f3a-v7" || cm.Immutable == nil || !*cm.Immutable {
			t.Errorf("ConfigMap %s, immutable %v", cm.Name, cm.Immutable)
		}
		if uid, n, ok := Of(cm); !ok || uid != p.UID || n != 7 {
			t.Errorf("Of = %s, %d, %v", uid, n, ok)
		}
		got, err := Content(cm, content.ContentHash())
		if err != nil || got.Spec != content.Spec || got.DAG != content.DAG {
			t.Errorf("read back %d/%d bytes, %v", len(got.Spec), len(got.DAG), err)
		}
	}
}

// TestForgedContentIsRefused: a ConfigMap whose content is not what the
// version's hash (from the controller's status) names is refused, however
// it was made.
func TestForgedContentIsRefused(t *testing.T) {
	p := pipelineObj("train")
	real := v1alpha1.PipelineSpec{DAG: `{"name":"train","tasks":[{"name":"a","image":"busybox","command":["true"]}]}`}
	forged := v1alpha1.PipelineSpec{DAG: `{"name":"train","tasks":[{"name":"a","image":"evil","command":["steal"]}]}`}
	cm, err := ConfigMap(p, 1, forged)
	if err != nil {
		t.Fatal(err)
	}
	// Even with the real hash in its annotation.
	cm.Annotations[AnnotationHash] = real.ContentHash()
	if _, err := Content(cm, real.ContentHash()); !errors.Is(err, ErrAltered) {
		t.Errorf("forged content read as the version's: %v", err)
	}
	cm.BinaryData = map[string][]byte{"spec.gz": []byte("not gzip")}
	if _, err := Content(cm, real.ContentHash()); !errors.Is(err, ErrAltered) {
		t.Errorf("garbage: %v", err)
	}
}

// TestNames: names stay valid for the longest pipeline names, and differ
// between pipelines of one name with other UIDs.
func TestNames(t *testing.T) {
	long := pipelineObj(strings.Repeat("p", 253))
	name := ConfigMapName(long, 100)
	if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
		t.Errorf("%s: %v", name, errs)
	}
	other := pipelineObj("train")
	other.UID = "0a0b0c0d-0000-4000-8000-000000000000"
	if ConfigMapName(pipelineObj("train"), 1) == ConfigMapName(other, 1) {
		t.Error("pipelines of one name with other UIDs share a ConfigMap name")
	}
}

// TestTooLarge: content that does not fit a ConfigMap even compressed is
// refused with the sizes.
func TestTooLarge(t *testing.T) {
	noise := make([]byte, 1<<20)
	if _, err := rand.Read(noise); err != nil {
		t.Fatal(err)
	}
	_, err := ConfigMap(pipelineObj("train"), 1, v1alpha1.PipelineSpec{Spec: base64.StdEncoding.EncodeToString(noise)})
	if err == nil || !strings.Contains(err.Error(), "more than the 1048576 bytes a version can hold") {
		t.Errorf("incompressible content: %v", err)
	}
}
