package gitwriter

import "time"

// PushPolicy batches commits into pushes: push when MaxCommits commits are pending or Interval
// after the oldest pending commit, whichever comes first. Interval 0 pushes every commit at once.
type PushPolicy struct {
	Interval   time.Duration
	MaxCommits int
}

// dueAt says when pending commits, the oldest made at oldest, must be pushed.
func (p PushPolicy) dueAt(pending int, oldest time.Time) (time.Time, bool) {
	if pending == 0 {
		return time.Time{}, false
	}
	if p.Interval <= 0 || (p.MaxCommits > 0 && pending >= p.MaxCommits) {
		return oldest, true
	}
	return oldest.Add(p.Interval), true
}

// retryBackoff is the wait before the next attempt after failures consecutive failures: it
// doubles from min up to max.
func retryBackoff(failures int, min, max time.Duration) time.Duration {
	if failures <= 0 {
		return 0
	}
	d := min
	for i := 1; i < failures && d < max; i++ {
		d *= 2
	}
	if d > max {
		d = max
	}
	return d
}
