package fakegke

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"strings"
	"time"

	"cloud.google.com/go/container/apiv1/containerpb"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	grpcstatus "google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"
)

const apiPrefix = "https://container.googleapis.com/v1/"

// operation is a long-running operation and what it works on.
type operation struct {
	proto    *containerpb.Operation
	cluster  string // key of the cluster
	pool     string // node pool name, "" for cluster operations
	cancel   bool
	finished chan struct{}
}

// step is one stage of an operation.
type step struct {
	name string
	run  func(ctx context.Context) error
}

// startOperation records a PENDING operation and runs its steps in the
// background. The target (cluster, or pool when pool != "") is marked busy
// until the operation ends; done runs under s.mu with the error the
// operation ended with (nil on success). s.mu is held by the caller.
func (s *Server) startOperation(method string, typ containerpb.Operation_Type, c *cluster, pool string, steps []step, done func(err error)) *containerpb.Operation {
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	name := fmt.Sprintf("operation-%d-%s", time.Now().UnixMilli(), hex.EncodeToString(suffix))
	target := c.key
	if pool != "" {
		target += "/nodePools/" + pool
	}
	op := &operation{
		cluster: c.key, pool: pool, finished: make(chan struct{}),
		proto: &containerpb.Operation{
			Name:          name,
			OperationType: typ,
			Status:        containerpb.Operation_PENDING,
			SelfLink:      apiPrefix + c.parent() + "/operations/" + name,
			TargetLink:    apiPrefix + target,
			Location:      c.location,
			StartTime:     time.Now().UTC().Format(time.RFC3339Nano),
			Progress:      &containerpb.OperationProgress{Status: containerpb.Operation_PENDING},
		},
	}
	for _, st := range steps {
		op.proto.Progress.Stages = append(op.proto.Progress.Stages, &containerpb.OperationProgress{Name: st.name, Status: containerpb.Operation_PENDING})
	}
	s.operations[name] = op
	s.opOrder = append(s.opOrder, name)
	if pool == "" {
		c.busy = name
	} else {
		c.pools[pool].busy = name
	}
	failure := s.takeFailure(method, targetName(c, pool))
	s.wg.Add(1)
	go s.run(op, c, steps, failure, done)
	return proto.Clone(op.proto).(*containerpb.Operation)
}

func targetName(c *cluster, pool string) string {
	if pool != "" {
		return pool
	}
	return c.name
}

func (s *Server) run(op *operation, c *cluster, steps []step, failure *Failure, done func(error)) {
	defer s.wg.Done()
	defer close(op.finished)
	err := s.runSteps(op, steps, failure)
	s.mu.Lock()
	defer s.mu.Unlock()
	if op.pool == "" {
		c.busy = ""
	} else if p := c.pools[op.pool]; p != nil {
		p.busy = ""
	}
	done(err)
	p := op.proto
	p.Status = containerpb.Operation_DONE
	p.Progress.Status = containerpb.Operation_DONE
	p.EndTime = time.Now().UTC().Format(time.RFC3339Nano)
	if err != nil {
		st, _ := grpcstatus.FromError(err)
		p.Error = &status.Status{Code: int32(st.Code()), Message: st.Message()}
		p.Detail = st.Message()
	}
}

func (s *Server) runSteps(op *operation, steps []step, failure *Failure) error {
	for i, st := range steps {
		s.mu.Lock()
		delay := s.stepDelay
		op.proto.Status = containerpb.Operation_RUNNING
		op.proto.Progress.Status = containerpb.Operation_RUNNING
		op.proto.Progress.Stages[i].Status = containerpb.Operation_RUNNING
		s.mu.Unlock()
		select {
		case <-s.ctx.Done():
			return grpcstatus.Error(codes.Aborted, "the server stopped")
		case <-time.After(delay):
		}
		s.mu.Lock()
		cancelled := op.cancel
		s.mu.Unlock()
		if cancelled {
			return grpcstatus.Error(codes.Canceled, "Operation was cancelled.")
		}
		if failure != nil && failure.Step == i {
			return grpcstatus.Error(failure.Code, failure.Message)
		}
		ctx, cancel := context.WithTimeout(s.ctx, 2*time.Minute)
		err := st.run(ctx)
		cancel()
		if err != nil {
			if _, ok := grpcstatus.FromError(err); !ok {
				err = grpcstatus.Errorf(codes.Internal, "%s: %v", st.name, err)
			}
			return err
		}
		s.mu.Lock()
		op.proto.Progress.Stages[i].Status = containerpb.Operation_DONE
		s.mu.Unlock()
	}
	return nil
}

