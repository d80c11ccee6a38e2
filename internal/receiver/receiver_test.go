package receiver

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/go-logr/logr/funcr"
	. "github.com/onsi/gomega"
)

const (
	testNamespace = "flux-system"
	testName      = "my-repo"
	testToken     = "s3cr3t-token"
	pushBody      = `{"ref":"refs/heads/feature/x","before":"0000","after":"1111","commits":[]}`
)

var testPath = PathPrefix + testNamespace + "/" + testName

type push struct{ namespace, name, branch string }

// fixture serves one GitProvider, testNamespace/testName with testToken, and records what the
// handler tells the operator and logs.
type fixture struct {
	handler http.Handler

	mu         sync.Mutex
	pushes     []push
	logs       []string
	tokenCalls []string
}

func newFixture(t *testing.T, configure ...func(*Options)) *fixture {
	t.Helper()
	f := &fixture{}
	opts := Options{
		Token: func(_ context.Context, namespace, name string) ([]byte, error) {
			f.mu.Lock()
			f.tokenCalls = append(f.tokenCalls, namespace+"/"+name)
			f.mu.Unlock()
			if namespace != testNamespace || name != testName {
				return nil, fmt.Errorf("GitProvider %s/%s: %w", namespace, name, ErrNoProvider)
			}
			return []byte(testToken), nil
		},
		OnPush: func(namespace, name, branch string) {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.pushes = append(f.pushes, push{namespace, name, branch})
		},
		Log: funcr.New(func(prefix, args string) {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.logs = append(f.logs, args)
		}, funcr.Options{Verbosity: 1}),
	}
	for _, c := range configure {
		c(&opts)
	}
	f.handler = New(opts)
	return f
}

func (f *fixture) do(method, path, body string, headers map[string]string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	f.handler.ServeHTTP(rec, req)
	return rec
}

func (f *fixture) recorded() (pushes []push, logs []string, tokenCalls []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]push(nil), f.pushes...), append([]string(nil), f.logs...), append([]string(nil), f.tokenCalls...)
}

// sign is what GitHub, Gitea and Forgejo compute: hex HMAC-SHA256 of the raw body.
func sign(key, body string) string {
	mac := hmac.New(sha256.New, []byte(key))
	mac.Write([]byte(body))
	return hex.EncodeToString(mac.Sum(nil))
}

func signSHA1(key, body string) string {
	mac := hmac.New(sha1.New, []byte(key))
	mac.Write([]byte(body))
	return hex.EncodeToString(mac.Sum(nil))
}

// giteaHeaders are the headers Gitea really sends with a push: its own, Gogs', and GitHub's.
func giteaHeaders(body string) map[string]string {
	sig := sign(testToken, body)
	return map[string]string{
		"X-Gitea-Event":       "push",
		"X-Gogs-Event":        "push",
		"X-GitHub-Event":      "push",
		"X-Gitea-Signature":   sig,
		"X-Gogs-Signature":    sig,
		"X-Hub-Signature":     "sha1=" + signSHA1(testToken, body),
		"X-Hub-Signature-256": "sha256=" + sig,
	}
}

func TestPushCallsOnPush(t *testing.T) {
	sig := sign(testToken, pushBody)
	for _, tc := range []struct {
		name    string
		headers map[string]string
		source  string
	}{
		{"github", map[string]string{"X-GitHub-Event": "push", "X-Hub-Signature-256": "sha256=" + sig}, "github"},
		{"github upper-case hex", map[string]string{"X-GitHub-Event": "push", "X-Hub-Signature-256": "sha256=" + strings.ToUpper(sig)}, "github"},
		{"gitea", giteaHeaders(pushBody), "gitea"},
		{"gitea signature only", map[string]string{"X-Gitea-Event": "push", "X-Gitea-Signature": sig}, "gitea"},
		{"forgejo", map[string]string{"X-Forgejo-Event": "push", "X-Forgejo-Signature": sig}, "gitea"},
		{"gitlab", map[string]string{"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": testToken}, "gitlab"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			f := newFixture(t)

			rec := f.do(http.MethodPost, testPath, pushBody, tc.headers)

			g.Expect(rec.Code).To(Equal(http.StatusAccepted), rec.Body.String())
			g.Expect(rec.Body.String()).NotTo(BeEmpty())
			pushes, logs, _ := f.recorded()
			g.Expect(pushes).To(Equal([]push{{testNamespace, testName, "feature/x"}}))
			g.Expect(logs).To(ContainElement(And(
				ContainSubstring(`"msg"="Push webhook received"`),
				ContainSubstring(`"gitProvider"="flux-system/my-repo"`),
				ContainSubstring(`"branch"="feature/x"`),
				ContainSubstring(`"source"="`+tc.source+`"`),
			)))
		})
	}
}

