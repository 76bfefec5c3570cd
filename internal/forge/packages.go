package forge

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/google/go-github/v60/github"
)

// ContainerPackage is a GHCR image repository as the GitHub Packages API
// sees it: ghcr.io/OWNER/NAME is the container package NAME of OWNER, a
// user or an organisation, and each manifest digest is a package version.
// GHCR does not take the registry API's DELETE; its images are deleted as
// package versions, which removes their tags with them.
type ContainerPackage struct {
	gh          *github.Client
	owner, name string
	org         bool
	versions    map[string]int64 // version id by digest, read once
}

// ContainerPackage finds the package of image ghcr.io/owner/name and
// reads its versions (every page), so that Delete needs one call each.
func (c *Client) ContainerPackage(ctx context.Context, owner, name string) (*ContainerPackage, error) {
	u, _, err := c.gh.Users.Get(ctx, owner)
	if err != nil {
		return nil, fmt.Errorf("GitHub Packages: the owner %s of ghcr.io/%s/%s: %w", owner, owner, name, err)
	}
	p := &ContainerPackage{gh: c.gh, owner: owner, name: name, org: u.GetType() == "Organization", versions: map[string]int64{}}
	opts := &github.PackageListOptions{State: github.String("active"), ListOptions: github.ListOptions{PerPage: 100}}
	for {
		var page []*github.PackageVersion
		var resp *github.Response
		if p.org {
			page, resp, err = c.gh.Organizations.PackageGetAllVersions(ctx, owner, "container", name, opts)
		} else {
			// The users' endpoints do not escape the name (a/b).
			page, resp, err = c.gh.Users.PackageGetAllVersions(ctx, owner, "container", url.PathEscape(name), opts)
		}
		if err != nil {
			return nil, packageError(owner, name, "list the versions of", err)
		}
		for _, v := range page {
			p.versions[v.GetName()] = v.GetID()
		}
		if resp.NextPage == 0 {
			return p, nil
		}
		opts.Page = resp.NextPage
	}
}

// Delete deletes the package version of the manifest digest.
func (p *ContainerPackage) Delete(ctx context.Context, digest string) error {
	id, ok := p.versions[digest]
	if !ok {
		return fmt.Errorf("GitHub Packages: ghcr.io/%s/%s has no version %s (deleted meanwhile?)", p.owner, p.name, digest)
	}
	var err error
	if p.org {
		_, err = p.gh.Organizations.PackageDeleteVersion(ctx, p.owner, "container", p.name, id)
	} else {
		_, err = p.gh.Users.PackageDeleteVersion(ctx, p.owner, "container", url.PathEscape(p.name), id)
	}
	if err != nil {
		return packageError(p.owner, p.name, "delete version "+digest+" of", err)
	}
	delete(p.versions, digest)
	return nil
}

// packageError says what a refused or missing package means for a token.
func packageError(owner, name, what string, err error) error {
	var ge *github.ErrorResponse
	if errors.As(err, &ge) && ge.Response != nil {
		switch ge.Response.StatusCode {
		case http.StatusNotFound:
			return fmt.Errorf("GitHub Packages: %s ghcr.io/%s/%s: no container package %q of %s that this token can see: %w", what, owner, name, name, owner, err)
		case http.StatusForbidden, http.StatusUnauthorized:
			return fmt.Errorf("GitHub Packages: %s ghcr.io/%s/%s: refused: the token needs packages: write in a workflow (admin on the package), or read:packages and delete:packages as a personal token: %w", what, owner, name, err)
		}
	}
	return fmt.Errorf("GitHub Packages: %s ghcr.io/%s/%s: %w", what, owner, name, err)
}
