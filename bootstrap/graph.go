package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
)

// InstallAll installs components in dependency order (DependsOn). With
// parallel set, components whose dependencies are ready install at the
// same time (cert-manager beside Istio; Dex and Knative once Istio is
// ready); otherwise one at a time in the same order. It stops starting new
// components after the first failure and returns every error.
func (in *Installer) InstallAll(ctx context.Context, components []*Component, parallel bool) (map[string]*Status, error) {
	order, err := installOrder(components)
	if err != nil {
		return nil, err
	}
	statuses := make(map[string]*Status, len(components))
	if !parallel {
		for _, c := range order {
			status, err := in.Install(ctx, c)
			if err != nil {
				return statuses, err
			}
			statuses[c.Name] = status
		}
		return statuses, nil
	}

	var (
		mu     sync.Mutex
		errs   []error
		wg     sync.WaitGroup
		done   = make(map[string]chan struct{}, len(order))
		failed = make(map[string]bool)
	)
	for _, c := range order {
		done[c.Name] = make(chan struct{})
	}
	for _, c := range order {
		wg.Add(1)
		go func(c *Component) {
			defer wg.Done()
			defer close(done[c.Name])
			for _, dep := range c.DependsOn {
				if ch, ok := done[dep]; ok {
					select {
					case <-ch:
					case <-ctx.Done():
						return
					}
				}
			}
			mu.Lock()
			skip := len(errs) > 0
			for _, dep := range c.DependsOn {
				skip = skip || failed[dep]
			}
			mu.Unlock()
			if skip {
				mu.Lock()
				failed[c.Name] = true
				mu.Unlock()
				return
			}
			status, err := in.Install(ctx, c)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failed[c.Name] = true
				errs = append(errs, err)
				return
			}
			statuses[c.Name] = status
		}(c)
	}
	wg.Wait()
	return statuses, errors.Join(errs...)
}

// UninstallAll uninstalls components in reverse dependency order, so what
// depends on a component goes first.
func (in *Installer) UninstallAll(ctx context.Context, components []*Component) error {
	order, err := installOrder(components)
	if err != nil {
		return err
	}
	slices.Reverse(order)
	for _, c := range order {
		if err := in.Uninstall(ctx, c); err != nil {
			return err
		}
	}
	return nil
}

// installOrder sorts components so each comes after what it depends on
// (dependencies outside the set are taken as met), keeping the given order
// where there is a choice. It reports cycles and unknown names.
func installOrder(components []*Component) ([]*Component, error) {
	byName := make(map[string]*Component, len(components))
	for _, c := range components {
		if _, dup := byName[c.Name]; dup {
			return nil, fmt.Errorf("component %s is listed twice", c.Name)
		}
		byName[c.Name] = c
	}
	const (
		unvisited = iota
		visiting
		visited
	)
	state := make(map[string]int, len(components))
	var order []*Component
	var visit func(c *Component, path []string) error
	visit = func(c *Component, path []string) error {
		switch state[c.Name] {
		case visiting:
			return fmt.Errorf("components depend on each other: %s", joinPath(append(path, c.Name)))
		case visited:
			return nil
		}
		state[c.Name] = visiting
		for _, dep := range c.DependsOn {
			if d, ok := byName[dep]; ok {
				if err := visit(d, append(path, c.Name)); err != nil {
					return err
				}
			}
		}
		state[c.Name] = visited
		order = append(order, c)
		return nil
	}
	for _, c := range components {
		if err := visit(c, nil); err != nil {
			return nil, err
		}
	}
	return order, nil
}

func joinPath(names []string) string {
	out := ""
	for i, n := range names {
		if i > 0 {
			out += " -> "
		}
		out += n
	}
	return out
}
