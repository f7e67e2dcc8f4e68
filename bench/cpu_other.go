//go:build !unix

package bench

import "time"

// cpuTime returns 0 where the process's CPU time is not available; the
// report then shows no CPU figures.
func cpuTime() time.Duration { return 0 }
