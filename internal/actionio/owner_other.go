//go:build !linux

package actionio

import "os"

// RunAsOwnerOf does nothing outside Linux, where container actions do not run.
func RunAsOwnerOf(dir string, keepGroupsOf ...string) (uid int, switched bool, err error) {
	return os.Geteuid(), false, nil
}
