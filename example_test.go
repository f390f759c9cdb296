package loadcheck_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/loadcheck/loadcheck"
	"github.com/loadcheck/loadcheck/apache"
	"github.com/loadcheck/loadcheck/provider"
	"github.com/loadcheck/loadcheck/scenarios"
)

// ExampleRun loads a server that is already running (here one in this
// process) with 20 keep-alive connections, 5 requests a second each, and
// prints the verdict and the accounting. With no WithProvider option Run
// starts one httpd container per config instead.
func ExampleRun() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ok")
	}))
	defer srv.Close()

	load := scenarios.DefaultLoad()
	load.Connections, load.RatePerConn = 20, 5
	load.Ramp, load.WarmUp, load.Duration = 200*time.Millisecond, 300*time.Millisecond, 2*time.Second
	sc := scenarios.Scenario{
		Name:       "example",
		Load:       load,
		Configs:    []apache.Config{{Name: "in-process", MPM: "unknown"}},
		Thresholds: scenarios.DefaultThresholds(),
	}
	out, err := loadcheck.Run(context.Background(), sc, loadcheck.WithProvider(provider.Target{URL: srv.URL + "/"}))
	if err != nil {
		fmt.Println("setup failed:", err)
		return
	}
	for _, r := range out.Runs {
		fmt.Printf("%s: %s, served %d of %d connections, %d of %d requests ok\n",
			r.Config, r.Verdict, r.Connections.Served, r.Connections.Target, r.Requests.OK, r.Requests.Sent)
	}
	fmt.Println("complete:", out.Complete, "all pass:", out.AllPass())
	// Output:
	// in-process: pass, served 20 of 20 connections, 200 of 200 requests ok
	// complete: true all pass: true
}
