package main

import (
	"fmt"
	"io"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/sluicesql/sluice/job"
	"github.com/sluicesql/sluice/runner"
)

// barWidth is the width of a partition's load bar in characters.
const barWidth = 30

// progress shows a running job's progress on stderr: redrawn in place on a
// terminal, else (with --progress) one block per update. Updates start
// with the job's first snapshot, about a second after it started.
type progress struct {
	mu      sync.Mutex
	w       io.Writer
	name    string
	redraw  bool // move the cursor up and overwrite the previous block
	compact bool // one line per update (the shares of the partitions, no bars)
	lines   int  // lines of the block last drawn (redraw mode)
	prev    *job.Summary
	status  func() string // the sources' state worth a line ("" for none), or nil
	// input reports how many bytes of a bounded input of known size were
	// read and its total (ok false when unknown), or is nil.
	input func() (read, total int64, ok bool)
}

// inputRead is how much of a bounded input was read, in bytes; a zero
// total means unknown.
type inputRead struct{ read, total int64 }

// newProgress returns the progress display of j, or nil when none is
// wanted: progress is shown with --progress (forced), or when stderr is a
// terminal unless the job's rows go to stdout on the same terminal (the
// redrawing would overwrite them).
func newProgress(w io.Writer, j *runner.Job, forced, stderrTTY, stdoutTTY bool) *progress {
	redraw := stderrTTY && !(stdoutTTY && j.WritesStdout)
	if !forced && !redraw {
		return nil
	}
	return &progress{w: w, name: j.Name, redraw: redraw, status: j.Status, input: j.InputProgress}
}

// update draws snapshot s.
func (p *progress) update(s *job.Summary) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	var b strings.Builder
	if p.redraw && p.lines > 0 {
		fmt.Fprintf(&b, "\x1b[%dA\x1b[J", p.lines)
	}
	var in inputRead
	if p.input != nil {
		if read, total, ok := p.input(); ok {
			in = inputRead{read, total}
		}
	}
	if p.compact {
		renderProgressLine(&b, p.name, s, p.prev)
	} else {
		p.lines = renderProgress(&b, p.name, s, p.prev, in)
	}
	if p.status != nil {
		if st := p.status(); st != "" {
			fmt.Fprintf(&b, "  %s\n", st)
			if !p.compact {
				p.lines++
			}
		}
	}
	p.prev = s
	io.WriteString(p.w, b.String())
}

// done erases the last block on a terminal, so the summary takes its place.
func (p *progress) done() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.redraw && p.lines > 0 {
		fmt.Fprintf(p.w, "\x1b[%dA\x1b[J", p.lines)
		p.lines = 0
	}
}

// renderProgress writes one progress block for snapshot s (prev is the
// previous snapshot, or nil) and returns its number of lines: a line of
// totals (records in and out, the current rate, the watermark and its lag),
// for a bounded input of known size a bar of how much of it was read with
// the percentage and the time left at the average rate so far, and one bar
// per partition, its length the partition's share of the records (a full
// bar is all of them), so skew shows at a glance.
func renderProgress(w io.Writer, name string, s, prev *job.Summary, in inputRead) int {
	lines := 1 + len(s.Partitions)
	fmt.Fprintf(w, "%s\n", totalsText(name, s, prev))
	if in.total > 0 {
		fmt.Fprintf(w, "  input %s %6s of %s read, %s\n", bar(in.read, in.total), percent(in.read, in.total),
			bytesText(in.total), etaText(in, s.Elapsed))
		lines++
	}
	routed := partitionsIn(s)
	for i, p := range s.Partitions {
		fmt.Fprintf(w, "  p%-2d %s %6s %s  queue %d/%d\n", i, bar(p.In, routed),
			percent(p.In, routed), count(p.In), p.QueueDepth, p.QueueCap)
	}
	return lines
}

// bar draws part of whole as a bar of barWidth characters.
func bar(part, whole int64) string {
	n := 0
	if whole > 0 {
		n = min(int(math.Round(float64(barWidth)*float64(part)/float64(whole))), barWidth)
	}
	return strings.Repeat("█", n) + strings.Repeat("·", barWidth-n)
}

// etaText estimates the time left to read in, at the average rate so far.
func etaText(in inputRead, elapsed time.Duration) string {
	switch {
	case in.read >= in.total:
		return "ETA 0s"
	case in.read <= 0 || elapsed <= 0:
		return "ETA unknown"
	}
	left := time.Duration(float64(elapsed) * float64(in.total-in.read) / float64(in.read))
	return "ETA " + left.Round(time.Second).String()
}

// bytesText formats a size in bytes with a binary unit: 1.5 GiB.
func bytesText(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// renderProgressLine writes one line of progress: the totals and each
// partition's share of the records.
func renderProgressLine(w io.Writer, name string, s, prev *job.Summary) {
	routed := partitionsIn(s)
	shares := make([]string, len(s.Partitions))
	for i, p := range s.Partitions {
		shares[i] = fmt.Sprintf("p%d %s", i, percent(p.In, routed))
	}
	fmt.Fprintf(w, "%s | %s\n", totalsText(name, s, prev), strings.Join(shares, " "))
}

// totalsText describes snapshot s: elapsed time, records in and out, the
// rate since prev (or since the start) and the watermark.
func totalsText(name string, s, prev *job.Summary) string {
	in, elapsed := s.Total.In, s.Elapsed
	if prev != nil {
		in, elapsed = s.Total.In-prev.Total.In, s.Elapsed-prev.Elapsed
	}
	return fmt.Sprintf("%s %s: in %s, out %s, %s records/s, watermark %s", name, s.Elapsed.Round(time.Second),
		count(s.Total.In), count(s.Total.Out), count(int64(rate(in, elapsed))), watermarkText(s))
}

// watermarkText shows the job's watermark and how far it trails the
// newest event time, or "none" before the first.
func watermarkText(s *job.Summary) string {
	if s.Watermark == math.MinInt64 {
		return "none"
	}
	t := time.UnixMilli(s.Watermark).UTC().Format("2006-01-02T15:04:05Z")
	return fmt.Sprintf("%s (lag %s)", t, s.WatermarkLag.Round(time.Millisecond))
}
