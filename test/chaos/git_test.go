package chaos

import (
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/gitops-reverser/gitops-reverser/internal/testenv/gitserver"
)

// remoteCommit is a commit on the remote branch, as the git CLI reads it.
type remoteCommit struct {
	hash, subject, user, rv string
	coalesced               bool
	reason                  string // a reconcile's Reconcile-Reason
}

func remoteCommits(t *testing.T, dir, branch string) []remoteCommit {
	t.Helper()
	return remoteCommitsSince(t, dir, branch, "")
}

// remoteCommitsSince lists the commits on the branch after commit from ("": all), oldest first.
func remoteCommitsSince(t *testing.T, dir, branch, from string) []remoteCommit {
	t.Helper()
	if _, ok := gitserver.Refs(t, dir)["refs/heads/"+branch]; !ok {
		return nil
	}
	rng := branch
	if from != "" {
		rng = from + ".." + branch
	}
	out := gitserver.Git(t, dir, "log", "--reverse", "--format=%H%x1f%s%x1f%(trailers:key=Kubernetes-User,valueonly)%x1f"+
		"%(trailers:key=Kubernetes-Resource-Version,valueonly)%x1f%(trailers:key=Kubernetes-Coalesced-Changes,valueonly)%x1f"+
		"%(trailers:key=Reconcile-Reason,valueonly)%x1e", rng)
	var commits []remoteCommit
	for _, rec := range strings.Split(out, "\x1e") {
		f := strings.Split(strings.TrimSpace(rec), "\x1f")
		if len(f) < 6 {
			continue
		}
		commits = append(commits, remoteCommit{hash: f[0], subject: f[1], user: strings.TrimSpace(f[2]), rv: strings.TrimSpace(f[3]),
			coalesced: strings.TrimSpace(f[4]) != "", reason: strings.TrimSpace(f[5])})
	}
	return commits
}

// objectOf is the ConfigMap name a change commit's subject names in namespace ns.
func objectOf(subject, ns string) (string, bool) {
	f := strings.Fields(subject)
	if len(f) < 3 || f[1] != "configmaps" || !strings.HasPrefix(f[2], ns+"/") {
		return "", false
	}
	return strings.TrimPrefix(f[2], ns+"/"), true
}

// audit is what the remote's history says about the writes.
type audit struct {
	lost, duplicated, misattributed, unattributed int
	// missing is the first writes found lost, for the failure message.
	missing []write
}

// gapOf reads the ConfigMaps' history gaps a reconcile commit says it stands in for: the API
// server no longer held their changes between two resourceVersions (a restart emptied its watch
// cache).
var gapOf = regexp.MustCompile(`between resourceVersion (\d+) and (\d+) of [^;]*configmaps`)

// check counts, over the writes that succeeded: writes with no commit of their own
// resourceVersion, not folded into a commit that says it coalesced changes, and not in a history
// gap a reconcile commit names (lost), changes
// committed more than once (duplicated), and commits authored by someone other than the writer.
func check(commits []remoteCommit, writes []write, ns string) audit {
	var a audit
	byObject := map[string][]uint64{}
	coalescedAt := map[string]bool{}
	users := map[string]string{}
	seen := map[string]int{}
	var gaps [][2]uint64
	for _, c := range commits {
		for _, m := range gapOf.FindAllStringSubmatch(c.reason, -1) {
			from, _ := strconv.ParseUint(m[1], 10, 64)
			to, _ := strconv.ParseUint(m[2], 10, 64)
			gaps = append(gaps, [2]uint64{from, to})
		}
		name, ok := objectOf(c.subject, ns)
		rv, err := strconv.ParseUint(c.rv, 10, 64)
		if !ok || err != nil {
			continue
		}
		key := name + "@" + c.rv
		seen[key]++
		byObject[name] = append(byObject[name], rv)
		coalescedAt[key] = c.coalesced
		users[key] = c.user
	}
	for _, n := range seen {
		if n > 1 {
			a.duplicated += n - 1
		}
	}
	for name := range byObject {
		sort.Slice(byObject[name], func(i, j int) bool { return byObject[name][i] < byObject[name][j] })
	}
	for _, w := range writes {
		if w.err != nil {
			continue
		}
		key := w.name + "@" + w.rv
		if _, ok := seen[key]; ok {
			switch users[key] {
			case w.user:
			case "unattributed":
				a.unattributed++
			default:
				a.misattributed++
			}
			continue
		}
		rv, _ := strconv.ParseUint(w.rv, 10, 64)
		rvs := byObject[w.name]
		i := sort.Search(len(rvs), func(i int) bool { return rvs[i] > rv })
		inGap := false
		for _, gap := range gaps {
			inGap = inGap || (rv > gap[0] && rv <= gap[1])
		}
		if !inGap && (i == len(rvs) || !coalescedAt[w.name+"@"+strconv.FormatUint(rvs[i], 10)]) {
			a.lost++
			if len(a.missing) < 20 {
				a.missing = append(a.missing, w)
			}
		}
	}
	return a
}
