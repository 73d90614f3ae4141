package bench

import (
	"math"
	"math/bits"
	"sync/atomic"
	"time"
)

// histogram records latencies in fixed memory, in the manner of
// HdrHistogram: values below 2048ns are counted exactly, and every power
// of two above that is split into 1024 equal buckets, so a recorded value
// is known to within 1/1024 of itself (three significant digits) however
// large it is. The minimum, maximum and sum are kept exactly. It is safe
// for concurrent use: every counter is updated atomically.
type histogram struct {
	counts [histBuckets]atomic.Int64
	total  atomic.Int64
	sum    atomic.Int64 // nanoseconds
	min    atomic.Int64 // nanoseconds; math.MaxInt64 while empty
	max    atomic.Int64
}

const (
	histSubBits   = 11
	histSubCount  = 1 << histSubBits // exact values below this
	histSubHalf   = histSubCount / 2 // buckets per power of two above it
	histMaxBits   = 42               // values up to 2^42ns (73 minutes) are bucketed; longer ones share the last bucket
	histBuckets   = histSubCount + (histMaxBits-histSubBits)*histSubHalf
	histLastIndex = histBuckets - 1
)

func newHistogram() *histogram {
	h := &histogram{}
	h.min.Store(math.MaxInt64)
	return h
}

// bucketOf returns the index of the bucket that counts v nanoseconds.
func bucketOf(v int64) int {
	if v < histSubCount {
		return int(max(v, 0))
	}
	shift := bits.Len64(uint64(v)) - histSubBits // >= 1
	i := histSubCount + (shift-1)*histSubHalf + int(v>>shift) - histSubHalf
	return min(i, histLastIndex)
}

// bucketRange returns the lowest and highest value counted by bucket i.
func bucketRange(i int) (lo, hi int64) {
	if i < histSubCount {
		return int64(i), int64(i)
	}
	k := i - histSubCount
	shift := k/histSubHalf + 1
	sub := int64(k%histSubHalf + histSubHalf)
	return sub << shift, (sub+1)<<shift - 1
}

// Record counts one latency.
func (h *histogram) Record(d time.Duration) {
	v := max(int64(d), 0)
	h.counts[bucketOf(v)].Add(1)
	h.total.Add(1)
	h.sum.Add(v)
	h.bounds(v, v)
}

// bounds lowers the minimum to lo and raises the maximum to hi where
// they are beyond.
func (h *histogram) bounds(lo, hi int64) {
	for {
		m := h.min.Load()
		if lo >= m || h.min.CompareAndSwap(m, lo) {
			break
		}
	}
	for {
		m := h.max.Load()
		if hi <= m || h.max.CompareAndSwap(m, hi) {
			break
		}
	}
}

// RecordSpaced counts n latencies evenly spaced: first, first+step,
// first+2·step... nanoseconds, each rounded down (so never above the
// value given), in time that grows with the buckets they cover, not with
// n: under --rate the requests due but never sent are evenly spaced, and
// there can be billions of them.
func (h *histogram) RecordSpaced(first, step float64, n int64) {
	if n <= 0 {
		return
	}
	first, step = max(first, 0), max(step, 0)
	lo := int64(first)
	hi := int64(min(first+float64(n-1)*step, math.MaxInt64/2))
	// below(x): how many of the values are below x: those of the j with
	// first + j·step < x.
	below := func(x int64) int64 {
		if step == 0 {
			if float64(x) > first {
				return n
			}
			return 0
		}
		k := math.Ceil((float64(x) - first) / step)
		return int64(min(max(k, 0), float64(n)))
	}
	// Counted as the difference of a running total, which ends at n
	// exactly whatever the rounding of the divisions.
	var prev int64
	last := bucketOf(hi)
	for i := bucketOf(lo); i <= last; i++ {
		_, bhi := bucketRange(i)
		cum := n
		if i < last {
			cum = max(below(bhi+1), prev)
		}
		if c := cum - prev; c > 0 {
			h.counts[i].Add(c)
		}
		prev = cum
	}
	h.total.Add(n)
	sum := float64(n)*first + step*float64(n)*float64(n-1)/2
	h.sum.Add(int64(min(sum, math.MaxInt64/2)))
	h.bounds(lo, hi)
}

// Count returns the number of values recorded.
func (h *histogram) Count() int64 { return h.total.Load() }

// Min returns the smallest value recorded, exactly (0 when empty).
func (h *histogram) Min() time.Duration {
	if h.Count() == 0 {
		return 0
	}
	return time.Duration(h.min.Load())
}

// Max returns the largest value recorded, exactly.
func (h *histogram) Max() time.Duration { return time.Duration(h.max.Load()) }

// Mean returns the exact mean (0 when empty).
func (h *histogram) Mean() time.Duration {
	n := h.Count()
	if n == 0 {
		return 0
	}
	return time.Duration(h.sum.Load() / n)
}

// Percentile returns the value below or at which p percent of the
// recorded values fall: the highest value of the bucket where the count
// reaches p percent, which is within 1/1024 of the true value, and never
// outside [Min, Max]. p is from 0 to 100; 0 gives Min and 100 Max.
func (h *histogram) Percentile(p float64) time.Duration {
	n := h.Count()
	if n == 0 {
		return 0
	}
	if p <= 0 {
		return h.Min()
	}
	if p >= 100 {
		return h.Max()
	}
	target := int64(math.Ceil(p/100*float64(n) - 1e-9)) // 99.9% of 1000 is 999, not 999.0000000000001
	target = min(max(target, 1), n)
	var seen int64
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen >= target {
			_, hi := bucketRange(i)
			return time.Duration(min(max(hi, int64(h.Min())), int64(h.Max())))
		}
	}
	return h.Max()
}

// histBar is one bar of the histogram a report draws.
type histBar struct {
	UpTo  time.Duration // the bar counts values up to this
	Count int64
}

// Bars condenses the histogram into at most n bars of geometrically
// growing width from Min to Max (latencies spread over orders of
// magnitude; equal widths would put nearly everything in the first bar).
// Each bucket's count goes to the bar that holds the bucket's midpoint.
func (h *histogram) Bars(n int) []histBar {
	if h.Count() == 0 || n < 1 {
		return nil
	}
	lo, hi := float64(h.Min()), float64(h.Max())
	if hi <= lo {
		return []histBar{{UpTo: h.Max(), Count: h.Count()}}
	}
	lo = max(lo, 1)
	ratio := math.Pow(hi/lo, 1/float64(n))
	var bars []histBar
	for i := 1; i <= n; i++ {
		up := time.Duration(ceilSignificant(lo*math.Pow(ratio, float64(i)), 2))
		if i == n || up >= h.Max() {
			up = h.Max()
		}
		if len(bars) > 0 && up <= bars[len(bars)-1].UpTo {
			continue
		}
		bars = append(bars, histBar{UpTo: up})
		if up == h.Max() {
			break
		}
	}
	b := 0
	for i := range h.counts {
		c := h.counts[i].Load()
		if c == 0 {
			continue
		}
		blo, bhi := bucketRange(i)
		mid := time.Duration(blo + (bhi-blo)/2)
		for b < len(bars)-1 && mid > bars[b].UpTo {
			b++
		}
		bars[b].Count += c
	}
	return bars
}

// ceilSignificant rounds v up to d significant digits, so that bar
// bounds read well (1.2ms, not 1.1873ms) and never fall below v.
func ceilSignificant(v float64, d int) float64 {
	if v <= 0 {
		return v
	}
	scale := math.Pow(10, float64(d)-math.Ceil(math.Log10(v)))
	return math.Ceil(v*scale-1e-9) / scale
}
