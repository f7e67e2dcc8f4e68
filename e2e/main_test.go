package e2e

import (
	"flag"
	"os"
	"strconv"
	"testing"
)

// parallel is how many of the package's tests run at once unless
// -parallel says otherwise (go test's default is GOMAXPROCS, 2 on the
// project's machines). A test here spends most of its time waiting, not
// computing: for a killed process's session to expire, for a rebalance,
// for stages slowed on purpose; alone, a kill-and-join test used a tenth
// of one core. Four at a time keep the cores busier; a test's waits last
// up to 10 minutes (testDeadline), so that a slower run on a loaded
// machine fails none.
const parallel = 4

func TestMain(m *testing.M) {
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set {
		if err := flag.Set("test.parallel", strconv.Itoa(parallel)); err != nil {
			panic(err)
		}
	}
	os.Exit(m.Run())
}
