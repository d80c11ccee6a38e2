package gitwriter

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	. "github.com/onsi/gomega"

	"github.com/gitops-reverser/gitops-reverser/internal/testenv/gitserver"
)

// TestTheVersionsOfALargeFolderWaitingForAPushAreKeptAsDeltas: in a folder of 2,000 files each
// commit makes an 80 KB tree that differs from the last in one entry. While the remote is down,
// 60 such commits must cost deltas, not 60 trees; every one of them reads back whole (also from
// the spill files), and they all arrive.
func TestTheVersionsOfALargeFolderWaitingForAPushAreKeptAsDeltas(t *testing.T) {
	for _, spill := range []int{0, 64 << 10} {
		t.Run(fmt.Sprintf("spill at %d bytes", spill), func(t *testing.T) {
			g := NewWithT(t)
			remote := newSSHRemote(t)
			cfg := remote.config(t, "main")
			cfg.SpillBytes = spill
			w := startSynced(t, cfg)
			ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
			defer cancel()

			folder := Change{Author: alice, Message: "[CREATE] the folder\n"}
			for i := range 2000 {
				folder.Ops = append(folder.Ops, FileOp{Path: fmt.Sprintf("live/default/configmaps/cm-%d.yaml", i), Data: []byte(fmt.Sprintf("data:\n  key: %d\n", i))})
			}
			_, err := w.Commit(ctx, folder)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(w.Flush(ctx)).To(Succeed())

			g.Expect(remote.Server.Stop()).To(Succeed())
			var commits []string
			for i := range 60 {
				res, err := w.Commit(ctx, configMapChange(alice, i, "changed"))
				g.Expect(err).NotTo(HaveOccurred())
				commits = append(commits, res.Commit)
			}
			tree, err := object.GetCommit(w.store, plumbing.NewHash(commits[0]))
			g.Expect(err).NotTo(HaveOccurred())
			folderTree, err := tree.Tree()
			g.Expect(err).NotTo(HaveOccurred())
			sub, err := folderTree.Tree("live/default/configmaps")
			g.Expect(err).NotTo(HaveOccurred())
			size, err := w.store.EncodedObjectSize(sub.Hash)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(size).To(BeNumerically(">", 60_000))

			w.store.mu.RLock()
			held, deltas := w.store.memBytes, len(w.store.deltas)
			for _, sp := range w.store.spilled {
				if !sp.base.IsZero() {
					deltas++
				}
			}
			w.store.mu.RUnlock()
			// The first version after the push is whole (its base went with the push), and one in
			// maxDeltaDepth; the parents are too small for deltas.
			g.Expect(deltas).To(BeNumerically(">=", 60-1-60/maxDeltaDepth), "the folder's tree, per commit")
			if spill == 0 {
				g.Expect(held).To(BeNumerically("<", 4*int(size)),
					"60 versions of an %d-byte tree (and of its parents) hold %d bytes", size, held)
			}
			for i, h := range commits {
				c, err := object.GetCommit(w.store, plumbing.NewHash(h))
				g.Expect(err).NotTo(HaveOccurred())
				f, err := c.File(fmt.Sprintf("live/default/configmaps/cm-%d.yaml", i))
				g.Expect(err).NotTo(HaveOccurred(), "commit %d reads back", i)
				content, err := f.Contents()
				g.Expect(err).NotTo(HaveOccurred())
				g.Expect(content).To(Equal("data:\n  key: changed\n"))
				root, err := c.Tree()
				g.Expect(err).NotTo(HaveOccurred())
				sub, err := root.Tree("live/default/configmaps")
				g.Expect(err).NotTo(HaveOccurred())
				g.Expect(sub.Entries).To(HaveLen(2000))
			}

			g.Expect(remote.Server.Start()).To(Succeed())
			g.Expect(w.Flush(ctx)).To(Succeed())
			g.Expect(gitCLI(t, remote.Dir, "rev-list", "--count", "main")).To(Equal("61"))
			g.Expect(strings.TrimSpace(gitCLI(t, remote.Dir, "show", "main:live/default/configmaps/cm-59.yaml"))).To(Equal("data:\n  key: changed"))
			gitserver.Fsck(t, remote.Dir)
		})
	}
}
