package controller

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path/filepath"
	"reflect"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	configv1alpha1 "github.com/gitops-reverser/gitops-reverser/api/v1alpha1"
	"github.com/gitops-reverser/gitops-reverser/internal/fileconfig"
	"github.com/gitops-reverser/gitops-reverser/internal/gitwriter"
	"github.com/gitops-reverser/gitops-reverser/internal/route"
	"github.com/gitops-reverser/gitops-reverser/internal/rules"
)

// FileMode is git-controller's interface: one repository, branch and folder, and the rules of a
// configuration file, without any of our custom resources. It runs the same plan a GitTarget
// would, through the same two directions.
type FileMode struct {
	URL string
	// Branch defaults to the remote's default branch; Path to the repository root ("").
	Branch, Path string
	Interval     time.Duration
	Credentials  gitwriter.Credentials
	Config       *fileconfig.Config
	// ConfigFile names the configuration file in rule origins and log lines.
	ConfigFile string
	// InventoryNamespace holds the ConfigMap that keeps the inventory, which a GitTarget keeps
	// in its status, so that prune survives restarts in this mode too.
	InventoryNamespace string
}

// fileModeResync is how often the rules are resolved again, so that CRDs installed after the
// start are picked up.
const fileModeResync = 30 * time.Second

// SetupFileMode adds both directions and the runner of fm to the manager.
func SetupFileMode(mgr ctrl.Manager, opts Options, fm FileMode) error {
	changed := make(chan struct{}, 1)
	signal := func() {
		select {
		case changed <- struct{}{}:
		default:
		}
	}
	op, err := newDirections(mgr, opts, func(gitwriter.Key) {}, func(types.NamespacedName) { signal() })
	if err != nil {
		return err
	}
	catalogs, err := NewCatalogSource(mgr.GetConfig())
	if err != nil {
		return err
	}
	return mgr.Add(&fileModeRunner{
		fm: fm, op: op, catalogs: catalogs, client: mgr.GetClient(), reader: mgr.GetAPIReader(),
		workDir: opts.WorkDir, changed: changed,
	})
}

type fileModeRunner struct {
	fm       FileMode
	op       *Operator
	catalogs *CatalogSource
	client   client.Client
	reader   client.Reader
	workDir  string
	changed  chan struct{}
	written  []configv1alpha1.ResourceRef // the inventory the ConfigMap holds
	reported string                       // the last Applied result logged
}

var _ manager.LeaderElectionRunnable = (*fileModeRunner)(nil)

// NeedLeaderElection: it writes to Git and applies, as the leader only.
func (r *fileModeRunner) NeedLeaderElection() bool { return true }

func (r *fileModeRunner) Start(ctx context.Context) error {
	log := ctrl.Log.WithName("filemode").WithValues("repository", r.fm.URL)
	branch, err := r.branch(ctx)
	if err != nil {
		return nil // stopping
	}
	target := &configv1alpha1.GitTarget{
		ObjectMeta: metav1.ObjectMeta{Namespace: r.fm.InventoryNamespace, Name: inventoryName(r.fm.URL, branch, r.fm.Path)},
		Spec:       configv1alpha1.GitTargetSpec{Branch: branch, Path: r.fm.Path, Interval: &metav1.Duration{Duration: r.fm.Interval}},
	}
	key := types.NamespacedName{Namespace: target.Namespace, Name: target.Name}
	if target.Status.Inventory, err = r.readInventory(ctx, key); err != nil {
		return fmt.Errorf("reading the inventory ConfigMap %s: %w", key, err)
	}
	if target.Status.Inventory != nil {
		r.written = target.Status.Inventory.Entries
	}
	var inputs []ruleInput
	for i, rule := range r.fm.Config.Rules {
		inputs = append(inputs, ruleInput{origin: fmt.Sprintf("%s rules[%d]", r.fm.ConfigFile, i), rule: rule, scope: rules.AnyScope, route: route.Scope{}})
	}
	settings := gitwriter.Settings{Credentials: r.fm.Credentials, Push: gitwriter.PushPolicy{Interval: 0, MaxCommits: 20}}
	log.Info("Running the rules of the configuration file", "config", r.fm.ConfigFile, "branch", branch, "path", r.fm.Path,
		"rules", len(inputs), "inventory", "ConfigMap "+key.String())
	resync := time.NewTicker(fileModeResync)
	defer resync.Stop()
	var reported []string
	for {
		if catalog, err := r.catalogs.Catalog(ctx); err != nil {
			log.Error(err, "Cannot read what the API server serves; trying again")
		} else {
			problems := resolveProblems(inputs, catalog)
			if !reflect.DeepEqual(problems, reported) {
				for _, p := range problems {
					log.Info("A rule selects nothing the API server serves", "problem", p)
				}
				reported = problems
			}
			plan, applyPlan := buildPlan(target, r.fm.URL, settings, inputs, catalog)
			if err := r.op.Pipeline.Apply(ctx, plan); err != nil && ctx.Err() == nil {
				log.Error(err, "Cannot start cluster → Git")
			}
			if err := r.op.Applier.Apply(ctx, applyPlan); err != nil && ctx.Err() == nil {
				log.Error(err, "Cannot start Git → cluster")
			}
		}
		if !r.wait(ctx, key, resync.C) {
			return nil
		}
		r.catalogs.Invalidate()
	}
}

