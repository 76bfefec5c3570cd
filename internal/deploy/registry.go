package deploy

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Champion tags: the digest production serves, and the one before it.
const (
	ChampionTag     = "champion"
	ChampionPrevTag = "champion-prev"
)

// Resolve pins ref by digest. A tag is resolved with one HEAD request; a
// digest is checked to exist, so that a typo fails here and not as an image
// pull back-off in the cluster.
func Resolve(ctx context.Context, ref string, opts ...remote.Option) (name.Digest, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return name.Digest{}, fmt.Errorf("image reference %q: %w", ref, err)
	}
	desc, err := remote.Head(r, withDefaults(ctx, opts)...)
	if err != nil {
		return name.Digest{}, fmt.Errorf("resolve %s: %w", ref, describe(err))
	}
	return r.Context().Digest(desc.Digest.String()), nil
}

// Promote moves the champion tag of d's repository to d and keeps the
// digest it pointed at as champion-prev. It returns the previous champion
// ("" when there was none). Promoting the champion again changes nothing.
func Promote(ctx context.Context, d name.Digest, opts ...remote.Option) (string, error) {
	opts = withDefaults(ctx, opts)
	repo := d.Context()
	champion := repo.Tag(ChampionTag)
	prev := ""
	if old, err := remote.Head(champion, opts...); err == nil {
		prev = repo.Digest(old.Digest.String()).String()
		if old.Digest.String() == d.DigestStr() {
			return prev, nil
		}
		desc, err := remote.Get(repo.Digest(old.Digest.String()), opts...)
		if err != nil {
			return "", fmt.Errorf("read the current champion %s: %w", prev, describe(err))
		}
		if err := remote.Tag(repo.Tag(ChampionPrevTag), desc, opts...); err != nil {
			return "", fmt.Errorf("tag %s as %s: %w", prev, ChampionPrevTag, describe(err))
		}
	} else if !isNotFound(err) {
		return "", fmt.Errorf("read %s: %w", champion, describe(err))
	}
	desc, err := remote.Get(d, opts...)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", d, describe(err))
	}
	if err := remote.Tag(champion, desc, opts...); err != nil {
		return "", fmt.Errorf("tag %s as %s: %w", d, ChampionTag, describe(err))
	}
	// The record of this promotion, for ferry model history.
	if err := remote.Tag(repo.Tag(recordTag(time.Now())), desc, opts...); err != nil {
		return "", fmt.Errorf("tag %s as its champion record: %w", d, describe(err))
	}
	return prev, nil
}

// withDefaults adds ctx to the caller's options, which carry the
// credentials (remote.WithAuth or remote.WithAuthFromKeychain; anonymous
// without either).
func withDefaults(ctx context.Context, opts []remote.Option) []remote.Option {
	return append([]remote.Option{remote.WithContext(ctx)}, opts...)
}

func isNotFound(err error) bool {
	var te *transport.Error
	return errors.As(err, &te) && te.StatusCode == http.StatusNotFound
}

// describe names the common registry failures.
// ErrNotFound is a reference the registry does not have.
var ErrNotFound = errors.New("no such image in the registry")

func describe(err error) error {
	var te *transport.Error
	if errors.As(err, &te) {
		switch te.StatusCode {
		case http.StatusNotFound:
			return fmt.Errorf("%w (%w)", ErrNotFound, err)
		case http.StatusUnauthorized, http.StatusForbidden:
			return fmt.Errorf("the registry refused the credentials (%w): log in, or give the job packages: write", err)
		}
	}
	return err
}
