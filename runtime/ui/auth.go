package ui

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// Identity is who a request comes from: a user name and groups, as the
// Kubernetes API server's authoriser knows them (RoleBindings of a
// profile name users and groups).
type Identity struct {
	// User is the user name (an email address, with Dex).
	User string `json:"user"`
	// Groups are the user's groups.
	Groups []string `json:"groups,omitempty"`
}

// Authenticator says who a request comes from.
type Authenticator interface {
	// Identify returns the request's identity, or an error that says why
	// there is none (answered 401).
	Identify(r *http.Request) (*Identity, error)
	// Routes registers the authenticator's own endpoints, if any.
	Routes(m *http.ServeMux)
	// Mode describes the authenticator for logs and the UI.
	Mode() string
}

// errNoIdentity is the error of a request without an identity.
var errNoIdentity = errors.New("no identity")

// checkIdentity refuses identities the UI never acts for: system users
// and groups belong to Kubernetes components, not to people, and
// system:masters would pass every check.
func checkIdentity(id *Identity) (*Identity, error) {
	if id.User == "" {
		return nil, errNoIdentity
	}
	if strings.HasPrefix(id.User, "system:") {
		return nil, fmt.Errorf("user %q is a Kubernetes system identity, which the UI does not act for", id.User)
	}
	groups := id.Groups[:0:0]
	for _, g := range id.Groups {
		if g = strings.TrimSpace(g); g != "" && !strings.HasPrefix(g, "system:") && !slices.Contains(groups, g) {
			groups = append(groups, g)
		}
	}
	id.Groups = groups
	return id, nil
}

// HeaderAuth takes the identity from the headers a gateway sets after it
// signed the user in (Kubeflow's Istio gateway with Dex and oauth2-proxy
// sets kubeflow-userid). The headers are trusted only from the gateway:
// from TrustedProxies, or with the shared Secret in SecretHeader, or both
// when both are set. A client that reaches the UI some other way cannot
// claim to be someone else.
type HeaderAuth struct {
	// UserHeader names the user (default kubeflow-userid).
	UserHeader string
	// UserPrefix is removed from the user header's value (Kubeflow's
	// gateway may prefix it, e.g. "accounts.google.com:").
	UserPrefix string
	// GroupsHeader, when set, names the user's groups, comma-separated.
	GroupsHeader string
	// TrustedProxies are the addresses requests must come from.
	TrustedProxies []*net.IPNet
	// Secret must be in SecretHeader (default x-kfstack-proxy-secret).
	Secret       []byte
	SecretHeader string
}

// DefaultUserHeader is the header Kubeflow's gateway sets.
const DefaultUserHeader = "kubeflow-userid"

// DefaultSecretHeader carries the shared secret of HeaderAuth.
const DefaultSecretHeader = "x-kfstack-proxy-secret"

// NewHeaderAuth checks a HeaderAuth: without a trusted proxy or a secret,
// anyone could send the header.
func NewHeaderAuth(a HeaderAuth) (*HeaderAuth, error) {
	if a.UserHeader == "" {
		a.UserHeader = DefaultUserHeader
	}
	if a.SecretHeader == "" {
		a.SecretHeader = DefaultSecretHeader
	}
	if len(a.TrustedProxies) == 0 && len(a.Secret) == 0 {
		return nil, errors.New("an identity header is trusted only from the gateway: give its addresses (trusted proxies) or a shared secret it sends")
	}
	if len(a.Secret) > 0 && len(a.Secret) < 16 {
		return nil, errors.New("the gateway's shared secret must be at least 16 bytes")
	}
	return &a, nil
}

// ParseCIDRs parses addresses and networks ("10.0.0.0/8", "127.0.0.1").
func ParseCIDRs(list []string) ([]*net.IPNet, error) {
	var out []*net.IPNet
	for _, s := range list {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if !strings.Contains(s, "/") {
			ip := net.ParseIP(s)
			if ip == nil {
				return nil, fmt.Errorf("%q is not an address or a network", s)
			}
			bits := 32
			if ip.To4() == nil {
				bits = 128
			}
			out = append(out, &net.IPNet{IP: ip, Mask: net.CIDRMask(bits, bits)})
			continue
		}
		_, n, err := net.ParseCIDR(s)
		if err != nil {
			return nil, fmt.Errorf("%q is not an address or a network: %w", s, err)
		}
		out = append(out, n)
	}
	return out, nil
}

