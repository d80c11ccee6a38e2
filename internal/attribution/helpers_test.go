package attribution

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"sync"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/gitops-reverser/gitops-reverser/internal/manifest"
)

var (
	configMaps  = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	pods        = schema.GroupVersionResource{Version: "v1", Resource: "pods"}
	deployments = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
)

// clientAs returns a dynamic client authenticated as user (a client certificate), impersonating
// another user when impersonated is set. The user "admin" is in system:masters.
func clientAs(t *testing.T, user string, impersonated string) dynamic.Interface {
	t.Helper()
	var groups []string
	if user == "admin" {
		groups = append(groups, "system:masters")
	}
	cfg, err := env.UserConfig(user, groups...)
	if err != nil {
		t.Fatal(err)
	}
	cfg = rest.CopyConfig(cfg)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: impersonated}
	c, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// query describes obj, as the API server returned or the watch delivered it, the way the
// pipeline asks about it.
func query(t *testing.T, gvr schema.GroupVersionResource, operation string, obj *unstructured.Unstructured) Query {
	t.Helper()
	q := Query{
		Identity:        Identity{Group: gvr.Group, Resource: gvr.Resource, Namespace: obj.GetNamespace(), Name: obj.GetName()},
		Operation:       operation,
		UID:             string(obj.GetUID()),
		ResourceVersion: obj.GetResourceVersion(),
	}
	if operation != OperationDelete {
		data, err := manifest.Encode(manifest.Sanitize(obj))
		if err != nil {
			t.Fatal(err)
		}
		q.ContentHash = ContentHash(data)
	}
	return q
}

func configMap(name string, data map[string]any) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": name, "namespace": testNamespace},
		"data":     data,
	}}
}

// deleteEvents keeps what the API server's audit events say about deletes, decoded on their own
// (not by the receiver), so tests can check what the receiver relies on.
type deleteEvents struct {
	mu     sync.Mutex
	byName map[string]deleteEvent
}

type deleteEvent struct {
	ResponseKind, ResponseUID, ResponseResourceVersion, DetailsUID string
}

func (d *deleteEvents) tee(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var list struct {
			Items []struct {
				Verb      string `json:"verb"`
				ObjectRef struct {
					Resource  string `json:"resource"`
					Namespace string `json:"namespace"`
					Name      string `json:"name"`
				} `json:"objectRef"`
				ResponseObject map[string]any `json:"responseObject"`
			} `json:"items"`
		}
		if json.Unmarshal(body, &list) == nil {
			d.mu.Lock()
			for _, ev := range list.Items {
				ref := ev.ObjectRef
				if ev.Verb != "delete" || ev.ResponseObject == nil || (ref.Resource != "configmaps" && ref.Resource != "pods") {
					continue
				}
				resp := &unstructured.Unstructured{Object: ev.ResponseObject}
				uid, _, _ := unstructured.NestedString(ev.ResponseObject, "details", "uid")
				if d.byName == nil {
					d.byName = map[string]deleteEvent{}
				}
				d.byName[ref.Resource+"/"+ref.Namespace+"/"+ref.Name] = deleteEvent{
					ResponseKind: resp.GetKind(), ResponseUID: string(resp.GetUID()),
					ResponseResourceVersion: resp.GetResourceVersion(), DetailsUID: uid,
				}
			}
			d.mu.Unlock()
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		next.ServeHTTP(w, r)
	})
}

// get returns what the audit event of the delete of the named object said (zero until it came).
func (d *deleteEvents) get(resource, namespace, name string) func() deleteEvent {
	return func() deleteEvent {
		d.mu.Lock()
		defer d.mu.Unlock()
		return d.byName[resource+"/"+namespace+"/"+name]
	}
}
