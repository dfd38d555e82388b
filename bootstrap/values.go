package bootstrap

import (
	"fmt"
	"path/filepath"

	"sigs.k8s.io/yaml"
)

// ParseValues parses a YAML or JSON values document; empty is no values.
func ParseValues(doc string) (map[string]any, error) {
	values := map[string]any{}
	if err := yaml.Unmarshal([]byte(doc), &values); err != nil {
		return nil, fmt.Errorf("values is not a YAML or JSON object: %w", err)
	}
	return values, nil
}

// MergeValues returns base with override merged in: maps merge key by key,
// anything else in override replaces what base has.
func MergeValues(base, override map[string]any) map[string]any {
	out := make(map[string]any, len(base)+len(override))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range override {
		if sub, ok := v.(map[string]any); ok {
			if baseSub, ok := out[k].(map[string]any); ok {
				out[k] = MergeValues(baseSub, sub)
				continue
			}
		}
		out[k] = v
	}
	return out
}

// Source says where a component's charts come from: the upstream
// repository by default, or a mirror (another HTTP(S) repository or an OCI
// registry) or a local directory of charts for air-gapped clusters.
type Source struct {
	// Repository replaces the upstream chart repository.
	Repository string
	// ChartDir is a local directory holding the component's charts by name
	// (unpacked), or, with Verify, as signed archives
	// <name>-<version>.tgz with their .prov files.
	ChartDir string
	// Verify checks every chart's provenance with Keyring (see
	// ChartSource.Verify).
	Verify bool
	// Keyring is the public keyring Verify uses; DefaultKeyring when
	// empty.
	Keyring string
}

// Chart locates chart name at version in the source, falling back to the
// upstream repository.
func (s Source) Chart(upstream, name, version string) ChartSource {
	if s.ChartDir != "" {
		if s.Verify {
			// Only an archive carries what its signature covers.
			return ChartSource{Path: filepath.Join(s.ChartDir, name+"-"+version+".tgz"), Verify: true, Keyring: s.Keyring}
		}
		return ChartSource{Path: s.ChartDir + "/" + name}
	}
	repo := upstream
	if s.Repository != "" {
		repo = s.Repository
	}
	return ChartSource{Repository: repo, Name: name, Version: version, Verify: s.Verify, Keyring: s.Keyring}
}
