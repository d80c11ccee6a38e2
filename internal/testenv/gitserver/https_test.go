package gitserver_test

import (
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/http"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	. "github.com/onsi/gomega"

	"github.com/gitops-reverser/gitops-reverser/internal/testenv/gitserver"
)

// Fixed, not random: the CLI tests spell them out in URLs.
const (
	aliceName     = "alice"
	alicePassword = "s3cret"
	tokenSecret   = "glpat-token"
)

// credentials returns a username/password login and a token usable with any
// username.
func credentials() (alice, token gitserver.Credential) {
	return gitserver.Credential{Username: aliceName, Password: alicePassword},
		gitserver.Credential{Password: tokenSecret}
}

func TestHTTPSGoGitPushAndClone(t *testing.T) {
	g := NewWithT(t)
	alice, token := credentials()
	root := t.TempDir()
	bare := gitserver.NewBareRepo(t, root, "gogit")
	srv := gitserver.StartHTTPSServer(t, root, alice, token)
	url := srv.URL("gogit")
	g.Expect(url).To(Equal("https://" + srv.Addr() + "/gogit.git"))
	auth := &githttp.BasicAuth{Username: alice.Username, Password: alice.Password}

	repo, dir := goGitRepo(t, url)
	first := goGitCommit(t, repo, dir, "a.yaml", "operator commit 1")
	g.Expect(goGitPush(t, repo, auth, srv.CAPEM())).To(Succeed())
	// A token is accepted as the password with whatever username a client
	// puts in front of it.
	second := goGitCommit(t, repo, dir, "b.yaml", "operator commit 2")
	tokenAuth := &githttp.BasicAuth{Username: "x-access-token", Password: token.Password}
	g.Expect(goGitPush(t, repo, tokenAuth, srv.CAPEM())).To(Succeed())

	g.Expect(gitserver.Log(t, bare, "main")).To(Equal([]gitserver.Commit{
		{Hash: second, Subject: "operator commit 2"},
		{Hash: first, Subject: "operator commit 1"},
	}))
	gitserver.Fsck(t, bare)

	cloned, err := git.PlainCloneContext(t.Context(), t.TempDir(), false, &git.CloneOptions{
		URL: url, Auth: auth, CABundle: srv.CAPEM(),
	})
	g.Expect(err).NotTo(HaveOccurred())
	head, err := cloned.Head()
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(head.Hash().String()).To(Equal(second))
}

func TestHTTPSGitCLIPushAndClone(t *testing.T) {
	g := NewWithT(t)
	alice, token := credentials()
	root := t.TempDir()
	bare := gitserver.NewBareRepo(t, root, "cli")
	srv := gitserver.StartHTTPSServer(t, root, alice, token)
	caFile := writeFile(t, filepath.Join(t.TempDir(), "ca.pem"), srv.CAPEM())
	withCA := []string{"-c", "http.sslCAInfo=" + caFile}
	userURL := "https://" + aliceName + ":" + alicePassword + "@" + srv.Addr() + "/cli.git"

	work := newWorkTree(t)
	first := commitFile(t, work, "a.txt", "a\n", "first over https")
	_, err := runGit(t, work, nil, append(withCA, "push", "--quiet", userURL, "main")...)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(gitserver.Log(t, bare, "main")).To(Equal([]gitserver.Commit{{Hash: first, Subject: "first over https"}}))
	gitserver.Fsck(t, bare)

	// A tiny postBuffer makes git send the pack with chunked encoding, which
	// CGI cannot take as is.
	blob := make([]byte, 256<<10)
	_, _ = rand.Read(blob)
	writeFile(t, filepath.Join(work, "blob.bin"), blob)
	gitserver.Git(t, work, "add", "blob.bin")
	gitserver.Git(t, work, "commit", "--quiet", "-m", "chunked push")
	second := gitserver.Git(t, work, "rev-parse", "HEAD")
	_, err = runGit(t, work, nil, append(withCA, "-c", "http.postBuffer=4096", "push", "--quiet", userURL, "main")...)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(gitserver.Log(t, bare, "main")[0].Hash).To(Equal(second))
	gitserver.Fsck(t, bare)

	clone := filepath.Join(t.TempDir(), "clone")
	_, err = runGit(t, t.TempDir(), nil, append(withCA,
		"-c", "http.extraHeader=Authorization: Bearer "+token.Password,
		"clone", "--quiet", srv.URL("cli"), clone)...)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(gitserver.Git(t, clone, "rev-parse", "HEAD")).To(Equal(second))
}

