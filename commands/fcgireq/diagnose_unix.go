//go:build unix

package fcgireq

import (
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"strconv"
	"strings"
	"syscall"
)

// owner is a file's owner and group, as user:group with their ids.
func owner(fi fs.FileInfo) string {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return "of an unknown owner"
	}
	return userName(int(st.Uid)) + ":" + groupName(int(st.Gid))
}

// caller is this process's user and groups, with their ids.
func caller() string {
	s := "uid " + userName(os.Geteuid())
	groups, _ := os.Getgroups()
	if len(groups) == 0 {
		groups = []int{os.Getegid()}
	}
	names := make([]string, len(groups))
	for i, g := range groups {
		names[i] = groupName(g)
	}
	return s + ", groups " + strings.Join(names, " ")
}

// userName is uid as "name(uid)", or the number alone.
func userName(uid int) string {
	id := strconv.Itoa(uid)
	if u, err := user.LookupId(id); err == nil {
		return fmt.Sprintf("%s(%s)", u.Username, id)
	}
	return id
}

// groupName is gid as "name(gid)", or the number alone.
func groupName(gid int) string {
	id := strconv.Itoa(gid)
	if g, err := user.LookupGroupId(id); err == nil {
		return fmt.Sprintf("%s(%s)", g.Name, id)
	}
	return id
}
