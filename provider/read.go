package provider

import (
	"context"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-log/tflog"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// liveObject says how a resource's Read reaches its object: the kind named
// in messages, how to connect, and how to explain an error of its API.
type liveObject struct {
	kind    string
	connect func(context.Context) (*clients, client.Client, error)
	explain func(*clients, error) error
}

// pipelinesObject is an object of the runtime's API (pipelines.kfstack.dev).
func pipelinesObject(conn *connection, kind string) liveObject {
	return liveObject{kind: kind, connect: conn.pipelines, explain: (*clients).explainRuntime}
}

// read gets namespace/name into obj for a Read and reports whether the
// Read goes on. It does not when the provider's connection is not known
// yet (the state stays), when the object is gone (it leaves the state, so
// the plan creates it again), or when an error was reported.
func (o liveObject) read(ctx context.Context, conn *connection, ns, name string, obj client.Object, resp *resource.ReadResponse) bool {
	where := map[string]any{"kind": o.kind, "namespace": ns, "name": name}
	if conn.unknown {
		tflog.Info(ctx, "skipping the refresh: the provider's connection is not known yet", where)
		return false
	}
	summary := fmt.Sprintf("reading %s (%s/%s)", o.kind, ns, name)
	c, cl, err := o.connect(ctx)
	if err != nil {
		resp.Diagnostics.AddError(summary, err.Error())
		return false
	}
	if err := cl.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, obj); err != nil {
		if apierrors.IsNotFound(err) {
			tflog.Warn(ctx, "the object is gone; removing it from state", where)
			resp.State.RemoveResource(ctx)
			return false
		}
		resp.Diagnostics.AddError(summary, o.explain(c, err).Error())
		return false
	}
	return true
}
