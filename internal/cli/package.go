package cli

import (
	"context"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/ferry-ml/ferry/internal/input"
	"github.com/ferry-ml/ferry/internal/pack"
)

// runPackage is `ferry package` and the package action.
func runPackage(ctx context.Context, env *Env, in *input.Reader) (*Result, error) {
	cfg := pack.Config{
		Model: in.String("model"), Image: in.String("image"), Layout: in.String("layout"), Tarball: in.String("tarball"),
		Tags: in.List("tag"), Base: in.String("base"), Platforms: in.List("platform"), Kind: in.Enum("kind"), Source: sourceURL(env),
	}
	var user, password string
	if env.Action != nil {
		user, password = in.String("registry-username"), in.String("registry-password")
	} else {
		cfg.Rank = in.Int("rank")
	}
	if err := in.Err(); err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	out, err := pack.Run(ctx, cfg, pack.Deps{Stdout: env.Stdout, Stderr: env.Stderr, Getenv: env.Getenv, Remote: []remote.Option{registryAuth(user, password)}})
	if err != nil {
		return nil, err
	}
	return &Result{Outputs: out.Outputs(), Summary: out.Summary}, nil
}

// registryAuth is the credentials for registry calls: the action's registry-username and
// registry-password when given, else the Docker keychain, else anonymous.
func registryAuth(user, password string) remote.Option {
	if password != "" {
		return remote.WithAuth(&authn.Basic{Username: user, Password: password})
	}
	return remote.WithAuthFromKeychain(authn.DefaultKeychain)
}

func sourceURL(env *Env) string {
	if env.Event != nil && env.Event.Repository != "" {
		return env.Event.ServerURL + "/" + env.Event.Repository
	}
	return ""
}
