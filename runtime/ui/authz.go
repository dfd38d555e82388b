package ui

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	authorizationv1client "k8s.io/client-go/kubernetes/typed/authorization/v1"

	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/v1alpha1"
)

// access is a question to the API server's authoriser: may the user do
// verb on resource (in namespace, to the object name)?
type access struct {
	Verb        string
	Group       string
	Resource    string
	Subresource string
	Namespace   string
	Name        string
}

func (a access) String() string {
	res := a.Resource
	if a.Group != "" {
		res += "." + a.Group
	}
	if a.Subresource != "" {
		res += "/" + a.Subresource
	}
	s := a.Verb + " " + res
	if a.Name != "" {
		s += " " + a.Name
	}
	return s + " in namespace " + a.Namespace
}

var group = v1alpha1.GroupVersion.Group

// The questions the UI asks.
func readRuns(ns string) access {
	return access{Verb: "list", Group: group, Resource: "pipelineruns", Namespace: ns}
}
func readRun(ns, name string) access {
	return access{Verb: "get", Group: group, Resource: "pipelineruns", Namespace: ns, Name: name}
}
func readLogs(ns string) access {
	return access{Verb: "get", Resource: "pods", Subresource: "log", Namespace: ns}
}
func readPipelines(ns string) access {
	return access{Verb: "list", Group: group, Resource: "pipelines", Namespace: ns}
}
func readPipeline(ns, name string) access {
	return access{Verb: "get", Group: group, Resource: "pipelines", Namespace: ns, Name: name}
}
func readExperiments(ns string) access {
	return access{Verb: "list", Group: group, Resource: "experiments", Namespace: ns}
}
func createRuns(ns string) access {
	return access{Verb: "create", Group: group, Resource: "pipelineruns", Namespace: ns}
}
func patchRun(ns, name string) access {
	return access{Verb: "patch", Group: group, Resource: "pipelineruns", Namespace: ns, Name: name}
}
func patchExperiment(ns, name string) access {
	return access{Verb: "patch", Group: group, Resource: "experiments", Namespace: ns, Name: name}
}
func createExperiments(ns string) access {
	return access{Verb: "create", Group: group, Resource: "experiments", Namespace: ns}
}

// authorizer asks the API server (SubjectAccessReview) whether a user may
// do something, and keeps the answers for a short while: a page load asks
// the same questions many times, and a RoleBinding change takes effect
// within the TTL.
type authorizer struct {
	sar authorizationv1client.SubjectAccessReviewInterface
	ttl time.Duration

	mu      sync.Mutex
	answers map[string]answer
}

type answer struct {
	allowed bool
	at      time.Time
}

// maxAnswers bounds the kept answers; all go when it is reached.
const maxAnswers = 20000

func newAuthorizer(sar authorizationv1client.SubjectAccessReviewInterface, ttl time.Duration) *authorizer {
	return &authorizer{sar: sar, ttl: ttl, answers: map[string]answer{}}
}

func (a *authorizer) allowed(ctx context.Context, id *Identity, q access) (bool, error) {
	key := id.User + "\x00" + strings.Join(id.Groups, "\x01") + "\x00" + q.Verb + "\x00" + q.Group + "\x00" + q.Resource + "\x00" + q.Subresource + "\x00" + q.Namespace + "\x00" + q.Name
	now := time.Now()
	a.mu.Lock()
	if ans, ok := a.answers[key]; ok && now.Sub(ans.at) < a.ttl {
		a.mu.Unlock()
		return ans.allowed, nil
	}
	a.mu.Unlock()
	review, err := a.sar.Create(ctx, &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User: id.User, Groups: id.Groups,
		ResourceAttributes: &authorizationv1.ResourceAttributes{
			Verb: q.Verb, Group: q.Group, Resource: q.Resource, Subresource: q.Subresource, Namespace: q.Namespace, Name: q.Name,
		},
	}}, metav1.CreateOptions{})
	if err != nil {
		return false, fmt.Errorf("asking the API server whether %s may %s: %w", id.User, q, err)
	}
	ans := answer{allowed: review.Status.Allowed && !review.Status.Denied, at: now}
	a.mu.Lock()
	if len(a.answers) >= maxAnswers {
		clear(a.answers)
	}
	a.answers[key] = ans
	a.mu.Unlock()
	return ans.allowed, nil
}

// may answers whether the user may do q; when not (or when the
// authoriser cannot be asked) it writes the error answer: 403 naming the
// user and what was refused.
func (s *Server) may(w http.ResponseWriter, r *http.Request, id *Identity, q access) bool {
	ok, err := s.authz.allowed(r.Context(), id, q)
	if err != nil {
		writeError(w, http.StatusBadGateway, "%v", err)
		return false
	}
	if !ok {
		writeError(w, http.StatusForbidden, "%s may not %s (ask the profile's owner to add you as a contributor)", id.User, q)
		return false
	}
	return true
}

// mayQuietly answers whether the user may do q, without an answer.
func (s *Server) mayQuietly(ctx context.Context, id *Identity, q access) bool {
	ok, err := s.authz.allowed(ctx, id, q)
	return err == nil && ok
}
