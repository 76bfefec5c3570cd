package actionio

import (
	"fmt"
	"os"
	"syscall"
)

// RunAsOwnerOf gives up root for the owner of dir, the job's workspace.
//
// GitHub starts container actions as root and gives no way to choose the user
// ("Docker actions must be run by the default Docker user"), while the
// workspace and the runner's output files belong to the runner's user. Running
// as that user means ferry holds no privilege while it works and leaves no
// root-owned files behind for the next job to trip over. It returns the uid it
// now runs as and whether it switched; it does nothing when not root or when
// dir is owned by root. The groups of the files in keepGroupsOf (the Docker
// socket, say) are kept, so that what the runner's user may use stays usable.
func RunAsOwnerOf(dir string, keepGroupsOf ...string) (uid int, switched bool, err error) {
	if os.Geteuid() != 0 || dir == "" {
		return os.Geteuid(), false, nil
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return 0, false, fmt.Errorf("find the owner of the workspace: %w", err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || st.Uid == 0 {
		return 0, false, nil
	}
	// Order matters: groups and gid while still root, uid last. Since Go 1.16
	// these apply to every thread of the process.
	groups := []int{int(st.Gid)}
	for _, p := range keepGroupsOf {
		var ps syscall.Stat_t
		if syscall.Stat(p, &ps) == nil && ps.Gid != 0 {
			groups = append(groups, int(ps.Gid))
		}
	}
	if err := syscall.Setgroups(groups); err != nil {
		return 0, false, fmt.Errorf("drop supplementary groups: %w", err)
	}
	if err := syscall.Setgid(int(st.Gid)); err != nil {
		return 0, false, fmt.Errorf("switch to the workspace's group %d: %w", st.Gid, err)
	}
	if err := syscall.Setuid(int(st.Uid)); err != nil {
		return 0, false, fmt.Errorf("switch to the workspace's owner %d: %w", st.Uid, err)
	}
	return int(st.Uid), true, nil
}
