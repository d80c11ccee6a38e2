package gitwriter

import (
	"fmt"
	"path"
	"strings"
	"time"
)

// FileOp writes Data at Path, or deletes Path when Delete is set. Path is relative to the
// repository root and uses forward slashes.
type FileOp struct {
	Path   string
	Data   []byte
	Delete bool
	// Keep keeps Data readable (Read) after it is pushed: it is written to the local repository
	// on disk too, not only to the in-memory overlay that a push empties. For files that both
	// directions read and edit, such as those of objects split field by field.
	Keep bool
}

// Signature is a name, an email and a time, as written in a commit.
type Signature struct {
	Name  string
	Email string
	When  time.Time
}

// Change is one commit's worth of work.
type Change struct {
	Ops     []FileOp
	Author  Signature
	Message string
	// Committer overrides the Writer's committer identity; its When defaults to Author.When.
	Committer *Signature
}

// validatePath rejects paths that are not clean, relative and free of .git, so that nothing a
// caller passes can write outside the tree or into Git's own metadata.
func validatePath(p string) error {
	switch {
	case p == "" || p == ".":
		return fmt.Errorf("empty path")
	case strings.HasPrefix(p, "/"):
		return fmt.Errorf("path %q is absolute", p)
	case path.Clean(p) != p:
		return fmt.Errorf("path %q is not clean", p)
	case strings.ContainsRune(p, 0):
		return fmt.Errorf("path %q contains NUL", p)
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == ".." || strings.EqualFold(seg, ".git") {
			return fmt.Errorf("path %q has a %q segment", p, seg)
		}
	}
	return nil
}

// Validate checks a change before it reaches the writer's goroutine.
func (c *Change) Validate() error {
	if len(c.Ops) == 0 {
		return fmt.Errorf("change has no file operations")
	}
	if strings.TrimSpace(c.Message) == "" {
		return fmt.Errorf("change has no commit message")
	}
	if c.Author.Name == "" || c.Author.Email == "" {
		return fmt.Errorf("change has no author")
	}
	for _, op := range c.Ops {
		if err := validatePath(op.Path); err != nil {
			return err
		}
	}
	return nil
}
