// Package forgetest fakes the GitHub REST API for the tests of package forge
// and of the commands that post to pull requests.
package forgetest
