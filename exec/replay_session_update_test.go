package exec

import (
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/sluicesql/sluice/internal/replaytest"
)

// TestRepartitionReplayLateSessionUpdates runs SESSION windows whose late
// records update them ('late.data.strategy'='update') over a repartition
// topic's partition as one run and as generations that stop at random
// points and replay from their commits, every other round killed some
// way past them (runGenerations). Late records reopen sessions that
// fired, extend them and bridge them with others, so a replay must
// rebuild every session a late record may still change whole, and judge
// each record late as the first run did. Every row the generations write
// must be one some run alone writes (the state of a session after some of
// its records: no session rebuilt from part of its records), and their
// changelog, each row replacing its session's (key, start and end) and
// each retraction deleting it, must end at the one run's; each record the
// one run dead-letters (its own session's retention passed) is
// dead-lettered once (at least once when killed).
func TestRepartitionReplayLateSessionUpdates(t *testing.T) {
	const q = "SELECT k, _WINDOW_START AS ws, _WINDOW_END AS we, COUNT(*) AS n, SUM(v) AS s FROM rp GROUP BY k %sWINDOW SESSION(INTERVAL '%d' MILLISECONDS) EMIT %s"
	for _, tt := range []struct {
		having string
		gap    int
		emit   string
		props  map[string]string
	}{
		{"", 100, "FINAL", nil},
		{"", 100, "CHANGES", nil},
		{"", 60, "FINAL", map[string]string{PropAllowedLateness: "50ms"}},
		{"", 150, "CHANGES", map[string]string{PropAllowedLateness: "20ms", "late.data.retention": "100ms"}},
		{"", 40, "FINAL", map[string]string{"late.data.retention": "150ms"}},
		{"HAVING COUNT(*) % 3 <> 0 ", 100, "FINAL", nil},
		{"HAVING SUM(v) % 2 = 0 ", 80, "CHANGES", map[string]string{PropAllowedLateness: "30ms"}},
	} {
		q := fmt.Sprintf(q, tt.having, tt.gap, tt.emit)
		props := map[string]string{PropLateDataStrategy: "update"}
		maps.Copy(props, tt.props)
		t.Run(fmt.Sprint(tt.having, tt.gap, tt.emit, tt.props), func(t *testing.T) {
			prog := compileSQL(t, q, Options{ExternalWatermark: true, Properties: props}, "k", "v")
			prog.HoldChanges()
			for seed := range uint64(3) {
				p := newReplayPartition(seed*1000+uint64(len(q)), true)
				one := p.oneRun(prog)
				want := sessionState(one)
				if len(want) == 0 || len(one.dead) == 0 {
					t.Fatalf("seed %d: the one run left %d sessions and dead-lettered %d records: the test checks nothing", seed, len(want), len(one.dead))
				}
				// the rows a run alone may write: the one run's, and
				// those of runs whose watermark moves after every
				// record (each session fires with the fewest records)
				// or after batches of other sizes
				alone := append(one.written(), p.eachRun(prog)...)
				for range 10 {
					r := p.oneRun(prog)
					if got := sessionState(r); !slices.Equal(got, want) {
						t.Fatalf("seed %d: one run ends at other sessions than another: extra %v, missing %v", seed, replaytest.Minus(got, want), replaytest.Minus(want, got))
					}
					alone = append(alone, r.written()...)
				}
				alone = replaytest.Distinct(alone)
				for round := range 30 {
					killed := round%2 == 1
					gens := p.runGenerations(prog, killed)
					if dead := deadOnce(gens.dead, killed); !slices.Equal(dead, sortedInts(one.dead)) {
						t.Fatalf("seed %d, round %d (killed %v): dead-lettered offsets %v, one run %v", seed, round, killed, dead, sortedInts(one.dead))
					}
					if wrong := replaytest.Minus(gens.written(), alone); len(wrong) > 0 {
						t.Fatalf("seed %d, round %d (killed %v): %d rows no run alone writes: %v", seed, round, killed, len(wrong), wrong[:min(5, len(wrong))])
					}
					if got := sessionState(gens); !slices.Equal(got, want) {
						extra, missing := replaytest.Minus(got, want), replaytest.Minus(want, got)
						t.Fatalf("seed %d, round %d (killed %v): %d sessions, one run %d: %d extra %v, %d missing %v", seed, round, killed, len(got), len(want),
							len(extra), extra[:min(5, len(extra))], len(missing), missing[:min(5, len(missing))])
					}
				}
			}
		})
	}
}
