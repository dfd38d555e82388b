package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/cli"
	"helm.sh/helm/v3/pkg/downloader"
	"helm.sh/helm/v3/pkg/getter"
	"helm.sh/helm/v3/pkg/provenance"
	"helm.sh/helm/v3/pkg/registry"
	"helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/repo"
	"helm.sh/helm/v3/pkg/storage/driver"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// maxHistory bounds the revisions Helm keeps per release.
const maxHistory = 10

// restGetter hands Helm the provider's connection, scoped to a namespace.
type restGetter struct {
	config    *rest.Config
	namespace string
}

func (g restGetter) ToRESTConfig() (*rest.Config, error) { return rest.CopyConfig(g.config), nil }

func (g restGetter) ToDiscoveryClient() (discovery.CachedDiscoveryInterface, error) {
	dc, err := discovery.NewDiscoveryClientForConfig(rest.CopyConfig(g.config))
	if err != nil {
		return nil, err
	}
	return memory.NewMemCacheClient(dc), nil
}

func (g restGetter) ToRESTMapper() (meta.RESTMapper, error) {
	dc, err := g.ToDiscoveryClient()
	if err != nil {
		return nil, err
	}
	return restmapper.NewShortcutExpander(restmapper.NewDeferredDiscoveryRESTMapper(dc), dc, nil), nil
}

func (g restGetter) ToRawKubeConfigLoader() clientcmd.ClientConfig {
	return clientcmd.NewDefaultClientConfig(*clientcmdapi.NewConfig(), &clientcmd.ConfigOverrides{Context: clientcmdapi.Context{Namespace: g.namespace}})
}

// helmConfig is Helm's action configuration for one namespace, with
// releases stored in Secrets as the helm CLI stores them.
func (in *Installer) helmConfig(ctx context.Context, namespace string) (*action.Configuration, error) {
	cfg := new(action.Configuration)
	debug := func(format string, v ...any) {
		in.log(ctx, "helm: "+fmt.Sprintf(format, v...), nil)
	}
	if err := cfg.Init(restGetter{config: in.config, namespace: namespace}, namespace, "secret", debug); err != nil {
		return nil, fmt.Errorf("initialising Helm for namespace %s: %w", namespace, err)
	}
	client, err := registry.NewClient(registry.ClientOptWriter(io.Discard))
	if err != nil {
		return nil, fmt.Errorf("creating the OCI registry client: %w", err)
	}
	cfg.RegistryClient = client
	return cfg, nil
}

