// Package versions stores the content of a Pipeline's versions outside the
// Pipeline: one immutable ConfigMap per version, the content gzipped, in
// the Pipeline's namespace. The Pipeline's status keeps only each
// version's number, content hash and ConfigMap, so a pipeline of 1 MiB
// with 100 versions stays one small object instead of passing etcd's size
// limit.
//
// Only the controller writes a Pipeline's or a PipelineRun's status, so the
// content hash recorded there is trusted, and every reader (the
// controller, its admission webhook, the provider) checks the content it
// reads against it: a member of the namespace who can edit ConfigMaps can
// delete a version's ConfigMap, but not make a run execute other content.
package versions

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/v1alpha1"
)

// Labels and annotations of a version's ConfigMap. LabelPipelineUID marks
// the ConfigMaps the runtime manages.
const (
	LabelPipelineUID     = "pipelines.kfstack.dev/pipeline-uid"
	LabelVersion         = "pipelines.kfstack.dev/version"
	AnnotationPipeline   = "pipelines.kfstack.dev/pipeline"
	AnnotationHash       = "pipelines.kfstack.dev/content-hash"
	specKey, dagKey      = "spec.gz", "dag.gz"
	maxConfigMapDataSize = 1 << 20 // the API server's limit on a ConfigMap's data
)

var (
	// ErrGone is returned when a version's ConfigMap does not exist.
	ErrGone = errors.New("the version's content is gone")
	// ErrAltered is returned when a version's ConfigMap does not hold the
	// content the version's hash names.
	ErrAltered = errors.New("the version's content was altered")
)

// ConfigMapName names the ConfigMap of version n of the pipeline:
// <pipeline>-<first 8 hex digits of its UID>-v<n>, so that a pipeline
// deleted and made again under the same name never meets its
// predecessor's versions. Long names are cut to stay within 253
// characters.
func ConfigMapName(p *v1alpha1.Pipeline, n int32) string {
	uid := strings.ReplaceAll(string(p.UID), "-", "")
	if len(uid) > 8 {
		uid = uid[:8]
	}
	suffix := "-" + uid + "-v" + strconv.Itoa(int(n))
	name := p.Name
	if max := 253 - len(suffix); len(name) > max {
		name = strings.TrimRight(name[:max], "-.")
	}
	return name + suffix
}

// ConfigMap returns the ConfigMap holding version n of the pipeline, whose
// content is the pipeline's spec (spec or dag). It is immutable. It errs
// when the content, compressed, is more than a ConfigMap holds.
func ConfigMap(p *v1alpha1.Pipeline, n int32, content v1alpha1.PipelineSpec) (*corev1.ConfigMap, error) {
	key, text := specKey, content.Spec
	if text == "" {
		key, text = dagKey, content.DAG
	}
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write([]byte(text)); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	if buf.Len() > maxConfigMapDataSize {
		return nil, fmt.Errorf("the content is %d bytes gzipped, more than the %d bytes a version can hold", buf.Len(), maxConfigMapDataSize)
	}
	immutable := true
	return &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: p.Namespace,
			Name:      ConfigMapName(p, n),
			Labels: map[string]string{
				LabelPipelineUID: string(p.UID),
				LabelVersion:     strconv.Itoa(int(n)),
			},
			Annotations: map[string]string{
				AnnotationPipeline: p.Name,
				AnnotationHash:     content.ContentHash(),
			},
		},
		Immutable:  &immutable,
		BinaryData: map[string][]byte{key: buf.Bytes()},
	}, nil
}

// Content reads the content out of a version's ConfigMap and checks it
// against hash, the content hash the controller recorded in a status.
func Content(cm *corev1.ConfigMap, hash string) (v1alpha1.PipelineSpec, error) {
	var s v1alpha1.PipelineSpec
	if len(cm.BinaryData) != 1 {
		return s, fmt.Errorf("%w: ConfigMap %s holds no pipeline content", ErrAltered, cm.Name)
	}
	for key, gz := range cm.BinaryData {
		zr, err := gzip.NewReader(bytes.NewReader(gz))
		if err != nil {
			return s, fmt.Errorf("%w: ConfigMap %s: %w", ErrAltered, cm.Name, err)
		}
		// A ConfigMap holds at most 1 MiB; content is at most a few MiB.
		text, err := io.ReadAll(io.LimitReader(zr, 16<<20))
		if err != nil {
			return s, fmt.Errorf("%w: ConfigMap %s: %w", ErrAltered, cm.Name, err)
		}
		switch key {
		case specKey:
			s.Spec = string(text)
		case dagKey:
			s.DAG = string(text)
		default:
			return s, fmt.Errorf("%w: ConfigMap %s holds no pipeline content", ErrAltered, cm.Name)
		}
	}
	if got := s.ContentHash(); got != hash {
		return v1alpha1.PipelineSpec{}, fmt.Errorf("%w: the content in ConfigMap %s hashes to %s, the version's hash is %s", ErrAltered, cm.Name, got, hash)
	}
	return s, nil
}

// Read reads and checks the content of the version whose ConfigMap is name
// in namespace ns. A missing ConfigMap is ErrGone.
func Read(ctx context.Context, r client.Reader, ns, name, hash string) (v1alpha1.PipelineSpec, error) {
	cm := &corev1.ConfigMap{}
	if err := r.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, cm); err != nil {
		if client.IgnoreNotFound(err) == nil {
			return v1alpha1.PipelineSpec{}, fmt.Errorf("ConfigMap %s/%s: %w", ns, name, ErrGone)
		}
		return v1alpha1.PipelineSpec{}, fmt.Errorf("reading ConfigMap %s/%s: %w", ns, name, err)
	}
	return Content(cm, hash)
}

// Reader returns a reader of kept versions' content through r (read past
// any cache: a controller's cache holds only the ConfigMaps' metadata),
// as validation.VersionContent wants it.
func Reader(ctx context.Context, r client.Reader) func(*v1alpha1.Pipeline, *v1alpha1.PipelineVersion) (v1alpha1.PipelineSpec, error) {
	return func(p *v1alpha1.Pipeline, v *v1alpha1.PipelineVersion) (v1alpha1.PipelineSpec, error) {
		return Read(ctx, r, p.Namespace, v.ConfigMap, v.ContentHash)
	}
}

// Of reports the pipeline UID and version number a ConfigMap's labels
// name; ok is false for a ConfigMap that is not a version's.
func Of(m metav1.Object) (uid types.UID, n int32, ok bool) {
	l := m.GetLabels()
	v, err := strconv.Atoi(l[LabelVersion])
	if l[LabelPipelineUID] == "" || err != nil || v <= 0 {
		return "", 0, false
	}
	return types.UID(l[LabelPipelineUID]), int32(v), true
}
