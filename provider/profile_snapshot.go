package provider

import (
	"context"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// profileSnapshotMaxAge bounds how long the Reads of one refresh share a
// snapshot: Terraform reads every profile at once at the start of a plan.
const profileSnapshotMaxAge = 10 * time.Second

// profileSnapshot holds the objects of every profile in the cluster, read
// with one list per kind (selected by the kfstack.dev/profile label)
// instead of eight gets per profile: a refresh of 100 profiles costs 5
// requests, not 800. Any write by the provider to a profile drops it, so
// a Read never sees the cluster as it was before the provider's own
// change.
type profileSnapshot struct {
	taken      time.Time
	namespaces map[string]*corev1.Namespace
	bindings   map[string]map[string]*rbacv1.RoleBinding
	accounts   map[string]map[string]*corev1.ServiceAccount
	quotas     map[string]*corev1.ResourceQuota
	limits     map[string]*corev1.LimitRange
}

// profileCache is the clients' snapshot, loaded by the first Read that
// needs it while the others wait.
type profileCache struct {
	mu   sync.Mutex
	snap *profileSnapshot
}

// invalidate drops the snapshot: the provider changed a profile.
func (p *profileCache) invalidate() {
	p.mu.Lock()
	p.snap = nil
	p.mu.Unlock()
}

// snapshot returns a fresh snapshot, listing the cluster if there is none.
// It returns nil (and the caller reads with gets) when a list fails, such
// as for a user who may get but not list.
func (c *clients) profileSnapshot(ctx context.Context) *profileSnapshot {
	p := &c.profiles
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.snap != nil && time.Since(p.snap.taken) < profileSnapshotMaxAge {
		return p.snap
	}
	p.snap = nil
	list := metav1.ListOptions{LabelSelector: profileLabel}
	s := &profileSnapshot{
		taken:      time.Now(),
		namespaces: map[string]*corev1.Namespace{},
		bindings:   map[string]map[string]*rbacv1.RoleBinding{},
		accounts:   map[string]map[string]*corev1.ServiceAccount{},
		quotas:     map[string]*corev1.ResourceQuota{},
		limits:     map[string]*corev1.LimitRange{},
	}
	namespaces, err := c.core.CoreV1().Namespaces().List(ctx, list)
	if err != nil {
		return nil
	}
	for i := range namespaces.Items {
		s.namespaces[namespaces.Items[i].Name] = &namespaces.Items[i]
	}
	bindings, err := c.core.RbacV1().RoleBindings("").List(ctx, list)
	if err != nil {
		return nil
	}
	for i := range bindings.Items {
		b := &bindings.Items[i]
		if s.bindings[b.Namespace] == nil {
			s.bindings[b.Namespace] = map[string]*rbacv1.RoleBinding{}
		}
		s.bindings[b.Namespace][b.Name] = b
	}
	accounts, err := c.core.CoreV1().ServiceAccounts("").List(ctx, list)
	if err != nil {
		return nil
	}
	for i := range accounts.Items {
		a := &accounts.Items[i]
		if s.accounts[a.Namespace] == nil {
			s.accounts[a.Namespace] = map[string]*corev1.ServiceAccount{}
		}
		s.accounts[a.Namespace][a.Name] = a
	}
	quotas, err := c.core.CoreV1().ResourceQuotas("").List(ctx, list)
	if err != nil {
		return nil
	}
	for i := range quotas.Items {
		if q := &quotas.Items[i]; q.Name == quotaName {
			s.quotas[q.Namespace] = q
		}
	}
	limits, err := c.core.CoreV1().LimitRanges("").List(ctx, list)
	if err != nil {
		return nil
	}
	for i := range limits.Items {
		if l := &limits.Items[i]; l.Name == limitRangeName {
			s.limits[l.Namespace] = l
		}
	}
	p.snap = s
	return s
}

// profile returns what the snapshot holds of a profile, false when its
// namespace is not in it (not labelled as a profile's, such as one being
// imported): the caller then reads with gets. Objects of the profile
// without the label (edited out of band) are missing from the snapshot,
// and the next apply labels them again.
func (s *profileSnapshot) profile(ns, serviceAccount string) (*liveProfile, bool) {
	namespace, ok := s.namespaces[ns]
	if !ok {
		return nil, false
	}
	live := &liveProfile{namespace: namespace, bindings: map[string]*rbacv1.RoleBinding{}}
	for _, name := range []string{ownerBinding, contributorBinding(roleEdit), contributorBinding(roleView), runnerBinding} {
		if b := s.bindings[ns][name]; b != nil {
			live.bindings[name] = b
		}
	}
	if serviceAccount == "" {
		serviceAccount = defaultRunnerSA
		if b := live.bindings[runnerBinding]; b != nil && len(b.Subjects) > 0 {
			serviceAccount = b.Subjects[0].Name
		}
	}
	live.serviceAcct = s.accounts[ns][serviceAccount]
	live.quota = s.quotas[ns]
	live.limits = s.limits[ns]
	return live, true
}
