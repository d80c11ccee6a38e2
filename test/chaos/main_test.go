package chaos

import (
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/gitops-reverser/gitops-reverser/internal/testenv/stack"
)

// operator is the operator's binary, built once for the package without the race detector:
// three replicas and the load share two cores, and the e2e tests run the race-enabled binary.
var operator string

func TestMain(m *testing.M) {
	os.Exit(stack.WithOperator(false, func(binary string) int {
		operator = binary
		return m.Run()
	}))
}

// size is how hard a run pushes: CHAOS_KILLS, CHAOS_RATE (writes/s), CHAOS_GIT_RATE (commits
// to the applied files per second, each with one drift in the cluster), CHAOS_LOG_LEVEL (the
// replicas' --zap-log-level; debug by default, so a failed run's kept logs say why), CHAOS_GIT_DOWN,
// CHAOS_ALL_DOWN and CHAOS_LEASE (durations; the renew deadline and retry period follow the lease
// as the defaults' 15s, 10s and 2s do) override the CI size.
type size struct {
	kills             int
	rate, gitRate     int
	gitDown, allDown  time.Duration
	lease, renew, try time.Duration
	logLevel          string
}

func sizeFromEnv(t *testing.T) size {
	s := size{kills: 2, rate: 20, gitRate: 1, logLevel: "debug", gitDown: 5 * time.Second, allDown: 3 * time.Second, lease: 4 * time.Second}
	if v := os.Getenv("CHAOS_KILLS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			t.Fatalf("CHAOS_KILLS: %v", err)
		}
		s.kills = n
	}
	for name, n := range map[string]*int{"CHAOS_RATE": &s.rate, "CHAOS_GIT_RATE": &s.gitRate} {
		if v := os.Getenv(name); v != "" {
			parsed, err := strconv.Atoi(v)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			*n = parsed
		}
	}
	for name, d := range map[string]*time.Duration{"CHAOS_GIT_DOWN": &s.gitDown, "CHAOS_ALL_DOWN": &s.allDown, "CHAOS_LEASE": &s.lease} {
		if v := os.Getenv(name); v != "" {
			parsed, err := time.ParseDuration(v)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			*d = parsed
		}
	}
	if v := os.Getenv("CHAOS_LOG_LEVEL"); v != "" {
		s.logLevel = v
	}
	s.renew, s.try = s.lease*2/3, s.lease*2/15
	return s
}
