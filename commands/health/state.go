package health

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/fcgicli/fcgicli/commands/fpmstatus"
	"github.com/fcgicli/fcgicli/commands/runenv"
)

// maxState bounds what LoadState reads of a state file.
const maxState = 64 << 10

// State is what a state file remembers of a pool between runs.
type State struct {
	Pool               string `json:"pool"`
	StartTime          int64  `json:"start_time"`
	AcceptedConn       int64  `json:"accepted_conn"`
	MaxChildrenReached int64  `json:"max_children_reached"`
	SlowRequests       int64  `json:"slow_requests"`
	ReadAt             int64  `json:"read_at"`
}

// LoadState reads the state file; a missing one is no earlier reading
// (nil, nil). A file that cannot be read, or that fcgicli did not write,
// is a local problem, not the pool's: exit 2, naming the file.
func LoadState(name string) (*State, error) {
	f, err := os.Open(name)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, stateError(name, "cannot read it", err)
	}
	defer f.Close()
	// A state file is a line of JSON: what is much longer (/dev/zero) is
	// not one, and is not read to its end.
	b, err := io.ReadAll(io.LimitReader(f, maxState+1))
	if err != nil {
		return nil, stateError(name, "cannot read it", err)
	}
	if len(b) > maxState {
		return nil, stateError(name, "not a state file fcgicli wrote", fmt.Errorf("over %d KiB", maxState>>10))
	}
	var s State
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, stateError(name, "not a state file fcgicli wrote", err)
	}
	return &s, nil
}

// stateError is a state file's fault: exit 2 with the file's name, and
// the cause without the paths a *fs.PathError or a rename's
// *os.LinkError repeat.
func stateError(name, what string, err error) error {
	var pe *fs.PathError
	var le *os.LinkError
	if errors.As(err, &pe) {
		err = pe.Err
	} else if errors.As(err, &le) {
		err = le.Err
	}
	return &runenv.CodeError{Code: runenv.ExitUsage, Msg: fmt.Sprintf("--state-file %s: %s: %v", name, what, err)}
}

// SaveState replaces the state file atomically with s's counters; a
// failure is exit 2, naming the file.
func SaveState(name string, s *fpmstatus.Status) error {
	b, err := json.Marshal(State{Pool: s.Pool, StartTime: s.StartTime, AcceptedConn: s.AcceptedConn,
		MaxChildrenReached: s.MaxChildrenReached, SlowRequests: s.SlowRequests, ReadAt: time.Now().Unix()})
	if err != nil {
		return err
	}
	// A file of its own beside it, so that runs that overlap never
	// rename one another's, and none is left behind.
	f, err := os.CreateTemp(filepath.Dir(name), filepath.Base(name)+".*.tmp")
	if err != nil {
		return stateError(name, "cannot write it", err)
	}
	_, err = f.Write(append(b, '\n'))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(f.Name(), name)
	}
	if err != nil {
		os.Remove(f.Name())
		return stateError(name, "cannot write it", err)
	}
	return nil
}