// loadChart fetches and loads a chart: a local directory or archive, a
// chart from an HTTP(S) repository, or one from an OCI registry.
func (in *Installer) loadChart(ctx context.Context, src ChartSource, cfg *action.Configuration) (*chart.Chart, error) {
	if src.Path != "" {
		if src.Verify {
			if err := verifyChart(src.Path, src.Keyring); err != nil {
				return nil, fmt.Errorf("verifying chart %s: %w", src.Path, err)
			}
		}
		ch, err := loader.Load(src.Path)
		if err != nil {
			return nil, fmt.Errorf("loading chart %s: %w", src.Path, err)
		}
		return ch, nil
	}
	if src.Repository == "" || src.Name == "" {
		return nil, errors.New("a chart needs a path, or a repository and a name")
	}
	settings := cli.New()
	settings.RepositoryCache = filepath.Join(in.cacheDir, "repository")
	settings.RepositoryConfig = filepath.Join(in.cacheDir, "repositories.yaml")
	settings.RegistryConfig = filepath.Join(in.cacheDir, "registry.json")
	if err := os.MkdirAll(settings.RepositoryCache, 0o755); err != nil {
		return nil, err
	}
	getters := getter.All(settings)
	var ref string
	if registry.IsOCI(src.Repository) {
		ref = strings.TrimSuffix(src.Repository, "/") + "/" + src.Name
	} else {
		url, err := repo.FindChartInRepoURL(src.Repository, src.Name, src.Version, "", "", "", getters)
		if err != nil {
			return nil, fmt.Errorf("finding chart %s in repository %s: %w", src.Name, src.Repository, err)
		}
		ref = url
	}
	dl := downloader.ChartDownloader{
		Out:              io.Discard,
		Getters:          getters,
		RepositoryCache:  settings.RepositoryCache,
		RepositoryConfig: settings.RepositoryConfig,
		RegistryClient:   cfg.RegistryClient,
		Options:          []getter.Option{getter.WithRegistryClient(cfg.RegistryClient)},
	}
	if src.Verify {
		// Downloaded and checked before it is loaded: a chart whose
		// provenance is missing or does not verify is never rendered.
		keyring, err := keyringPath(src.Keyring)
		if err != nil {
			return nil, err
		}
		dl.Verify = downloader.VerifyAlways
		dl.Keyring = keyring
	}
	dir, err := os.MkdirTemp(in.cacheDir, "chart-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	in.log(ctx, "downloading chart", map[string]any{"chart": src.String()})
	path, verification, err := dl.DownloadTo(ref, src.Version, dir)
	if err != nil {
		if src.Verify {
			return nil, fmt.Errorf("downloading and verifying chart %s (verify is on): %w", src, err)
		}
		return nil, fmt.Errorf("downloading chart %s: %w", src, err)
	}
	if src.Verify {
		in.log(ctx, "chart provenance verified", map[string]any{"chart": src.String(), "signed_by": signer(verification), "sha256": verification.FileHash})
	}
	ch, err := loader.Load(path)
	if err != nil {
		return nil, fmt.Errorf("loading chart %s: %w", src, err)
	}
	return ch, nil
}

// upgradeInstall installs the release if it does not exist and upgrades it
// otherwise, as `helm upgrade --install` does, with three differences that
// make repeated applies converge:
//   - CRDs in the chart's crds/ folder are applied server-side before every
//     install and upgrade (Helm installs them once and never upgrades them);
//   - a release left pending by an interrupted apply is marked failed and
//     upgraded, instead of blocking every later apply with "another
//     operation is in progress";
//   - a failed install is uninstalled and a failed upgrade rolled back.
func (in *Installer) upgradeInstall(ctx context.Context, cfg *action.Configuration, ch *chart.Chart, r Release, namespace string) (*release.Release, error) {
	if err := in.applyCRDs(ctx, ch); err != nil {
		return nil, err
	}
	history := action.NewHistory(cfg)
	history.Max = 1
	versions, err := history.Run(r.Name)
	if errors.Is(err, driver.ErrReleaseNotFound) || onlyUninstalled(versions) {
		install := action.NewInstall(cfg)
		install.ReleaseName = r.Name
		install.Namespace = namespace
		install.SkipCRDs = true
		install.Replace = onlyUninstalled(versions)
		install.Timeout = 5 * time.Minute
		in.log(ctx, "installing release", map[string]any{"release": r.Name, "namespace": namespace, "chart": ch.Metadata.Name, "version": ch.Metadata.Version})
		rel, err := install.RunWithContext(ctx, ch, r.Values)
		if err != nil {
			return nil, errors.Join(fmt.Errorf("installing release %s: %w", r.Name, err), in.undoInstall(ctx, cfg, r.Name))
		}
		return rel, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the history of release %s: %w", r.Name, err)
	}
	if last := latest(versions); last != nil && last.Info.Status.IsPending() {
		in.log(ctx, "recovering release left pending by an interrupted apply", map[string]any{"release": r.Name, "status": string(last.Info.Status), "revision": last.Version})
		last.SetStatus(release.StatusFailed, "interrupted while "+string(last.Info.Status)+"; recovered by kfstack")
		if err := cfg.Releases.Update(last); err != nil {
			return nil, fmt.Errorf("recovering release %s from %s: %w", r.Name, last.Info.Status, err)
		}
	}
	upgrade := action.NewUpgrade(cfg)
	upgrade.Namespace = namespace
	upgrade.SkipCRDs = true
	upgrade.MaxHistory = maxHistory
	upgrade.Timeout = 5 * time.Minute
	in.log(ctx, "upgrading release", map[string]any{"release": r.Name, "namespace": namespace, "chart": ch.Metadata.Name, "version": ch.Metadata.Version})
	rel, err := upgrade.RunWithContext(ctx, r.Name, ch, r.Values)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("upgrading release %s: %w", r.Name, err), in.rollback(ctx, cfg, r.Name))
	}
	return rel, nil
}

