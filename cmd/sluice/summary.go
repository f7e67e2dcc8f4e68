package main

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/sluicesql/sluice/job"
	"github.com/sluicesql/sluice/runner"
)

// runInfo is what the summary says about a job besides its counters.
type runInfo struct {
	// Name is the job's name.
	Name string
	// Keys are the routing keys; Choice where the strategy came from (auto,
	// flag, annotation, with); PartitionsOrigin where the partition count
	// came from (flag, annotation, cpus).
	Keys             []string
	Choice           string
	PartitionsOrigin string
	// Note says why the source's partition key was not trusted, if so.
	Note string
}

// infoOf returns the summary's description of a prepared job.
func infoOf(j *runner.Job) runInfo {
	return runInfo{Name: j.Name, Keys: j.Plan.RoutingKeys, Choice: j.Plan.ChoiceSource,
		PartitionsOrigin: j.Plan.PartitionsOrigin, Note: j.FactsNote()}
}

// originText describes where the partition count came from.
func originText(origin string) string {
	switch origin {
	case "flag":
		return "from --partitions"
	case "annotation":
		return "from @num_partitions"
	case "cpus":
		return "the CPU count"
	}
	return origin
}

// writeSummary writes the end-of-run summary of a job: the strategy and
// where it came from, the partitions, the record counters (in = out of the
// pipeline + filtered + dead-lettered + late), the elapsed time and rate,
// the per-partition counts and the skew.
func writeSummary(w io.Writer, info runInfo, s *job.Summary) {
	t := s.Total
	state := "done"
	switch {
	case s.Failed:
		state = "failed"
	case s.Interrupted:
		state = "interrupted"
	}
	strategy := s.Strategy
	if len(info.Keys) > 0 {
		strategy += " on " + strings.Join(info.Keys, ", ")
	}
	fmt.Fprintf(w, "job %s %s: %s (chosen by %s), %d partitions (%s)\n",
		info.Name, state, strategy, info.Choice, len(s.Partitions), originText(info.PartitionsOrigin))
	limited := ""
	var tombstones int64
	for _, n := range s.SourceSkipped {
		tombstones += n
	}
	if tombstones > 0 {
		limited = " (" + count(tombstones) + " tombstones)"
	}
	if t.Limited > 0 {
		limited += ", past LIMIT " + count(t.Limited)
	}
	fmt.Fprintf(w, "  records:    in %s, out %s, filtered %s%s, dead-lettered %s, late %s%s; rows written %s\n",
		count(t.In), count(t.Out), count(t.Filtered), limited, count(s.DeadLetters), count(t.Late), lateText(t), count(s.RowsWritten))
	if s.DLQPath != "" {
		fmt.Fprintf(w, "  dead letters in %s\n", s.DLQPath)
	}
	if s.DLQTopic != "" {
		fmt.Fprintf(w, "  dead letters in Kafka topic %s\n", s.DLQTopic)
	}
	fmt.Fprintf(w, "  elapsed:    %s, %s records/s\n", s.Elapsed.Round(time.Millisecond), count(int64(rate(t.In, s.Elapsed))))
	fmt.Fprintf(w, "  partitions: %s\n", partitionsText(s))
	if s.Skew > 0 {
		fmt.Fprintf(w, "  skew:       %.2f (largest partition / mean; 1.00 is even)\n", s.Skew)
	} else {
		fmt.Fprintln(w, "  skew:       none (no record reached a partition)")
	}
	if t.BackpressureWaits > 0 {
		var waits []string
		for i, p := range s.Partitions {
			if p.BackpressureWaits > 0 {
				waits = append(waits, fmt.Sprintf("p%d %s", i, count(p.BackpressureWaits)))
			}
		}
		fmt.Fprintf(w, "  backpressure: %s waits for a full queue (%s); readers waited %s in total (summed over the readers, which wait in parallel)\n",
			count(t.BackpressureWaits), strings.Join(waits, ", "), t.BackpressureWait.Round(time.Millisecond))
	}
	if info.Note != "" {
		fmt.Fprintf(w, "  note:       the source's partition key is not used: %s\n", info.Note)
	}
}

// shownPartitions is how many partitions the summary lists one by one; of
// more, it lists the busiest.
const shownPartitions = 16

// partitionsText lists the records each partition got; of many partitions,
// only the busiest shownPartitions, in partition order, and how many more.
func partitionsText(s *job.Summary) string {
	routed := partitionsIn(s)
	shown := make([]int, len(s.Partitions))
	for i := range shown {
		shown[i] = i
	}
	if len(shown) > shownPartitions {
		slices.SortStableFunc(shown, func(a, b int) int { return cmp.Compare(s.Partitions[b].In, s.Partitions[a].In) })
		shown = shown[:shownPartitions]
		slices.Sort(shown)
	}
	parts := make([]string, 0, len(shown)+1)
	for _, i := range shown {
		p := s.Partitions[i]
		parts = append(parts, fmt.Sprintf("p%d %s (%s)", i, count(p.In), percent(p.In, routed)))
	}
	if more := len(s.Partitions) - len(shown); more > 0 {
		parts = append(parts, fmt.Sprintf("and %s more with fewer records", count(int64(more))))
	}
	return strings.Join(parts, ", ")
}

// lateText says where the late records went: dropped (not part of the
// dead-lettered count) or dead-lettered (part of it).
func lateText(t job.PartitionStats) string {
	switch {
	case t.Late == 0:
		return ""
	case t.LateDropped == t.Late:
		return " (dropped)"
	case t.LateDropped == 0:
		return " (dead-lettered)"
	}
	return fmt.Sprintf(" (%s dropped)", count(t.LateDropped))
}

// partitionsIn is the records the partitions received (Total.In also counts
// records that failed to decode, which no partition saw).
func partitionsIn(s *job.Summary) int64 {
	var n int64
	for _, p := range s.Partitions {
		n += p.In
	}
	return n
}

// rate is n per second of d.
func rate(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// percent formats part as a percentage of whole.
func percent(part, whole int64) string {
	if whole <= 0 {
		return "0.0%"
	}
	return fmt.Sprintf("%.1f%%", 100*float64(part)/float64(whole))
}

// count formats n with thousands separators: 1234567 -> 1,234,567.
func count(n int64) string {
	if n < 0 {
		return "-" + count(-n)
	}
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
