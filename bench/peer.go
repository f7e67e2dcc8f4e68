package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strconv"
	"time"
)

// PeerResult is what the peer command prints: one JSON object.
type PeerResult struct {
	Scenario        string  `json:"scenario"`
	Records         int64   `json:"records"`
	Runs            int     `json:"runs"`
	Seconds         float64 `json:"seconds"`
	AllocsPerRecord float64 `json:"allocs_per_record"`
	PeakHeapBytes   int64   `json:"peak_heap_bytes"`
	// Rows is the number of result rows (one per window and group);
	// CountSum the sum of their COUNT(*): every record counted once.
	Rows     int64 `json:"rows"`
	CountSum int64 `json:"count_sum"`
}

// runPeer runs the peer command on the scenario's query and data, and
// checks its row count and record count against the limit's answer.
func (b *runner) runPeer(ctx context.Context, p *prepared) error {
	args := append(append([]string(nil), b.cfg.Peer[1:]...),
		"-scenario", p.s.PeerQuery, "-records", strconv.Itoa(p.n), "-seconds", strconv.FormatFloat(b.cfg.Seconds, 'g', -1, 64))
	ctx, cancel := context.WithTimeout(ctx, 30*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, b.cfg.Peer[0], args...)
	cmd.Dir = b.cfg.PeerDir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	fmt.Fprintf(b.cfg.Log, "  peer: %s %v (in %s)\n", b.cfg.Peer[0], args, b.cfg.PeerDir)
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("peer: %w: %s", err, bytes.TrimSpace(errb.Bytes()))
	}
	var pr PeerResult
	if err := json.Unmarshal(out.Bytes(), &pr); err != nil {
		return fmt.Errorf("peer: bad output %q: %w", out.String(), err)
	}
	res := Result{Scenario: p.s.ID, Mode: ModeMemory, Engine: EnginePeer, Partitions: 1, Records: pr.Records,
		Runs: pr.Runs, Answer: Answer{Rows: pr.Rows}}
	if pr.Records != p.records || pr.CountSum != p.records || pr.Rows != p.limit.Rows {
		res.Mismatch = true
		b.report.Mismatches = append(b.report.Mismatches, fmt.Sprintf("%s peer: %d records, %d counted, %d rows; want %d, %d, %d",
			p.s.ID, pr.Records, pr.CountSum, pr.Rows, p.records, p.records, p.limit.Rows))
	}
	b.report.add(res, sample{elapsed: time.Duration(pr.Seconds * float64(time.Second)),
		allocs: uint64(pr.AllocsPerRecord * float64(pr.Records)), peak: pr.PeakHeapBytes})
	return nil
}