// WaitIdle waits until no operation runs, for tests that look at nodes
// after a call.
func (s *Server) WaitIdle(ctx context.Context) error {
	for {
		s.mu.Lock()
		var pending *operation
		for _, op := range s.operations {
			if op.proto.Status != containerpb.Operation_DONE {
				pending = op
				break
			}
		}
		s.mu.Unlock()
		if pending == nil {
			return nil
		}
		select {
		case <-pending.finished:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// GetOperation returns an operation by projects/P/locations/L/operations/ID.
func (s *Server) GetOperation(_ context.Context, req *containerpb.GetOperationRequest) (*containerpb.Operation, error) {
	name := req.GetName()
	parent, id, ok := strings.Cut(name, "/operations/")
	if !ok || id == "" {
		return nil, grpcstatus.Errorf(codes.InvalidArgument, "Invalid operation name %q: expected projects/*/locations/*/operations/*.", name)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	op, ok := s.operations[id]
	if !ok || !strings.HasPrefix(op.cluster, parent+"/") {
		return nil, grpcstatus.Errorf(codes.NotFound, "Not found: %s.", name)
	}
	return proto.Clone(op.proto).(*containerpb.Operation), nil
}

// ListOperations lists the operations of a project in a location ("-" for all).
func (s *Server) ListOperations(_ context.Context, req *containerpb.ListOperationsRequest) (*containerpb.ListOperationsResponse, error) {
	project, location, err := parseParent(req.GetParent())
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	resp := &containerpb.ListOperationsResponse{}
	for _, name := range s.opOrder {
		op := s.operations[name]
		opParent, _, _ := strings.Cut(op.cluster, "/clusters/")
		p, l, _ := parseParent(opParent)
		if p == project && (location == "-" || l == location) {
			resp.Operations = append(resp.Operations, proto.Clone(op.proto).(*containerpb.Operation))
		}
	}
	return resp, nil
}

// CancelOperation stops an operation before its next step; it then ends
// with CANCELLED. What earlier steps made stays, as on GKE.
func (s *Server) CancelOperation(_ context.Context, req *containerpb.CancelOperationRequest) (*emptypb.Empty, error) {
	name := req.GetName()
	_, id, _ := strings.Cut(name, "/operations/")
	s.mu.Lock()
	defer s.mu.Unlock()
	op, ok := s.operations[id]
	if !ok {
		return nil, grpcstatus.Errorf(codes.NotFound, "Not found: %s.", name)
	}
	if op.proto.Status == containerpb.Operation_DONE {
		return nil, grpcstatus.Errorf(codes.FailedPrecondition, "Operation %s is already done.", id)
	}
	op.cancel = true
	op.proto.Status = containerpb.Operation_ABORTING
	return &emptypb.Empty{}, nil
}

// incompatible is GKE's refusal of a second operation on a busy target.
func incompatible(opName string) error {
	return grpcstatus.Errorf(codes.FailedPrecondition, "Cluster is running incompatible operation %s. Please wait and try again once it is done.", opName)
}

// selfSignedCert makes a CA and a serving certificate for 127.0.0.1 and
// localhost.
func selfSignedCert() (tls.Certificate, []byte, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	now := time.Now()
	ca := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "fakegke-ca"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(10 * 365 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature, BasicConstraintsValid: true, IsCA: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "container.googleapis.com"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(10 * 365 * 24 * time.Hour),
		DNSNames:    []string{"localhost", "container.googleapis.com"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:    x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &key.PublicKey, caKey)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	cert, err := tls.X509KeyPair(
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leafDER}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}))
	return cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), err
}
