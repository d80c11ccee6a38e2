package receiver

import (
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"

	"github.com/go-logr/logr"
)

// PathPrefix is where the operator mounts the handler; the rest of the path names the GitProvider
// as <namespace>/<name>, so one Git server webhook URL serves one GitProvider.
const PathPrefix = "/hooks/git/"

// defaultMaxBody holds any ordinary push; a larger one is refused, which only leaves the fetch to
// the next poll.
const defaultMaxBody = 5 << 20

// ErrNoProvider is wrapped by Options.Token's error when the path names no GitProvider that
// accepts webhooks, so that the caller gets 404 rather than 503.
var ErrNoProvider = errors.New("no GitProvider with a webhook token")

// Options configure New. Token and OnPush are required.
type Options struct {
	// Token returns the webhook token shared with the Git server for GitProvider namespace/name,
	// or an error wrapping ErrNoProvider when it does not exist or has no token. An empty token
	// counts as none: anyone can compute an HMAC keyed with nothing.
	Token func(ctx context.Context, namespace, name string) ([]byte, error)
	// OnPush is told that branch of the GitProvider's repository moved. It runs on the request's
	// goroutine before the response is written, so it must hand off quickly (a non-blocking send,
	// enqueueing work): Git servers time slow webhooks out and retry or disable them.
	OnPush func(namespace, name, branch string)
	Log    logr.Logger
	// MaxBody bounds the request body in bytes; zero means 5 MiB.
	MaxBody int64
}

type source string // Forgejo counts as gitea: it is a fork that still sends Gitea's headers.

const github, gitlab, gitea source = "github", "gitlab", "gitea"

var (
	// hmacHeaders are the HMAC-SHA256 signatures of the body a request may carry. Gitea also
	// sends GitHub's header (and Forgejo Gitea's), so the Gitea ones come first to name the source.
	hmacHeaders = []struct {
		name, prefix string
		src          source
	}{
		{"X-Forgejo-Signature", "", gitea},
		{"X-Gitea-Signature", "", gitea},
		{"X-Hub-Signature-256", "sha256=", github},
	}

	// events holds, per source, the header naming the event, one to read when it is absent, and
	// the push event's name. Only the authenticated scheme's are read, since Gitea and Forgejo also send
	// GitHub's. GitLab's "Tag Push Hook" is not a push: tags are not what the operator fetches.
	events = map[source]struct{ header, fallback, push string }{
		github: {"X-GitHub-Event", "", "push"},
		gitlab: {"X-Gitlab-Event", "", "Push Hook"},
		gitea:  {"X-Forgejo-Event", "X-Gitea-Event", "push"},
	}

	dns1123Label     = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	dns1123Subdomain = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
)

// New returns the handler for PathPrefix. It panics when Token or OnPush is nil.
func New(opts Options) http.Handler {
	if opts.Token == nil || opts.OnPush == nil {
		panic("receiver: Options.Token and Options.OnPush are required")
	}
	if opts.MaxBody <= 0 {
		opts.MaxBody = defaultMaxBody
	}
	return (*handler)(&opts)
}

type handler Options

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	namespace, name, ok := parsePath(r.URL.Path)
	if !ok {
		h.refuse(w, r, http.StatusNotFound, "", "no such webhook; the path is "+PathPrefix+"<namespace>/<gitprovider>")
		return
	}
	provider := namespace + "/" + name
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		h.refuse(w, r, http.StatusMethodNotAllowed, provider, "method not allowed; webhooks are POSTed")
		return
	}

	token, err := h.Token(r.Context(), namespace, name)
	if err == nil && len(token) == 0 {
		err = ErrNoProvider
	}
	switch {
	case errors.Is(err, ErrNoProvider):
		h.refuse(w, r, http.StatusNotFound, provider, "no GitProvider "+provider+" with a webhook token")
		return
	case err != nil:
		h.Log.Error(err, "Webhook refused", "gitProvider", provider, "status", http.StatusServiceUnavailable)
		reply(w, http.StatusServiceUnavailable, "cannot look up the webhook token; try again later")
		return
	}

	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.MaxBody))
	if err != nil {
		status, reason := http.StatusBadRequest, "cannot read the body"
		if tooBig := (*http.MaxBytesError)(nil); errors.As(err, &tooBig) {
			status, reason = http.StatusRequestEntityTooLarge, fmt.Sprintf("body exceeds %d bytes", tooBig.Limit)
		}
		h.refuse(w, r, status, provider, reason)
		return
	}
	src, problem := authenticate(r.Header, body, token)
	if problem != "" {
		h.refuse(w, r, http.StatusUnauthorized, provider, problem)
		return
	}

	ev := events[src]
	event := cmp.Or(r.Header.Get(ev.header), r.Header.Get(ev.fallback))
	switch {
	case src == github && event == "ping":
		h.Log.V(1).Info("Ping webhook received", "gitProvider", provider, "source", src)
		reply(w, http.StatusOK, "pong")
		return
	case event != ev.push:
		h.Log.V(1).Info("Webhook event ignored", "gitProvider", provider, "source", src, "event", event)
		reply(w, http.StatusAccepted, "ignored: not a push event")
		return
	}
	branch, isBranch, problem := pushedBranch(body)
	switch {
	case problem != "":
		h.refuse(w, r, http.StatusBadRequest, provider, problem)
		return
	case !isBranch:
		h.Log.V(1).Info("Webhook push ignored", "gitProvider", provider, "source", src, "reason", "not a branch")
		reply(w, http.StatusAccepted, "ignored: not a branch")
		return
	}

	h.Log.Info("Push webhook received", "gitProvider", provider, "branch", branch, "source", src)
	h.OnPush(namespace, name, branch)
	reply(w, http.StatusAccepted, "fetch requested")
}

