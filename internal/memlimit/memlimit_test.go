package memlimit

import (
	"os"
	"path/filepath"
	"runtime/debug"
	"testing"

	. "github.com/onsi/gomega"
)

func cgroupRoot(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, content := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func noEnv(string) string { return "" }

func TestTheLimitComesFromTheFlagElseTheContainer(t *testing.T) {
	g := NewWithT(t)
	v2 := cgroupRoot(t, map[string]string{
		"proc/self/cgroup":                          "0::/kubepods/pod1/c1\n",
		"sys/fs/cgroup/kubepods/pod1/c1/memory.max": "536870912\n",
	})
	l, err := Decide(Auto, v2, noEnv)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(l.Bytes).To(Equal(int64(536870912 * 9 / 10)))
	g.Expect(l.Source).To(ContainSubstring("memory.max"))

	unlimited := cgroupRoot(t, map[string]string{"sys/fs/cgroup/memory.max": "max\n"})
	l, err = Decide(Auto, unlimited, noEnv)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(l.Bytes).To(BeZero())

	v1 := cgroupRoot(t, map[string]string{"sys/fs/cgroup/memory/memory.limit_in_bytes": "268435456\n"})
	l, err = Decide(Auto, v1, noEnv)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(l.Bytes).To(Equal(int64(268435456 * 9 / 10)))
	v1Unlimited := cgroupRoot(t, map[string]string{"sys/fs/cgroup/memory/memory.limit_in_bytes": "9223372036854771712\n"})
	l, err = Decide(Auto, v1Unlimited, noEnv)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(l.Bytes).To(BeZero())

	l, err = Decide(Auto, v2, func(k string) string { return map[string]string{"GOMEMLIMIT": "300MiB"}[k] })
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(l.Bytes).To(BeZero(), "the runtime already applied GOMEMLIMIT")

	l, err = Decide("100Mi", v2, noEnv)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(l.Bytes).To(Equal(int64(100 << 20)))
	l, err = Decide("none", v2, noEnv)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(l.Bytes).To(BeZero())

	for _, bad := range []string{"lots", "-5Mi"} {
		_, err = Decide(bad, v2, noEnv)
		g.Expect(err).To(MatchError(ContainSubstring("--memory-limit")), bad)
	}
	garbled := cgroupRoot(t, map[string]string{"sys/fs/cgroup/memory.max": "a lot\n"})
	_, err = Decide(Auto, garbled, noEnv)
	g.Expect(err).To(MatchError(ContainSubstring("memory.max")))
}

func TestGOGCInTheEnvironmentWinsOverTheFlag(t *testing.T) {
	g := NewWithT(t)
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	g.Expect(SetGCPercent(37, noEnv)).To(Equal("37"))
	g.Expect(debug.SetGCPercent(100)).To(Equal(37))
	g.Expect(SetGCPercent(37, func(k string) string { return map[string]string{"GOGC": "200"}[k] })).To(Equal("GOGC=200"))
	g.Expect(debug.SetGCPercent(100)).To(Equal(100), "left as the runtime set it")
}
