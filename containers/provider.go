package containers

import (
	"context"
	"errors"
	"fmt"

	"github.com/loadcheck/loadcheck/apache"
	"github.com/loadcheck/loadcheck/provider"
)

// Provider is the Docker provider: one fresh httpd container per config,
// from one image.
type Provider struct {
	Image string
	Info  ImageInfo
	// EngineVersion is the Docker engine's version, "" when it did not say.
	EngineVersion string
}

// NewProvider resolves the image and its layout in the local engine. An
// empty image means the official httpd:2.4 when present, else the Debian
// image `make image` builds; an empty layout is read from the image.
func NewProvider(ctx context.Context, image, layout string) (p *Provider, err error) {
	defer func() {
		if p != nil {
			p.EngineVersion, _ = EngineVersion(ctx) // recorded where known; the run needs it not
		}
	}()
	if image != "" {
		info, err := InspectImage(ctx, image, layout)
		return &Provider{Image: image, Info: info}, err
	}
	info, err := InspectImage(ctx, DefaultImage, layout)
	var missing *ImageMissingError
	if !errors.As(err, &missing) {
		return &Provider{Image: DefaultImage, Info: info}, err
	}
	info, err = InspectImage(ctx, DebianImage, layout)
	if errors.As(err, &missing) {
		return nil, fmt.Errorf("neither %s nor %s is in the local Docker engine: pull %s, or build %s from Debian's packages with `make image`",
			DefaultImage, DebianImage, DefaultImage, DebianImage)
	}
	return &Provider{Image: DebianImage, Info: info}, err
}

// Provider is a provider.Provider that also cleans up after a run.
var (
	_ provider.Provider = (*Provider)(nil)
	_ provider.Cleaner  = (*Provider)(nil)
)

// Describe implements provider.Provider.
func (p *Provider) Describe() provider.Description {
	return provider.Description{Name: "docker", Image: p.Image, ImageID: p.Info.ID, Layout: p.Info.Layout.Name, EngineVersion: p.EngineVersion}
}

// Start implements provider.Provider.
func (p *Provider) Start(ctx context.Context, cfg apache.Config, o provider.StartOptions) (provider.Server, error) {
	srv, err := Run(ctx, p.Image, WithLayout(p.Info.Layout), WithConfig(cfg), WithRunID(o.RunID), WithConnections(o.Connections), WithServedFiles(o.Files...))
	if err != nil && ctx.Err() == nil {
		// The engine may have gone away since the run began: say so, so
		// that the run stops instead of failing every config the same way.
		if perr := Ping(ctx); perr != nil {
			err = &DockerError{Err: perr}
		}
	}
	if srv == nil {
		return nil, err // a nil *HTTPD must not become a non-nil interface
	}
	return srv, err
}

// CleanRun implements provider.Cleaner.
func (p *Provider) CleanRun(ctx context.Context, runID string) ([]string, error) {
	return CleanRun(ctx, runID)
}
