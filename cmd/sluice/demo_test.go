package main

import (
	"strings"
	"testing"
)

func TestDemo(t *testing.T) {
	t.Chdir(t.TempDir())
	code, out, errOut := sluice(t, "demo", "--duration", "3s")
	if code != 0 {
		t.Fatalf("exit %d\nstderr: %s", code, errOut)
	}
	for _, want := range []string{
		"strategy:     smart_repartition on trader_id\n",
		"chosen by:    auto\n",
		"partitioned by trader_id (declared); 8 partitions",
		"-- windows as they fire",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	_, windows, _ := strings.Cut(out, "-- windows as they fire")
	if n := strings.Count(windows, `"window_start":"2024-01-15T00:00:`); n == 0 {
		t.Errorf("no window fired in 3s:\n%s\nstderr: %s", out, errOut)
	}
	if !strings.Contains(errOut, "job trades done: smart_repartition") || !strings.Contains(errOut, "trades to topic demo_trades") {
		t.Errorf("summary missing:\n%s", errOut)
	}
}
