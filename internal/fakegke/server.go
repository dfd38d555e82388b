// Package fakegke is a GKE API of our own: an in-process gRPC server that
// implements containerpb.ClusterManagerServer (cloud.google.com/go/container
// apiv1) for tests, the demo and benchmarks, where Google's API cannot be
// reached.
//
// It is backed by a real control plane (internal/testcluster): a cluster
// it creates is that control plane (its endpoint and CA), and a node pool
// is a set of KWOK nodes labelled and tainted as GKE labels and taints
// them, with the capacity of the pool's machine and accelerator types,
// created, resized, relabelled and removed as the pool changes. Mutating
// calls return long-running operations that take time (Options.StepDelay a
// step), report their progress, can be cancelled and can be made to fail
// (InjectFailure). Requests are checked as GKE checks them where the
// provider relies on it: names, machine and accelerator types, TPU
// topologies, autoscaling limits, label fingerprints, and one operation at
// a time on a cluster or node pool.
package fakegke

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/container/apiv1/containerpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"k8s.io/client-go/kubernetes"
)

// Options configure a fake GKE API.
type Options struct {
	// Host is the URL of the control plane every cluster is
	// (https://127.0.0.1:port), CACert the PEM of its CA and Client a
	// client with the right to create and delete nodes.
	Host   string
	CACert []byte
	Client kubernetes.Interface
	// StepDelay is how long a step of an operation takes; 100ms when 0.
	StepDelay time.Duration
	// Token, when set, is the only access token accepted
	// ("authorization: Bearer <token>"); others get UNAUTHENTICATED.
	Token string
	// TLS serves TLS with a certificate for 127.0.0.1 signed by a CA of
	// its own (Server.CACert); plaintext otherwise.
	TLS bool
	// MasterVersion is the Kubernetes version clusters report; the
	// control plane's own when empty.
	MasterVersion string
	// Listen is the address to listen on; 127.0.0.1:0 when empty.
	Listen string
}

// Server is a running fake GKE API.
type Server struct {
	containerpb.UnimplementedClusterManagerServer

	opts     Options
	listener net.Listener
	grpc     *grpc.Server
	caPEM    []byte
	nodes    *nodeManager
	ctx      context.Context
	stop     context.CancelFunc
	wg       sync.WaitGroup

	mu         sync.Mutex
	clusters   map[string]*cluster // by projects/P/locations/L/clusters/C
	operations map[string]*operation
	opOrder    []string
	failures   []Failure
	stepDelay  time.Duration
	calls      map[string]int
}

// Start starts a server on loopback. Close stops it.
func Start(opts Options) (*Server, error) {
	if opts.Host == "" || opts.Client == nil {
		return nil, errors.New("fakegke: Options.Host and Options.Client are required")
	}
	if opts.StepDelay == 0 {
		opts.StepDelay = 100 * time.Millisecond
	}
	if opts.MasterVersion == "" {
		opts.MasterVersion = "1.37.2-gke.1000"
		if v, err := opts.Client.Discovery().ServerVersion(); err == nil {
			opts.MasterVersion = strings.TrimPrefix(v.GitVersion, "v") + "-gke.1000"
		}
	}
	listen := opts.Listen
	if listen == "" {
		listen = "127.0.0.1:0"
	}
	l, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, fmt.Errorf("fakegke: listening: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		opts: opts, listener: l, ctx: ctx, stop: cancel,
		nodes:      &nodeManager{client: opts.Client},
		clusters:   map[string]*cluster{},
		operations: map[string]*operation{},
		stepDelay:  opts.StepDelay,
		calls:      map[string]int{},
	}
	serverOpts := []grpc.ServerOption{grpc.UnaryInterceptor(s.intercept)}
	if opts.TLS {
		cert, caPEM, err := selfSignedCert()
		if err != nil {
			l.Close()
			cancel()
			return nil, err
		}
		s.caPEM = caPEM
		serverOpts = append(serverOpts, grpc.Creds(credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})))
	}
	s.grpc = grpc.NewServer(serverOpts...)
	containerpb.RegisterClusterManagerServer(s.grpc, s)
	go func() { _ = s.grpc.Serve(l) }()
	return s, nil
}

// Addr is the host:port the server listens on.
func (s *Server) Addr() string { return s.listener.Addr().String() }

// CACert is the PEM of the CA that signed the server's certificate, nil
// without Options.TLS.
func (s *Server) CACert() []byte { return s.caPEM }

// CertPool is CACert as a pool, for clients.
func (s *Server) CertPool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(s.caPEM)
	return pool
}

// Close stops serving and waits for running operations to stop. The nodes
// of clusters that still exist are left in place.
func (s *Server) Close() {
	s.stop()
	s.grpc.Stop()
	s.wg.Wait()
}

// SetStepDelay changes how long an operation's step takes, from the next
// step on.
func (s *Server) SetStepDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stepDelay = d
}

// Calls returns how often each method was called.
func (s *Server) Calls() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.calls))
	for k, v := range s.calls {
		out[k] = v
	}
	return out
}

// Failure makes a future call fail, once.
type Failure struct {
	// Method is the RPC, such as CreateNodePool.
	Method string
	// Target is the cluster or node pool name the call is about; any
	// when empty.
	Target string
	// Reject refuses the call itself with Code and Message. Otherwise the
	// call starts its operation, which fails before step Step (0-based)
	// with Code (RESOURCE_EXHAUSTED when unset) and Message.
	Reject  bool
	Step    int
	Code    codes.Code
	Message string
}

// InjectFailure arms a failure for the next matching call.
func (s *Server) InjectFailure(f Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f.Code == codes.OK {
		f.Code = codes.ResourceExhausted
	}
	if f.Message == "" {
		f.Message = "injected failure"
	}
	s.failures = append(s.failures, f)
}

// takeFailure returns and disarms the first failure for a call. s.mu is held.
func (s *Server) takeFailure(method, target string) *Failure {
	for i, f := range s.failures {
		if !f.Reject && f.Method == method && (f.Target == "" || f.Target == target) {
			s.failures = append(s.failures[:i], s.failures[i+1:]...)
			return &f
		}
	}
	return nil
}

func (s *Server) intercept(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	method := info.FullMethod[strings.LastIndex(info.FullMethod, "/")+1:]
	s.mu.Lock()
	s.calls[method]++
	s.mu.Unlock()
	if s.opts.Token != "" {
		md, _ := metadata.FromIncomingContext(ctx)
		auth := md.Get("authorization")
		if len(auth) == 0 {
			return nil, status.Error(codes.Unauthenticated, "Request is missing required authentication credential. Expected OAuth 2 access token.")
		}
		if auth[0] != "Bearer "+s.opts.Token {
			return nil, status.Error(codes.Unauthenticated, "Request had invalid authentication credentials. Expected OAuth 2 access token.")
		}
	}
	return handler(ctx, req)
}
