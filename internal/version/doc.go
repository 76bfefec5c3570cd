// Package version reports which ferry this is: the release version, the commit
// it was built from, and the action image that release publishes.
package version
