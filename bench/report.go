package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"text/tabwriter"
)

// Engines of a result row.
const (
	EngineSluice = "sluice"
	EngineLimit  = "limit" // the hand-written loop
	EnginePeer   = "peer"  // github.com/rulego/streamsql
)

// Result is one measured configuration.
type Result struct {
	Scenario   string `json:"scenario"`
	Mode       string `json:"mode"`
	Engine     string `json:"engine"`
	Strategy   string `json:"strategy,omitempty"`
	Auto       bool   `json:"auto,omitempty"` // the planner's automatic choice
	Partitions int    `json:"partitions"`
	Records    int64  `json:"records"`
	Runs       int    `json:"runs"`

	Seconds         float64 `json:"seconds"` // the best run
	RecordsPerSec   float64 `json:"records_per_sec"`
	NsPerRecord     float64 `json:"ns_per_record"`
	AllocsPerRecord float64 `json:"allocs_per_record"`
	PeakHeapBytes   int64   `json:"peak_heap_bytes"` // peak heap in use above the heap before the run
	// CPUs is the CPU time the process used during the best run divided by
	// its wall time: how many cores the run got (the machine may be shared).
	CPUs float64 `json:"cpus"`

	// Ratios of RecordsPerSec (0 when there is nothing to compare with).
	VsLimit        float64 `json:"vs_limit,omitempty"`
	VsOnePartition float64 `json:"vs_one_partition,omitempty"`
	VsPeer         float64 `json:"vs_peer,omitempty"`

	Answer      Answer `json:"answer"`
	RowsWritten int64  `json:"rows_written,omitempty"`
	Mismatch    bool   `json:"mismatch,omitempty"`
}

// StateSize is the heap one pipeline keeps for a keyed scenario's groups,
// or a join's rows.
type StateSize struct {
	Scenario string `json:"scenario"`
	// Unit is what Groups counts: "group", "table row" (a stream-table
	// join) or "buffered row" (a stream-stream join).
	Unit   string `json:"unit"`
	Groups int64  `json:"groups"`
	Bytes  int64  `json:"bytes"`
	// Fixed is the heap of a pipeline that has seen one group: buffers
	// that do not grow with the groups.
	Fixed int64 `json:"fixed_bytes"`
	// BytesPerGroup is (Bytes - Fixed) / (Groups - 1).
	BytesPerGroup float64 `json:"bytes_per_group"`
}

// Machine describes where the report was made.
type Machine struct {
	CPUs      int    `json:"cpus"`
	CPU       string `json:"cpu"`
	GoVersion string `json:"go_version"`
	OS        string `json:"os"`
}

// Report is a benchmark run's outcome.
type Report struct {
	Machine    Machine     `json:"machine"`
	Config     string      `json:"config"`
	Results    []Result    `json:"results"`
	State      []StateSize `json:"state,omitempty"`
	Mismatches []string    `json:"mismatches,omitempty"`
	// Skipped lists scenarios the engine cannot run, with the reason.
	Skipped []string `json:"skipped,omitempty"`
}

// add appends r with the figures of its best run and returns it.
func (rep *Report) add(r Result, s sample) *Result {
	r.Seconds = s.elapsed.Seconds()
	if r.Seconds > 0 {
		r.RecordsPerSec = float64(r.Records) / r.Seconds
	}
	if r.Records > 0 {
		r.NsPerRecord = float64(s.elapsed.Nanoseconds()) / float64(r.Records)
		r.AllocsPerRecord = float64(s.allocs) / float64(r.Records)
	}
	r.PeakHeapBytes = s.peak
	if r.Seconds > 0 {
		r.CPUs = s.cpu.Seconds() / r.Seconds
	}
	rep.Results = append(rep.Results, r)
	return &rep.Results[len(rep.Results)-1]
}

