// Package ui is the runtime's web UI (`kfstack-runtime ui`): runs and their
// task graphs, task logs and artifacts kept in the artifact store,
// experiments side by side, pipelines with their versions, and lineage.
//
// It acts as the signed-in user: an Authenticator says who the request
// comes from (the identity header the Istio gateway sets after Dex, OIDC
// against Dex done here, or a fixed user for the local quickstart), and
// every read and action is authorised by the Kubernetes API server with a
// SubjectAccessReview for that user, so a profile's members and roles
// decide what the UI shows, as they decide what kubectl shows. The UI
// reads through its own informer cache (runs, pipelines, experiments, task
// pods) and its own service account, which may read those kinds and write
// only what its actions need; the artifact store is read only under the
// run's own directory of an allowed pipeline root.
//
// Everything the browser loads is embedded in the binary (assets/): plain
// HTML, CSS and JavaScript, no framework and no CDN.
package ui

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	authorizationv1client "k8s.io/client-go/kubernetes/typed/authorization/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/cluster"

	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/v1alpha1"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/launcher"
)

// Options configure the UI server.
type Options struct {
	// Addr is where the server listens (":8082").
	Addr string
	// BasePath is the path the UI is served under ("/" by default; a
	// gateway may route a prefix such as /pipelines-ui/ to it, unchanged).
	BasePath string
	// Auth says who a request comes from.
	Auth Authenticator
	// PipelineRoot is the artifact store of runs that name none (the
	// controller's --pipeline-root).
	PipelineRoot string
	// AllowedRoots are more pipeline roots whose artifacts and logs the UI
	// may read (a run naming another root gets no previews or logs):
	// prefixes such as gs://team-a-artifacts or file:///mnt/artifacts.
	AllowedRoots []string
	// AuthzTTL is how long an answer of the API server's authoriser is
	// reused for the same user and question (default 10s).
	AuthzTTL time.Duration
	// FrameAncestors may embed the UI in a frame (the Content-Security-
	// Policy's frame-ancestors; default 'self'), e.g. the central
	// dashboard's origin.
	FrameAncestors []string
	// Log receives the server's log.
	Log logr.Logger
}

// Server serves the UI and its API.
type Server struct {
	opts   Options
	cl     cluster.Cluster
	authz  *authorizer
	data   *data
	events *hub
	stores *storeCache
	assets fs.FS
	mux    *http.ServeMux

	mu       sync.Mutex
	listener net.Listener
}

// New builds the server on a cluster connection whose cache was made with
// CacheOptions. It registers its informer handlers, so call it before the
// cache starts.
func New(cl cluster.Cluster, opts Options) (*Server, error) {
	if opts.Auth == nil {
		return nil, errors.New("the UI needs an authenticator: without an identity it refuses every request")
	}
	if opts.AuthzTTL <= 0 {
		opts.AuthzTTL = 10 * time.Second
	}
	if opts.Addr == "" {
		opts.Addr = ":8082"
	}
	if opts.BasePath == "" {
		opts.BasePath = "/"
	}
	if !strings.HasPrefix(opts.BasePath, "/") || !strings.HasSuffix(opts.BasePath, "/") || strings.Contains(opts.BasePath, "//") {
		return nil, fmt.Errorf("the base path %q must start and end with /", opts.BasePath)
	}
	for _, r := range append([]string{opts.PipelineRoot}, opts.AllowedRoots...) {
		if r == "" {
			continue
		}
		if err := checkRoot(r); err != nil {
			return nil, err
		}
	}
	sar, err := authorizationv1client.NewForConfig(cl.GetConfig())
	if err != nil {
		return nil, fmt.Errorf("creating the authorization client: %w", err)
	}
	assets, err := fs.Sub(embedded, "assets")
	if err != nil {
		return nil, err
	}
	s := &Server{
		opts:   opts,
		cl:     cl,
		authz:  newAuthorizer(sar.SubjectAccessReviews(), opts.AuthzTTL),
		data:   newData(cl.GetCache(), cl.GetAPIReader()),
		events: newHub(),
		stores: newStoreCache(),
		assets: assets,
	}
	// Every informer starts with the cache (not on a first request).
	for _, obj := range []client.Object{&v1alpha1.Pipeline{}, &v1alpha1.PipelineRun{}, &v1alpha1.Experiment{}, &corev1.Pod{}, &corev1.Namespace{}} {
		if _, err := cl.GetCache().GetInformer(context.Background(), obj); err != nil {
			return nil, fmt.Errorf("watching %T: %w", obj, err)
		}
	}
	if err := s.events.watch(context.Background(), cl.GetCache()); err != nil {
		return nil, err
	}
	if err := s.data.lineage.watch(context.Background(), cl.GetCache(), s.data); err != nil {
		return nil, err
	}
	s.routes()
	return s, nil
}

// Handler is the server's HTTP handler (for tests; Start serves it).
func (s *Server) Handler() http.Handler {
	h := s.secure(s.mux)
	base := strings.TrimSuffix(s.opts.BasePath, "/")
	if base == "" {
		return h
	}
	under := http.StripPrefix(base, h)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == base:
			http.Redirect(w, r, base+"/", http.StatusMovedPermanently)
		case strings.HasPrefix(r.URL.Path, base+"/"):
			under.ServeHTTP(w, r)
		case r.URL.Path == "/healthz":
			h.ServeHTTP(w, r)
		default:
			http.NotFound(w, r)
		}
	})
}

