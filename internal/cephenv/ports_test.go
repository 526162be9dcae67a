package cephenv

import (
	"net"
	"strconv"
	"testing"
)

// TestReservePorts checks that a reserved block is locked against other
// processes (the lock is what they try first) and that blocks stay clear of
// the ephemeral range. It needs no cluster.
func TestReservePorts(t *testing.T) {
	lo, hi := ephemeralRange()
	seen := map[int]bool{}
	for range 5 {
		p, err := reservePorts()
		if err != nil {
			t.Fatal(err)
		}
		defer p.release()
		if seen[p.base] {
			t.Errorf("block %d reserved twice", p.base)
		}
		seen[p.base] = true
		if p.base+portBlock-1 >= lo && p.base <= hi {
			t.Errorf("block %d overlaps the ephemeral range %d-%d", p.base, lo, hi)
		}
		if l, err := net.Listen("unix", "@otterscale-cephenv-"+strconv.Itoa(p.base)); err == nil {
			l.Close()
			t.Errorf("block %d is not locked", p.base)
		}
	}
}
