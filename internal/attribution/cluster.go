package attribution

import (
	"context"
	"crypto/subtle"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/util/validation"
)

// ClusterAuditPath is the prefix of the audit webhooks of remote clusters (GitTargets with
// spec.kubeConfig): a cluster's API server posts to ClusterAuditPath + "<namespace>/<secret>",
// naming the Secret of its kubeconfig, and its facts answer only the queries of that cluster.
const ClusterAuditPath = "/attribution/audit/clusters/"

// ClusterTokens returns the bearer token a remote cluster's audit webhook must send: the
// audit-token of the kubeconfig Secret namespace/secret. Empty refuses every request.
type ClusterTokens func(ctx context.Context, namespace, secret string) (string, error)

// clusterTokenTTL is how long a token read is trusted: a rotated token takes at most this long.
// A cluster without a token is asked again sooner, so that the first batches after its Secret
// is created are not refused for long.
const (
	clusterTokenTTL   = 10 * time.Second
	clusterNoTokenTTL = time.Second
)

// NewClusterAuditHandler receives the audit webhooks of remote clusters at ClusterAuditPath. A
// remote API server is outside the cluster the operator's NetworkPolicy and certificates speak
// for, so each request must carry its cluster's own token (Authorization: Bearer, as the audit
// webhook's kubeconfig sends it); the cluster is named by the path, and its facts are filed
// under that name (Query.Cluster), never under the operator's own cluster or another's.
func NewClusterAuditHandler(index *Index, tokens ClusterTokens, log logr.Logger) http.Handler {
	return &clusterAuditHandler{index: index, tokens: tokens, log: log, cached: map[string]cachedToken{}}
}

type clusterAuditHandler struct {
	index  *Index
	tokens ClusterTokens
	log    logr.Logger

	mu     sync.Mutex
	cached map[string]cachedToken
}

type cachedToken struct {
	token string
	read  time.Time
}

func (h *clusterAuditHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	cluster, ok := clusterOfPath(r.URL.Path)
	if !ok {
		http.Error(w, "the path must be "+ClusterAuditPath+"<namespace>/<kubeconfig-secret>", http.StatusNotFound)
		return
	}
	token, err := h.token(r.Context(), cluster)
	if err != nil {
		h.log.Error(err, "Reading a remote cluster's audit token", "cluster", cluster)
		http.Error(w, "the cluster's audit token cannot be read", http.StatusServiceUnavailable)
		return
	}
	got, found := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if token == "" || !found || subtle.ConstantTimeCompare([]byte(got), []byte(token)) != 1 {
		h.index.metrics.invalid(sourceAudit)
		h.log.Info("Refused a remote cluster's audit events: wrong or missing token", "cluster", cluster, "tokenConfigured", token != "")
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	(&auditHandler{index: h.index, log: h.log.WithValues("cluster", cluster), cluster: cluster}).ServeHTTP(w, r)
}

// token returns the cluster's token, read again once clusterTokenTTL passed.
func (h *clusterAuditHandler) token(ctx context.Context, cluster string) (string, error) {
	h.mu.Lock()
	c, ok := h.cached[cluster]
	h.mu.Unlock()
	if ok && (time.Since(c.read) < clusterNoTokenTTL || c.token != "" && time.Since(c.read) < clusterTokenTTL) {
		return c.token, nil
	}
	namespace, secret, _ := strings.Cut(cluster, "/")
	token, err := h.tokens(ctx, namespace, secret)
	if err != nil {
		return "", err
	}
	now := time.Now()
	h.mu.Lock()
	defer h.mu.Unlock()
	// Anyone who reaches the receiver can name clusters that do not exist: what they leave
	// behind goes once it expired, so the cache holds no more than a TTL's worth of names.
	for name, c := range h.cached {
		if now.Sub(c.read) >= clusterTokenTTL {
			delete(h.cached, name)
		}
	}
	h.cached[cluster] = cachedToken{token: token, read: now}
	return token, nil
}

// clusterOfPath returns "<namespace>/<secret>" of a path under ClusterAuditPath, if both are
// valid names.
func clusterOfPath(path string) (string, bool) {
	rest, ok := strings.CutPrefix(path, ClusterAuditPath)
	if !ok {
		return "", false
	}
	namespace, secret, ok := strings.Cut(rest, "/")
	if !ok || len(validation.IsDNS1123Label(namespace)) > 0 || len(validation.IsDNS1123Subdomain(secret)) > 0 {
		return "", false
	}
	return namespace + "/" + secret, true
}