func TestRefusesBadAuthentication(t *testing.T) {
	sig := sign(testToken, pushBody)
	wrongSig := sign(testToken, pushBody+" ")
	withHeader := func(h map[string]string, k, v string) map[string]string {
		h[k] = v
		return h
	}
	for _, tc := range []struct {
		name    string
		headers map[string]string
		says    []string
	}{
		{"github wrong signature",
			map[string]string{"X-GitHub-Event": "push", "X-Hub-Signature-256": "sha256=" + wrongSig},
			[]string{"X-Hub-Signature-256"}},
		{"github signed with another token",
			map[string]string{"X-GitHub-Event": "push", "X-Hub-Signature-256": "sha256=" + sign("other", pushBody)},
			[]string{"X-Hub-Signature-256"}},
		{"github signature without sha256= prefix",
			map[string]string{"X-GitHub-Event": "push", "X-Hub-Signature-256": sig},
			[]string{"X-Hub-Signature-256"}},
		{"github signature not hex",
			map[string]string{"X-GitHub-Event": "push", "X-Hub-Signature-256": "sha256=zz"},
			[]string{"X-Hub-Signature-256"}},
		{"gitea wrong signature",
			map[string]string{"X-Gitea-Event": "push", "X-Gitea-Signature": wrongSig},
			[]string{"X-Gitea-Signature"}},
		{"gitea empty signature, as sent without a secret",
			map[string]string{"X-Gitea-Event": "push", "X-Gitea-Signature": "", "X-Hub-Signature-256": "sha256="},
			[]string{"X-Gitea-Signature"}},
		{"gitea with one of its signatures wrong",
			withHeader(giteaHeaders(pushBody), "X-Hub-Signature-256", "sha256="+wrongSig),
			[]string{"X-Hub-Signature-256"}},
		{"forgejo wrong signature",
			map[string]string{"X-Forgejo-Event": "push", "X-Forgejo-Signature": wrongSig},
			[]string{"X-Forgejo-Signature"}},
		{"gitlab wrong token",
			map[string]string{"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": "s3cr3t-tokem"},
			[]string{"X-Gitlab-Token"}},
		{"gitlab token prefix",
			map[string]string{"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": "s3cr3t"},
			[]string{"X-Gitlab-Token"}},
		{"gitlab token and a signature",
			map[string]string{"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": testToken, "X-Hub-Signature-256": "sha256=" + sig},
			[]string{"X-Gitlab-Token", "X-Hub-Signature-256"}},
		{"no authentication",
			map[string]string{"X-GitHub-Event": "push"},
			[]string{"X-Hub-Signature-256", "X-Gitea-Signature", "X-Forgejo-Signature", "X-Gitlab-Token"}},
		{"sha1 only",
			map[string]string{"X-GitHub-Event": "push", "X-Hub-Signature": "sha1=" + signSHA1(testToken, pushBody)},
			[]string{"X-Hub-Signature-256", "SHA-256"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			f := newFixture(t)

			rec := f.do(http.MethodPost, testPath, pushBody, tc.headers)

			g.Expect(rec.Code).To(Equal(http.StatusUnauthorized))
			body := rec.Body.String()
			g.Expect(strings.Count(body, "\n")).To(Equal(1), "one line")
			for _, s := range tc.says {
				g.Expect(body).To(ContainSubstring(s))
			}
			pushes, logs, _ := f.recorded()
			g.Expect(pushes).To(BeEmpty())
			g.Expect(logs).To(ContainElement(And(ContainSubstring(`"msg"="Webhook refused"`), ContainSubstring(`"status"=401`))))
			// Neither the token, the expected signature nor what the caller sent may come back.
			secrets := []string{testToken, sig, strings.ToUpper(sig)}
			for _, v := range tc.headers {
				if len(v) > len("sha256=") {
					secrets = append(secrets, strings.TrimPrefix(v, "sha256="))
				}
			}
			for _, s := range secrets {
				if s == "push" || s == "Push Hook" {
					continue
				}
				g.Expect(body).NotTo(ContainSubstring(s))
				g.Expect(strings.Join(logs, "\n")).NotTo(ContainSubstring(s))
			}
		})
	}
}

