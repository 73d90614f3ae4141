package conformance

import (
	"maps"
	"slices"
)

// sortedIDs returns the ids of a selection in order.
func sortedIDs(m map[int]bool) []int { return slices.Sorted(maps.Keys(m)) }
