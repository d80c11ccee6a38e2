package gitwriter

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/gitops-reverser/gitops-reverser/internal/testenv/gitserver"
)

func TestWrongHostKeyWritesNothing(t *testing.T) {
	g := NewWithT(t)
	remote := newSSHRemote(t)
	cfg := remote.config(t, "main")
	cfg.Credentials.KnownHosts = []byte(impostorKnownHosts(t, remote.Server.Addr()) + "\n")
	w := start(t, cfg)
	_, err := w.Commit(t.Context(), configMapChange(alice, 1, "v1"))
	g.Expect(err).NotTo(HaveOccurred())

	st := eventuallyReason(t, w, "HostKeyMismatch")
	g.Expect(st.Message).To(ContainSubstring("host key"))
	g.Expect(st.Pending).To(Equal(1))
	expectNoRefsForAWhile(t, remote.Dir)
	g.Expect(w.Status().Reason).To(Equal("HostKeyMismatch"))
}

func TestMissingKnownHostsFailsClosed(t *testing.T) {
	g := NewWithT(t)
	remote := newSSHRemote(t)
	cfg := remote.config(t, "main")
	cfg.Credentials.KnownHosts = nil
	_, err := New(cfg)
	g.Expect(err).To(HaveOccurred())
	g.Expect(Classify(err)).To(Equal("HostKeyMismatch"))
	g.Expect(err.Error()).To(ContainSubstring("known_hosts"))
	g.Expect(err.Error()).To(ContainSubstring("add the host's keys"))
	// The hint must scan the port the URL names, not 22.
	_, port, splitErr := net.SplitHostPort(remote.Server.Addr())
	g.Expect(splitErr).NotTo(HaveOccurred())
	g.Expect(err.Error()).To(ContainSubstring("ssh-keyscan -p " + port + " 127.0.0.1"))

	// Blank known_hosts is no better than none.
	cfg.Credentials.KnownHosts = []byte("\n  \n")
	_, err = New(cfg)
	g.Expect(Classify(err)).To(Equal("HostKeyMismatch"))
}

func TestWrongClientKeyWritesNothing(t *testing.T) {
	g := NewWithT(t)
	remote := newSSHRemote(t)
	stranger, err := gitserver.NewClientKey()
	g.Expect(err).NotTo(HaveOccurred())
	cfg := remote.config(t, "main")
	cfg.Credentials.SSHPrivateKey = stranger.PrivateKeyPEM
	w := start(t, cfg)
	_, err = w.Commit(t.Context(), configMapChange(alice, 1, "v1"))
	g.Expect(err).NotTo(HaveOccurred())

	eventuallyReason(t, w, "AuthenticationFailed")
	expectNoRefsForAWhile(t, remote.Dir)
	g.Expect(w.Status().Reason).To(Equal("AuthenticationFailed"))
}

func TestHTTPSWithCustomCAAndBasicAuth(t *testing.T) {
	cases := map[string]struct {
		server gitserver.Credential
		writer func(caPEM []byte) Credentials
	}{
		"basic auth": {
			server: gitserver.Credential{Username: "u", Password: "p"},
			writer: func(ca []byte) Credentials { return Credentials{Username: "u", Password: "p", CABundle: ca} },
		},
		// The gitserver takes a credential without a user name as a token, sent as a bearer token.
		"bearer token": {
			server: gitserver.Credential{Password: "tok"},
			writer: func(ca []byte) Credentials { return Credentials{BearerToken: "tok", CABundle: ca} },
		},
		// Or as the password of basic auth with any user name, as a token-only Secret is read.
		"token as password": {
			server: gitserver.Credential{Password: "tok"},
			writer: func(ca []byte) Credentials { return Credentials{Password: "tok", CABundle: ca} },
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			remote := newHTTPSRemote(t, tc.server)
			w := start(t, writerConfig(t, remote.URL, "main", tc.writer(remote.Server.CAPEM())))
			var want []string
			for i := range 3 {
				_, err := w.Commit(t.Context(), configMapChange(bob, i, "v1"))
				g.Expect(err).NotTo(HaveOccurred())
				want = append(want, fmt.Sprintf("[UPDATE] configmaps default/cm-%d", i))
			}
			ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
			defer cancel()
			g.Expect(w.Flush(ctx)).To(Succeed())
			g.Expect(subjects(t, remote.Dir, "main")).To(Equal(want))
			gitserver.Fsck(t, remote.Dir)
			g.Expect(w.Status().Reason).To(Equal("Connected"))
		})
	}
}