// refuse answers with a one-line reason and logs it; reasons never hold token material.
func (h *handler) refuse(w http.ResponseWriter, r *http.Request, status int, provider, reason string) {
	h.Log.Info("Webhook refused", "gitProvider", provider, "status", status, "reason", reason,
		"path", r.URL.Path, "remoteAddr", r.RemoteAddr)
	reply(w, status, reason)
}

func reply(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, msg+"\n")
}

func parsePath(path string) (namespace, name string, ok bool) {
	rest, ok := strings.CutPrefix(path, PathPrefix)
	namespace, name, cut := strings.Cut(rest, "/")
	// An extra segment leaves a "/" in name, which the subdomain check refuses.
	if !ok || !cut || len(namespace) > 63 || !dns1123Label.MatchString(namespace) ||
		len(name) > 253 || !dns1123Subdomain.MatchString(name) {
		return "", "", false
	}
	return namespace, name, true
}

// authenticate returns the source whose scheme the request authenticated with, or why it did not.
func authenticate(hdr http.Header, body, token []byte) (source, string) {
	gitlabToken := hdr.Values("X-Gitlab-Token")
	mac := hmac.New(sha256.New, token)
	mac.Write(body)
	want := mac.Sum(nil)
	var src source
	for _, s := range hmacHeaders {
		vals := hdr.Values(s.name)
		if len(vals) == 0 {
			continue
		}
		if len(gitlabToken) > 0 {
			return "", "both X-Gitlab-Token and " + s.name + " are present; use one scheme"
		}
		hexSig, hasPrefix := strings.CutPrefix(vals[0], s.prefix)
		got, err := hex.DecodeString(hexSig)
		if len(vals) != 1 || !hasPrefix || err != nil || !hmac.Equal(got, want) {
			return "", s.name + " does not match the HMAC-SHA256 of the body with the GitProvider's webhook token"
		}
		src = cmp.Or(src, s.src)
	}
	switch {
	case src != "":
		return src, ""
	case len(gitlabToken) > 0:
		// Hashing first makes the comparison independent of the tokens' lengths too.
		got, exp := sha256.Sum256([]byte(gitlabToken[0])), sha256.Sum256(token)
		if len(gitlabToken) == 1 && hmac.Equal(got[:], exp[:]) {
			return gitlab, ""
		}
		return "", "X-Gitlab-Token does not match the GitProvider's webhook token"
	case len(hdr.Values("X-Hub-Signature")) > 0:
		return "", "X-Hub-Signature (SHA-1) is not accepted; X-Hub-Signature-256 (SHA-256) is required"
	default:
		return "", "no X-Hub-Signature-256, X-Gitea-Signature, X-Forgejo-Signature or X-Gitlab-Token header"
	}
}

// pushedBranch reads only "ref", which all three servers send with the same meaning, so no
// server's payload schema needs to be tracked.
func pushedBranch(body []byte) (branch string, isBranch bool, problem string) {
	var p struct {
		Ref *string `json:"ref"`
	}
	err := json.Unmarshal(body, &p)
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &typeErr) && typeErr.Field == "ref":
		return "", false, `"ref" in the body is not a string`
	case err != nil:
		return "", false, "the body is not a JSON object; set the webhook's content type to application/json"
	case p.Ref == nil:
		return "", false, `the body has no "ref"`
	}
	branch, isBranch = strings.CutPrefix(*p.Ref, "refs/heads/")
	if isBranch && branch == "" {
		return "", false, `"ref" names no branch`
	}
	return branch, isBranch, ""
}