func TestPing(t *testing.T) {
	g := NewWithT(t)
	f := newFixture(t)
	body := `{"zen":"Keep it logically awesome.","hook_id":1}`

	rec := f.do(http.MethodPost, testPath, body, map[string]string{
		"X-GitHub-Event": "ping", "X-Hub-Signature-256": "sha256=" + sign(testToken, body),
	})

	g.Expect(rec.Code).To(Equal(http.StatusOK))
	g.Expect(rec.Body.String()).To(Equal("pong\n"))
	pushes, _, _ := f.recorded()
	g.Expect(pushes).To(BeEmpty())
}

func TestIgnoresWhatIsNotABranchPush(t *testing.T) {
	tagBody := `{"ref":"refs/tags/v1.0.0"}`
	for _, tc := range []struct {
		name, body string
		headers    map[string]string
	}{
		{"github tag push", tagBody, map[string]string{"X-GitHub-Event": "push", "X-Hub-Signature-256": "sha256=" + sign(testToken, tagBody)}},
		{"gitea tag push", tagBody, giteaHeaders(tagBody)},
		{"gitlab tag push hook", tagBody, map[string]string{"X-Gitlab-Event": "Tag Push Hook", "X-Gitlab-Token": testToken}},
		{"github issues event", `{"action":"opened"}`, map[string]string{"X-GitHub-Event": "issues", "X-Hub-Signature-256": "sha256=" + sign(testToken, `{"action":"opened"}`)}},
		{"gitlab merge request", `{}`, map[string]string{"X-Gitlab-Event": "Merge Request Hook", "X-Gitlab-Token": testToken}},
		{"gitlab ping is not github's", `{}`, map[string]string{"X-Gitlab-Event": "ping", "X-Gitlab-Token": testToken}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			f := newFixture(t)

			rec := f.do(http.MethodPost, testPath, tc.body, tc.headers)

			g.Expect(rec.Code).To(Equal(http.StatusAccepted), rec.Body.String())
			pushes, _, _ := f.recorded()
			g.Expect(pushes).To(BeEmpty())
		})
	}
}

func TestUnknownProvider(t *testing.T) {
	g := NewWithT(t)
	f := newFixture(t)
	headers := map[string]string{"X-GitHub-Event": "push", "X-Hub-Signature-256": "sha256=" + sign(testToken, pushBody)}

	rec := f.do(http.MethodPost, PathPrefix+testNamespace+"/other", pushBody, headers)

	g.Expect(rec.Code).To(Equal(http.StatusNotFound))
	g.Expect(rec.Body.String()).To(Equal("no GitProvider flux-system/other with a webhook token\n"))
	pushes, _, calls := f.recorded()
	g.Expect(pushes).To(BeEmpty())
	g.Expect(calls).To(Equal([]string{"flux-system/other"}))
}

func TestEmptyTokenAcceptsNothing(t *testing.T) {
	g := NewWithT(t)
	f := newFixture(t, func(o *Options) {
		o.Token = func(context.Context, string, string) ([]byte, error) { return []byte{}, nil }
	})
	// Signed with the empty key, which anyone can do.
	headers := map[string]string{"X-GitHub-Event": "push", "X-Hub-Signature-256": "sha256=" + sign("", pushBody)}

	rec := f.do(http.MethodPost, testPath, pushBody, headers)

	g.Expect(rec.Code).To(Equal(http.StatusNotFound))
	pushes, _, _ := f.recorded()
	g.Expect(pushes).To(BeEmpty())
}

