package provider

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"
)

// quantityValidator accepts a non-negative Kubernetes quantity, such as
// 500m, 8 or 32Gi.
type quantityValidator struct{}

func (quantityValidator) Description(context.Context) string {
	return "must be a non-negative Kubernetes quantity, such as 500m, 8 or 32Gi"
}

func (v quantityValidator) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (v quantityValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if err := checkQuantity(req.ConfigValue.ValueString()); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid quantity", fmt.Sprintf("%s: %v", req.Path, err))
	}
}

func checkQuantity(s string) error {
	q, err := resource.ParseQuantity(s)
	if err != nil {
		return fmt.Errorf("%q is not a quantity (examples: 500m, 8, 32Gi)", s)
	}
	if q.Sign() < 0 {
		return fmt.Errorf("%q is negative; quotas and limits must be zero or more", s)
	}
	return nil
}

// dnsLabelValidator accepts an RFC 1123 label: a namespace name.
type dnsLabelValidator struct{}

func (dnsLabelValidator) Description(context.Context) string {
	return "must be a DNS-1123 label: at most 63 lower-case letters, digits and '-', starting and ending with a letter or digit"
}

func (v dnsLabelValidator) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (v dnsLabelValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if errs := validation.IsDNS1123Label(req.ConfigValue.ValueString()); len(errs) > 0 {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid name",
			fmt.Sprintf("%s: %q is not a valid name: %s", req.Path, req.ConfigValue.ValueString(), strings.Join(errs, "; ")))
	}
}

// labelKeyValidator and labelValueValidator check label maps as the API
// server would, at plan time.
type labelKeyValidator struct{}

func (v labelKeyValidator) Description(context.Context) string {
	return "keys must be qualified names, such as team or example.com/team"
}

func (v labelKeyValidator) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (v labelKeyValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if errs := validation.IsQualifiedName(req.ConfigValue.ValueString()); len(errs) > 0 {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid key",
			fmt.Sprintf("%s: not a valid key: %s", req.Path, strings.Join(errs, "; ")))
	}
}

type labelValueValidator struct{}

func (labelValueValidator) Description(context.Context) string {
	return "values must be at most 63 characters of letters, digits, '-', '_' and '.'"
}

func (v labelValueValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}

func (v labelValueValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if errs := validation.IsValidLabelValue(req.ConfigValue.ValueString()); len(errs) > 0 {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid label value",
			fmt.Sprintf("%s: %q: %s", req.Path, req.ConfigValue.ValueString(), strings.Join(errs, "; ")))
	}
}

// dnsName matches a DNS subdomain such as kubeflow.example.com.
var dnsName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+$`)

// httpURL matches an http(s) URL with a host.
var httpURL = regexp.MustCompile(`^https?://[^/\s]+(/\S*)?$`)

// gsaPattern matches a Google service account email, including the
// default compute service account (NUMBER-compute@developer.gserviceaccount.com).
var gsaPattern = regexp.MustCompile(`^[a-z0-9][-a-z0-9]*@[a-z0-9][-a-z0-9]*(\.[a-z0-9][-a-z0-9]*)*\.gserviceaccount\.com$`)

// stringCheck is a plan-time validator made of a check function: its
// error, prefixed with the attribute path, is the diagnostic.
type stringCheck struct {
	description string
	summary     string
	check       func(string) error
}

func (v stringCheck) Description(context.Context) string { return v.description }

func (v stringCheck) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (v stringCheck) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if err := v.check(req.ConfigValue.ValueString()); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, v.summary, fmt.Sprintf("%s: %v", req.Path, err))
	}
}

// dnsSubdomainValidator accepts an RFC 1123 subdomain: the name of most
// Kubernetes objects.
var dnsSubdomainValidator = stringCheck{
	description: "must be a DNS-1123 subdomain: lower-case letters, digits, '-' and '.', starting and ending with a letter or digit",
	summary:     "Invalid name",
	check: func(s string) error {
		if errs := validation.IsDNS1123Subdomain(s); len(errs) > 0 {
			return fmt.Errorf("%q is not a valid name: %s", s, strings.Join(errs, "; "))
		}
		return nil
	},
}