// Identify implements Authenticator.
func (a *HeaderAuth) Identify(r *http.Request) (*Identity, error) {
	if len(a.TrustedProxies) > 0 {
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		ip := net.ParseIP(host)
		if err != nil || ip == nil || !slices.ContainsFunc(a.TrustedProxies, func(n *net.IPNet) bool { return n.Contains(ip) }) {
			return nil, fmt.Errorf("the request does not come from the gateway (%s is not a trusted proxy): sign in through it", host)
		}
	}
	if len(a.Secret) > 0 && subtle.ConstantTimeCompare([]byte(r.Header.Get(a.SecretHeader)), a.Secret) != 1 {
		return nil, errors.New("the request does not come from the gateway (no valid shared secret): sign in through it")
	}
	user := strings.TrimSpace(r.Header.Get(a.UserHeader))
	if user == "" {
		return nil, fmt.Errorf("%w: the gateway set no %s header", errNoIdentity, a.UserHeader)
	}
	id := &Identity{User: strings.TrimPrefix(user, a.UserPrefix)}
	if a.GroupsHeader != "" {
		for _, v := range r.Header.Values(a.GroupsHeader) {
			id.Groups = append(id.Groups, strings.Split(v, ",")...)
		}
	}
	return checkIdentity(id)
}

// Routes implements Authenticator: the gateway signs users in and out.
func (a *HeaderAuth) Routes(*http.ServeMux) {}

// Mode implements Authenticator.
func (a *HeaderAuth) Mode() string { return "header " + a.UserHeader }

// FixedAuth gives every request the same identity, for the local
// quickstart only: whoever reaches the port acts as that user.
type FixedAuth struct {
	Identity Identity
}

// NewFixedAuth checks the fixed identity.
func NewFixedAuth(user string, groups []string) (*FixedAuth, error) {
	id, err := checkIdentity(&Identity{User: user, Groups: groups})
	if err != nil {
		return nil, fmt.Errorf("the fixed identity: %w", err)
	}
	return &FixedAuth{Identity: *id}, nil
}

// Identify implements Authenticator.
func (a *FixedAuth) Identify(*http.Request) (*Identity, error) {
	id := a.Identity
	return &id, nil
}

// Routes implements Authenticator.
func (a *FixedAuth) Routes(*http.ServeMux) {}

// Mode implements Authenticator.
func (a *FixedAuth) Mode() string { return "none (every request acts as " + a.Identity.User + ")" }

// csrfHeader must be on every request that changes something: browsers
// send custom headers cross-site only after a CORS preflight, which the UI
// never answers, so another site cannot make a signed-in user's browser
// start or cancel a run.
const csrfHeader = "X-Kfstack-Request"

func (s *Server) authenticated(h func(http.ResponseWriter, *http.Request, *Identity)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := s.opts.Auth.Identify(r)
		if err != nil {
			s.unauthenticated(w, r, err)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			if r.Header.Get(csrfHeader) != "1" {
				writeError(w, http.StatusForbidden, "a request that changes something needs the header %s: 1", csrfHeader)
				return
			}
			if o := r.Header.Get("Origin"); o != "" {
				if u, err := url.Parse(o); err != nil || u.Host != r.Host {
					writeError(w, http.StatusForbidden, "the request comes from another site (%s)", o)
					return
				}
			}
		}
		h(w, r, id)
	})
}

// unauthenticated answers a request without an identity: 401, with where
// to sign in when the UI does it itself.
func (s *Server) unauthenticated(w http.ResponseWriter, _ *http.Request, err error) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusUnauthorized)
	body := map[string]string{"error": "not signed in: " + err.Error()}
	if _, ok := s.opts.Auth.(*OIDCAuth); ok {
		body["login"] = strings.TrimPrefix(loginPath, "/") // relative to the page, under any base path
	}
	writeBody(w, body)
}

func (s *Server) authRoutes(m *http.ServeMux) { s.opts.Auth.Routes(m) }

func (s *Server) whoami(w http.ResponseWriter, _ *http.Request, id *Identity) {
	out := struct {
		*Identity
		Mode   string `json:"mode"`
		Logout string `json:"logout,omitempty"`
	}{Identity: id, Mode: s.opts.Auth.Mode()}
	if _, ok := s.opts.Auth.(*OIDCAuth); ok {
		out.Logout = strings.TrimPrefix(logoutPath, "/")
	}
	writeJSON(w, out)
}
