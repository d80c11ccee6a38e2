package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gitops-reverser/gitops-reverser/internal/testenv/gitserver"
)

// pushLog is what the remote's post-receive hook recorded: when each push arrived, and which
// commits it brought.
type pushLog struct {
	path, repoDir string

	mu      sync.Mutex
	read    int                  // lines of the hook's log resolved so far
	arrived map[string]time.Time // commit subject → when its push arrived (first one wins)
	order   []pushedCommit
}

type pushedCommit struct {
	subject string
	at      time.Time
}

// recordPushes installs a post-receive hook in the bare repository that appends "<unix nanos>
// <old> <new>" per push: as little as possible, since receive-pack waits for the hook and a
// slow hook would slow every push down. Which commits a push brought is worked out afterwards.
func recordPushes(repoDir, logPath string) (*pushLog, error) {
	hook := `#!/bin/sh
now=$(date +%s%N)
while read old new ref; do echo "$now $old $new" >> '` + logPath + `'; done
`
	path := filepath.Join(repoDir, "hooks", "post-receive")
	if err := os.WriteFile(path, []byte(hook), 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(logPath, nil, 0o644); err != nil {
		return nil, err
	}
	return &pushLog{path: logPath, repoDir: repoDir, arrived: map[string]time.Time{}}, nil
}

// refresh resolves the pushes logged since the last call into their commits.
func (l *pushLog) refresh() error {
	data, err := os.ReadFile(l.path)
	if err != nil {
		return err
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	l.mu.Lock()
	defer l.mu.Unlock()
	for ; l.read < len(lines) && lines[l.read] != ""; l.read++ {
		f := strings.Fields(lines[l.read])
		if len(f) != 3 {
			return fmt.Errorf("unexpected hook line %q", lines[l.read])
		}
		nanos, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return err
		}
		at := time.Unix(0, nanos)
		args := []string{"log", "--format=%s", f[2]}
		if strings.Trim(f[1], "0") != "" {
			args = []string{"log", "--format=%s", f[1] + ".." + f[2]}
		}
		out, err := gitserver.Run(context.Background(), l.repoDir, nil, args...)
		if err != nil {
			return err
		}
		for _, subject := range strings.Split(strings.TrimSpace(out), "\n") {
			if _, seen := l.arrived[subject]; !seen {
				l.arrived[subject] = at
				l.order = append(l.order, pushedCommit{subject: subject, at: at})
			}
		}
	}
	return nil
}

// await polls for a commit whose subject matches, pushed after since.
func (l *pushLog) await(ctx context.Context, since time.Time, timeout time.Duration, match func(string) bool) (time.Time, error) {
	deadline := time.Now().Add(timeout)
	for {
		if err := l.refresh(); err != nil {
			return time.Time{}, err
		}
		l.mu.Lock()
		for _, c := range l.order {
			if c.at.After(since) && match(c.subject) {
				l.mu.Unlock()
				return c.at, nil
			}
		}
		l.mu.Unlock()
		if time.Now().After(deadline) {
			return time.Time{}, errors.New("timed out")
		}
		select {
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// all maps the subjects of the commits pushed after since to when they arrived.
func (l *pushLog) all(since time.Time) (map[string]time.Time, error) {
	if err := l.refresh(); err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[string]time.Time{}
	for _, c := range l.order {
		if _, seen := out[c.subject]; !seen && c.at.After(since) {
			out[c.subject] = c.at
		}
	}
	return out, nil
}
