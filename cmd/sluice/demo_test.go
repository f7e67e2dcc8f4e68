package main

import (
	"strings"
	"testing"
)

func TestDemo(t *testing.T) {
	t.Chdir(t.TempDir())
	// A bounded demo: how many windows fire does not depend on how fast
	// this machine produces and reads in a given time (under -race on a
	// busy machine 3 s of a streaming demo fired none).
	code, out, errOut := sluice(t, "demo", "--trades", "30000", "--rate", "100000", "--duration", "5m")
	if code != 0 {
		t.Fatalf("exit %d\nstderr: %s", code, errOut)
	}
	for _, want := range []string{
		"strategy:     smart_repartition on trader_id\n",
		"chosen by:    auto\n",
		"partitioned by trader_id (declared); 8 partitions",
		"-- windows as they fire (it stops at the end of the 30000 trades):\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	_, windows, _ := strings.Cut(out, "-- windows as they fire")
	// 30,000 trades 1 ms apart: three 10-second windows for each of 10 traders
	if n := strings.Count(windows, `"window_start":"2024-01-15T00:00:`); n != 30 {
		t.Errorf("%d windows fired, want 30:\n%s\nstderr: %s", n, out, errOut)
	}
	if !strings.Contains(errOut, "job trades done: smart_repartition") || !strings.Contains(errOut, "produced:   30,000 trades to topic demo_trades") ||
		!strings.Contains(errOut, "in 30,000, out 30,") {
		t.Errorf("summary missing:\n%s", errOut)
	}
}
