package tui

import (
	"cmp"
	"slices"
	"sort"
	"strings"
	"time"

	instancev1 "github.com/otterscale/kubectl-otterscale/gen/otterscale/instance/v1"
	"github.com/otterscale/kubectl-otterscale/pkg/human"
)

// sortOrder is what the table is sorted by; s cycles through them.
type sortOrder int

const (
	byName sortOrder = iota
	byPhase
	byProgress
	byAge
	sortOrders
)

func (o sortOrder) String() string {
	switch o {
	case byPhase:
		return "phase"
	case byProgress:
		return "progress"
	case byAge:
		return "age"
	default:
		return "name"
	}
}

// row is one DataVolume with what sorting and filtering need worked out
// once per change rather than once per frame.
type row struct {
	key      string
	dv       *instancev1.DataVolume
	pct      float64
	hasPct   bool
	reason   string
	created  time.Time
	haystack string // lower-cased text the filter searches
}

func newRow(key string, dv *instancev1.DataVolume) *row {
	pct, ok := parseProgress(dv.GetProgress())
	r := &row{key: key, dv: dv, pct: pct, hasPct: ok, reason: clean(reasonOf(dv))}
	if ts := dv.GetCreatedAt(); ts != nil {
		r.created = ts.AsTime()
	}
	r.haystack = strings.ToLower(dv.GetName() + " " + dv.GetNamespace() + " " + dv.GetPhase() + " " + r.reason)
	return r
}

// store keeps the DataVolumes in a map and a slice sorted by the current
// order. A change moves one row (binary search out, binary search in)
// instead of re-sorting, so a frame at 1,000 rows costs a few microseconds
// of bookkeeping.
type store struct {
	rows   map[string]*row
	sorted []*row
	order  sortOrder

	// Widest values seen, for the column layout. They only grow, so
	// columns do not jump when rows come and go.
	maxName, maxNamespace, maxPhase, maxReason, maxClaim, maxMode int

	filter   string
	filtered []*row // rows matching filter, in order; valid when !stale
	stale    bool
}

func newStore() *store {
	return &store{rows: map[string]*row{}, stale: true}
}

func (s *store) less(a, b *row) int {
	var c int
	switch s.order {
	case byPhase:
		c = cmp.Compare(a.dv.GetPhase(), b.dv.GetPhase())
	case byProgress:
		// Most advanced first; N/A after every percentage.
		switch {
		case a.hasPct && !b.hasPct:
			c = -1
		case !a.hasPct && b.hasPct:
			c = 1
		default:
			c = cmp.Compare(b.pct, a.pct)
		}
	case byAge:
		// Newest first, as a person scanning for the import they just
		// started expects.
		c = b.created.Compare(a.created)
	}
	if c != 0 {
		return c
	}
	return cmp.Compare(a.key, b.key)
}

// index finds r in sorted by binary search; r's fields must be the ones it
// was inserted with.
func (s *store) index(r *row) int {
	i := sort.Search(len(s.sorted), func(i int) bool { return s.less(s.sorted[i], r) >= 0 })
	if i < len(s.sorted) && s.sorted[i] == r {
		return i
	}
	return slices.Index(s.sorted, r) // not reached while the invariants hold
}

// upsert adds or replaces a DataVolume.
func (s *store) upsert(dv *instancev1.DataVolume) {
	key := dvKey(dv.GetNamespace(), dv.GetName())
	if old, ok := s.rows[key]; ok {
		if i := s.index(old); i >= 0 {
			s.sorted = slices.Delete(s.sorted, i, i+1)
		}
	}
	r := newRow(key, dv)
	s.rows[key] = r
	i := sort.Search(len(s.sorted), func(i int) bool { return s.less(s.sorted[i], r) >= 0 })
	s.sorted = slices.Insert(s.sorted, i, r)
	s.maxName = max(s.maxName, len(dv.GetName()))
	s.maxNamespace = max(s.maxNamespace, len(dv.GetNamespace()))
	s.maxPhase = max(s.maxPhase, len(dv.GetPhase()))
	s.maxReason = max(s.maxReason, len(r.reason))
	s.maxClaim = max(s.maxClaim, len(dv.GetPersistentVolumeClaim().GetStatus()))
	s.maxMode = max(s.maxMode, len(human.VolumeMode(dv)))
	s.stale = true
}

// remove drops a DataVolume; it returns the row it had, if any.
func (s *store) remove(namespace, name string) *row {
	key := dvKey(namespace, name)
	old, ok := s.rows[key]
	if !ok {
		return nil
	}
	if i := s.index(old); i >= 0 {
		s.sorted = slices.Delete(s.sorted, i, i+1)
	}
	delete(s.rows, key)
	s.stale = true
	return old
}

func (s *store) setOrder(o sortOrder) {
	s.order = o
	slices.SortFunc(s.sorted, s.less)
	s.stale = true
}

func (s *store) setFilter(f string) {
	if f != s.filter {
		s.filter = f
		s.stale = true
	}
}

// visible is the sorted rows that match the filter.
func (s *store) visible() []*row {
	if s.filter == "" {
		return s.sorted
	}
	if s.stale {
		needle := strings.ToLower(s.filter)
		s.filtered = s.filtered[:0]
		for _, r := range s.sorted {
			if strings.Contains(r.haystack, needle) {
				s.filtered = append(s.filtered, r)
			}
		}
		s.stale = false
	}
	return s.filtered
}
