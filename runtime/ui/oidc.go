package ui

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// The UI's own sign-in endpoints (OIDCAuth).
const (
	loginPath    = "/auth/login"
	callbackPath = "/auth/callback"
	logoutPath   = "/auth/logout"

	sessionCookie = "kfstack_session"
	flowCookie    = "kfstack_oidc"
)

// OIDCConfig configures OIDCAuth.
type OIDCConfig struct {
	// Issuer is the OpenID provider's issuer URL (Dex's, e.g.
	// https://kubeflow.example.com/dex).
	Issuer string
	// ClientID and ClientSecret are the UI's client at the provider.
	ClientID     string
	ClientSecret string
	// RedirectURL is the UI's callback as the browser reaches it
	// (https://…/auth/callback); registered with the provider.
	RedirectURL string
	// UsernameClaim names the user (default email) and GroupsClaim the
	// groups (default groups), as the API server's --oidc-* flags would.
	UsernameClaim string
	GroupsClaim   string
	// SessionKey signs the session cookies (at least 32 bytes); replicas
	// must share it.
	SessionKey []byte
	// SessionTTL is how long a sign-in lasts (default 8h), as the
	// gateway's session cookie does.
	SessionTTL time.Duration
	// BasePath is the path the UI is served under (default "/"): where
	// sign-in and sign-out return to, and the cookies' path.
	BasePath string
}

// SessionKeyFrom derives a session key from the client secret, for
// replicas that share no other secret: changing the client secret ends
// the sessions.
func SessionKeyFrom(clientSecret string) []byte {
	h := hmac.New(sha256.New, []byte(clientSecret))
	h.Write([]byte("kfstack-ui session key"))
	return h.Sum(nil)
}

// OIDCAuth signs users in against an OpenID Connect provider (Dex) with
// the authorisation code flow, and keeps who they are in an HMAC-signed
// session cookie.
type OIDCAuth struct {
	cfg      OIDCConfig
	verifier *oidc.IDTokenVerifier
	oauth    oauth2.Config
	secure   bool
}

// NewOIDCAuth discovers the provider and checks the configuration.
func NewOIDCAuth(ctx context.Context, cfg OIDCConfig) (*OIDCAuth, error) {
	if cfg.Issuer == "" || cfg.ClientID == "" || cfg.RedirectURL == "" {
		return nil, errors.New("OIDC needs the issuer, the client ID and the redirect URL")
	}
	if len(cfg.SessionKey) < 32 {
		return nil, errors.New("OIDC sessions need a key of at least 32 bytes")
	}
	if !strings.HasSuffix(cfg.RedirectURL, callbackPath) {
		return nil, fmt.Errorf("the redirect URL %s must end in %s, where the UI takes the provider's answer", cfg.RedirectURL, callbackPath)
	}
	if cfg.UsernameClaim == "" {
		cfg.UsernameClaim = "email"
	}
	if cfg.GroupsClaim == "" {
		cfg.GroupsClaim = "groups"
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 8 * time.Hour
	}
	if cfg.BasePath == "" {
		cfg.BasePath = "/"
	}
	provider, err := oidc.NewProvider(ctx, cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("discovering the OIDC provider %s: %w", cfg.Issuer, err)
	}
	scopes := []string{oidc.ScopeOpenID, "email", "profile"}
	if cfg.GroupsClaim == "groups" {
		scopes = append(scopes, "groups")
	}
	return &OIDCAuth{
		cfg:      cfg,
		verifier: provider.Verifier(&oidc.Config{ClientID: cfg.ClientID}),
		oauth: oauth2.Config{
			ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret, RedirectURL: cfg.RedirectURL,
			Endpoint: provider.Endpoint(), Scopes: scopes,
		},
		secure: strings.HasPrefix(cfg.RedirectURL, "https://"),
	}, nil
}

// Mode implements Authenticator.
func (a *OIDCAuth) Mode() string { return "oidc " + a.cfg.Issuer }

// Routes implements Authenticator.
func (a *OIDCAuth) Routes(m *http.ServeMux) {
	m.HandleFunc("GET "+loginPath, a.login)
	m.HandleFunc("GET "+callbackPath, a.callback)
	m.HandleFunc("GET "+logoutPath, a.logout)
}

type session struct {
	User    string   `json:"u"`
	Groups  []string `json:"g,omitempty"`
	Expires int64    `json:"e"`
}

type flow struct {
	State   string `json:"s"`
	Nonce   string `json:"n"`
	Return  string `json:"r"`
	Expires int64  `json:"e"`
}

// Identify implements Authenticator.
func (a *OIDCAuth) Identify(r *http.Request) (*Identity, error) {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return nil, fmt.Errorf("%w: sign in at %s", errNoIdentity, loginPath)
	}
	var s session
	if err := a.open(c.Value, &s); err != nil {
		return nil, fmt.Errorf("%w: the session is not valid (%w): sign in again at %s", errNoIdentity, err, loginPath)
	}
	if time.Now().Unix() > s.Expires {
		return nil, fmt.Errorf("%w: the session expired: sign in again at %s", errNoIdentity, loginPath)
	}
	return checkIdentity(&Identity{User: s.User, Groups: s.Groups})
}