// wait keeps the inventory ConfigMap current until the next resync; false when ctx ended.
func (r *fileModeRunner) wait(ctx context.Context, key types.NamespacedName, resync <-chan time.Time) bool {
	for {
		select {
		case <-ctx.Done():
			return false
		case <-resync:
			return true
		case <-r.changed:
			status, ok := r.op.Applier.Status(key)
			if !ok || !status.Done {
				continue
			}
			// Without a GitTarget there is no Applied condition: its changes go to the log.
			if report := status.Reason + ": " + status.Message; report != r.reported {
				r.reported = report
				log := ctrl.Log.WithName("filemode")
				if status.Reason == configv1alpha1.ReasonApplied {
					log.Info("Git → cluster applied", "revision", status.Revision, "result", status.Message)
				} else {
					log.Info("Git → cluster has problems", "revision", status.Revision, "reason", status.Reason, "problems", status.Message)
				}
			}
			if reflect.DeepEqual(status.Inventory, r.written) {
				continue
			}
			if err := r.writeInventory(ctx, key, status.Inventory, status.Revision); err != nil {
				ctrl.Log.WithName("filemode").Error(err, "Cannot write the inventory; a restart may not prune what leaves Git until it can", "configMap", key.String())
				continue
			}
			r.written = status.Inventory
		}
	}
}

// branch is the configured branch, or the remote's default one, asked until it answers.
func (r *fileModeRunner) branch(ctx context.Context) (string, error) {
	if r.fm.Branch != "" {
		return r.fm.Branch, nil
	}
	for {
		branch, err := gitwriter.DefaultBranch(ctx, r.fm.URL, r.fm.Credentials, filepath.Join(r.workDir, "default-branch"))
		if err == nil {
			return branch, nil
		}
		ctrl.Log.WithName("filemode").Error(err, "Cannot ask the remote for its default branch; trying again", "repository", r.fm.URL)
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(5 * time.Second):
		}
	}
}

// resolveProblems lists what the rules ask for that the API server does not serve.
func resolveProblems(inputs []ruleInput, catalog rules.Catalog) []string {
	var out []string
	for _, in := range inputs {
		_, problems := rules.Resolve(in.rule, in.scope, catalog)
		for _, p := range problems {
			out = append(out, in.origin+": "+p.String())
		}
	}
	return out
}

// inventoryName names the ConfigMap of a repository, branch and folder.
func inventoryName(url, branch, path string) string {
	sum := sha256.Sum256([]byte(url + "\x00" + branch + "\x00" + path))
	return "gitops-reverser-inventory-" + hex.EncodeToString(sum[:6])
}

const inventoryKey = "inventory.json"

func (r *fileModeRunner) readInventory(ctx context.Context, key types.NamespacedName) (*configv1alpha1.ResourceInventory, error) {
	cm := &corev1.ConfigMap{}
	err := r.reader.Get(ctx, key, cm)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	inv := &configv1alpha1.ResourceInventory{}
	if err := json.Unmarshal([]byte(cm.Data[inventoryKey]), inv); err != nil {
		return nil, fmt.Errorf("%s is not an inventory: %w", inventoryKey, err)
	}
	return inv, nil
}

func (r *fileModeRunner) writeInventory(ctx context.Context, key types.NamespacedName, entries []configv1alpha1.ResourceRef, revision string) error {
	data, err := json.Marshal(configv1alpha1.ResourceInventory{Entries: entries})
	if err != nil {
		return err
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name}}
	current := &corev1.ConfigMap{}
	err = r.reader.Get(ctx, key, current)
	switch {
	case apierrors.IsNotFound(err):
		cm.Data = map[string]string{inventoryKey: string(data), "repository": r.fm.URL, "revision": revision}
		return r.client.Create(ctx, cm)
	case err != nil:
		return err
	}
	current.Data = map[string]string{inventoryKey: string(data), "repository": r.fm.URL, "revision": revision}
	return r.client.Update(ctx, current)
}