func TestHTTPSWrongPasswordAndMissingCA(t *testing.T) {
	t.Run("wrong password", func(t *testing.T) {
		g := NewWithT(t)
		remote := newHTTPSRemote(t, gitserver.Credential{Username: "u", Password: "p"})
		creds := Credentials{Username: "u", Password: "not-p", CABundle: remote.Server.CAPEM()}
		w := start(t, writerConfig(t, remote.URL, "main", creds))
		_, err := w.Commit(t.Context(), configMapChange(alice, 1, "v1"))
		g.Expect(err).NotTo(HaveOccurred())
		st := eventuallyReason(t, w, "AuthenticationFailed")
		// The server answers as Apache httpd does, with an HTML page.
		g.Expect(st.Message).To(ContainSubstring("authentication required (HTTP 401): 401 Unauthorized"))
		g.Expect(st.Message).To(ContainSubstring("401 Unauthorized"))
		g.Expect(st.Message).NotTo(ContainSubstring("<"), "no HTML in the condition: %s", st.Message)
		g.Expect(st.Message).NotTo(ContainSubstring("\n"))
		expectNoRefsForAWhile(t, remote.Dir)
	})
	t.Run("missing CA", func(t *testing.T) {
		g := NewWithT(t)
		remote := newHTTPSRemote(t, gitserver.Credential{Username: "u", Password: "p"})
		w := start(t, writerConfig(t, remote.URL, "main", Credentials{Username: "u", Password: "p"}))
		_, err := w.Commit(t.Context(), configMapChange(alice, 1, "v1"))
		g.Expect(err).NotTo(HaveOccurred())
		st := eventuallyReason(t, w, "TLSVerificationFailed")
		g.Expect(st.Message).To(ContainSubstring("x509"))
		g.Expect(st.Message).To(ContainSubstring("certificate"))
		expectNoRefsForAWhile(t, remote.Dir)
	})
}

func TestCredentialsFromSecretKeyNames(t *testing.T) {
	key := []byte("-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n")
	hosts := []byte("github.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n")
	ca := []byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
	cases := map[string]struct {
		data map[string][]byte
		want Credentials
	}{
		"Kubernetes ssh-auth": {
			data: map[string][]byte{"ssh-privatekey": key, "known_hosts": hosts},
			want: Credentials{SSHPrivateKey: key, KnownHosts: hosts},
		},
		"Kubernetes basic-auth": {
			data: map[string][]byte{"username": []byte("u"), "password": []byte("p")},
			want: Credentials{Username: "u", Password: "p"},
		},
		"Flux SSH, password is the key's passphrase": {
			data: map[string][]byte{"identity": key, "identity.pub": []byte("ssh-ed25519 AAAA"), "known_hosts": hosts, "password": []byte("secret")},
			want: Credentials{SSHPrivateKey: key, KnownHosts: hosts, Passphrase: []byte("secret")},
		},
		"Flux HTTPS with CA": {
			data: map[string][]byte{"username": []byte("u"), "password": []byte("p"), "ca.crt": ca},
			want: Credentials{Username: "u", Password: "p", CABundle: ca},
		},
		"Flux bearer token": {
			data: map[string][]byte{"bearerToken": []byte("tok\n")},
			want: Credentials{BearerToken: "tok"},
		},
		"Argo CD SSH": {
			data: map[string][]byte{"type": []byte("git"), "url": []byte("git@github.com:o/r.git"), "sshPrivateKey": key},
			want: Credentials{SSHPrivateKey: key},
		},
		"Argo CD HTTPS": {
			data: map[string][]byte{"type": []byte("git"), "url": []byte("https://github.com/o/r.git"), "username": []byte("u"), "password": []byte("p")},
			want: Credentials{Username: "u", Password: "p"},
		},
		"passphrase key wins over password": {
			data: map[string][]byte{"ssh-privatekey": key, "passphrase": []byte("a"), "password": []byte("b")},
			want: Credentials{SSHPrivateKey: key, Passphrase: []byte("a")},
		},
		"empty values are absent": {
			data: map[string][]byte{"ssh-privatekey": {}, "identity": key, "username": {}},
			want: Credentials{SSHPrivateKey: key},
		},
		"empty secret": {
			data: nil,
			want: Credentials{},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			NewWithT(t).Expect(CredentialsFromSecret(tc.data)).To(Equal(tc.want))
		})
	}
}