func TestPaths(t *testing.T) {
	for _, path := range []string{
		"/hooks/git/",
		"/hooks/git/ns",
		"/hooks/git/ns/",
		"/hooks/git//name",
		"/hooks/git/ns/name/",
		"/hooks/git/ns/name/extra",
		"/hooks/git/NS/name",
		"/hooks/git/ns/Name",
		"/hooks/git/my.ns/name",
		"/hooks/git/-ns/name",
		"/hooks/git/ns/name-",
		"/hooks/git/ns/name..x",
		"/hooks/git/ns/.name",
		"/hooks/git/ns/na_me",
		"/hooks/git/" + strings.Repeat("a", 64) + "/name",
		"/hooks/git/ns/" + strings.Repeat("a", 254),
		"/hooks/gitx/ns/name",
		"/hooks/ns/name",
		"/ns/name",
	} {
		t.Run("refuses "+path, func(t *testing.T) {
			g := NewWithT(t)
			f := newFixture(t)

			rec := f.do(http.MethodPost, path, pushBody, nil)

			g.Expect(rec.Code).To(Equal(http.StatusNotFound))
			g.Expect(rec.Body.String()).To(ContainSubstring(PathPrefix + "<namespace>/<gitprovider>"))
			_, _, calls := f.recorded()
			g.Expect(calls).To(BeEmpty())
		})
	}
	for _, nsName := range []string{
		"ns/name",
		"a/b",
		"ns-1/my.repo-2",
		strings.Repeat("a", 63) + "/" + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 61),
	} {
		t.Run("accepts "+nsName, func(t *testing.T) {
			g := NewWithT(t)
			f := newFixture(t)

			rec := f.do(http.MethodPost, PathPrefix+nsName, pushBody, nil)

			// The name was valid, so its token was looked up; there is none.
			g.Expect(rec.Code).To(Equal(http.StatusNotFound))
			_, _, calls := f.recorded()
			g.Expect(calls).To(Equal([]string{nsName}))
		})
	}
}

func TestOnlyPost(t *testing.T) {
	for _, method := range []string{http.MethodGet, http.MethodPut, http.MethodHead} {
		t.Run(method, func(t *testing.T) {
			g := NewWithT(t)
			f := newFixture(t)

			rec := f.do(method, testPath, "", nil)

			g.Expect(rec.Code).To(Equal(http.StatusMethodNotAllowed))
			g.Expect(rec.Header().Get("Allow")).To(Equal(http.MethodPost))
			pushes, _, calls := f.recorded()
			g.Expect(pushes).To(BeEmpty())
			g.Expect(calls).To(BeEmpty())
		})
	}
}

func TestBodyLimit(t *testing.T) {
	const limit = 64
	padded := func(n int) string {
		return `{"ref":"refs/heads/main","pad":"` + strings.Repeat("x", n) + `"}`
	}
	atLimit := padded(limit - len(padded(0)))
	overLimit := padded(limit - len(padded(0)) + 1)
	headers := func(body string) map[string]string {
		return map[string]string{"X-GitHub-Event": "push", "X-Hub-Signature-256": "sha256=" + sign(testToken, body)}
	}

	t.Run("at the limit", func(t *testing.T) {
		g := NewWithT(t)
		f := newFixture(t, func(o *Options) { o.MaxBody = limit })
		g.Expect(atLimit).To(HaveLen(limit))

		rec := f.do(http.MethodPost, testPath, atLimit, headers(atLimit))

		g.Expect(rec.Code).To(Equal(http.StatusAccepted), rec.Body.String())
		pushes, _, _ := f.recorded()
		g.Expect(pushes).To(Equal([]push{{testNamespace, testName, "main"}}))
	})
	t.Run("over the limit", func(t *testing.T) {
		g := NewWithT(t)
		f := newFixture(t, func(o *Options) { o.MaxBody = limit })

		rec := f.do(http.MethodPost, testPath, overLimit, headers(overLimit))

		g.Expect(rec.Code).To(Equal(http.StatusRequestEntityTooLarge))
		g.Expect(rec.Body.String()).To(Equal("body exceeds 64 bytes\n"))
		pushes, _, _ := f.recorded()
		g.Expect(pushes).To(BeEmpty())
	})
	t.Run("over the default limit", func(t *testing.T) {
		g := NewWithT(t)
		f := newFixture(t)
		big := padded(defaultMaxBody)

		rec := f.do(http.MethodPost, testPath, big, headers(big))

		g.Expect(rec.Code).To(Equal(http.StatusRequestEntityTooLarge))
		pushes, _, _ := f.recorded()
		g.Expect(pushes).To(BeEmpty())
	})
}

