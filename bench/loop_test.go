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
