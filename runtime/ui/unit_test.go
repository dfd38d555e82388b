package ui

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/kfstack/terraform-provider-kubeflow/runtime/api/v1alpha1"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/engine"
	"github.com/kfstack/terraform-provider-kubeflow/runtime/pipeline"
)

func TestHeaderAuth(t *testing.T) {
	if _, err := NewHeaderAuth(HeaderAuth{}); err == nil || !strings.Contains(err.Error(), "trusted only from the gateway") {
		t.Errorf("a header trusted from anywhere: %v", err)
	}
	if _, err := NewHeaderAuth(HeaderAuth{Secret: []byte("short")}); err == nil {
		t.Error("a short secret was accepted")
	}
	proxies, err := ParseCIDRs([]string{"10.1.0.0/16", "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	a, err := NewHeaderAuth(HeaderAuth{TrustedProxies: proxies, Secret: []byte("0123456789abcdef"), UserPrefix: "accounts.google.com:", GroupsHeader: "kubeflow-groups"})
	if err != nil {
		t.Fatal(err)
	}
	req := func(remote, secret, user, groups string) *http.Request {
		r := httptest.NewRequest(http.MethodGet, "/api/v1/whoami", nil)
		r.RemoteAddr = remote
		if secret != "" {
			r.Header.Set(DefaultSecretHeader, secret)
		}
		if user != "" {
			r.Header.Set(DefaultUserHeader, user)
		}
		if groups != "" {
			r.Header.Set("kubeflow-groups", groups)
		}
		return r
	}
	id, err := a.Identify(req("10.1.2.3:5555", "0123456789abcdef", "accounts.google.com:ann@example.com", "team-a, system:masters,team-a,,ops"))
	if err != nil || id.User != "ann@example.com" || strings.Join(id.Groups, ",") != "team-a,ops" {
		t.Errorf("identity %+v, %v", id, err)
	}
	for _, c := range []struct {
		r    *http.Request
		want string
	}{
		{req("10.2.0.1:1", "0123456789abcdef", "ann@example.com", ""), "not a trusted proxy"},
		{req("127.0.0.1:1", "wrong-secret-000000", "ann@example.com", ""), "no valid shared secret"},
		{req("127.0.0.1:1", "", "ann@example.com", ""), "no valid shared secret"},
		{req("127.0.0.1:1", "0123456789abcdef", "", ""), "set no kubeflow-userid header"},
		{req("127.0.0.1:1", "0123456789abcdef", "system:kube-controller-manager", ""), "system identity"},
	} {
		if _, err := a.Identify(c.r); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s from %s: %v, want %q", c.r.Header.Get(DefaultUserHeader), c.r.RemoteAddr, err, c.want)
		}
	}
	if _, err := ParseCIDRs([]string{"10.0.0.0/33"}); err == nil {
		t.Error("a bad network was accepted")
	}
}

// testIssuer is an OpenID provider as Dex answers the UI: discovery, keys,
// an authorisation endpoint that signs in whoever it is told to, and a
// token endpoint that returns a signed ID token with the nonce.
type testIssuer struct {
	srv      *httptest.Server
	key      *rsa.PrivateKey
	email    string
	verified bool
	groups   []string
	nonces   map[string]string
}

func newTestIssuer(t *testing.T) *testIssuer {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	is := &testIssuer{key: key, email: "olga@example.com", verified: true, groups: []string{"team-a"}, nonces: map[string]string{}}
	mux := http.NewServeMux()
	is.srv = httptest.NewServer(mux)
	t.Cleanup(is.srv.Close)
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer": is.srv.URL, "authorization_endpoint": is.srv.URL + "/auth", "token_endpoint": is.srv.URL + "/token",
			"jwks_uri": is.srv.URL + "/keys", "id_token_signing_alg_values_supported": []string{"RS256"},
		})
	})
	mux.HandleFunc("/keys", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"}}})
	})
	mux.HandleFunc("/auth", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		code := randomToken()
		is.nonces[code] = q.Get("nonce")
		http.Redirect(w, r, q.Get("redirect_uri")+"?code="+code+"&state="+url.QueryEscape(q.Get("state")), http.StatusFound)
	})
	mux.HandleFunc("/token", func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		nonce, ok := is.nonces[r.Form.Get("code")]
		if !ok {
			http.Error(w, `{"error":"invalid_grant"}`, http.StatusBadRequest)
			return
		}
		signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key}, (&jose.SignerOptions{}).WithHeader("kid", "k1"))
		if err != nil {
			t.Error(err)
			return
		}
		claims := map[string]any{"iss": is.srv.URL, "sub": "1", "aud": "kfstack-ui", "exp": time.Now().Add(time.Hour).Unix(), "iat": time.Now().Unix(),
			"nonce": nonce, "email": is.email, "email_verified": is.verified, "groups": is.groups}
		tok, err := jwt.Signed(signer).Claims(claims).Serialize()
		if err != nil {
			t.Error(err)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": "a", "token_type": "Bearer", "expires_in": 3600, "id_token": tok})
	})
	return is
}

