//go:build !unix

package fcgireq

import "io/fs"

// owner is a file's owner and group, unknown here.
func owner(fs.FileInfo) string { return "of an unknown owner" }

// caller is this process's user, unknown here.
func caller() string { return "a user fcgicli cannot name here" }
