package runenv

import (
	"bytes"
	"strings"
)

// bufferEnv returns an Env whose streams are buffers and whose environment
// is vars, KEY=VALUE each.
func bufferEnv(vars ...string) (*Env, *bytes.Buffer, *bytes.Buffer) {
	var out, errOut bytes.Buffer
	get := func(k string) string {
		for _, v := range vars {
			if name, val, ok := strings.Cut(v, "="); ok && name == k {
				return val
			}
		}
		return ""
	}
	return &Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errOut, Getenv: get, Environ: func() []string { return vars }}, &out, &errOut
}
