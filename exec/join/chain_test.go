package join

import (
	"sync"
	"testing"

	"github.com/sluicesql/sluice/record"
	"github.com/sluicesql/sluice/sql"
)

// chainProgram compiles a statement with two stream-stream joins on
// different keys, the second after an exchange over n workers.
func chainProgram(t *testing.T, n int) *Program {
	t.Helper()
	stmts, err := sql.Parse("q", "SELECT a.v, b.v AS bv, c.v AS cv FROM a JOIN b ON a.k = b.k WITHIN INTERVAL '1' SECOND LEFT JOIN c ON b.j = c.j WITHIN INTERVAL '1' SECOND")
	if err != nil {
		t.Fatal(err)
	}
	schema := func() *record.Schema { return record.NewSchema("k", "j", "v") }
	prog, err := Compile(stmts[0].Select(), Options{Inputs: []Input{{Name: "a", Schema: schema()}, {Name: "b", Schema: schema()}, {Name: "c", Schema: schema()}}})
	if err != nil {
		t.Fatal(err)
	}
	keys, err := sql.Parse("k", "SELECT b.j, c.j FROM b")
	if err != nil {
		t.Fatal(err)
	}
	items := keys[0].Select().Items
	if err := prog.SetExchange([][2][]sql.Expr{{}, {{items[0].Expr}, {items[1].Expr}}}, nil, n, 1); err != nil {
		t.Fatal(err)
	}
	return prog
}

// streamRow is a record of stream tag (0 a, 1 b, 2 c) at time ts.
func streamRow(prog *Program, tag int, k, j, v, ts int64) record.Record {
	side := prog.Sides()[tag]
	vals := make([]record.Value, side.Width)
	vals[side.Offset], vals[side.Offset+1], vals[side.Offset+2] = record.IntValue(k), record.IntValue(j), record.IntValue(v)
	vals[side.Slot] = record.IntValue(int64(tag))
	return record.Record{Values: vals, Timestamp: ts, Offset: -1}
}

// TestChainOuterRowWaitsForEveryWorker checks that the second join of a
// chain emits an unmatched row with NULLs only once the watermark of every
// worker that could still send it a match has passed the row's time plus
// the bound, not when its own has: the marks each worker sends behind its
// rows hold it back.
func TestChainOuterRowWaitsForEveryWorker(t *testing.T) {
	prog := chainProgram(t, 2)
	pls := []*Pipeline{prog.NewPipeline(), prog.NewPipeline()}
	outs := []*rows{{}, {}}
	count := func() int { return len(outs[0].out) + len(outs[1].out) }
	// a and b meet on worker 0 (joined row time 1200); no c row ever comes
	pls[0].Process([]record.Record{streamRow(prog, 0, 1, 7, 10, 1000), streamRow(prog, 1, 1, 7, 20, 1200)}, outs[0])
	for i, pl := range pls {
		pl.Advance(2000, outs[i])
	}
	if count() != 0 {
		t.Fatalf("rows before the watermark passed 2200: %v %v", outs[0].out, outs[1].out)
	}
	// one worker's watermark passes; the other's still holds the row back
	pls[0].Advance(3000, outs[0])
	pls[1].Advance(2000, outs[1])
	pls[0].Advance(3000, outs[0])
	if count() != 0 {
		t.Fatalf("a row emitted while worker 1's watermark is 2000: %v %v", outs[0].out, outs[1].out)
	}
	pls[1].Advance(3000, outs[1])
	pls[0].Advance(3000, outs[0])
	pls[1].Advance(3000, outs[1])
	if got := append(outs[0].out, outs[1].out...); len(got) != 1 || got[0] != "10,20,NULL" {
		t.Fatalf("rows %v, want the a-b row with NULLs once", got)
	}
	for _, pl := range pls {
		if pl.StateRows() != 0 {
			t.Errorf("%d rows kept", pl.StateRows())
		}
	}
}

// TestChainFinishWaitsForEveryWorker finishes the workers of a chain at
// once: a worker that read nothing still joins the rows the others send it,
// and every row comes out once.
func TestChainFinishWaitsForEveryWorker(t *testing.T) {
	for _, n := range []int{1, 2, 4} {
		prog := chainProgram(t, n)
		var pls []*Pipeline
		for range n {
			pls = append(pls, prog.NewPipeline())
		}
		outs := make([]*rows, n)
		// every record on worker 0: the exchange spreads the joined rows
		var recs []record.Record
		for i := range int64(40) {
			recs = append(recs, streamRow(prog, 0, i, i%5, i, 1000+i), streamRow(prog, 1, i, i%5, 100+i, 1000+i))
			if i%2 == 0 {
				recs = append(recs, streamRow(prog, 2, 0, i%5, 200+i, 1500+i))
			}
		}
		for i := range outs {
			outs[i] = &rows{}
		}
		pls[0].Process(recs, outs[0])
		var wg sync.WaitGroup
		for i, pl := range pls {
			wg.Add(1)
			go func() {
				defer wg.Done()
				pl.Finish(outs[i])
			}()
		}
		wg.Wait()
		got := 0
		for _, o := range outs {
			got += len(o.out)
			if len(o.dead) > 0 {
				t.Fatal(o.dead)
			}
		}
		// per j (0..4): 8 a-b rows, each meeting the 4 c rows of its j
		if got != 40*4 {
			t.Errorf("N=%d: %d rows, want %d", n, got, 40*4)
		}
	}
}
