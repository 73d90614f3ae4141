package health

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/fcgicli/fcgicli/commands/fpmstatus"
)

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
// (nil, nil).
func LoadState(name string) (*State, error) {
	b, err := os.ReadFile(name)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("--state-file: %w", err)
	}
	var s State
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("--state-file %s: not a state file fcgicli wrote: %v", name, err)
	}
	return &s, nil
}

// SaveState replaces the state file atomically with s's counters.
func SaveState(name string, s *fpmstatus.Status) error {
	b, err := json.Marshal(State{Pool: s.Pool, StartTime: s.StartTime, AcceptedConn: s.AcceptedConn,
		MaxChildrenReached: s.MaxChildrenReached, SlowRequests: s.SlowRequests, ReadAt: time.Now().Unix()})
	if err != nil {
		return err
	}
	tmp := name + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("--state-file: %w", err)
	}
	if err := os.Rename(tmp, name); err != nil {
		return fmt.Errorf("--state-file: %w", err)
	}
	return nil
}