// ratios fills in every result's ratios to the limit, to 1 partition (same
// scenario, mode and strategy) and to the peer.
func (rep *Report) ratios() {
	find := func(pred func(*Result) bool) *Result {
		for i := range rep.Results {
			if pred(&rep.Results[i]) {
				return &rep.Results[i]
			}
		}
		return nil
	}
	for i := range rep.Results {
		r := &rep.Results[i]
		if one := find(func(o *Result) bool {
			return o.Engine == r.Engine && o.Scenario == r.Scenario && o.Mode == r.Mode &&
				o.Strategy == r.Strategy && o.Partitions == 1
		}); one != nil && one.RecordsPerSec > 0 {
			r.VsOnePartition = r.RecordsPerSec / one.RecordsPerSec
		}
		if r.Engine != EngineSluice {
			continue
		}
		if l := find(func(o *Result) bool {
			return o.Engine == EngineLimit && o.Scenario == r.Scenario && o.Partitions == 1
		}); l != nil && l.RecordsPerSec > 0 {
			r.VsLimit = r.RecordsPerSec / l.RecordsPerSec
		}
		if p := find(func(o *Result) bool { return o.Engine == EnginePeer && o.Scenario == r.Scenario }); p != nil && p.RecordsPerSec > 0 {
			r.VsPeer = r.RecordsPerSec / p.RecordsPerSec
		}
	}
}

// WriteJSON writes the report as indented JSON.
func (rep *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}

// WriteTable writes the report as a Markdown table, with the machine and
// the per-group state sizes.
func (rep *Report) WriteTable(w io.Writer) error {
	m := rep.Machine
	fmt.Fprintf(w, "machine: %d CPUs, %s, %s, %s\n", m.CPUs, m.CPU, m.GoVersion, m.OS)
	fmt.Fprintf(w, "config: %s\n\n", rep.Config)
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', tabwriter.Debug)
	fmt.Fprintln(tw, "| scenario\t mode\t engine\t strategy\t N\t records\t records/s\t ns/rec\t allocs/rec\t peak heap\t cores\t vs limit\t vs N=1\t vs peer\t answer\t")
	fmt.Fprintln(tw, "|---\t---\t---\t---\t---:\t---:\t---:\t---:\t---:\t---:\t---:\t---:\t---:\t---:\t---\t")
	for _, r := range rep.Results {
		st := r.Strategy
		if r.Auto {
			st += " (auto)"
		}
		ans := r.Answer.String()
		if r.Mismatch {
			ans = "WRONG: " + ans
		}
		fmt.Fprintf(tw, "| %s\t %s\t %s\t %s\t %d\t %d\t %s\t %.1f\t %.3f\t %s\t %.2f\t %s\t %s\t %s\t %s\t\n",
			r.Scenario, r.Mode, r.Engine, st, r.Partitions, r.Records, rate(r.RecordsPerSec), r.NsPerRecord,
			r.AllocsPerRecord, sizeString(r.PeakHeapBytes), r.CPUs, ratio(r.VsLimit), ratio(r.VsOnePartition), ratio(r.VsPeer), ans)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, s := range rep.State {
		fmt.Fprintf(w, "\nstate, scenario %s: %d %ss, %s in one pipeline (%s fixed), %.0f bytes/%s", s.Scenario,
			s.Groups, s.Unit, sizeString(s.Bytes), sizeString(s.Fixed), s.BytesPerGroup, s.Unit)
	}
	if len(rep.State) > 0 {
		fmt.Fprintln(w)
	}
	for _, s := range rep.Skipped {
		fmt.Fprintf(w, "\nskipped: %s", s)
	}
	if len(rep.Skipped) > 0 {
		fmt.Fprintln(w)
	}
	for _, m := range rep.Mismatches {
		fmt.Fprintf(w, "\nWRONG ANSWER: %s", m)
	}
	if len(rep.Mismatches) > 0 {
		fmt.Fprintln(w)
	}
	return nil
}

func rate(x float64) string {
	switch {
	case x >= 1e6:
		return fmt.Sprintf("%.2fM", x/1e6)
	case x >= 1e3:
		return fmt.Sprintf("%.1fK", x/1e3)
	}
	return fmt.Sprintf("%.0f", x)
}

func ratio(x float64) string {
	if x == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fx", x)
}

// summary describes the configuration in one line.
func (c Config) summary() string {
	s := fmt.Sprintf("partitions %v, records %d (0: scenario default), seconds %g, modes %s",
		c.Partitions, c.Records, c.Seconds, strings.Join(c.Modes, ","))
	if c.AllStrategies {
		s += ", all strategies"
	}
	return s
}

// thisMachine describes the machine: CPU count, model, Go version.
func thisMachine() Machine {
	m := Machine{CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), OS: runtime.GOOS + "/" + runtime.GOARCH, CPU: "unknown"}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	return m
}
