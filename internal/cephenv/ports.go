package cephenv

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
)

// A cluster uses a block of portBlock ports from a base port P: the monitor
// listens on P (msgr v2) and P+1 (msgr v1), and the OSD binds its public,
// cluster and heartbeat addresses (two ports each) within
// P+bindMin..P+bindMax (`ms bind port min/max`).
const (
	portBlock = 100
	bindMin   = 10
	bindMax   = 99
	// minFreeBind is how many ports of the bind range must be free for a block
	// to be taken: the OSD needs 8, and clients bind none.
	minFreeBind = 16
	// firstBlock is the lowest base port tried.
	firstBlock = 10000
)

// portLock holds a block of ports for this process: an abstract unix socket
// named after the block, which no other process can bind while it is open and
// which the kernel releases when the process dies, however it dies. It keeps
// concurrent test binaries from choosing the same block in the window before
// their daemons bind it.
type portLock struct {
	base int
	l    net.Listener
}

func (p *portLock) release() {
	if p != nil && p.l != nil {
		_ = p.l.Close()
	}
}

// reservePorts picks a free block of ports outside the kernel's ephemeral
// range (where outgoing connections, and other tests' ":0" listeners, land)
// and locks it.
func reservePorts() (*portLock, error) {
	lo, hi := ephemeralRange()
	var bases []int
	for base := firstBlock; base+portBlock-1 <= 65535; base += portBlock {
		if base+portBlock-1 < lo || base > hi {
			bases = append(bases, base)
		}
	}
	if len(bases) == 0 {
		return nil, fmt.Errorf("no room for ceph ports outside the ephemeral port range %d-%d", lo, hi)
	}
	rand.Shuffle(len(bases), func(i, j int) { bases[i], bases[j] = bases[j], bases[i] })
	for _, base := range bases {
		l, err := net.Listen("unix", "@otterscale-cephenv-"+strconv.Itoa(base))
		if err != nil {
			continue // another cluster holds it
		}
		if blockFree(base) {
			return &portLock{base: base, l: l}, nil
		}
		_ = l.Close()
	}
	return nil, errors.New("no free block of ports for a ceph cluster")
}

// blockFree reports whether the monitor's two ports and enough of the bind
// range are free on 127.0.0.1.
func blockFree(base int) bool {
	for _, port := range []int{base, base + 1} {
		if !portFree(port) {
			return false
		}
	}
	free := 0
	for port := base + bindMin; port <= base+bindMax; port++ {
		if portFree(port) {
			free++
		}
	}
	return free >= minFreeBind
}

func portFree(port int) bool {
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		return false
	}
	_ = l.Close()
	return true
}

// ephemeralRange is the kernel's ephemeral port range, or Linux's default
// 32768-60999 when it cannot be read.
func ephemeralRange() (lo, hi int) {
	lo, hi = 32768, 60999
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return lo, hi
	}
	fields := strings.Fields(string(b))
	if len(fields) != 2 {
		return lo, hi
	}
	l, err1 := strconv.Atoi(fields[0])
	h, err2 := strconv.Atoi(fields[1])
	if err1 != nil || err2 != nil || l > h {
		return lo, hi
	}
	return l, h
}