func TestBadPayload(t *testing.T) {
	for _, tc := range []struct{ name, body, says string }{
		{"not JSON", `not json`, "not a JSON object"},
		{"form encoded", `payload=%7B%22ref%22%3A%22refs%2Fheads%2Fmain%22%7D`, "application/json"},
		{"JSON array", `[{"ref":"refs/heads/main"}]`, "not a JSON object"},
		{"truncated", `{"ref":"refs/heads/main"`, "not a JSON object"},
		{"no ref", `{"before":"0000"}`, `no "ref"`},
		{"null ref", `{"ref":null}`, `no "ref"`},
		{"ref not a string", `{"ref":5}`, `"ref" in the body is not a string`},
		{"ref names no branch", `{"ref":"refs/heads/"}`, `"ref" names no branch`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			f := newFixture(t)

			rec := f.do(http.MethodPost, testPath, tc.body, map[string]string{
				"X-Gitea-Event": "push", "X-Gitea-Signature": sign(testToken, tc.body),
			})

			g.Expect(rec.Code).To(Equal(http.StatusBadRequest))
			g.Expect(rec.Body.String()).To(ContainSubstring(tc.says))
			pushes, _, _ := f.recorded()
			g.Expect(pushes).To(BeEmpty())
		})
	}
}

func TestTokenLookupFailure(t *testing.T) {
	g := NewWithT(t)
	f := newFixture(t, func(o *Options) {
		o.Token = func(context.Context, string, string) ([]byte, error) {
			return nil, errors.New("informer cache not synced")
		}
	})
	headers := map[string]string{"X-GitHub-Event": "push", "X-Hub-Signature-256": "sha256=" + sign(testToken, pushBody)}

	rec := f.do(http.MethodPost, testPath, pushBody, headers)

	g.Expect(rec.Code).To(Equal(http.StatusServiceUnavailable))
	g.Expect(rec.Body.String()).NotTo(ContainSubstring("informer"))
	pushes, logs, _ := f.recorded()
	g.Expect(pushes).To(BeEmpty())
	g.Expect(logs).To(ContainElement(ContainSubstring("informer cache not synced")))
}

func TestNew(t *testing.T) {
	g := NewWithT(t)
	g.Expect(func() { New(Options{OnPush: func(string, string, string) {}}) }).To(Panic())
	g.Expect(func() {
		New(Options{Token: func(context.Context, string, string) ([]byte, error) { return nil, nil }})
	}).To(Panic())

	// A zero Log discards.
	var got []string
	h := New(Options{
		Token:  func(context.Context, string, string) ([]byte, error) { return []byte(testToken), nil },
		OnPush: func(_, _, branch string) { got = append(got, branch) },
	})
	req := httptest.NewRequest(http.MethodPost, testPath, strings.NewReader(pushBody))
	req.Header.Set("X-Gitlab-Event", "Push Hook")
	req.Header.Set("X-Gitlab-Token", testToken)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	g.Expect(rec.Code).To(Equal(http.StatusAccepted))
	g.Expect(got).To(Equal([]string{"feature/x"}))
}
