package gitwriter

import "time"

// Status is what a Writer reports about its remote: the reason is one of the GitProvider
// condition reasons (Connected, Unreachable, AuthenticationFailed, HostKeyMismatch, ...).
type Status struct {
	Reason  string
	Message string
	// Pending is the number of local commits not yet on the remote.
	Pending int
	// LocalTip and RemoteTip are abbreviated commit hashes; RemoteCommit is RemoteTip in full.
	LocalTip, RemoteTip string
	RemoteCommit        string
	// LastPush is when a push last succeeded.
	LastPush time.Time
}

// updateStatus changes the status under the lock and tells OnStatus when its health (reason or
// message) changed. Every commit and push changes the rest; telling of those made the
// GitProvider check its remote once per commit, a connection of its own to the Git server each
// time, under exactly the load the pushes compete with.
func (w *Writer) updateStatus(change func(*Status)) {
	w.mu.Lock()
	before := w.status
	change(&w.status)
	after := w.status
	w.mu.Unlock()
	if (after.Reason != before.Reason || after.Message != before.Message) && w.cfg.OnStatus != nil {
		w.cfg.OnStatus(after)
	}
}
