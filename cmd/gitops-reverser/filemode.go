package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/gitops-reverser/gitops-reverser/internal/controller"
	"github.com/gitops-reverser/gitops-reverser/internal/fileconfig"
	"github.com/gitops-reverser/gitops-reverser/internal/gitwriter"
)

// fileModeFlags are the flags of the file-config mode, git-controller's interface:
// `gitops-reverser [flags] <repository-url>` with a config.yaml of kinds and rules.
type fileModeFlags struct {
	url                    string
	config, branch, folder string
	sshKey, knownHosts     string
	inventoryNamespace     string
	interval               time.Duration
	mode                   controller.FileMode
}

func (f *fileModeFlags) bind(fs *flag.FlagSet) {
	fs.StringVar(&f.config, "config", "config.yaml", "File-config mode: git-controller's configuration file (kinds and rules).")
	fs.StringVar(&f.branch, "branch", "", "File-config mode: the branch to sync; default: the remote's default branch.")
	fs.StringVar(&f.folder, "path", "", "File-config mode: the folder of the repository to sync; default: the repository root.")
	fs.DurationVar(&f.interval, "interval", 10*time.Second, "File-config mode: how often the branch is fetched (there is no push webhook in this mode).")
	fs.StringVar(&f.sshKey, "ssh-key", "", "File-config mode: the SSH private key file; default: the SSH agent, else ~/.ssh/id_ed25519, id_ecdsa or id_rsa.")
	fs.StringVar(&f.knownHosts, "known-hosts", "", "File-config mode: the known_hosts file; default: ~/.ssh/known_hosts.")
	fs.StringVar(&f.inventoryNamespace, "inventory-namespace", "default", "File-config mode: namespace of the ConfigMap that records what was applied, for prune.")
}

// take switches to the file-config mode for url: the configuration is read and checked now, so
// that a mistake is one line and a non-zero exit, and defaults fit a person running the binary
// (no webhook server, no metrics or probe ports, a work directory in the user's cache).
func (f *fileModeFlags) take(fs *flag.FlagSet, url string, o *options) error {
	set := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	cfg, err := fileconfig.Load(f.config)
	if err != nil {
		return err
	}
	folder := strings.Trim(f.folder, "/")
	if folder != "" && (path.Clean(folder) != folder || strings.HasPrefix(folder, "..")) {
		return fmt.Errorf("--path %q must be a clean folder inside the repository", f.folder)
	}
	if f.interval <= 0 {
		return fmt.Errorf("--interval must be positive, not %s", f.interval)
	}
	home, _ := os.UserHomeDir()
	creds, err := localCredentials(url, f.sshKey, f.knownHosts, home, os.Getenv)
	if err != nil {
		return err
	}
	if !set["attribution"] {
		o.attribution = attributionNone
	}
	if !set["metrics-bind-address"] {
		o.metricsAddr = "0"
	}
	if !set["health-probe-bind-address"] {
		o.probeAddr = "0"
	}
	if !set["work-dir"] {
		cache, err := os.UserCacheDir()
		if err != nil {
			cache = os.TempDir()
		}
		o.workDir = filepath.Join(cache, "gitops-reverser", "work")
	}
	f.url = url
	f.mode = controller.FileMode{
		URL: url, Branch: f.branch, Path: folder, Interval: f.interval, Credentials: creds,
		Config: cfg, ConfigFile: f.config, InventoryNamespace: f.inventoryNamespace,
	}
	return nil
}

// localCredentials authenticate the way git would for the user running the binary: over SSH the
// given key file, else the SSH agent, else the user's default keys, checked against known_hosts;
// over HTTPS GIT_USERNAME and GIT_PASSWORD, or GIT_TOKEN, and GIT_SSL_CAINFO for a private CA.
func localCredentials(url, keyFile, knownHostsFile, home string, getenv func(string) string) (gitwriter.Credentials, error) {
	var c gitwriter.Credentials
	if strings.HasPrefix(url, "https://") || strings.HasPrefix(url, "http://") {
		c.Username, c.Password, c.BearerToken = getenv("GIT_USERNAME"), getenv("GIT_PASSWORD"), getenv("GIT_TOKEN")
		if ca := getenv("GIT_SSL_CAINFO"); ca != "" {
			data, err := os.ReadFile(ca)
			if err != nil {
				return c, fmt.Errorf("reading GIT_SSL_CAINFO: %w", err)
			}
			c.CABundle = data
		}
		return c, nil
	}
	if strings.HasPrefix(url, "file://") {
		return c, nil
	}
	if knownHostsFile == "" {
		knownHostsFile = filepath.Join(home, ".ssh", "known_hosts")
	}
	data, err := os.ReadFile(knownHostsFile)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return c, fmt.Errorf("reading known_hosts: %w", err)
	}
	c.KnownHosts = data // none: the connection fails closed, saying which ssh-keyscan to run
	switch {
	case keyFile != "":
		if c.SSHPrivateKey, err = os.ReadFile(keyFile); err != nil {
			return c, fmt.Errorf("reading --ssh-key: %w", err)
		}
	case getenv("SSH_AUTH_SOCK") != "":
		c.SSHAgent = true
	default:
		for _, name := range []string{"id_ed25519", "id_ecdsa", "id_rsa"} {
			if data, err := os.ReadFile(filepath.Join(home, ".ssh", name)); err == nil {
				c.SSHPrivateKey = data
				break
			}
		}
		if c.SSHPrivateKey == nil {
			return c, fmt.Errorf("no SSH key for %s: start an SSH agent, create ~/.ssh/id_ed25519, or pass --ssh-key", url)
		}
	}
	return c, nil
}