// TestOIDCSignIn goes through the authorisation code flow against an
// issuer: the session cookie then names the user and groups from the ID
// token; a forged or tampered cookie, a state from another browser, an
// unverified email are refused; logout clears the session.
func TestOIDCSignIn(t *testing.T) {
	is := newTestIssuer(t)
	ui := httptest.NewServer(nil)
	defer ui.Close()
	a, err := NewOIDCAuth(t.Context(), OIDCConfig{Issuer: is.srv.URL, ClientID: "kfstack-ui", ClientSecret: "s", RedirectURL: ui.URL + callbackPath, SessionKey: []byte(strings.Repeat("k", 32))})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	a.Routes(mux)
	mux.HandleFunc("/api/v1/whoami", func(w http.ResponseWriter, r *http.Request) {
		id, err := a.Identify(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		_ = json.NewEncoder(w).Encode(id)
	})
	ui.Config.Handler = mux

	signIn := func() (*http.Client, *http.Response) {
		jar := newJar()
		c := &http.Client{Jar: jar}
		res, err := c.Get(ui.URL + loginPath + "?return=/%23/ns/team-a/runs")
		if err != nil {
			t.Fatal(err)
		}
		return c, res
	}
	c, res := signIn()
	res.Body.Close()
	if res.Request.URL.Path != "/" || res.Request.URL.Fragment != "" && res.Request.URL.Fragment != "/ns/team-a/runs" {
		t.Errorf("after sign-in the browser is at %s", res.Request.URL)
	}
	res, err = c.Get(ui.URL + "/api/v1/whoami")
	if err != nil {
		t.Fatal(err)
	}
	var id Identity
	_ = json.NewDecoder(res.Body).Decode(&id)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || id.User != "olga@example.com" || strings.Join(id.Groups, ",") != "team-a" {
		t.Errorf("whoami after sign-in: %d %+v", res.StatusCode, id)
	}
	// A tampered session is refused.
	u, _ := url.Parse(ui.URL)
	cookies := c.Jar.Cookies(u)
	for _, ck := range cookies {
		if ck.Name == sessionCookie {
			payload, sig, _ := strings.Cut(ck.Value, ".")
			b, _ := json.Marshal(session{User: "admin@example.com", Expires: time.Now().Add(time.Hour).Unix()})
			forged := &http.Request{Header: http.Header{"Cookie": {sessionCookie + "=" + encodeB64(b) + "." + sig}}}
			if _, err := a.Identify(forged); err == nil || !strings.Contains(err.Error(), "bad signature") {
				t.Errorf("a forged session: %v", err)
			}
			_ = payload
		}
	}
	// A callback with another browser's state is refused.
	res, err = (&http.Client{Jar: newJar()}).Get(ui.URL + callbackPath + "?code=x&state=y")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusBadRequest {
		t.Errorf("a callback without a sign-in in progress: %d", res.StatusCode)
	}
	// An unverified email signs no one in.
	is.verified = false
	_, res = signIn()
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden {
		t.Errorf("an unverified email: %d, want 403", res.StatusCode)
	}
	// Logout.
	res, err = c.Get(ui.URL + logoutPath)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	res, err = c.Get(ui.URL + "/api/v1/whoami")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized {
		t.Errorf("whoami after logout: %d", res.StatusCode)
	}
	if localPath("//evil.example/") != "/" || localPath("https://evil.example") != "/" || localPath("/#/ns/a") != "/#/ns/a" {
		t.Error("a return address left the site")
	}
}

func TestLineDiff(t *testing.T) {
	a := "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n"
	b := "a\nb\nC\nd\ne\nf\ng\nh\ni\nj\nk\n"
	hunks, err := lineDiff(a, b, 1)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, h := range hunks {
		got = append(got, h.Header)
		for _, l := range h.Lines {
			got = append(got, l.Op+l.Text)
		}
	}
	want := "@@ -2,3 +2,3 @@| b|-c|+C| d|@@ -10,1 +10,2 @@| j|+k"
	if strings.Join(got, "|") != want {
		t.Errorf("diff\n got %s\nwant %s", strings.Join(got, "|"), want)
	}
	if h, _ := lineDiff(a, a, 3); len(h) != 0 {
		t.Errorf("equal texts: %v", h)
	}
	if h, _ := lineDiff("", "x\n", 3); len(h) != 1 || h[0].Lines[0].Op != "+" {
		t.Errorf("from nothing: %+v", h)
	}
	var x, y strings.Builder
	for i := range 5000 {
		x.WriteString("line\n")
		_ = i
		y.WriteString("other\n")
	}
	if _, err := lineDiff(x.String(), y.String(), 3); err == nil {
		t.Error("two texts 10,000 lines apart were diffed")
	}
}

// TestReadableRoots: the UI reads only under the run's own directory of
// the default or an allowed root; a run naming another root, or a URI a
// task made up, is not read.
func TestReadableRoots(t *testing.T) {
	s := &Server{opts: Options{PipelineRoot: "file:///data/root", AllowedRoots: []string{"gs://team-a/artifacts", "s3://b/x?endpoint=http://minio:9000"}}}
	view := func(root string) *runView {
		run := &v1alpha1.PipelineRun{Spec: v1alpha1.PipelineRunSpec{PipelineRoot: root}}
		return &runView{run: run, plan: &pipeline.Plan{Name: "train"}, state: &engine.State{RunID: "r1"}}
	}
	for _, c := range []struct {
		root, uri string
		ok        bool
	}{
		{"", "file:///data/root/train/r1/t/model", true},
		{"", "file:///data/root/train/r2/t/model", false},
		{"", "file:///etc/passwd", false},
		{"file:///data/root/sub", "file:///data/root/sub/train/r1/t/m", true},
		{"file:///data/rootx", "file:///data/rootx/train/r1/t/m", false},
		{"gs://team-a/artifacts/v2", "gs://team-a/artifacts/v2/train/r1/x", true},
		{"gs://team-b/artifacts", "gs://team-b/artifacts/train/r1/x", false},
		{"s3://b/x?endpoint=http://minio:9000", "s3://b/x/train/r1/out", true},
		{"s3://b/x?endpoint=http://evil:9000", "s3://b/x/train/r1/out", false},
		{"file:///data/root/../etc", "file:///data/root/../etc/train/r1/x", false},
	} {
		err := s.readableURI(view(c.root), c.uri)
		if (err == nil) != c.ok {
			t.Errorf("root %q, uri %q: %v, want readable %v", c.root, c.uri, err, c.ok)
		}
	}
}

func newJar() http.CookieJar {
	j, _ := cookiejar.New(nil)
	return j
}

func encodeB64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
