// Command gitops-reverser runs the operator: it watches the resources selected by WatchRules and
// ClusterWatchRules and writes them to the Git folders of their GitTargets.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	configv1alpha1 "github.com/gitops-reverser/gitops-reverser/api/v1alpha1"
	"github.com/gitops-reverser/gitops-reverser/internal/attribution"
	"github.com/gitops-reverser/gitops-reverser/internal/certs"
	"github.com/gitops-reverser/gitops-reverser/internal/controller"
	"github.com/gitops-reverser/gitops-reverser/internal/memlimit"
	"github.com/gitops-reverser/gitops-reverser/internal/peers"
)

func main() {
	// `make run | tee log` and Ctrl-C: tee ends first, and an unhandled SIGPIPE on the next log
	// line would kill the operator before its Git writers push what is pending. Handled, the
	// write fails quietly and the shutdown goes on.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
	if err := run(ctrl.SetupSignalHandler(), os.Args[1:], ctrl.GetConfig); err != nil {
		fmt.Fprintln(os.Stderr, "gitops-reverser:", err)
		os.Exit(1)
	}
}

// options are the command-line flags.
type options struct {
	metricsAddr             string
	probeAddr               string
	pprofAddr               string
	leaderElect             bool
	leaderElectionNamespace string
	leaseDuration           time.Duration
	renewDeadline           time.Duration
	retryPeriod             time.Duration
	workDir                 string
	zap                     zap.Options

	attribution     string
	attributionWait time.Duration
	attributionTTL  time.Duration
	webhookHost     string
	webhookPort     int
	webhookCertDir  string
	// Self-managed certificates: the Secret to fill, the Service the certificate is for, and
	// the webhook configurations to inject the CA into.
	webhookCertSecret  string
	webhookService     string
	webhookConfigs     string
	attributionWebhook string
	namespace          string
	clusterName        string
	resync             time.Duration
	memoryLimit        string
	gcPercent          int
	sensitive          string

	defaultServiceAccount string
	applyConcurrency      int
	escalationCheck       bool

	// The file-config mode: a repository URL as the only argument.
	file fileModeFlags
}

// Attribution sources, as --attribution names them.
const (
	attributionAdmission = "admission"
	attributionAudit     = "audit"
	attributionBoth      = "both"
	attributionNone      = "none"
)

func (o options) admission() bool {
	return o.attribution == attributionAdmission || o.attribution == attributionBoth
}

func (o options) audit() bool {
	return o.attribution == attributionAudit || o.attribution == attributionBoth
}

