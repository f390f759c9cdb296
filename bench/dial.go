package bench

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Conn is what a connection needs of its socket. Sockets are *os.File
// values from a raw non-blocking connect (see dialer.dial); tests may give
// any net.Conn.
type Conn interface {
	io.ReadWriteCloser
	SetDeadline(time.Time) error
	SetReadDeadline(time.Time) error
}

// ipBindAddressNoPort is Linux's IP_BIND_ADDRESS_NO_PORT: bind() picks the
// source address only, and connect() picks the port for the full 4-tuple,
// so each source address brings a whole ephemeral port range.
const ipBindAddressNoPort = 24

// ephemeralPorts is how many ports one source address can use for one
// destination, from the kernel's ip_local_port_range.
func ephemeralPorts() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err == nil {
		f := strings.Fields(string(b))
		if len(f) == 2 {
			lo, err1 := strconv.Atoi(f[0])
			hi, err2 := strconv.Atoi(f[1])
			if err1 == nil && err2 == nil && hi > lo {
				return hi - lo + 1
			}
		}
	}
	return 28232 // Linux's default 32768-60999
}

// SourceAddrsFor is how many loopback source addresses n connections to one
// destination need: one per quarter of the ephemeral range. Linux's connect()
// searches the range for a free port; once most of it is taken, every
// connect scans thousands of busy ports, and opening 50,000 connections
// through two addresses cost over 30 s of kernel CPU here.
func SourceAddrsFor(n int) int {
	per := ephemeralPorts() / 4
	return (n + per - 1) / per
}

// dialer opens sockets to one resolved destination.
type dialer struct {
	family  int
	dst     syscall.Sockaddr
	sources []syscall.Sockaddr // connection i binds sources[i mod len]; none: the kernel picks
}

// newDialer resolves addr once and decides the source addresses: a
// loopback target gets several once the connection count needs them.
func newDialer(addr string, o Options) (*dialer, error) {
	ta, err := net.ResolveTCPAddr("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("resolve target %s: %w", addr, err)
	}
	d := &dialer{}
	if ip4 := ta.IP.To4(); ip4 != nil {
		sa := &syscall.SockaddrInet4{Port: ta.Port}
		copy(sa.Addr[:], ip4)
		d.family, d.dst = syscall.AF_INET, sa
	} else {
		sa := &syscall.SockaddrInet6{Port: ta.Port}
		copy(sa.Addr[:], ta.IP.To16())
		d.family, d.dst = syscall.AF_INET6, sa
	}
	loopback4 := ta.IP.IsLoopback() && d.family == syscall.AF_INET
	k := o.SourceAddrs
	if k == 0 {
		k = 1
		if loopback4 {
			k = SourceAddrsFor(o.Connections)
		}
	}
	if k > 1 && !loopback4 {
		return nil, fmt.Errorf("spreading over %d source addresses needs an IPv4 loopback target (127.0.0.0/8), got %s", k, ta.IP)
	}
	for i := 0; k > 1 && i < k; i++ {
		d.sources = append(d.sources, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, byte(2 + i)}})
	}
	return d, nil
}

// dial connects socket id with a non-blocking connect on the calling
// goroutine, waiting in the runtime's poller until deadline or ctx ends.
// This keeps Go's deep dial path (and the 8 KB stack it grows) out of the
// thousands of connection goroutines. On success it returns the socket and
// the function that stops its cancellation watch. rcvbuf, when positive,
// is the socket's SO_RCVBUF, set before the connect so that the window the
// server sees is small from the start.
func (d *dialer) dial(ctx context.Context, id int, deadline time.Time, rcvbuf int) (*os.File, func() bool, error) {
	fd, err := d.connect(id, rcvbuf)
	if err != nil {
		return nil, nil, err
	}
	f := os.NewFile(uintptr(fd), "tcp") // non-blocking: the runtime polls it
	stop := context.AfterFunc(ctx, func() { _ = f.SetDeadline(time.Now()) })
	fail := func(err error) (*os.File, func() bool, error) {
		stop()
		f.Close()
		return nil, nil, err
	}
	if err := f.SetDeadline(deadline); err != nil {
		return fail(err)
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return fail(err)
	}
	var connectErr error
	err = rc.Write(func(fd uintptr) bool {
		done, err := connected(int(fd))
		connectErr = err
		return done
	})
	if err == nil {
		err = connectErr
	}
	if err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return fail(err)
	}
	return f, stop, nil
}

