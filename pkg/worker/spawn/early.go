package spawn

import (
	"os"
	"sync"
)

// cephCommands are the top-level commands (and aliases) whose work is Ceph
// calls, where starting a worker ahead of time pays. The proxy is not one:
// its first call comes much later.
var cephCommands = map[string]bool{"snapshot": true, "snap": true, "snapshots": true, "image": true, "images": true}

// early is the worker started by init for this process, until taken.
var early struct {
	sync.Mutex
	proc *Proc
	path string
}

func init() {
	if !wantsEarly(os.Args[1:]) {
		return
	}
	path, ok := Find()
	if !ok {
		return
	}
	if p, err := Start(path); err == nil {
		early.proc, early.path = p, path
	}
}

// wantsEarly says whether args run a Ceph command: the first word that is
// not a flag names one, and no help is asked for. A guess from the words
// alone (a flag's value may come first): a wrong yes costs a worker that
// exits when this process does, a wrong no costs the time saved.
func wantsEarly(args []string) bool {
	cmd := ""
	for _, a := range args {
		switch {
		case a == "--":
			return false
		case a == "-h" || a == "--help" || a == "help":
			return false
		case cmd == "" && len(a) > 0 && a[0] != '-':
			cmd = a
		}
	}
	return cephCommands[cmd]
}

// TakeEarly answers the worker that init started for this process, if it
// runs path, once.
func TakeEarly(path string) *Proc {
	early.Lock()
	defer early.Unlock()
	p := early.proc
	if p == nil || early.path != path {
		return nil
	}
	early.proc = nil
	return p
}
