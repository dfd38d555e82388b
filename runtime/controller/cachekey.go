package controller

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// cacheKeyField is the Secret's key holding the cache signing key.
const cacheKeyField = "key"

// minCacheKey is the shortest signing key accepted (HMAC-SHA256's block
// of entropy).
const minCacheKey = 32

// ParseSecretName splits NAMESPACE/NAME.
func ParseSecretName(s string) (namespace, name string, err error) {
	namespace, name, ok := strings.Cut(s, "/")
	if !ok {
		return "", "", fmt.Errorf("%q is not NAMESPACE/NAME", s)
	}
	if errs := validation.IsDNS1123Label(namespace); len(errs) > 0 {
		return "", "", fmt.Errorf("namespace %q: %s", namespace, strings.Join(errs, "; "))
	}
	if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
		return "", "", fmt.Errorf("name %q: %s", name, strings.Join(errs, "; "))
	}
	return namespace, name, nil
}

// LoadCacheSigningKey returns the key that signs task cache entries, kept
// in the Secret ref (NAMESPACE/NAME) so that every replica and every
// restart of the controller trusts the same entries. The Secret is made
// with a random key when it does not exist; its namespace should be the
// controller's own, where no task runs. The controller needs get on that
// Secret and create on Secrets there (bootstrap/runtime grants them).
func LoadCacheSigningKey(ctx context.Context, cfg *rest.Config, ref string) ([]byte, error) {
	ns, name, err := ParseSecretName(ref)
	if err != nil {
		return nil, fmt.Errorf("--cache-key-secret: %w", err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("creating a client: %w", err)
	}
	secrets := cs.CoreV1().Secrets(ns)
	for range 3 {
		s, err := secrets.Get(ctx, name, metav1.GetOptions{})
		if err == nil {
			key := s.Data[cacheKeyField]
			if len(key) < minCacheKey {
				return nil, fmt.Errorf("secret %s/%s: %q holds %d bytes, fewer than %d", ns, name, cacheKeyField, len(key), minCacheKey)
			}
			return key, nil
		}
		if !apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("getting the cache key secret %s/%s: %w", ns, name, err)
		}
		s = &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{"app.kubernetes.io/part-of": "kfstack", "app.kubernetes.io/component": "task-cache-key"}},
			Type:       corev1.SecretTypeOpaque,
			Data:       map[string][]byte{cacheKeyField: newSigningKey()},
		}
		if _, err := secrets.Create(ctx, s, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return nil, fmt.Errorf("creating the cache key secret %s/%s: %w", ns, name, err)
		}
		// Made by us or by another replica at the same time: read it.
	}
	return nil, fmt.Errorf("the cache key secret %s/%s keeps disappearing", ns, name)
}