func parseFlags(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("gitops-reverser", flag.ContinueOnError)
	fs.StringVar(&o.metricsAddr, "metrics-bind-address", ":8080", "Address the Prometheus metrics endpoint binds to; 0 disables it.")
	fs.StringVar(&o.probeAddr, "health-probe-bind-address", ":8081", "Address the /healthz and /readyz endpoints bind to.")
	fs.StringVar(&o.pprofAddr, "pprof-bind-address", "0", "Address Go's pprof endpoints bind to, for profiling; 0 disables them.")
	fs.BoolVar(&o.leaderElect, "leader-elect", false, "Elect a leader so that only one replica writes to Git; the others stand by.")
	fs.StringVar(&o.leaderElectionNamespace, "leader-election-namespace", "", "Namespace of the leader election Lease; defaults to the pod's namespace.")
	// kube-controller-manager's values: a leader that lost the API server for 10 s stops before
	// another can take over at 15 s, and a kill -9 is taken over within 15 s plus one retry.
	fs.DurationVar(&o.leaseDuration, "leader-election-lease-duration", 15*time.Second,
		"How long a Lease holds after its last renewal: the longest a dead leader keeps the others waiting.")
	fs.DurationVar(&o.renewDeadline, "leader-election-renew-deadline", 10*time.Second,
		"How long the leader keeps trying to renew before it gives up leading and exits; must be less than the lease duration.")
	fs.DurationVar(&o.retryPeriod, "leader-election-retry-period", 2*time.Second,
		"How often the leader renews and the others try to take the Lease.")
	fs.StringVar(&o.workDir, "work-dir", "/var/lib/gitops-reverser", "Directory for the local clones of the Git writers; emptied per writer at start.")
	fs.StringVar(&o.attribution, "attribution", attributionAdmission,
		"Where commit authors come from: admission (the validating webhook of config/webhook; works on every cluster), audit (the API server's audit webhook; exact, self-managed clusters only), both, or none.")
	fs.DurationVar(&o.attributionWait, "attribution-wait", 0,
		"How long a change waits for its author before it is committed as unattributed (default 1s with admission, 3s with audit).")
	fs.DurationVar(&o.attributionTTL, "attribution-ttl", attribution.DefaultTTL,
		"How long an author is kept for a change not yet committed: changes of a GitTarget suspended longer, or held longer for any reason, are committed as unattributed. At most 100,000 are kept (about 0.4 KB each).")
	fs.StringVar(&o.webhookHost, "webhook-host", "", "Address the webhook server (admission and audit receivers) binds to; empty binds every address.")
	fs.IntVar(&o.webhookPort, "webhook-port", 9443, "Port of the webhook server.")
	fs.StringVar(&o.webhookCertDir, "webhook-cert-dir", "", "Directory with tls.crt and tls.key for the webhook server (default: controller-runtime's, /tmp/k8s-webhook-server/serving-certs).")
	fs.StringVar(&o.webhookCertSecret, "webhook-cert-secret", "",
		"Secret (in --namespace) in which the operator makes and renews its own webhook certificate, and writes it to --webhook-cert-dir; empty: the certificate is provided there by someone else, such as cert-manager.")
	fs.StringVar(&o.webhookService, "webhook-service", "gitops-reverser-webhook-service",
		"Service (in --namespace) the API server reaches the webhooks through: the self-made certificate is for <service>.<namespace>.svc.")
	fs.StringVar(&o.attributionWebhook, "attribution-webhook", "gitops-reverser-attribution",
		"The attribution webhook's ValidatingWebhookConfiguration, whose rules the operator keeps to the resources its rules capture (none without admission attribution), so that no other write of the cluster calls it; empty leaves its rules alone.")
	fs.StringVar(&o.webhookConfigs, "webhook-configurations", "gitops-reverser-attribution,gitops-reverser-escalation",
		"Comma-separated ValidatingWebhookConfigurations the self-made certificate's CA is injected into.")
	fs.StringVar(&o.namespace, "namespace", "", "The operator's own namespace (default: $POD_NAMESPACE, else the service account's).")
	fs.StringVar(&o.clusterName, "cluster-name", "cluster", "Name of the cluster in authors' addresses: <user>@<cluster-name>.kubernetes.invalid.")
	fs.StringVar(&o.sensitive, "sensitive-resources", "secrets",
		"Comma-separated resources (plural, with their API group: secrets, sealedsecrets.bitnami.com) whose objects are only ever written encrypted.")
	fs.StringVar(&o.defaultServiceAccount, "default-service-account", "",
		"ServiceAccount (in the rule's namespace; the GitTarget's for ClusterWatchRules) that rules without spec.serviceAccountName apply as. Set it on multi-tenant clusters so that nothing is ever applied with the operator's own permissions.")
	fs.BoolVar(&o.escalationCheck, "escalation-check", true,
		"Serve the validating webhook on our own kinds (config/webhook) that refuses a WatchRule, ClusterWatchRule, GitTarget or GitProvider granting more than its author holds. Only for runs without that webhook installed, such as make run.")
	fs.IntVar(&o.applyConcurrency, "apply-concurrency", 16, "How many objects are applied to the cluster at once.")
	fs.StringVar(&o.memoryLimit, "memory-limit", memlimit.Auto,
		"The Go runtime's soft memory limit: auto (90% of the container's memory limit, none without one or with GOMEMLIMIT set), none, or a quantity such as 200Mi.")
	fs.IntVar(&o.gcPercent, "gc-percent", memlimit.DefaultGCPercent,
		"Go's GOGC: how far the heap grows past what is live before a collection, in percent (GOGC in the environment wins).")
	fs.DurationVar(&o.resync, "resync-period", 10*time.Minute, "How often every GitTarget's folder is reconciled with the cluster even when nothing went wrong.")
	o.file.bind(fs)
	o.zap.Development = false
	o.zap.BindFlags(fs)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: gitops-reverser [flags]                   the operator, configured by our custom resources")
		fmt.Fprintln(fs.Output(), "       gitops-reverser [flags] <repository-url>  the rules of --config for one repository, without custom resources")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		// Flags may follow the URL too: `gitops-reverser <url> --branch env/prod`.
		url := fs.Arg(0)
		if err := fs.Parse(fs.Args()[1:]); err != nil {
			return o, err
		}
		if fs.NArg() > 0 {
			return o, fmt.Errorf("unexpected arguments: %v (only one repository URL may be given)", fs.Args())
		}
		if err := o.file.take(fs, url, &o); err != nil {
			return o, err
		}
	}
	switch o.attribution {
	case attributionAdmission, attributionAudit, attributionBoth, attributionNone:
	default:
		return o, fmt.Errorf("--attribution must be admission, audit, both or none, not %q", o.attribution)
	}
	if o.namespace == "" {
		o.namespace = ownNamespace()
	}
	if o.webhookCertSecret != "" && o.namespace == "" {
		return o, errors.New("--webhook-cert-secret needs --namespace outside a pod")
	}
	if o.leaderElectionNamespace == "" {
		o.leaderElectionNamespace = o.namespace
	}
	if o.leaderElect && (o.retryPeriod <= 0 || o.renewDeadline <= o.retryPeriod || o.leaseDuration <= o.renewDeadline) {
		return o, fmt.Errorf("leader election needs retry period < renew deadline < lease duration, not %s, %s and %s",
			o.retryPeriod, o.renewDeadline, o.leaseDuration)
	}
	if o.attributionWait == 0 {
		o.attributionWait = time.Second
		if o.audit() {
			o.attributionWait = 3 * time.Second
		}
	}
	return o, nil
}

