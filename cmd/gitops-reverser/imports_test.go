package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestTheBinaryLinksNeitherSopsNorACloudKMSClient keeps the operator's SOPS support our own: the
// sops library's root package imports every cloud KMS client, which cost the binary tens of
// megabytes and every replica 27 MiB at start. The sops library is the tests' reference only.
func TestTheBinaryLinksNeitherSopsNorACloudKMSClient(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	deps := strings.Fields(string(out))
	has := func(pkg string) bool {
		for _, d := range deps {
			if d == pkg {
				return true
			}
		}
		return false
	}
	for _, want := range []string{"github.com/gitops-reverser/gitops-reverser/internal/secrets", "filippo.io/age"} {
		if !has(want) {
			t.Fatalf("the import graph (%d packages) lacks %s: the test does not see what the binary links", len(deps), want)
		}
	}
	for _, d := range deps {
		for _, banned := range []string{
			"github.com/getsops/sops/",
			"github.com/aws/aws-sdk-go-v2/service/kms",
			"cloud.google.com/go/kms",
			"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault",
			"github.com/hashicorp/vault/api",
		} {
			if strings.HasPrefix(d, banned) {
				t.Errorf("the operator links %s", d)
			}
		}
	}
}
