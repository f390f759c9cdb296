package bench

import (
	"context"
	"errors"
	"net"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestRingAfterLoopEnded: once a loop has ended, its descriptor numbers
// go to the next files opened; a late ring (the watch of the run's end,
// stopLoops) must not write its 8 bytes into one of them.
func TestRingAfterLoopEnded(t *testing.T) {
	r := &runner{allDone: make(chan struct{})}
	var wg sync.WaitGroup
	loops, err := startLoops(context.Background(), r, &wg, 1)
	if err != nil {
		t.Fatal(err)
	}
	l := loops[0]
	stopLoops(loops)
	wg.Wait() // the loop ended and closed its epoll and wake descriptors
	<-l.exited
	// The lowest free numbers: the ones the loop just closed.
	var fds []int
	for range 2 {
		fd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(fd)
		fds = append(fds, fd)
	}
	l.ring()
	close(r.allDone) // the watch of the run's end rings too, unless it saw the loop end
	time.Sleep(50 * time.Millisecond)
	for _, fd := range fds {
		var b [8]byte
		if n, err := unix.Read(fd, b[:]); err == nil {
			t.Errorf("descriptor %d (the loop's wake descriptor was %d) got %d stray bytes", fd, l.wakeFd, n)
		}
	}
}

// TestFailedStartStopsEverything: when the event loops cannot start (no
// descriptor left for one), Run fails, and nothing of it runs on: no
// progress callback comes after it returned.
func TestFailedStartStopsEverything(t *testing.T) {
	url := startServer(t, &server{handle: func(net.Conn, int) string { return okResponse }})
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	returned, late := false, 0
	o := quickOpts(2)
	o.Engine = EngineLoop
	o.Progress = func(Progress) {
		mu.Lock()
		if returned {
			late++
		}
		mu.Unlock()
	}
	// Room for the epoll instance, none for the wake descriptor (the
	// directory listing's own descriptor is closed by now).
	tight := lim
	tight.Cur = uint64(len(entries))
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &tight); err != nil {
		t.Fatal(err)
	}
	_, err = Run(context.Background(), Target{URL: url}, o)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	returned = true
	mu.Unlock()
	if !errors.Is(err, syscall.EMFILE) {
		t.Fatalf("Run under a limit of %d descriptors: %v, want EMFILE from the loops' start", tight.Cur, err)
	}
	time.Sleep(1500 * time.Millisecond) // the ticker's period is a second
	mu.Lock()
	defer mu.Unlock()
	if late > 0 {
		t.Errorf("progress was called %d times after Run returned", late)
	}
}

// TestLoopWait: the loop's wait, in the runtime's poller and (where the
// epoll instance cannot join it) blocking in epoll_pwait2, ends at the
// heap's first wait with no event, at once when that wait is past, and
// with the wake descriptor's event when the loop is rung.
func TestLoopWait(t *testing.T) {
	for _, poller := range []bool{true, false} {
		name := "blocking"
		if poller {
			name = "poller"
		}
		t.Run(name, func(t *testing.T) {
			defer func(was bool) { loopPoller = was }(loopPoller)
			loopPoller = poller
			var wg sync.WaitGroup
			l, err := newEvLoop(context.Background(), nil, &wg)
			if err != nil {
				t.Fatal(err)
			}
			defer l.closeWake()
			defer l.closeEpoll()
			if (l.poll != nil) != poller {
				t.Fatalf("in the runtime's poller: %v, want %v", l.poll != nil, poller)
			}
			// A wait that never ends would hang the test: a ring ends it.
			guard := time.AfterFunc(5*time.Second, l.ring)
			defer guard.Stop()

			e := &evConn{l: l, hidx: -1}
			began := time.Now()
			e.setWait(began.Add(50 * time.Millisecond))
			if n, took := l.wait(), time.Since(began); n != 0 || took < 50*time.Millisecond || took >= 5*time.Second {
				t.Errorf("a timer 50 ms ahead: %d events after %v, want none after 50 ms", n, took)
			}
			began = time.Now()
			if n, took := l.wait(), time.Since(began); n != 0 || took >= 5*time.Second {
				t.Errorf("a timer past: %d events after %v, want none at once", n, took)
			}

			l.timers = nil
			time.AfterFunc(50*time.Millisecond, l.ring)
			began = time.Now()
			n, took := l.wait(), time.Since(began)
			if n != 1 || int(l.events[0].Fd) != l.wakeFd || took < 50*time.Millisecond || took >= 5*time.Second {
				t.Errorf("rung after 50 ms: %d events after %v, want the wake descriptor's after 50 ms", n, took)
			}
		})
	}
}
