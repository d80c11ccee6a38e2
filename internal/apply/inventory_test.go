package apply

import (
	"testing"

	. "github.com/onsi/gomega"

	configv1alpha1 "github.com/gitops-reverser/gitops-reverser/api/v1alpha1"
)

func TestInventory(t *testing.T) {
	g := NewWithT(t)
	inv, errs := InventoryOf([]configv1alpha1.ResourceRef{
		{ID: "apps_web_apps_Deployment", Version: "v1"},
		{ID: "_crds.example.com_apiextensions.k8s.io_CustomResourceDefinition", Version: "v1"},
		{ID: "apps_cm__ConfigMap", Version: "v1"},
		{ID: "not-an-id", Version: "v1"},
	})
	g.Expect(errs).To(HaveLen(1))
	g.Expect(errs[0].Error()).To(ContainSubstring(`"not-an-id"`))
	g.Expect(inv).To(HaveLen(3))
	g.Expect(inv.GroupVersionKind(ObjectID{Namespace: "apps", Name: "web", Group: "apps", Kind: "Deployment"}).String()).To(Equal("apps/v1, Kind=Deployment"))

	now := Inventory{{Namespace: "apps", Name: "cm", Kind: "ConfigMap"}: "v1"}
	gone := inv.Without(now)
	g.Expect(gone).To(HaveLen(2))
	g.Expect(gone).NotTo(HaveKey(ObjectID{Namespace: "apps", Name: "cm", Kind: "ConfigMap"}))

	refs := inv.Refs()
	g.Expect(refs[0].ID).To(Equal("_crds.example.com_apiextensions.k8s.io_CustomResourceDefinition"))
	back, errs := InventoryOf(refs)
	g.Expect(errs).To(BeEmpty())
	g.Expect(back).To(Equal(inv))
	g.Expect(ObjectID{Namespace: "apps", Name: "web", Group: "apps", Kind: "Deployment"}.Describe()).To(Equal("Deployment.apps apps/web"))
}
