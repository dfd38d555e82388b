package provider

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	container "cloud.google.com/go/container/apiv1"
	"cloud.google.com/go/container/apiv1/containerpb"
	"github.com/hashicorp/terraform-plugin-log/tflog"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// gkeClusterID is projects/P/locations/L/clusters/C, as google's ids.
type gkeClusterID struct{ Project, Location, Name string }

func (id gkeClusterID) String() string {
	return fmt.Sprintf("projects/%s/locations/%s/clusters/%s", id.Project, id.Location, id.Name)
}

func (id gkeClusterID) parent() string {
	return fmt.Sprintf("projects/%s/locations/%s", id.Project, id.Location)
}

func (id gkeClusterID) pool(name string) string { return id.String() + "/nodePools/" + name }

var (
	clusterIDPattern = regexp.MustCompile(`^projects/([^/]+)/locations/([^/]+)/clusters/([^/]+)$`)
	poolIDPattern    = regexp.MustCompile(`^projects/([^/]+)/locations/([^/]+)/clusters/([^/]+)/nodePools/([^/]+)$`)
)

// parseClusterRef reads a cluster reference: a full id, or a name with
// the project and location given separately.
func parseClusterRef(ref, project, location string) (gkeClusterID, error) {
	if m := clusterIDPattern.FindStringSubmatch(ref); m != nil {
		return gkeClusterID{Project: m[1], Location: m[2], Name: m[3]}, nil
	}
	if strings.Contains(ref, "/") {
		return gkeClusterID{}, fmt.Errorf("%q is neither a cluster name nor projects/PROJECT/locations/LOCATION/clusters/NAME", ref)
	}
	if project == "" {
		return gkeClusterID{}, errors.New("no project: set project, or google.project in the provider block (or GOOGLE_PROJECT)")
	}
	if location == "" {
		return gkeClusterID{}, errors.New("no location: set location, or give the cluster as projects/P/locations/L/clusters/C")
	}
	return gkeClusterID{Project: project, Location: location, Name: ref}, nil
}

// isNotFound reports a GKE NOT_FOUND.
func isNotFound(err error) bool { return status.Code(err) == codes.NotFound }

var busyPattern = regexp.MustCompile(`incompatible operation (operation-[-a-z0-9]+)`)

// startOperation calls start until GKE takes it: a cluster or node pool
// that runs another operation refuses a second one (FAILED_PRECONDITION,
// "incompatible operation"), so the call waits for that operation, saying
// so in the log, and tries again.
func startOperation(ctx context.Context, c *container.ClusterManagerClient, cluster gkeClusterID, what string, start func(context.Context) (*containerpb.Operation, error)) (*containerpb.Operation, error) {
	for {
		op, err := start(ctx)
		m := busyPattern.FindStringSubmatch(status.Convert(err).Message())
		if status.Code(err) != codes.FailedPrecondition || m == nil {
			return op, err
		}
		tflog.Info(ctx, fmt.Sprintf("%s: waiting for %s, which runs on the cluster", what, m[1]))
		other, getErr := c.GetOperation(ctx, &containerpb.GetOperationRequest{Name: cluster.parent() + "/operations/" + m[1]})
		if getErr == nil {
			// Its failure is not ours: only its end matters.
			_ = waitOperation(ctx, c, cluster, other, what+" (waiting for "+m[1]+")")
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%s: timed out waiting for %s to finish on the cluster: %w", what, m[1], err)
		case <-time.After(time.Second):
		}
	}
}

// waitOperation polls an operation until it is done, logging its progress
// ("creating node pool gpu: RUNNING, 3 of 5 steps"). When ctx ends first
// (the resource's timeout) the operation is cancelled.
func waitOperation(ctx context.Context, c *container.ClusterManagerClient, cluster gkeClusterID, op *containerpb.Operation, what string) error {
	name := cluster.parent() + "/operations/" + op.GetName()
	interval, last, lastLog := 200*time.Millisecond, "", time.Time{}
	started := time.Now()
	for {
		if op.GetStatus() == containerpb.Operation_DONE {
			if e := op.GetError(); e != nil && e.GetCode() != 0 {
				return fmt.Errorf("operation %s failed: %s (%s)", op.GetName(), e.GetMessage(), codes.Code(e.GetCode()))
			}
			tflog.Info(ctx, fmt.Sprintf("%s: done in %s", what, time.Since(started).Round(100*time.Millisecond)))
			return nil
		}
		progress := describeProgress(op)
		if progress != last || time.Since(lastLog) > 30*time.Second {
			tflog.Info(ctx, fmt.Sprintf("%s: %s", what, progress), map[string]any{"operation": op.GetName()})
			last, lastLog = progress, time.Now()
		}
		select {
		case <-ctx.Done():
			cancelCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			cancelErr := c.CancelOperation(cancelCtx, &containerpb.CancelOperationRequest{Name: name})
			if cancelErr != nil {
				return fmt.Errorf("%s: timed out after %s (%s) and cancelling operation %s failed: %w", what, time.Since(started).Round(time.Second), progress, op.GetName(), cancelErr)
			}
			return fmt.Errorf("%s: timed out after %s (%s); operation %s was cancelled (raise timeouts to wait longer)", what, time.Since(started).Round(time.Second), progress, op.GetName())
		case <-time.After(interval):
		}
		interval = min(interval*3/2, 5*time.Second)
		next, err := c.GetOperation(ctx, &containerpb.GetOperationRequest{Name: name})
		if err != nil {
			if ctx.Err() != nil {
				continue
			}
			return fmt.Errorf("%s: reading operation %s: %w", what, op.GetName(), err)
		}
		op = next
	}
}

func describeProgress(op *containerpb.Operation) string {
	stages := op.GetProgress().GetStages()
	if len(stages) == 0 {
		return op.GetStatus().String()
	}
	done, current := 0, ""
	for _, s := range stages {
		switch s.GetStatus() {
		case containerpb.Operation_DONE:
			done++
		case containerpb.Operation_RUNNING:
			current = s.GetName()
		}
	}
	out := fmt.Sprintf("%s, %d of %d steps", op.GetStatus(), done, len(stages))
	if current != "" {
		out += " (" + current + ")"
	}
	return out
}

// pendingOperation finds an operation of the given type on the target (a
// cluster or node pool id) that has not finished: what an interrupted
// apply left running.
func pendingOperation(ctx context.Context, c *container.ClusterManagerClient, cluster gkeClusterID, typ containerpb.Operation_Type, target string) (*containerpb.Operation, error) {
	resp, err := c.ListOperations(ctx, &containerpb.ListOperationsRequest{Parent: cluster.parent()})
	if err != nil {
		return nil, err
	}
	for _, op := range resp.GetOperations() {
		if op.GetOperationType() == typ && op.GetStatus() != containerpb.Operation_DONE && strings.HasSuffix(op.GetTargetLink(), "/"+target) {
			return op, nil
		}
	}
	return nil, nil
}
