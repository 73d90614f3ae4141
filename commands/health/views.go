package health

import (
	"strings"

	"github.com/fcgicli/fcgicli/commands/runenv"
	"github.com/fcgicli/fcgicli/formatters"
)

// ApplyMaxChildren gives n, --max-children, to the --connect pools, which
// have no configuration to take pm.max_children from; 0 leaves them as
// they are.
func ApplyMaxChildren(targets []Target, n int64) {
	if n == 0 {
		return
	}
	for i := range targets {
		if targets[i].Pool == "" {
			targets[i].MaxChildren = n
		}
	}
}

// StatusPools are the pools read as the status formatters show several:
// each with its page, its failed checks, and its error in one line (a
// busy pool's says it is busy).
func StatusPools(results []PoolResult) []formatters.StatusPool {
	pools := make([]formatters.StatusPool, len(results))
	for i, r := range results {
		pools[i] = formatters.StatusPool{Address: r.Addr, Name: r.Pool, MaxChildren: r.MaxChildren, Status: r.Status, Busy: r.Busy, FailedChecks: FailedChecks(r.Failures)}
		switch {
		case r.Busy && r.Err != nil:
			pools[i].Error = BusyLine(r.Err)
		case r.Err != nil:
			_, pools[i].Error = runenv.ExitCode(r.Err)
			pools[i].Hint = runenv.HintOf(r.Err)
		}
	}
	return pools
}

// PromPools are the pools read as the Prometheus exposition labels them:
// scrape_uri from the address and the page read (uri, unless the pool's
// configuration gives its own), the name php-fpm's configuration gives a
// pool that could not be read, its pm.max_children and how long it took.
func PromPools(results []PoolResult, uri string) []formatters.PromPool {
	out := make([]formatters.PromPool, len(results))
	for i, r := range results {
		u := r.URI
		if u == "" {
			u = uri
		}
		path, _, _ := strings.Cut(u, "?")
		out[i] = formatters.PromPool{ScrapeURI: formatters.ScrapeURI(r.Addr, path), Pool: r.Pool, Status: r.Status,
			MaxChildren: r.MaxChildren, Duration: r.Took}
	}
	return out
}