// Start serves until ctx ends (a manager Runnable).
func (s *Server) Start(ctx context.Context) error {
	l, err := net.Listen("tcp", s.opts.Addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", s.opts.Addr, err)
	}
	s.mu.Lock()
	s.listener = l
	s.mu.Unlock()
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second, BaseContext: func(net.Listener) context.Context { return ctx }}
	s.opts.Log.Info("serving the UI", "address", l.Addr().String())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	select {
	case <-ctx.Done():
		s.events.close()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
		return nil
	case err := <-errc:
		return err
	}
}

// NeedLeaderElection is false: every replica serves the UI.
func (s *Server) NeedLeaderElection() bool { return false }

// Addr is the address the server listens on once started.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.listener == nil {
		return ""
	}
	return s.listener.Addr().String()
}

func (s *Server) routes() {
	m := http.NewServeMux()
	s.mux = m
	// The page and its assets need no identity: they hold no data.
	m.HandleFunc("GET /{$}", s.page)
	m.Handle("GET /assets/", http.StripPrefix("/assets/", s.assetHandler()))
	m.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })
	s.authRoutes(m)

	api := func(pattern string, h func(http.ResponseWriter, *http.Request, *Identity)) {
		m.Handle(pattern, s.authenticated(h))
	}
	api("GET /api/v1/whoami", s.whoami)
	api("GET /api/v1/namespaces", s.listNamespaces)
	api("GET /api/v1/namespaces/{ns}/runs", s.listRuns)
	api("POST /api/v1/namespaces/{ns}/runs", s.startRun)
	api("GET /api/v1/namespaces/{ns}/runs/{run}", s.getRun)
	api("POST /api/v1/namespaces/{ns}/runs/{run}/cancel", s.cancelRun)
	api("GET /api/v1/namespaces/{ns}/runs/{run}/graph", s.runGraph)
	api("GET /api/v1/namespaces/{ns}/runs/{run}/tasks/{node}", s.getTask)
	api("GET /api/v1/namespaces/{ns}/runs/{run}/tasks/{node}/attempts/{attempt}/log", s.getLog)
	api("GET /api/v1/namespaces/{ns}/runs/{run}/tasks/{node}/attempts/{attempt}/log/follow", s.followLog)
	api("GET /api/v1/namespaces/{ns}/runs/{run}/tasks/{node}/artifacts/{output}/{index}", s.getArtifact)
	api("GET /api/v1/namespaces/{ns}/runs/{run}/tasks/{node}/artifacts/{output}/{index}/content", s.artifactContent)
	api("GET /api/v1/namespaces/{ns}/runs/{run}/tasks/{node}/artifacts/{output}/{index}/lineage", s.lineageOf)
	api("GET /api/v1/namespaces/{ns}/experiments", s.listExperiments)
	api("GET /api/v1/namespaces/{ns}/experiments/{experiment}/compare", s.compareExperiment)
	api("POST /api/v1/namespaces/{ns}/experiments/{experiment}/archive", s.archiveExperiment)
	api("GET /api/v1/namespaces/{ns}/pipelines", s.listPipelines)
	api("GET /api/v1/namespaces/{ns}/pipelines/{pipeline}", s.getPipeline)
	api("GET /api/v1/namespaces/{ns}/pipelines/{pipeline}/versions/{version}/graph", s.pipelineGraph)
	api("GET /api/v1/namespaces/{ns}/pipelines/{pipeline}/diff", s.diffPipeline)
	api("GET /api/v1/events", s.streamEvents)
	m.Handle("/api/", s.authenticated(func(w http.ResponseWriter, r *http.Request, _ *Identity) {
		writeError(w, http.StatusNotFound, "no such API: %s %s", r.Method, r.URL.Path)
	}))
}

func (s *Server) page(w http.ResponseWriter, r *http.Request) {
	b, err := fs.ReadFile(s.assets, "index.html")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	_, _ = w.Write(b)
}

func (s *Server) assetHandler() http.Handler {
	files := http.FileServerFS(s.assets)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Assets change with the binary: revalidate, cheaply (ETags are
		// not computed; the embedded files have no modification time).
		w.Header().Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	})
}

// secure sets the headers every response carries: no framing by others,
// no MIME sniffing, no referrer, and a Content-Security-Policy that allows
// only the UI's own scripts and styles (artifact content narrows it
// further).
func (s *Server) secure(next http.Handler) http.Handler {
	ancestors := "'self'"
	if len(s.opts.FrameAncestors) > 0 {
		ancestors = strings.Join(s.opts.FrameAncestors, " ")
	}
	csp := "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors " + ancestors
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Content-Security-Policy", csp)
		next.ServeHTTP(w, r)
	})
}

// apiError is the body of every error answer.
type apiError struct {
	Error string `json:"error"`
}

func writeError(w http.ResponseWriter, code int, format string, args ...any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(apiError{Error: fmt.Sprintf(format, args...)})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	writeBody(w, v)
}

// writeBody encodes v after the headers were written.
func writeBody(w http.ResponseWriter, v any) {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// storeCache keeps artifact stores open by pipeline root.
type storeCache struct {
	mu     sync.Mutex
	stores map[string]*launcher.Store
}

func newStoreCache() *storeCache { return &storeCache{stores: map[string]*launcher.Store{}} }

// maxStores bounds the open stores: the roots are the allowed ones, but
// a run may name any subdirectory of one.
const maxStores = 64

func (c *storeCache) open(ctx context.Context, root string) (*launcher.Store, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.stores[root]; ok {
		return s, nil
	}
	if len(c.stores) >= maxStores {
		for k, s := range c.stores {
			_ = s.Close()
			delete(c.stores, k)
		}
	}
	s, err := launcher.OpenStoreReadOnly(context.WithoutCancel(ctx), root)
	if err != nil {
		return nil, err
	}
	c.stores[root] = s
	return s, nil
}
