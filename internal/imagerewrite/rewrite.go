// Package imagerewrite rewrites container image references, so that a
// cluster that cannot reach the registries its images name (air-gapped,
// or the local cluster's real node, which has no registry at all) runs
// them from a mirror or from a local image. The runtime applies it to the
// Pods it creates and the bootstrapper to the components it installs.
//
// References are compared in Docker's normalised form: "alpine" is
// "docker.io/library/alpine:latest", "library/bash" is
// "docker.io/library/bash:latest", and "index.docker.io" is "docker.io".
package imagerewrite

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/distribution/reference"
	corev1 "k8s.io/api/core/v1"
)

// Rules say how image references are rewritten. An exact rule wins over a
// mirror; among mirrors, the longest matching prefix wins. A reference no
// rule matches is kept as written.
type Rules struct {
	// Exact maps an image reference to the reference that replaces it.
	// Keys are normalised, so "alpine" matches "docker.io/library/alpine",
	// "alpine:latest" and "docker.io/library/alpine:latest", but not
	// "alpine:3.20".
	Exact map[string]string `json:"exact,omitempty"`
	// Mirrors maps a registry prefix, a registry host optionally followed
	// by repository path components, to the prefix that replaces it:
	// "docker.io" → "mirror.example.com:5000/dockerhub" turns
	// "python:3.11" into "mirror.example.com:5000/dockerhub/library/python:3.11".
	// A prefix matches whole path components only: "gcr.io/team"
	// matches "gcr.io/team/app" but not "gcr.io/teamwork/app".
	Mirrors map[string]string `json:"mirrors,omitempty"`
}

// compiled holds the rules with their keys normalised.
type compiled struct {
	exact   map[string]string
	mirrors []mirror // longest prefix first
}

type mirror struct{ from, to string }

// Validate reports every rule whose key or value is not a valid image
// reference or prefix.
func (r Rules) Validate() error {
	_, err := r.compile()
	return err
}

func (r Rules) compile() (*compiled, error) {
	c := &compiled{exact: map[string]string{}}
	var errs []error
	for from, to := range r.Exact {
		key, err := normalize(from)
		if err != nil {
			errs = append(errs, fmt.Errorf("exact rule %q: %w", from, err))
			continue
		}
		if _, err := reference.ParseNormalizedNamed(to); err != nil {
			errs = append(errs, fmt.Errorf("exact rule %q: replacement %q: %w", from, to, err))
			continue
		}
		if other, dup := c.exact[key]; dup && other != to {
			errs = append(errs, fmt.Errorf("exact rule %q: %s already maps to %q", from, key, other))
			continue
		}
		c.exact[key] = to
	}
	for from, to := range r.Mirrors {
		prefix, err := normalizePrefix(from)
		if err != nil {
			errs = append(errs, fmt.Errorf("mirror %q: %w", from, err))
			continue
		}
		target := strings.TrimSuffix(to, "/")
		if _, err := reference.ParseNormalizedNamed(target + "/x"); err != nil || target == "" || !isRegistryHost(strings.SplitN(target, "/", 2)[0]) {
			errs = append(errs, fmt.Errorf("mirror %q: replacement %q must be a registry host with an optional path, without tag or digest", from, to))
			continue
		}
		c.mirrors = append(c.mirrors, mirror{from: prefix, to: target})
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	sort.Slice(c.mirrors, func(i, j int) bool {
		if len(c.mirrors[i].from) != len(c.mirrors[j].from) {
			return len(c.mirrors[i].from) > len(c.mirrors[j].from)
		}
		return c.mirrors[i].from < c.mirrors[j].from
	})
	return c, nil
}

// Rewrite returns the reference that replaces image, or image itself when
// no rule matches.
func (r Rules) Rewrite(image string) (string, error) {
	c, err := r.compile()
	if err != nil {
		return "", err
	}
	return c.rewrite(image)
}

func (c *compiled) rewrite(image string) (string, error) {
	if len(c.exact) == 0 && len(c.mirrors) == 0 {
		return image, nil
	}
	named, err := reference.ParseNormalizedNamed(image)
	if err != nil {
		return "", fmt.Errorf("parsing image reference %q: %w", image, err)
	}
	if to, ok := c.exact[reference.TagNameOnly(named).String()]; ok {
		return to, nil
	}
	name := named.Name()
	for _, m := range c.mirrors {
		if name != m.from && !strings.HasPrefix(name, m.from+"/") {
			continue
		}
		// The tag and digest stay as written: a digest still names the
		// same content on the mirror.
		return m.to + strings.TrimPrefix(name, m.from) + suffix(named), nil
	}
	return image, nil
}

// RewritePodSpec rewrites the images of every container, init container
// and ephemeral container of spec in place.
func (r Rules) RewritePodSpec(spec *corev1.PodSpec) error {
	c, err := r.compile()
	if err != nil {
		return err
	}
	var errs []error
	rewrite := func(kind, name string, image *string) {
		to, err := c.rewrite(*image)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s %s: %w", kind, name, err))
			return
		}
		*image = to
	}
	for i := range spec.InitContainers {
		rewrite("init container", spec.InitContainers[i].Name, &spec.InitContainers[i].Image)
	}
	for i := range spec.Containers {
		rewrite("container", spec.Containers[i].Name, &spec.Containers[i].Image)
	}
	for i := range spec.EphemeralContainers {
		rewrite("ephemeral container", spec.EphemeralContainers[i].Name, &spec.EphemeralContainers[i].Image)
	}
	return errors.Join(errs...)
}

// Normalize returns image in Docker's normalised form, with the tag
// "latest" when it has neither tag nor digest.
func Normalize(image string) (string, error) {
	return normalize(image)
}

func normalize(image string) (string, error) {
	named, err := reference.ParseNormalizedNamed(image)
	if err != nil {
		return "", err
	}
	return reference.TagNameOnly(named).String(), nil
}

// normalizePrefix normalises a registry prefix. One that starts with a
// registry host is kept ("gcr.io/team", "localhost:5000"; "index.docker.io"
// becomes "docker.io"); any other is a Docker Hub path ("bitnami" is
// "docker.io/bitnami", "library" is "docker.io/library").
func normalizePrefix(prefix string) (string, error) {
	prefix = strings.TrimSuffix(prefix, "/")
	if prefix == "" {
		return "", errors.New("empty prefix")
	}
	host, path, _ := strings.Cut(prefix, "/")
	switch {
	case host == "index.docker.io":
		host = "docker.io"
	case !isRegistryHost(host):
		host, path = "docker.io", prefix
	}
	name := host
	if path != "" {
		name += "/" + path
	}
	// Checked with a component appended: a prefix is a repository name's
	// beginning, and "gcr.io" alone would parse as an image on Docker Hub.
	if _, err := reference.ParseNormalizedNamed(name + "/x"); err != nil {
		return "", fmt.Errorf("not a registry host with an optional path, without tag or digest: %w", err)
	}
	return name, nil
}

// isRegistryHost tells a registry host from a repository path component
// the way Docker does: it has a dot or a port, or is localhost.
func isRegistryHost(s string) bool {
	return strings.ContainsAny(s, ".:") || s == "localhost"
}

// suffix returns ":tag", "@digest", both, or nothing.
func suffix(named reference.Named) string {
	s := ""
	if tagged, ok := named.(reference.Tagged); ok {
		s += ":" + tagged.Tag()
	}
	if digested, ok := named.(reference.Digested); ok {
		s += "@" + digested.Digest().String()
	}
	return s
}
