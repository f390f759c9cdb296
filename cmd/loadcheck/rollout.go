package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/loadcheck/loadcheck"
	"github.com/loadcheck/loadcheck/apache"
	"github.com/loadcheck/loadcheck/scenarios"
)

// rolloutDuration is rollout's measured window unless -d says: the
// switch at 5 s, then time for the old generation to drain.
const rolloutDuration = 15 * time.Second

// cmdRollout is `loadcheck rollout --from A --to B`: a deploy rehearsed
// under load.
func cmdRollout(ctx context.Context, args []string, stdout, stderr io.Writer) (int, error) {
	var from, to, how string
	var at time.Duration
	f, err := parseRunFlags(args, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&from, "from", "", "the running config: a preset name or an httpd.conf `CONFIG`")
		fs.StringVar(&to, "to", "", "the config switched to: a preset name or an httpd.conf `CONFIG`, same MPM")
		fs.StringVar(&how, "how", scenarios.RolloutGraceful, "graceful (apachectl -k graceful: SIGUSR1, requests in flight finish), restart (-k restart: SIGHUP, children stop at once) or stop-start (-k graceful-stop, then a start: the only way to another MPM, and the default then)")
		fs.DurationVar(&at, "switch-at", scenarios.DefaultRolloutAt, "when in the measured window httpd gets the signal")
		fs.Usage = func() {
			fmt.Fprint(fs.Output(), `Usage: loadcheck rollout --from CONFIG --to CONFIG [--how graceful|restart|stop-start] [--switch-at 5s] [run flags]
       loadcheck rollout SCENARIO.yaml [run flags]   (a file with one config and a rollout: section)

Rehearses a deploy under load: starts httpd with the --from config, opens
exactly -c keep-alive connections, and --switch-at into the measured window
(15 s unless -d says) switches the same running server to the --to config
the way production does: the new config written in place and httpd
signalled (graceful: apachectl -k graceful; restart: -k restart), or
stopped gracefully and started again (stop-start: -k graceful-stop, then
a start, as systemctl restart does). A config is a preset name
(event-tuned) or an httpd.conf file. httpd changes its MPM only by a stop
and a start (a signal makes it exit, AH00534): with two MPMs the switch is
stop-start unless --how says otherwise, which is refused. The --to config
is checked with httpd -t before any load. A scenario file says the same
with one config and a rollout: section (to: a config entry, how:, at:;
see scenarios/rollout-article.yaml); loadcheck run runs such a file too.

Reports per phase (before, switching, after) the answers, the drops by
class, the connections the server closed and the load reopened, the worst
second's p99; when the old generation's last slot (G on the scoreboard)
was gone; httpd's scoreboard-full lines. The verdict is ZERO-LOSS (every
request due in the window answered in time; a connection the switch
closed may reconnect) within the p99 and drop thresholds, or FAIL with
why. Docker and local providers; presets and config files (not trees,
TLS or PHP yet). Exit 0 zero-loss, 1 not, 2 bad input or setup error.

Flags (and every run flag):
`)
			fs.PrintDefaults()
		}
	})
	if err != nil {
		return exitSetup, err
	}
	fromFile := f.spec != nil && f.spec.HasRollout
	switch {
	case fromFile && (from != "" || to != ""):
		return exitSetup, &usageError{fmt.Sprintf("%s has a rollout: section: its configs and rollout.to are the configs; drop --from and --to (or the section)", f.spec.Path)}
	case !fromFile && (from == "" || to == ""):
		return exitSetup, &usageError{"loadcheck rollout needs --from CONFIG and --to CONFIG (a preset name or an httpd.conf file), or a scenario file with a rollout: section"}
	case f.target != "":
		return exitSetup, &usageError{"--target: a rollout switches a server loadcheck starts"}
	case f.configsSet || len(f.files) > 0:
		return exitSetup, &usageError{"--configs, --config-file and --config-dir: a rollout's configs are --from and --to"}
	case f.repeats() > 1 || f.arrivalCheck:
		return exitSetup, &usageError{"--repeat and --arrival-check apply to loadcheck run; run the rollout again to repeat it"}
	}
	if !f.set["d"] && !f.set["duration"] && !fromFile {
		f.load.Duration = rolloutDuration
	}
	gen, err := newGenerator(ctx, f)
	if err != nil {
		return exitSetup, err
	}
	var sc scenarios.Scenario
	if fromFile {
		if sc, err = f.scenario(); err != nil {
			return exitSetup, err
		}
	} else {
		fromCfg, err := f.rolloutConfig("from", from)
		if err != nil {
			return exitSetup, err
		}
		toCfg, err := f.rolloutConfig("to", to)
		if err != nil {
			return exitSetup, err
		}
		sc = fromCfg
		sc.Name = "rollout"
		sc.Rollout = &scenarios.Rollout{To: toCfg.Configs[0], How: scenarios.DefaultRolloutHow(fromCfg.Configs[0], toCfg.Configs[0]), At: scenarios.DefaultRolloutAt}
	}
	r := sc.Rollout
	if f.set["how"] {
		r.How = how
	} else if r.How == scenarios.RolloutStopStart && sc.Configs[0].MPM != r.To.MPM && !f.quiet {
		fmt.Fprintf(stderr, "loadcheck: %s runs %s and %s %s: httpd changes its MPM only by a stop and a start, so the switch is %s (graceful-stop, then a start)\n", sc.Configs[0].Name, sc.Configs[0].MPM, r.To.Name, r.To.MPM, r.How)
	}
	if f.set["switch-at"] {
		r.At = at
	}
	var fe *scenarios.FieldError
	if err := sc.CheckRollout(); errors.As(err, &fe) {
		// Named as the user gave it: the flag, or the file's field.
		name := fe.Field
		if fl := map[string]string{"rollout.how": "how", "rollout.at": "switch-at", "rollout.to": "to", "configs": "from"}[fe.Field]; fl != "" && (!fromFile || f.set[fl]) {
			name = "--" + fl
		} else if fromFile {
			name = f.spec.Path + ": " + fe.Field
		}
		return exitSetup, &usageError{fmt.Sprintf("%s: %s", name, fe.Msg)}
	}
	return runAndPrint(ctx, f, sc, gen, stdout, stderr, loadcheck.Run)
}

// rolloutConfig is the scenario of one config, name (a preset) or a file,
// with every override of the flags applied as run applies them.
func (f *runFlags) rolloutConfig(flagName, name string) (scenarios.Scenario, error) {
	g := *f
	g.configs, g.configsSet, g.files = name, true, nil
	if st, err := os.Stat(name); err == nil && !st.IsDir() {
		cfg, err := apache.UserConfig(strings.TrimSuffix(filepath.Base(name), filepath.Ext(name)), name)
		if err != nil {
			return scenarios.Scenario{}, &usageError{fmt.Sprintf("--%s: %v", flagName, err)}
		}
		g.configsSet, g.files = false, []apache.Config{cfg}
	}
	sc, err := g.scenario()
	if err != nil {
		return sc, &usageError{fmt.Sprintf("--%s %s: %v", flagName, name, err)}
	}
	return sc, nil
}
