// Package dex is the Dex component: the upstream Dex chart with its
// configuration (issuer, static clients and users, connectors, Kubernetes
// storage) rendered from typed options.
package dex

import (
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"

	"github.com/kfstack/terraform-provider-kubeflow/bootstrap"
)

// Name, DefaultVersion and DefaultNamespace describe the component.
const (
	Name = "dex"
	// DefaultVersion is the chart version; it installs Dex 2.44.0.
	DefaultVersion   = "0.24.0"
	DefaultNamespace = "auth"
	// Repository is the upstream chart repository.
	Repository = "https://charts.dexidp.io"
)

// Options configure the component.
type Options struct {
	Version   string
	Namespace string
	Source    bootstrap.Source
	// ImageRegistry replaces ghcr.io in the image.
	ImageRegistry string
	// Issuer is the URL Dex serves its OpenID configuration under.
	Issuer          string
	StaticClients   []Client
	StaticPasswords []Password
	Connectors      []Connector
	// Values are merged over the component's defaults.
	Values          map[string]any
	WaitForWebhooks bool
}

// Client is an OAuth2 client Dex knows, such as the platform's
// oauth2-proxy.
type Client struct {
	ID           string
	Name         string
	Secret       string
	RedirectURIs []string
}

// Password is a static user of Dex's password database.
type Password struct {
	Email    string
	Username string
	UserID   string
	// Hash is the bcrypt hash of the password.
	Hash string
}

// Connector is an upstream identity provider.
type Connector struct {
	Type string
	ID   string
	Name string
	// Config is the connector's configuration as a JSON object.
	Config string
}

// ConnectorTypes are the connector types Dex ships.
var ConnectorTypes = []string{"oidc", "github", "gitlab", "google", "ldap", "saml", "microsoft", "oauth", "openshift", "bitbucket-cloud", "gitea", "keystone", "authproxy", "linkedin", "atlassian-crowd"}

var bcryptHash = regexp.MustCompile(`^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$`)

// CheckBcrypt reports whether hash looks like a bcrypt hash, as Dex
// requires for static passwords.
func CheckBcrypt(hash string) error {
	if !bcryptHash.MatchString(hash) {
		return fmt.Errorf("not a bcrypt hash (like $2y$10$ followed by 53 characters); make one with htpasswd -nbBC 10 '' PASSWORD or bcrypt()")
	}
	return nil
}

// Config renders Dex's configuration from the options.
func (o Options) Config() (map[string]any, error) {
	issuer, err := url.Parse(o.Issuer)
	if err != nil || (issuer.Scheme != "https" && issuer.Scheme != "http") || issuer.Host == "" {
		return nil, fmt.Errorf("issuer %q is not an http(s) URL", o.Issuer)
	}
	config := map[string]any{
		"issuer":  o.Issuer,
		"storage": map[string]any{"type": "kubernetes", "config": map[string]any{"inCluster": true}},
		"web":     map[string]any{"http": "0.0.0.0:5556"},
		"oauth2":  map[string]any{"skipApprovalScreen": true},
	}
	var clients []any
	for _, c := range o.StaticClients {
		var uris []any
		for _, u := range c.RedirectURIs {
			uris = append(uris, u)
		}
		clients = append(clients, map[string]any{"id": c.ID, "name": c.Name, "secret": c.Secret, "redirectURIs": uris})
	}
	if clients != nil {
		config["staticClients"] = clients
	}
	var passwords []any
	for i, p := range o.StaticPasswords {
		if err := CheckBcrypt(p.Hash); err != nil {
			return nil, fmt.Errorf("static_passwords[%d].hash: %w", i, err)
		}
		passwords = append(passwords, map[string]any{"email": p.Email, "username": p.Username, "userID": p.UserID, "hash": p.Hash})
	}
	if passwords != nil {
		config["enablePasswordDB"] = true
		config["staticPasswords"] = passwords
	}
	var connectors []any
	for i, c := range o.Connectors {
		cfg := map[string]any{}
		if c.Config != "" {
			if err := json.Unmarshal([]byte(c.Config), &cfg); err != nil {
				return nil, fmt.Errorf("connectors[%d].config: not a JSON object: %w", i, err)
			}
		}
		connectors = append(connectors, map[string]any{"type": c.Type, "id": c.ID, "name": c.Name, "config": cfg})
	}
	if connectors != nil {
		config["connectors"] = connectors
	}
	return config, nil
}

// Component returns the Dex component; it installs after Istio, whose
// gateway routes to it.
func Component(o Options) (*bootstrap.Component, error) {
	config, err := o.Config()
	if err != nil {
		return nil, err
	}
	values := map[string]any{"config": config}
	if o.ImageRegistry != "" {
		values["image"] = map[string]any{"repository": o.ImageRegistry + "/dexidp/dex"}
	}
	return &bootstrap.Component{
		Name:      Name,
		Version:   o.Version,
		Namespace: o.Namespace,
		DependsOn: []string{"istio"},
		Releases: []bootstrap.Release{{
			Name:   "dex",
			Chart:  o.Source.Chart(Repository, "dex", o.Version),
			Values: bootstrap.MergeValues(values, o.Values),
		}},
		WaitForWebhooks: o.WaitForWebhooks,
	}, nil
}