// connect makes socket id's non-blocking socket and starts its connect;
// connected says when it is done.
func (d *dialer) connect(id int, rcvbuf int) (int, error) {
	fd, err := syscall.Socket(d.family, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, os.NewSyscallError("socket", err)
	}
	_ = syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1)
	if rcvbuf > 0 {
		_ = syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_RCVBUF, rcvbuf)
	}
	if len(d.sources) > 0 {
		_ = syscall.SetsockoptInt(fd, syscall.IPPROTO_IP, ipBindAddressNoPort, 1)
		if err := syscall.Bind(fd, copySockaddr(d.sources[id%len(d.sources)])); err != nil {
			syscall.Close(fd)
			return -1, os.NewSyscallError("bind", err)
		}
	}
	switch err := syscall.Connect(fd, copySockaddr(d.dst)); err {
	case nil, syscall.EINPROGRESS, syscall.EINTR:
	default:
		syscall.Close(fd)
		return -1, os.NewSyscallError("connect", err)
	}
	return fd, nil
}

// connected reports, once fd is writable, whether its connect is done, and
// how it failed. As the net package does: SO_ERROR says whether the
// connect failed, getpeername whether it is done.
func connected(fd int) (bool, error) {
	n, err := syscall.GetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_ERROR)
	if err != nil {
		return true, os.NewSyscallError("getsockopt", err)
	}
	switch e := syscall.Errno(n); e {
	case syscall.EINPROGRESS, syscall.EALREADY, syscall.EINTR:
		return false, nil
	case 0, syscall.EISCONN:
		if _, err := syscall.Getpeername(fd); err == syscall.ENOTCONN {
			return false, nil
		}
		return true, nil
	default:
		return true, os.NewSyscallError("connect", e)
	}
}

// copySockaddr copies sa: the syscall package writes into a Sockaddr while
// it converts it, so one value must not be shared by concurrent calls.
func copySockaddr(sa syscall.Sockaddr) syscall.Sockaddr {
	switch a := sa.(type) {
	case *syscall.SockaddrInet4:
		c := *a
		return &c
	case *syscall.SockaddrInet6:
		c := *a
		return &c
	}
	return sa
}

// peerClosed reports whether the peer of the socket behind raw has closed
// it (or reset it) with no byte left unread, without blocking or consuming
// anything: a recv with MSG_PEEK that returns 0 bytes is an orderly close.
func peerClosed(raw syscall.RawConn) bool {
	n, err := peek(raw)
	return (err == nil && n == 0) || err == syscall.ECONNRESET || err == syscall.EPIPE
}

// pending reports whether bytes wait unread on the socket behind raw.
func pending(raw syscall.RawConn) bool {
	n, err := peek(raw)
	return err == nil && n > 0
}

// peek looks at the socket behind raw without blocking or consuming: n is
// 0 at an orderly close, and err is EAGAIN when nothing has arrived. It
// goes through Control, not Read: Read refuses to run once the socket's
// read deadline has passed, and the checks that peek serves run exactly
// then (at the window's end, after a timeout).
func peek(raw syscall.RawConn) (int, error) {
	if raw == nil {
		return -1, syscall.EINVAL
	}
	n, err := -1, error(syscall.EINVAL)
	_ = raw.Control(func(fd uintptr) {
		var b [1]byte
		n, _, err = syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	})
	return n, err
}