func (a *OIDCAuth) login(w http.ResponseWriter, r *http.Request) {
	ret := localPath(r.URL.Query().Get("return"))
	if ret == "/" || !strings.HasPrefix(ret, a.cfg.BasePath) {
		ret = a.cfg.BasePath
	}
	f := flow{State: randomToken(), Nonce: randomToken(), Return: ret, Expires: time.Now().Add(10 * time.Minute).Unix()}
	a.setCookie(w, flowCookie, a.seal(f), 10*time.Minute)
	http.Redirect(w, r, a.oauth.AuthCodeURL(f.State, oidc.Nonce(f.Nonce)), http.StatusFound)
}

func (a *OIDCAuth) callback(w http.ResponseWriter, r *http.Request) {
	c, err := r.Cookie(flowCookie)
	var f flow
	if err == nil {
		err = a.open(c.Value, &f)
	}
	if err != nil || time.Now().Unix() > f.Expires {
		writeError(w, http.StatusBadRequest, "no sign-in in progress in this browser (or it took over 10 minutes): start again at %s", strings.TrimSuffix(a.cfg.BasePath, "/")+loginPath)
		return
	}
	if e := r.URL.Query().Get("error"); e != "" {
		writeError(w, http.StatusUnauthorized, "the identity provider refused the sign-in: %s %s", e, r.URL.Query().Get("error_description"))
		return
	}
	if state := r.URL.Query().Get("state"); !hmac.Equal([]byte(state), []byte(f.State)) {
		writeError(w, http.StatusBadRequest, "the sign-in's state does not match this browser's: start again at %s", loginPath)
		return
	}
	tok, err := a.oauth.Exchange(r.Context(), r.URL.Query().Get("code"))
	if err != nil {
		writeError(w, http.StatusUnauthorized, "exchanging the authorisation code: %v", err)
		return
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := a.verifier.Verify(r.Context(), raw)
	if err != nil {
		writeError(w, http.StatusUnauthorized, "verifying the ID token: %v", err)
		return
	}
	if !hmac.Equal([]byte(idt.Nonce), []byte(f.Nonce)) {
		writeError(w, http.StatusUnauthorized, "the ID token's nonce does not match the sign-in's")
		return
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		writeError(w, http.StatusUnauthorized, "reading the ID token's claims: %v", err)
		return
	}
	id, err := a.identity(claims)
	if err != nil {
		writeError(w, http.StatusForbidden, "%v", err)
		return
	}
	a.setCookie(w, sessionCookie, a.seal(session{User: id.User, Groups: id.Groups, Expires: time.Now().Add(a.cfg.SessionTTL).Unix()}), a.cfg.SessionTTL)
	a.setCookie(w, flowCookie, "", -1)
	http.Redirect(w, r, f.Return, http.StatusFound)
}

// identity reads the user and groups from the ID token's claims, as the
// API server's OIDC authenticator does; an email is taken only when the
// provider verified it.
func (a *OIDCAuth) identity(claims map[string]any) (*Identity, error) {
	user, _ := claims[a.cfg.UsernameClaim].(string)
	if user == "" {
		return nil, fmt.Errorf("the ID token has no %q claim to name the user", a.cfg.UsernameClaim)
	}
	if a.cfg.UsernameClaim == "email" {
		if v, ok := claims["email_verified"].(bool); ok && !v {
			return nil, fmt.Errorf("the provider has not verified the email address %s", user)
		}
	}
	id := &Identity{User: user}
	switch g := claims[a.cfg.GroupsClaim].(type) {
	case []any:
		for _, v := range g {
			if s, ok := v.(string); ok {
				id.Groups = append(id.Groups, s)
			}
		}
	case string:
		id.Groups = []string{g}
	}
	return checkIdentity(id)
}

func (a *OIDCAuth) logout(w http.ResponseWriter, r *http.Request) {
	a.setCookie(w, sessionCookie, "", -1)
	http.Redirect(w, r, a.cfg.BasePath, http.StatusFound)
}

func (a *OIDCAuth) setCookie(w http.ResponseWriter, name, value string, ttl time.Duration) {
	c := &http.Cookie{Name: name, Value: value, Path: a.cfg.BasePath, HttpOnly: true, Secure: a.secure, SameSite: http.SameSiteLaxMode, MaxAge: int(ttl.Seconds())}
	if ttl < 0 {
		c.MaxAge = -1
	}
	http.SetCookie(w, c)
}

// seal encodes v and signs it: base64(json).base64(hmac).
func (a *OIDCAuth) seal(v any) string {
	b, _ := json.Marshal(v)
	payload := base64.RawURLEncoding.EncodeToString(b)
	return payload + "." + base64.RawURLEncoding.EncodeToString(a.mac(payload))
}

func (a *OIDCAuth) open(value string, v any) error {
	payload, sig, ok := strings.Cut(value, ".")
	if !ok {
		return errors.New("malformed")
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, a.mac(payload)) {
		return errors.New("bad signature")
	}
	b, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return errors.New("malformed")
	}
	return json.Unmarshal(b, v)
}

func (a *OIDCAuth) mac(payload string) []byte {
	h := hmac.New(sha256.New, a.cfg.SessionKey)
	h.Write([]byte(payload))
	return h.Sum(nil)
}

func randomToken() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// localPath keeps a return address on this site: a path, never
// "//other.example" or a full URL.
func localPath(p string) string {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.HasPrefix(p, "/\\") {
		return "/"
	}
	return p
}