func latest(versions []*release.Release) *release.Release {
	var last *release.Release
	for _, v := range versions {
		if last == nil || v.Version > last.Version {
			last = v
		}
	}
	return last
}

func onlyUninstalled(versions []*release.Release) bool {
	last := latest(versions)
	return last != nil && last.Info.Status == release.StatusUninstalled
}

// undoInstall removes what a failed install created, so nothing is left
// half-installed.
func (in *Installer) undoInstall(ctx context.Context, cfg *action.Configuration, name string) error {
	in.log(ctx, "removing the failed install", map[string]any{"release": name})
	uninstall := action.NewUninstall(cfg)
	uninstall.Timeout = 5 * time.Minute
	if _, err := uninstall.Run(name); err != nil && !errors.Is(err, driver.ErrReleaseNotFound) {
		return fmt.Errorf("removing the failed install of %s: %w", name, err)
	}
	return nil
}

// rollback returns a release to its last deployed revision after a failed
// upgrade.
func (in *Installer) rollback(ctx context.Context, cfg *action.Configuration, name string) error {
	deployed, err := cfg.Releases.Deployed(name)
	if errors.Is(err, driver.ErrNoDeployedReleases) {
		// Nothing was ever deployed: the next apply upgrades the failed
		// revision.
		return nil
	}
	if err != nil {
		return fmt.Errorf("finding the last deployed revision of %s: %w", name, err)
	}
	in.log(ctx, "rolling back the failed upgrade", map[string]any{"release": name, "to_revision": deployed.Version})
	rb := action.NewRollback(cfg)
	rb.Version = deployed.Version
	rb.MaxHistory = maxHistory
	rb.Timeout = 5 * time.Minute
	if err := rb.Run(name); err != nil {
		return fmt.Errorf("rolling back %s to revision %d: %w", name, deployed.Version, err)
	}
	return nil
}

// DefaultKeyring is the keyring charts are verified with when none is
// named: GnuPG's public keyring, as the helm CLI defaults to.
func DefaultKeyring() string {
	if home := os.Getenv("GNUPGHOME"); home != "" {
		return filepath.Join(home, "pubring.gpg")
	}
	return filepath.Join(homedir(), ".gnupg", "pubring.gpg")
}

func homedir() string {
	if h, err := os.UserHomeDir(); err == nil {
		return h
	}
	return "/"
}

// keyringPath is the keyring to verify with, which must exist.
func keyringPath(keyring string) (string, error) {
	if keyring == "" {
		keyring = DefaultKeyring()
	}
	if _, err := os.Stat(keyring); err != nil {
		return "", fmt.Errorf("keyring: cannot read the keyring to verify charts with: %w", err)
	}
	return keyring, nil
}

// verifyChart checks a local chart archive against its .prov file.
func verifyChart(path, keyring string) error {
	keyring, err := keyringPath(keyring)
	if err != nil {
		return err
	}
	if _, err := downloader.VerifyChart(path, keyring); err != nil {
		return err
	}
	return nil
}

// signer names who signed a verified chart, for the log.
func signer(v *provenance.Verification) string {
	if v == nil || v.SignedBy == nil {
		return ""
	}
	for name := range v.SignedBy.Identities {
		return name
	}
	return v.SignedBy.PrimaryKey.KeyIdString()
}
