package gitwriter

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/pktline"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp/capability"
	"github.com/go-git/go-git/v5/plumbing/transport"
)

// errDeadConnection says a kept connection broke before the push sent anything: the push is
// tried once more on a fresh one.
var errDeadConnection = errors.New("the kept SSH connection is dead")

// pushSSH runs git-receive-pack in a session on the kept connection and speaks the push
// protocol itself (what go-git's transport would do over a connection of its own).
func (r *goGitRemote) pushSSH(ctx context.Context, branch string, old, new plumbing.Hash, pack []byte) (*packp.ReportStatus, error) {
	report, err := r.receivePackSSH(ctx, branch, old, new, pack)
	if errors.Is(err, errDeadConnection) {
		report, err = r.receivePackSSH(ctx, branch, old, new, pack)
	}
	return report, err
}

// receivePackSSH is one attempt of pushSSH. A failure to read the advertisement on a reused
// connection is errDeadConnection; everything after the commands were sent is final, since the
// remote may have taken them.
func (r *goGitRemote) receivePackSSH(ctx context.Context, branch string, old, new plumbing.Hash, pack []byte) (*packp.ReportStatus, error) {
	sess, client, reused, err := r.ssh.session(ctx)
	if err != nil {
		return nil, err
	}
	// Reads and writes on a dead connection block until TCP gives up; closing the connection
	// is what ends them when ctx does. The next push dials again.
	stop := context.AfterFunc(ctx, func() { r.ssh.drop(client) })
	finished := false
	defer func() {
		stop()
		if !finished {
			_ = sess.Close()
		}
	}()
	stdin, err := sess.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("opening the session's input: %w", err)
	}
	stdout, err := sess.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("opening the session's output: %w", err)
	}
	stderr := &cappedBuffer{max: 4096}
	sess.Stderr = stderr
	if err := sess.Start("git-receive-pack " + shellQuote(r.endpoint.ep.Path)); err != nil {
		if reused {
			return nil, fmt.Errorf("%w: %v", errDeadConnection, err)
		}
		return nil, fmt.Errorf("starting git-receive-pack: %w", err)
	}
	adv := packp.NewAdvRefs()
	if err := adv.Decode(stdout); err != nil && !errors.Is(err, packp.ErrEmptyAdvRefs) {
		// Nothing was read: the server refused (its reason is on stderr) or the connection died.
		_ = sess.Wait()
		if msg := stderr.firstLine(); msg != "" || !reused {
			return nil, advertisementError(err, msg)
		}
		return nil, fmt.Errorf("%w: reading the advertisement: %v", errDeadConnection, err)
	}
	name := plumbing.NewBranchReferenceName(branch)
	current, err := advertised(adv, name)
	if err != nil {
		return nil, err
	}
	if current != old {
		// Tell receive-pack we push nothing, so it exits cleanly.
		_, _ = stdin.Write(pktline.FlushPkt)
		return nil, fmt.Errorf("%w: %s is at %s, not at %s", ErrStale, branch, short(current), short(old))
	}
	req := packp.NewReferenceUpdateRequestFromCapabilities(adv.Capabilities)
	if adv.Capabilities.Supports(capability.Quiet) {
		req.Capabilities.Set(capability.Quiet) // no progress for a reader who would drop it
	}
	req.Commands = []*packp.Command{{Name: name, Old: old, New: new}}
	req.Packfile = io.NopCloser(bytes.NewReader(pack))
	// pkt-lines are tiny writes, and each write to a channel is an SSH packet of its own.
	bw := bufio.NewWriterSize(stdin, 64<<10)
	if err := req.Encode(bw); err != nil {
		return nil, fmt.Errorf("sending the update: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return nil, fmt.Errorf("sending the update: %w", err)
	}
	if err := stdin.Close(); err != nil {
		return nil, fmt.Errorf("sending the update: %w", err)
	}
	if !req.Capabilities.Supports(capability.ReportStatus) {
		// The exit status is all there is to go by.
		if err := sess.Wait(); err != nil {
			return nil, fmt.Errorf("git-receive-pack failed: %w%s", err, stderr.suffix())
		}
		return nil, nil
	}
	report := packp.NewReportStatus()
	if err := report.Decode(stdout); err != nil {
		return nil, fmt.Errorf("reading the push's report: %w%s", err, stderr.suffix())
	}
	if err := report.Error(); err != nil {
		return report, fmt.Errorf("%w%s", err, stderr.suffix())
	}
	// The branch is updated. receive-pack still runs post-receive hooks and maybe auto gc:
	// let them finish undisturbed (hanging up would break their output) without the Writer
	// waiting for them; the next push opens a session of its own beside this one.
	finished = true
	go func() {
		_, _ = io.Copy(io.Discard, stdout)
		_ = sess.Wait()
		_ = sess.Close()
	}()
	return report, nil
}

// advertised is where the advertisement says branch name is (zero: absent).
func advertised(adv *packp.AdvRefs, name plumbing.ReferenceName) (plumbing.Hash, error) {
	refs, err := adv.AllReferences()
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("reading the remote's branches: %w", err)
	}
	if ref, ok := refs[name]; ok {
		return ref.Hash(), nil
	}
	return plumbing.ZeroHash, nil
}

// advertisementError turns a failed advertisement into the errors go-git's transport gives,
// which Classify knows.
func advertisementError(err error, stderr string) error {
	var errLine *pktline.ErrorLine
	switch {
	case errors.As(err, &errLine):
		stderr = errLine.Text
	case stderr == "":
		return fmt.Errorf("reading the advertisement: %w", err)
	}
	if isRepoNotFound(stderr) {
		return fmt.Errorf("%w: %s", transport.ErrRepositoryNotFound, stderr)
	}
	return fmt.Errorf("the server refused git-receive-pack: %s", stderr)
}

// isRepoNotFound recognizes the "no such repository" messages of common servers, as go-git's
// transport does.
func isRepoNotFound(msg string) bool {
	for _, s := range []string{
		"Repository not found.", "repository does not exist.", "does not appear to be a git repository",
		"no such repository", "access denied", "Repository does not exist or you do not have access",
		"The project you were looking for could not be found",
	} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// cappedBuffer keeps the first max bytes of a session's stderr: enough for the server's reason,
// and bounded whatever it prints. It is written by the SSH library's copier goroutine.
type cappedBuffer struct {
	max int
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := b.max - b.buf.Len(); room > 0 {
		b.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (b *cappedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.TrimSpace(b.buf.String())
}

// firstLine is the first line that says something ("remote:" lines of only "=" are noise).
func (b *cappedBuffer) firstLine() string {
	for _, line := range strings.Split(b.String(), "\n") {
		if t := strings.Trim(strings.TrimPrefix(strings.TrimSpace(line), "remote:"), " ="); t != "" {
			return strings.TrimSpace(line)
		}
	}
	return ""
}

// suffix is the stderr text to append to an error, if any.
func (b *cappedBuffer) suffix() string {
	if s := b.String(); s != "" {
		return " (" + strings.ReplaceAll(s, "\n", "; ") + ")"
	}
	return ""
}