func TestHTTPSServerRejectsWrongCredentials(t *testing.T) {
	g := NewWithT(t)
	alice, token := credentials()
	root := t.TempDir()
	bare := gitserver.NewBareRepo(t, root, "auth")
	before := seedRemote(t, bare)
	srv := gitserver.StartHTTPSServer(t, root, alice, token)

	pool := x509.NewCertPool()
	g.Expect(pool.AppendCertsFromPEM(srv.CAPEM())).To(BeTrue())
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	t.Cleanup(client.CloseIdleConnections)
	for name, authorize := range map[string]func(*http.Request){
		"anonymous":      func(*http.Request) {},
		"wrong password": func(r *http.Request) { r.SetBasicAuth(aliceName, "wrong") },
		"wrong user":     func(r *http.Request) { r.SetBasicAuth("bob", alice.Password) },
		"wrong token":    func(r *http.Request) { r.Header.Set("Authorization", "Bearer nope") },
		"user as token":  func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+alice.Password) },
	} {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet,
			srv.URL("auth")+"/info/refs?service=git-receive-pack", nil)
		g.Expect(err).NotTo(HaveOccurred())
		authorize(req)
		resp, err := client.Do(req)
		g.Expect(err).NotTo(HaveOccurred(), name)
		_ = resp.Body.Close()
		g.Expect(resp.StatusCode).To(Equal(http.StatusUnauthorized), name)
		g.Expect(resp.Header.Get("WWW-Authenticate")).To(HavePrefix("Basic "), name)
	}

	repo, dir := goGitRepo(t, srv.URL("auth"))
	goGitCommit(t, repo, dir, "a.yaml", "must not arrive")
	err := goGitPush(t, repo, &githttp.BasicAuth{Username: aliceName, Password: "wrong"}, srv.CAPEM())
	g.Expect(errors.Is(err, transport.ErrAuthenticationRequired)).To(BeTrue(), "got %v", err)

	work := newWorkTree(t)
	commitFile(t, work, "a.txt", "a\n", "must not arrive either")
	caFile := writeFile(t, filepath.Join(t.TempDir(), "ca.pem"), srv.CAPEM())
	_, err = runGit(t, work, nil, "-c", "http.sslCAInfo="+caFile,
		"push", "https://"+aliceName+":wrong@"+srv.Addr()+"/auth.git", "main")
	g.Expect(err).To(MatchError(ContainSubstring("Authentication failed")))

	g.Expect(gitserver.Refs(t, bare)).To(Equal(before))
}

func TestHTTPSClientsNeedTheServerCA(t *testing.T) {
	g := NewWithT(t)
	alice, _ := credentials()
	root := t.TempDir()
	bare := gitserver.NewBareRepo(t, root, "tls")
	before := seedRemote(t, bare)
	srv := gitserver.StartHTTPSServer(t, root, alice)
	auth := &githttp.BasicAuth{Username: alice.Username, Password: alice.Password}

	repo, dir := goGitRepo(t, srv.URL("tls"))
	goGitCommit(t, repo, dir, "a.yaml", "must not arrive")
	err := goGitPush(t, repo, auth, nil)
	var unknownAuthority x509.UnknownAuthorityError
	g.Expect(errors.As(err, &unknownAuthority)).To(BeTrue(), "want an unknown-CA error, got %v", err)
	// Another server's CA is no better than none.
	other := gitserver.StartHTTPSServer(t, t.TempDir(), alice)
	err = goGitPush(t, repo, auth, other.CAPEM())
	g.Expect(errors.As(err, &unknownAuthority)).To(BeTrue(), "want an unknown-CA error, got %v", err)

	work := newWorkTree(t)
	commitFile(t, work, "a.txt", "a\n", "must not arrive either")
	_, err = runGit(t, work, nil, "push", "https://"+aliceName+":"+alicePassword+"@"+srv.Addr()+"/tls.git", "main")
	g.Expect(err).To(MatchError(MatchRegexp(`(?i)certificate.*(verif|unknown authority|issuer)`)))

	g.Expect(gitserver.Refs(t, bare)).To(Equal(before))
}

func TestHTTPSServerStopAndStartKeepTheURL(t *testing.T) {
	g := NewWithT(t)
	alice, _ := credentials()
	root := t.TempDir()
	bare := gitserver.NewBareRepo(t, root, "outage")
	srv := gitserver.StartHTTPSServer(t, root, alice)
	addr, url, ca := srv.Addr(), srv.URL("outage"), srv.CAPEM()
	auth := &githttp.BasicAuth{Username: alice.Username, Password: alice.Password}
	repo, dir := goGitRepo(t, url)
	first := goGitCommit(t, repo, dir, "a.yaml", "before outage")
	g.Expect(goGitPush(t, repo, auth, ca)).To(Succeed())

	g.Expect(srv.Stop()).To(Succeed())
	g.Expect(srv.Stop()).To(Succeed(), "stopping twice is harmless")
	goGitCommit(t, repo, dir, "b.yaml", "during outage")
	err := goGitPush(t, repo, auth, ca)
	g.Expect(errors.Is(err, syscall.ECONNREFUSED)).To(BeTrue(), "want connection refused, got %v", err)
	work := newWorkTree(t)
	commitFile(t, work, "c.txt", "c\n", "cli during outage")
	caFile := writeFile(t, filepath.Join(t.TempDir(), "ca.pem"), ca)
	_, err = runGit(t, work, nil, "-c", "http.sslCAInfo="+caFile, "push", url, "main")
	g.Expect(err).To(MatchError(MatchRegexp(`(?i)connection refused|couldn't connect|failed to connect`)))
	g.Expect(gitserver.Log(t, bare, "main")).To(HaveLen(1))

	g.Expect(srv.Start()).To(Succeed())
	g.Expect(srv.Start()).To(MatchError(ContainSubstring("already running")))
	g.Expect(srv.Addr()).To(Equal(addr))
	g.Expect(srv.URL("outage")).To(Equal(url))
	g.Expect(srv.CAPEM()).To(Equal(ca), "same CA after restart")
	g.Expect(goGitPush(t, repo, auth, ca)).To(Succeed())
	commits := gitserver.Log(t, bare, "main")
	g.Expect(commits).To(HaveLen(2))
	g.Expect(commits[0].Subject).To(Equal("during outage"))
	g.Expect(commits[1].Hash).To(Equal(first))
	gitserver.Fsck(t, bare)
}
