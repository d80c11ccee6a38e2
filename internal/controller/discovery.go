package controller

import (
	"context"
	"errors"
	"fmt"

	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/rest"

	"github.com/gitops-reverser/gitops-reverser/internal/rules"
)

// CatalogSource answers what the API server serves, from a cache that Invalidate empties (the
// rule controllers call it when a CRD appears, changes or goes).
type CatalogSource struct {
	cached discovery.CachedDiscoveryInterface
}

// NewCatalogSource creates a CatalogSource for the API server of cfg.
func NewCatalogSource(cfg *rest.Config) (*CatalogSource, error) {
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("creating a discovery client: %w", err)
	}
	return &CatalogSource{cached: memory.NewMemCacheClient(dc)}, nil
}

// Catalog returns every served resource. When some API groups cannot be discovered (an
// aggregated API that is down), it returns the others.
func (s *CatalogSource) Catalog(context.Context) (rules.Catalog, error) {
	groups, lists, err := s.cached.ServerGroupsAndResources()
	var partial *discovery.ErrGroupDiscoveryFailed
	if err != nil && !errors.As(err, &partial) {
		return nil, fmt.Errorf("discovering the API server's resources: %w", err)
	}
	return rules.NewCatalog(groups, lists), nil
}

// Invalidate makes the next Catalog ask the API server again.
func (s *CatalogSource) Invalidate() { s.cached.Invalidate() }
