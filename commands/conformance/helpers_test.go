package conformance

import "sort"

// sortedIDs returns the ids of a selection in order.
func sortedIDs(m map[int]bool) []int {
	var out []int
	for id := range m {
		out = append(out, id)
	}
	sort.Ints(out)
	return out
}
