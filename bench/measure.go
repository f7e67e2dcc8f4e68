package bench

import (
	"runtime"
	"runtime/metrics"
	"time"
)

// sample is one measured run.
type sample struct {
	elapsed time.Duration
	allocs  uint64        // heap objects allocated during the run
	peak    int64         // largest heap in use during the run above the heap before it
	cpu     time.Duration // process CPU time (user + system) during the run
}

// Runtime metrics read around and during a run.
const (
	metricAllocs = "/gc/heap/allocs:objects"
	metricHeap   = "/memory/classes/heap/objects:bytes"
)

// heapSampleEvery is the period of peak-heap sampling.
const heapSampleEvery = 2 * time.Millisecond

// measure runs fn once after a GC and returns its time, allocations and
// peak heap growth (sampled every heapSampleEvery, and at the end).
func measure(fn func() error) (sample, error) {
	ms := []metrics.Sample{{Name: metricAllocs}, {Name: metricHeap}}
	runtime.GC()
	metrics.Read(ms)
	allocs0, heap0 := ms[0].Value.Uint64(), int64(ms[1].Value.Uint64())
	stop, peakCh := make(chan struct{}), make(chan int64)
	go func() {
		s := []metrics.Sample{{Name: metricHeap}}
		peak := heap0
		t := time.NewTicker(heapSampleEvery)
		defer t.Stop()
		for {
			metrics.Read(s)
			peak = max(peak, int64(s[0].Value.Uint64()))
			select {
			case <-stop:
				peakCh <- peak
				return
			case <-t.C:
			}
		}
	}()
	cpu0, start := cpuTime(), time.Now()
	err := fn()
	elapsed, cpu := time.Since(start), cpuTime()-cpu0
	metrics.Read(ms)
	close(stop)
	peak := max(<-peakCh, int64(ms[1].Value.Uint64()))
	return sample{elapsed: elapsed, allocs: ms[0].Value.Uint64() - allocs0, peak: peak - heap0, cpu: cpu}, err
}

// repeat measures fn until at least seconds have passed (at least once) and
// returns the fastest run, with the largest peak seen.
func repeat(seconds float64, fn func() error) (best sample, runs int, err error) {
	var total time.Duration
	for runs == 0 || total.Seconds() < seconds {
		s, err := measure(fn)
		if err != nil {
			return best, runs, err
		}
		runs++
		total += s.elapsed
		if runs == 1 || s.elapsed < best.elapsed {
			peak := max(best.peak, s.peak)
			best = s
			best.peak = peak
		} else {
			best.peak = max(best.peak, s.peak)
		}
	}
	return best, runs, nil
}
