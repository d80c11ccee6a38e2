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

			pushFolderOf2000(t, ctx, w)

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

// TestTreesOfASteadyStreamOfCommitsLeaveMemoryOncePushed: under steady load something is always
// waiting for a push, so the store never empties. The trees already pushed must go all the same,
// the next versions must still be sent as deltas against them (a thin pack the real
// receive-pack completes), and the remote must get every commit intact.
func TestTreesOfASteadyStreamOfCommitsLeaveMemoryOncePushed(t *testing.T) {
	g := NewWithT(t)
	remote := newSSHRemote(t)
	cfg := remote.config(t, "main")
	w := startSynced(t, cfg)
	ctx, cancel := context.WithTimeout(t.Context(), 120*time.Second)
	defer cancel()

	pushFolderOf2000(t, ctx, w)

	// The folder's tree is about 80 KB; its parents are small.
	wholeTrees := func() int {
		w.store.mu.RLock()
		defer w.store.mu.RUnlock()
		n := 0
		for _, p := range w.store.mem {
			if p.typ == plumbing.TreeObject && p.size > 60_000 {
				n++
			}
		}
		return n
	}
	const commits = 150
	most, pushesWhilePending := 0, 0
	before := gitCLI(t, remote.Dir, "rev-parse", "main")
	for i := range commits {
		_, err := w.Commit(ctx, configMapChange(alice, i, "changed"))
		g.Expect(err).NotTo(HaveOccurred())
		most = max(most, wholeTrees())
		if tip := gitCLI(t, remote.Dir, "rev-parse", "main"); tip != before && w.Status().Pending > 0 {
			pushesWhilePending++
			before = tip
		}
		time.Sleep(10 * time.Millisecond)
	}
	g.Expect(pushesWhilePending).To(BeNumerically(">=", 3), "the stream kept commits waiting across pushes")
	g.Expect(most).To(BeNumerically("<=", 1),
		"whole versions of the folder's tree held at once (without dropping pushed ones: one in %d commits)", maxDeltaDepth)

	g.Expect(w.Flush(ctx)).To(Succeed())
	g.Expect(gitCLI(t, remote.Dir, "rev-list", "--count", "main")).To(Equal(fmt.Sprint(commits + 1)))
	for _, i := range []int{0, commits / 2, commits - 1} {
		g.Expect(strings.TrimSpace(gitCLI(t, remote.Dir, "show", fmt.Sprintf("main:live/default/configmaps/cm-%d.yaml", i)))).
			To(Equal("data:\n  key: changed"))
	}
	g.Expect(strings.TrimSpace(gitCLI(t, remote.Dir, "show", fmt.Sprintf("main:live/default/configmaps/cm-%d.yaml", commits)))).
		To(Equal(fmt.Sprintf("data:\n  key: %d", commits)))
	gitserver.Fsck(t, remote.Dir)
}

// pushFolderOf2000 commits live/default/configmaps/cm-0.yaml … cm-1999.yaml, whose folder's tree
// is about 80 KB, in one commit, and pushes it.
func pushFolderOf2000(t *testing.T, ctx context.Context, w *Writer) {
	t.Helper()
	g := NewWithT(t)
	folder := Change{Author: alice, Message: "[CREATE] the folder\n"}
	for i := range 2000 {
		folder.Ops = append(folder.Ops, FileOp{Path: fmt.Sprintf("live/default/configmaps/cm-%d.yaml", i), Data: []byte(fmt.Sprintf("data:\n  key: %d\n", i))})
	}
	_, err := w.Commit(ctx, folder)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(w.Flush(ctx)).To(Succeed())
}
