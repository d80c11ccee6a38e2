package gitserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
)

// exitStatusFailure is what git itself exits with on fatal errors, so clients
// print their usual "Could not read from remote repository" hint.
const exitStatusFailure = 128

// handleSession serves one SSH session channel: any number of env requests
// followed by a single exec of a git service.
func (s *SSHServer) handleSession(ctx context.Context, nc ssh.NewChannel) {
	ch, reqs, err := nc.Accept()
	if err != nil {
		return
	}
	defer ch.Close()
	var gitProtocol string
	var done chan struct{}
	for req := range reqs {
		switch {
		case req.Type == "env" && done == nil:
			// Git sends GIT_PROTOCOL=version=2 this way; upload-pack needs it to
			// speak protocol v2. Other variables are refused like sshd's
			// default AcceptEnv would.
			var kv struct{ Name, Value string }
			ok := ssh.Unmarshal(req.Payload, &kv) == nil && kv.Name == "GIT_PROTOCOL"
			if ok {
				gitProtocol = kv.Value
			}
			_ = req.Reply(ok, nil)
		case req.Type == "exec" && done == nil:
			var payload struct{ Command string }
			if err := ssh.Unmarshal(req.Payload, &payload); err != nil {
				_ = req.Reply(false, nil)
				continue
			}
			_ = req.Reply(true, nil)
			done = make(chan struct{})
			go func(done chan struct{}, command, gitProtocol string) {
				defer close(done)
				s.exec(ctx, ch, command, gitProtocol)
			}(done, payload.Command, gitProtocol)
		default:
			// No shell, pty or subsystems: this is a Git server, not a host.
			_ = req.Reply(false, nil)
		}
	}
	// reqs closes when the channel does; exec closes it when git exits.
	if done != nil {
		<-done
	}
}

// exec runs the requested git service and reports its exit status the way
// sshd does, which is how clients tell a failed push from a successful one.
func (s *SSHServer) exec(ctx context.Context, ch ssh.Channel, command, gitProtocol string) {
	status, stdinDone := s.runGit(ctx, ch, command, gitProtocol)
	_ = ch.CloseWrite()
	_, _ = ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{status}))
	_ = ch.Close()
	// The stdin copier only notices the end of the session once the channel
	// is closed; wait for it so no goroutine outlives Stop.
	<-stdinDone
}

func (s *SSHServer) runGit(ctx context.Context, ch ssh.Channel, command, gitProtocol string) (uint32, <-chan struct{}) {
	stdinDone := make(chan struct{})
	fail := func(err error) (uint32, <-chan struct{}) {
		_, _ = fmt.Fprintf(ch.Stderr(), "gitserver: %v\n", err)
		close(stdinDone)
		return exitStatusFailure, stdinDone
	}
	service, repo, err := parseGitCommand(command)
	if err != nil {
		return fail(err)
	}
	dir, err := resolveRepo(s.root, repo)
	if err != nil {
		return fail(err)
	}
	args := []string{dir}
	if service == "upload-pack" {
		// --strict stops upload-pack from trying "<dir>/.git" and friends,
		// so it serves exactly the directory resolveRepo vetted.
		args = []string{"--strict", dir}
	}
	cmd := exec.CommandContext(ctx, filepath.Join(s.execPath, "git-"+service), args...)
	cmd.Dir = dir
	cmd.Env = Env(s.root)
	if gitProtocol != "" {
		cmd.Env = append(cmd.Env, "GIT_PROTOCOL="+gitProtocol)
	}
	cmd.Stdout = ch
	cmd.Stderr = ch.Stderr()
	// Bounds Stop: once the process is killed, don't wait forever for output
	// copies to a client that stopped reading.
	cmd.WaitDelay = 5 * time.Second
	// An explicit pipe instead of cmd.Stdin = ch: Wait would otherwise block
	// until the client closes its side, which clients only do after they saw
	// the exit status we can only send once Wait returns.
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return fail(fmt.Errorf("creating stdin pipe: %w", err))
	}
	if err := cmd.Start(); err != nil {
		return fail(fmt.Errorf("starting git-%s: %w", service, err))
	}
	go func() {
		defer close(stdinDone)
		_, _ = io.Copy(stdin, ch)
		_ = stdin.Close() // EOF for git; Wait may already have closed it
	}()
	if err := cmd.Wait(); err != nil {
		if exitErr, ok := errors.AsType[*exec.ExitError](err); ok && exitErr.ExitCode() > 0 {
			return uint32(exitErr.ExitCode()), stdinDone
		}
		_, _ = fmt.Fprintf(ch.Stderr(), "gitserver: git-%s: %v\n", service, err)
		return exitStatusFailure, stdinDone
	}
	return 0, stdinDone
}

// parseGitCommand accepts the exec commands Git clients send:
//
//	git-upload-pack '/repo.git'   (git CLI, go-git)
//	git-receive-pack 'repo.git'   (scp-like URLs have no leading slash)
//	git upload-pack /repo.git     (some clients, unquoted)
//
// and returns the service ("upload-pack" or "receive-pack") and repository.
// No shell ever sees the command; quoting is undone here only to recover the
// path argument.
func parseGitCommand(command string) (service, repo string, err error) {
	words, err := shellWords(command)
	if err != nil {
		return "", "", fmt.Errorf("parsing command %q: %w", command, err)
	}
	if len(words) == 3 && words[0] == "git" {
		words = []string{"git-" + words[1], words[2]}
	}
	if len(words) != 2 {
		return "", "", fmt.Errorf("unsupported command %q", command)
	}
	switch words[0] {
	case "git-upload-pack", "git-receive-pack":
		return strings.TrimPrefix(words[0], "git-"), words[1], nil
	default:
		return "", "", fmt.Errorf("unsupported command %q: only git-upload-pack and git-receive-pack are allowed", command)
	}
}

// shellWords splits s like a POSIX shell would for the subset Git emits:
// whitespace-separated words with single quotes, double quotes and backslash
// escapes (git's sq_quote writes ' as '\” and ! as '\!').
func shellWords(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case c == '\'':
			end := strings.IndexByte(s[i+1:], '\'')
			if end < 0 {
				return nil, errors.New("unterminated single quote")
			}
			cur.WriteString(s[i+1 : i+1+end])
			i += end + 1
			inWord = true
		case c == '"':
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte("\\\"$`", s[i+1]) >= 0 {
					i++
				}
				cur.WriteByte(s[i])
			}
			if i >= len(s) {
				return nil, errors.New("unterminated double quote")
			}
			inWord = true
		case c == '\\':
			if i+1 >= len(s) {
				return nil, errors.New("trailing backslash")
			}
			i++
			cur.WriteByte(s[i])
			inWord = true
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}
