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
	// Why says why the image was chosen when none was given ("" when one
	// was).
	Why string
}

// NewProvider resolves the image and its layout in the local engine. An
// empty image follows the configs, never what happens to be in the
// engine: presets and Debian-layout trees run on the Debian image `make
// image` builds (DebianImage), the image the nightly job and `make run`
// measure too; official-layout trees run on the official httpd:2.4 when
// it is in the engine, else on the Debian image with the tree's paths
// mapped (ImageFor says which and why). An empty layout is read from the
// image.
func NewProvider(ctx context.Context, image, layout string, configs []apache.Config) (p *Provider, err error) {
	defer func() {
		if p != nil {
			p.EngineVersion, _ = EngineVersion(ctx) // recorded where known; the run needs it not
		}
	}()
	if image == "" {
		var why string
		if image, why, err = ImageFor(ctx, configs); err != nil {
			return nil, err
		}
		defer func() {
			if p != nil {
				p.Why = why
			}
		}()
	}
	info, err := InspectImage(ctx, image, layout)
	return &Provider{Image: image, Info: info}, err
}

// ImageFor is the image configs run on when none is given, and why: the
// layout of their trees decides, and a run whose trees are in both layouts
// must name one (--image).
func ImageFor(ctx context.Context, configs []apache.Config) (image, why string, err error) {
	var official, debian []string
	for _, c := range configs {
		switch {
		case c.Tree == nil:
		case c.Tree.Layout == apache.Official.Name:
			official = append(official, c.Name)
		default:
			debian = append(debian, c.Name)
		}
	}
	switch {
	case len(official) > 0 && len(debian) > 0:
		return "", "", fmt.Errorf("config trees %v are in the official layout and %v in Debian's: each layout runs on its own image, so run them apart, or give --image to run them all on one", official, debian)
	case len(official) > 0:
		if _, err := InspectImage(ctx, DefaultImage, ""); err == nil {
			return DefaultImage, fmt.Sprintf("the official image, for the official-layout trees %v", official), nil
		}
		image, why = OfficialImage, fmt.Sprintf("the official layout built from Debian's packages (%s is not in the engine), for the official-layout trees %v", DefaultImage, official)
	case len(debian) > 0:
		image, why = DebianImage, fmt.Sprintf("the Debian image, for the Debian-layout trees %v", debian)
	default:
		image, why = DebianImage, "the Debian image, which presets run on unless --image or the scenario's image: says otherwise"
	}
	var missing *ImageMissingError
	if _, err := InspectImage(ctx, image, ""); errors.As(err, &missing) {
		return "", "", fmt.Errorf("%s is not in the local Docker engine: build it from Debian's packages with `make image` (containers/image/build.sh and build-official.sh), or give --image IMAGE", image)
	}
	return image, why, nil
}

// Provider is a provider.Provider that also cleans up after a run.
var (
	_ provider.Provider = (*Provider)(nil)
	_ provider.Cleaner  = (*Provider)(nil)
)

// Describe implements provider.Provider.
func (p *Provider) Describe() provider.Description {
	return provider.Description{Name: "docker", Image: p.Image, ImageID: p.Info.ID, Layout: p.Info.Layout.Name, EngineVersion: p.EngineVersion, ImageWhy: p.Why}
}

// Start implements provider.Provider.
func (p *Provider) Start(ctx context.Context, cfg apache.Config, o provider.StartOptions) (provider.Server, error) {
	srv, err := Run(ctx, p.Image, WithLayout(p.Info.Layout), WithConfig(cfg), WithRunID(o.RunID), WithConnections(o.Connections), WithServedFiles(o.Files...), WithCPUSet(o.CPUSet), WithDocRoot(o.DocRoot))
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
