// Package integration runs ferry's built artifacts against the real components
// a user meets: the action image under podman the way the GitHub Actions
// runner starts a container action. `make test` builds the artifacts and
// installs the components first.
package integration