// run starts the manager and blocks until ctx is cancelled or the manager fails.
func run(ctx context.Context, args []string, getConfig func() (*rest.Config, error)) error {
	opts, err := parseFlags(args)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&opts.zap)))
	log := ctrl.Log.WithName("setup")
	limit, err := memlimit.Decide(opts.memoryLimit, "/", os.Getenv)
	if err != nil {
		return err
	}
	limit.Apply()
	gc := memlimit.SetGCPercent(opts.gcPercent, os.Getenv)
	log.Info("Memory limit", "bytes", limit.Bytes, "from", limit.Source, "gcPercent", gc)

	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return fmt.Errorf("registering built-in types: %w", err)
	}
	if err := configv1alpha1.AddToScheme(scheme); err != nil {
		return fmt.Errorf("registering configbutler.ai types: %w", err)
	}

	cfg, err := getConfig()
	if err != nil {
		return fmt.Errorf("loading the Kubernetes client configuration: %w", err)
	}
	// Served on every replica, and only when a webhook uses it: added to the manager below, once
	// its certificate is in place.
	srv := webhook.NewServer(webhook.Options{
		Host: opts.webhookHost, Port: opts.webhookPort, CertDir: opts.webhookCertDir,
		TLSOpts: []func(*tls.Config){peers.RequestClientCertificates},
	})
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                        scheme,
		WebhookServer:                 srv,
		Metrics:                       metricsserver.Options{BindAddress: opts.metricsAddr},
		HealthProbeBindAddress:        opts.probeAddr,
		PprofBindAddress:              opts.pprofAddr,
		LeaderElection:                opts.leaderElect,
		LeaderElectionID:              "gitops-reverser.configbutler.ai",
		LeaderElectionNamespace:       opts.leaderElectionNamespace,
		LeaderElectionReleaseOnCancel: true,
		LeaseDuration:                 &opts.leaseDuration,
		RenewDeadline:                 &opts.renewDeadline,
		RetryPeriod:                   &opts.retryPeriod,
		Cache:                         cache.Options{DefaultTransform: controller.CacheTransform},
		// Secrets and ConfigMaps are read when needed, not cached: caching them would hold every
		// Secret of the cluster in the operator's memory.
		Client: client.Options{Cache: &client.CacheOptions{DisableFor: []client.Object{&corev1.Secret{}, &corev1.ConfigMap{}}}},
	})
	if err != nil {
		return fmt.Errorf("creating the controller manager: %w", err)
	}
	attributor, err := setupAttribution(mgr, srv, cfg, opts)
	if err != nil {
		return err
	}
	sensitive := map[schema.GroupResource]bool{}
	for _, r := range strings.Split(opts.sensitive, ",") {
		if r = strings.TrimSpace(r); r != "" {
			sensitive[schema.ParseGroupResource(r)] = true
		}
	}
	controllerOpts := controller.Options{
		WorkDir: opts.workDir, Attribution: attributor, AttributionWait: opts.attributionWait,
		Cluster: opts.clusterName, Resync: opts.resync,
		Sensitive:             func(gr schema.GroupResource) bool { return sensitive[gr] },
		DefaultServiceAccount: opts.defaultServiceAccount, ApplyConcurrency: opts.applyConcurrency,
		AttributionWebhook: opts.attributionWebhook, AdmissionAttribution: opts.admission(),
	}
	serving := opts.attribution != attributionNone
	if opts.file.url != "" {
		if err := controller.SetupFileMode(mgr, controllerOpts, opts.file.mode); err != nil {
			return err
		}
	} else if operator, err := controller.SetupAll(mgr, controllerOpts); err != nil {
		return err
	} else if serving = serving || opts.escalationCheck; serving {
		if opts.escalationCheck {
			if err := setupEscalationCheck(mgr, srv, cfg); err != nil {
				return err
			}
		}
		setupPushReceiver(mgr, srv, operator)
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return fmt.Errorf("adding the health check: %w", err)
	}
	// Ready means able to serve the webhooks, on every replica: leadership plays no part.
	ready := healthz.Ping
	if serving {
		if err := serveWebhooks(mgr, srv, opts); err != nil {
			return err
		}
		ready = srv.StartedChecker()
	}
	if err := mgr.AddReadyzCheck("readyz", ready); err != nil {
		return fmt.Errorf("adding the readiness check: %w", err)
	}

	log.Info("Starting manager", "metricsAddr", opts.metricsAddr, "probeAddr", opts.probeAddr, "leaderElect", opts.leaderElect,
		"attribution", opts.attribution)
	if err := mgr.Start(ctx); err != nil {
		return fmt.Errorf("running the controller manager: %w", err)
	}
	return nil
}

