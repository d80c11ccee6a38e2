package secrets

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
)

// TestTheSopsCLIAndWeOpenEachOthersFiles runs the real sops CLI (built from the module we test
// against) in a folder with the `.sops.yaml` we write, as a person editing the folder would.
func TestTheSopsCLIAndWeOpenEachOthersFiles(t *testing.T) {
	g := NewWithT(t)
	dir := t.TempDir()
	sopsCLI := filepath.Join(t.TempDir(), "sops")
	build := exec.Command("go", "build", "-o", sopsCLI, "github.com/getsops/sops/v3/cmd/sops")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the sops CLI: %v\n%s", err, out)
	}
	k := newKeys(t)
	g.Expect(os.WriteFile(filepath.Join(dir, ConfigFile), CreationRules(k), 0o600)).To(Succeed())
	sops := func(args ...string) (string, error) {
		cmd := exec.Command(sopsCLI, args...)
		cmd.Dir = dir
		cmd.Env = []string{"HOME=" + dir, "PATH=" + os.Getenv("PATH"), "SOPS_AGE_KEY=" + k.Identities[0].String(), "SOPS_DISABLE_VERSION_CHECK=1"}
		out, err := cmd.CombinedOutput()
		return string(out), err
	}

	for i, plain := range plains {
		ours := mustEncrypt(t, plain, k)
		name := filepath.Join(dir, "ours.sops.yaml")
		g.Expect(os.WriteFile(name, ours, 0o600)).To(Succeed())
		byCLI, err := sops("decrypt", "ours.sops.yaml")
		g.Expect(err).NotTo(HaveOccurred(), byCLI)
		byUs, err := Decrypt(ours, k)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(byCLI).To(Equal(string(byUs)), "plain %d", i)

		// A person adds a file with the folder's rules; we open it, and our re-encryption of it
		// with one value changed changes only that value's line, the MAC and the timestamp.
		g.Expect(os.WriteFile(filepath.Join(dir, "theirs.sops.yaml"), []byte(plain), 0o600)).To(Succeed())
		out, err := sops("encrypt", "--in-place", "theirs.sops.yaml")
		g.Expect(err).NotTo(HaveOccurred(), out)
		theirs, err := os.ReadFile(filepath.Join(dir, "theirs.sops.yaml"))
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(masked(theirs)).To(Equal(masked(ours)), "plain %d: the CLI lays the folder's files out as we do", i)
		opened, err := Decrypt(theirs, k)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(string(opened)).To(Equal(string(byUs)))
	}

	theirs, err := os.ReadFile(filepath.Join(dir, "theirs.sops.yaml"))
	g.Expect(err).NotTo(HaveOccurred())
	changed := strings.Replace(plains[len(plains)-1], "token: def", "token: xyz", 1)
	ours, err := Encrypt([]byte(changed), k, theirs, time.Now().Add(time.Hour))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(changedLines(string(theirs), string(ours))).To(HaveLen(2*2+1),
		"the token, and per document the MAC and the timestamp")
	g.Expect(os.WriteFile(filepath.Join(dir, "theirs.sops.yaml"), ours, 0o600)).To(Succeed())
	byCLI, err := sops("decrypt", "theirs.sops.yaml")
	g.Expect(err).NotTo(HaveOccurred(), byCLI)
	g.Expect(byCLI).To(ContainSubstring("token: xyz"))
}
