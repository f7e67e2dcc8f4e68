package server_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sluicesql/sluice/server"
)

// browser returns a context driving a fresh headless Chromium. Without
// Chromium the test is skipped, except in CI (SLUICE_CI set), where it fails.
func browser(t *testing.T) context.Context {
	t.Helper()
	path := ""
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			path = p
			break
		}
	}
	if path == "" {
		if os.Getenv("SLUICE_CI") != "" {
			t.Fatal("chromium is not installed (apt-get install -y chromium); CI must run the browser test")
		}
		t.Skip("chromium is not installed (apt-get install -y chromium): the browser test cannot run")
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() { cancelTimeout(); cancel(); cancelAlloc() })
	return ctx
}

// The page redraws its lists every second, replacing their elements, so
// the test reads and clicks them with one script each rather than by
// node: a node found a moment ago may be gone.

// text returns the text of the first element matching sel ("" when none).
func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf(
		`(() => { const e = document.querySelector(%s); return e ? e.textContent : "" })()`, strconv.Quote(sel))))
	if err != nil {
		t.Fatalf("%s: %v", sel, err)
	}
	return v
}

// waitText polls the text of sel until ok accepts it.
func waitText(t *testing.T, ctx context.Context, sel string, ok func(string) bool) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if v := text(t, ctx, sel); ok(v) {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: text %q not accepted in time", sel, text(t, ctx, sel))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// click clicks the first element matching sel, waiting for one to appear.
func click(t *testing.T, ctx context.Context, sel string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](fmt.Sprintf(
			`(() => { const e = document.querySelector(%s); if (!e) return false; e.click(); return true })()`, strconv.Quote(sel))))
		if err != nil {
			t.Fatalf("click %s: %v", sel, err)
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("click %s: no such element", sel)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// number parses a counter the page shows with thousands separators (-1 if none).
func number(s string) int64 {
	n, err := strconv.ParseInt(strings.ReplaceAll(s, ",", ""), 10, 64)
	if err != nil {
		return -1
	}
	return n
}

// The page deploys an application, shows a SQL error at its line, shows
// the counters rising and the job's detail, and stops the application.
func TestPageInBrowser(t *testing.T) {
	ctx := browser(t)
	s := server.New(server.Config{StateDir: t.TempDir()})
	ts := httptest.NewServer(s.Handler())
	defer s.Shutdown()
	defer ts.Close()

	// a SQL error is shown at its line
	bad := "SELECT trader_id\nFROM g WHERE\nWITH ('g.type'='generator','g.generator'='trades');"
	err := chromedp.Do(ctx,
		chromedp.Navigate(ts.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS("#deploy-button")),
		chromedp.SetValue(chromedp.CSS("#app-name"), "web"),
		chromedp.SetValue(chromedp.CSS("#sql"), bad),
		chromedp.Click(chromedp.CSS("#deploy-button")),
		chromedp.WaitVisible(chromedp.CSS(".sql-error")),
	)
	if err != nil {
		t.Fatal(err)
	}
	errLine, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS(".sql-error"), "data-line"))
	if err != nil {
		t.Fatal(err)
	}
	gutterBad, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#gutter .bad")))
	if err != nil {
		t.Fatal(err)
	}
	if errLine.Value != "3" || gutterBad != "3" {
		t.Fatalf("the error is shown at line %q (gutter %q), want 3", errLine.Value, gutterBad)
	}

	// a good application deploys and its counters rise
	good := "CREATE STREAM big AS SELECT trader_id, quantity FROM g WHERE quantity >= 500\n" +
		"WITH ('g.type'='generator','g.generator'='trades','g.count'='unbounded','g.rate'='2000');\n" +
		"CREATE STREAM counts AS SELECT trader_id, COUNT(*) AS n FROM big GROUP BY trader_id EMIT CHANGES;"
	err = chromedp.Do(ctx, chromedp.SetValue(chromedp.CSS("#sql"), good))
	if err != nil {
		t.Fatal(err)
	}
	click(t, ctx, "#deploy-button")
	in := `tr[data-job="big"] .counter-in`
	first := number(waitText(t, ctx, in, func(s string) bool { return number(s) >= 0 }))
	waitText(t, ctx, in, func(s string) bool { return number(s) > first })

	// the job's detail: counters, partitions, EXPLAIN
	click(t, ctx, `tr[data-job="counts"]`)
	waitText(t, ctx, `#detail td[data-counter="in"]`, func(s string) bool { return number(s) > 0 })
	waitText(t, ctx, "#partitions .bar", func(s string) bool { return strings.HasPrefix(s, "p0") })
	waitText(t, ctx, "#explain", func(s string) bool { return strings.Contains(s, "GROUP BY trader_id") })

	// stop: the application is drained and removed
	click(t, ctx, `.app[data-app="web"] .stop-app`)
	waitText(t, ctx, "#apps", func(s string) bool { return !strings.Contains(s, "stop and remove") })
	if code := call(t, ts, "", "GET", "/v1/apps/web", "", nil); code != http.StatusNotFound {
		t.Fatalf("after stop: GET /v1/apps/web is HTTP %d, want 404", code)
	}
}