// serveWebhooks starts the webhook server, with the certificate the operator makes itself when
// --webhook-cert-secret names its Secret.
func serveWebhooks(mgr manager.Manager, srv webhook.Server, opts options) error {
	if opts.webhookCertSecret == "" {
		return certs.ServeWhenReady(mgr, srv, nil)
	}
	var configs []string
	for _, name := range strings.Split(opts.webhookConfigs, ",") {
		if name = strings.TrimSpace(name); name != "" {
			configs = append(configs, name)
		}
	}
	ready, err := certs.Manage(mgr, certs.Options{
		Secret:   types.NamespacedName{Namespace: opts.namespace, Name: opts.webhookCertSecret},
		Dir:      opts.certDir(),
		Service:  opts.webhookService,
		Webhooks: configs,
		Log:      ctrl.Log.WithName("certs"),
	})
	if err != nil {
		return err
	}
	return certs.ServeWhenReady(mgr, srv, ready)
}

// certDir is where the webhook server reads its certificate.
func (o options) certDir() string {
	if o.webhookCertDir != "" {
		return o.webhookCertDir
	}
	return filepath.Join(os.TempDir(), "k8s-webhook-server", "serving-certs") // the server's default
}

// ownNamespace is the namespace the operator runs in, when it runs in a pod.
func ownNamespace() string {
	if ns := os.Getenv("POD_NAMESPACE"); ns != "" {
		return ns
	}
	data, err := os.ReadFile("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(data))
}
