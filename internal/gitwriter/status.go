package gitwriter

import "time"

// Status is what a Writer reports about its remote: the reason is one of the GitProvider
// condition reasons (Connected, Unreachable, AuthenticationFailed, HostKeyMismatch, ...).
type Status struct {
	Reason  string
	Message string
	// Pending is the number of local commits not yet on the remote.
	Pending int
	// LocalTip and RemoteTip are abbreviated commit hashes.
	LocalTip, RemoteTip string
	// LastPush is when a push last succeeded.
	LastPush time.Time
}

// updateStatus changes the status under the lock and tells OnStatus when something changed.
func (w *Writer) updateStatus(change func(*Status)) {
	w.mu.Lock()
	before := w.status
	change(&w.status)
	after := w.status
	w.mu.Unlock()
	if after != before && w.cfg.OnStatus != nil {
		w.cfg.OnStatus(after)
	}
}
