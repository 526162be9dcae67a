package tui

import (
	"strconv"
	"strings"
	"time"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/ansi"

	instancev1 "github.com/otterscale/kubectl-otterscale/gen/otterscale/instance/v1"
)

// WatchOptions configure the watch view.
type WatchOptions struct {
	// Namespace is the namespace being watched, for the title ("DataVolumes
	// in namespace vms"); empty leaves it out.
	Namespace string
	// AllNamespaces adds the NAMESPACE column.
	AllNamespaces bool
	// NoColor turns colour off whatever the terminal supports. NO_COLOR in
	// the program's environment and colourless terminals turn it off too.
	NoColor bool
	// Now is the clock for ages; nil means time.Now. Tests fix it.
	Now func() time.Time
	// MaxBatch bounds how many watch responses make one frame; 0 means 512.
	MaxBatch int
}

type watchMode int

const (
	modeTable watchMode = iota
	modeFilter
	modeDetail
)

// WatchModel is the full-screen table of DataVolumes. Create it with
// NewWatch.
type WatchModel struct {
	in   <-chan *instancev1.WatchDataVolumesResponse
	opts WatchOptions

	store  *store
	events map[string][]*instancev1.Event
	synced bool
	closed bool

	width, height int
	cursor        int    // index into store.visible()
	selected      string // key of the row under the cursor
	offset        int    // first visible row

	mode        watchMode
	detailKey   string
	detailDV    *instancev1.DataVolume
	detailGone  bool
	detailFirst int // first line of the detail pane shown

	keys keyMap
	help help.Model

	profile    colorprofile.Profile
	noColorEnv string
	dark       bool
	styles     styles
}

// NewWatch returns the full-screen watch view, fed by events until that
// channel closes.
func NewWatch(events <-chan *instancev1.WatchDataVolumesResponse, opts WatchOptions) tea.Model {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	m := &WatchModel{
		in:     events,
		opts:   opts,
		store:  newStore(),
		events: map[string][]*instancev1.Event{},
		width:  80,
		height: 24,
		keys:   newKeyMap(),
		help:   help.New(),
		dark:   true,
	}
	m.restyle()
	return m
}

// Init starts reading the watch, the clock and asks the terminal for its
// background colour (to pick light or dark colours).
func (m *WatchModel) Init() tea.Cmd {
	return tea.Batch(watchCmd(m.in, m.opts.MaxBatch), clockCmd(), tea.RequestBackgroundColor)
}

func (m *WatchModel) restyle() {
	m.styles = newStyles(!m.opts.NoColor && colorOn(m.profile, m.noColorEnv), m.dark)
	m.help.Styles = m.styles.help
}

// Update applies one message.
func (m *WatchModel) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case dataVolumeEventsMsg:
		m.apply(msg.responses)
		if msg.closed {
			m.closed = true
			return m, nil
		}
		return m, watchCmd(m.in, m.opts.MaxBatch)
	case watchClosedMsg:
		m.closed = true
	case clockTickMsg:
		return m, clockCmd()
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		m.help.SetWidth(msg.Width)
		m.follow()
	case tea.ColorProfileMsg:
		m.profile = msg.Profile
		m.restyle()
	case tea.EnvMsg:
		m.noColorEnv = msg.Getenv("NO_COLOR")
		m.restyle()
	case tea.BackgroundColorMsg:
		m.dark = msg.IsDark()
		m.restyle()
	case tea.KeyPressMsg:
		return m.key(msg)
	}
	return m, nil
}

// apply folds a burst of watch responses into the store.
func (m *WatchModel) apply(responses []*instancev1.WatchDataVolumesResponse) {
	for _, r := range responses {
		switch r.GetType() {
		case instancev1.WatchDataVolumesResponse_ADDED, instancev1.WatchDataVolumesResponse_MODIFIED:
			if dv := r.GetDataVolume(); dv != nil {
				m.store.upsert(dv)
				if m.mode == modeDetail && dvKey(dv.GetNamespace(), dv.GetName()) == m.detailKey {
					m.detailDV, m.detailGone = dv, false
				}
			}
		case instancev1.WatchDataVolumesResponse_DELETED:
			dv := r.GetDataVolume()
			m.store.remove(dv.GetNamespace(), dv.GetName())
			key := dvKey(dv.GetNamespace(), dv.GetName())
			if key == m.detailKey {
				m.detailGone = true // keep its events on the open pane
			} else {
				delete(m.events, key)
			}
		case instancev1.WatchDataVolumesResponse_EVENT:
			if ev := r.GetEvent(); ev != nil {
				key := dvKey(ev.GetNamespace(), ev.GetDataVolume())
				m.events[key] = appendEvent(m.events[key], ev)
			}
		case instancev1.WatchDataVolumesResponse_SYNCED:
			m.synced = true
		}
	}
	m.relocate()
}

// relocate keeps the cursor on the same DataVolume after rows moved, or on
// the same line when that DataVolume went away.
func (m *WatchModel) relocate() {
	rows := m.store.visible()
	if m.selected != "" {
		if m.cursor < len(rows) && rows[m.cursor].key == m.selected {
			m.follow()
			return
		}
		for i, r := range rows {
			if r.key == m.selected {
				m.cursor = i
				m.follow()
				return
			}
		}
	}
	m.cursor = min(m.cursor, max(len(rows)-1, 0))
	m.selected = ""
	if len(rows) > 0 {
		m.selected = rows[m.cursor].key
	}
	m.follow()
}

// move puts the cursor on row i.
func (m *WatchModel) move(i int) {
	rows := m.store.visible()
	if len(rows) == 0 {
		m.cursor, m.selected = 0, ""
		return
	}
	m.cursor = min(max(i, 0), len(rows)-1)
	m.selected = rows[m.cursor].key
	m.follow()
}

// follow scrolls so that the cursor is on screen.
func (m *WatchModel) follow() {
	page := m.pageRows()
	if m.cursor < m.offset {
		m.offset = m.cursor
	}
	if m.cursor >= m.offset+page {
		m.offset = m.cursor - page + 1
	}
	m.offset = max(0, min(m.offset, len(m.store.visible())-page))
}

// footer is the status line and the help under the table.
func (m *WatchModel) footer() string {
	var status string
	switch {
	case m.mode == modeFilter:
		status = "/" + m.store.filter + "█"
	case m.store.filter != "":
		status = "filter: " + m.store.filter + " (esc clears)"
	}
	if m.closed {
		status = strings.TrimSpace(status + "  " + m.styles.bad.on("watch ended"))
	}
	status = truncate(status, m.width)
	if m.mode == modeDetail {
		return status + "\n" + m.help.View(detailHelp{m.keys})
	}
	return status + "\n" + m.help.View(m.keys)
}

// footerLines is how many lines footer takes, without rendering it: the
// status line and one line of help, or the longest column of the full help.
func (m *WatchModel) footerLines() int {
	if !m.help.ShowAll {
		return 2
	}
	var groups [][]key.Binding
	if m.mode == modeDetail {
		groups = detailHelp{m.keys}.FullHelp()
	} else {
		groups = m.keys.FullHelp()
	}
	n := 1
	for _, g := range groups {
		n = max(n, len(g))
	}
	return 1 + n
}

// bodyLines is how many lines there are between the title and the footer.
func (m *WatchModel) bodyLines() int {
	return max(1, m.height-1-m.footerLines())
}

// pageRows is how many table rows fit on the screen.
func (m *WatchModel) pageRows() int {
	return max(1, m.bodyLines()-1)
}

func (m *WatchModel) key(msg tea.KeyPressMsg) (tea.Model, tea.Cmd) {
	if msg.String() == "ctrl+c" {
		return m, tea.Quit
	}
	if m.mode == modeFilter {
		switch msg.String() {
		case "esc":
			m.store.setFilter("")
			m.mode = modeTable
		case "enter":
			m.mode = modeTable
		case "backspace":
			f := []rune(m.store.filter)
			if len(f) > 0 {
				m.store.setFilter(string(f[:len(f)-1]))
			}
		default:
			if msg.Text != "" {
				m.store.setFilter(m.store.filter + clean(msg.Text))
			}
		}
		m.relocate()
		return m, nil
	}
	k := m.keys
	switch {
	case key.Matches(msg, k.Quit):
		return m, tea.Quit
	case key.Matches(msg, k.Help):
		m.help.ShowAll = !m.help.ShowAll
		m.follow()
		return m, nil
	}
	if m.mode == modeDetail {
		return m.detailKeyPress(msg)
	}
	page := m.pageRows()
	switch {
	case key.Matches(msg, k.Up):
		m.move(m.cursor - 1)
	case key.Matches(msg, k.Down):
		m.move(m.cursor + 1)
	case key.Matches(msg, k.PageUp):
		m.move(m.cursor - page)
	case key.Matches(msg, k.PageDown):
		m.move(m.cursor + page)
	case key.Matches(msg, k.Top):
		m.move(0)
	case key.Matches(msg, k.Bottom):
		m.move(len(m.store.visible()) - 1)
	case key.Matches(msg, k.Sort):
		m.store.setOrder((m.store.order + 1) % sortOrders)
		m.relocate()
	case key.Matches(msg, k.Filter):
		m.mode = modeFilter
	case key.Matches(msg, k.Back):
		if m.store.filter != "" {
			m.store.setFilter("")
			m.relocate()
		}
	case key.Matches(msg, k.Open):
		if r, ok := m.store.rows[m.selected]; ok {
			m.mode = modeDetail
			m.detailKey, m.detailDV, m.detailGone, m.detailFirst = r.key, r.dv, false, 0
		}
	}
	return m, nil
}

func (m *WatchModel) detailKeyPress(msg tea.KeyPressMsg) (tea.Model, tea.Cmd) {
	k := m.keys
	page := max(1, m.height-2)
	switch {
	case key.Matches(msg, k.Back):
		m.mode = modeTable
		m.detailKey, m.detailDV = "", nil
	case key.Matches(msg, k.Up):
		m.detailFirst--
	case key.Matches(msg, k.Down):
		m.detailFirst++
	case key.Matches(msg, k.PageUp):
		m.detailFirst -= page
	case key.Matches(msg, k.PageDown):
		m.detailFirst += page
	case key.Matches(msg, k.Top):
		m.detailFirst = 0
	case key.Matches(msg, k.Bottom):
		m.detailFirst = 1 << 30
	}
	m.detailFirst = max(0, m.detailFirst) // the upper bound depends on the content; View clamps
	return m, nil
}

// View draws the current screen.
func (m *WatchModel) View() tea.View {
	v := tea.NewView(m.render())
	v.AltScreen = true
	v.WindowTitle = "DataVolumes"
	return v
}

// title is the first line: what is watched, how many, the sort order.
func (m *WatchModel) title() string {
	left := m.styles.title.on("DataVolumes")
	switch {
	case m.opts.AllNamespaces:
		left += " in all namespaces"
	case m.opts.Namespace != "":
		left += " in namespace " + clean(m.opts.Namespace)
	}
	var right string
	switch {
	case !m.synced:
		right = "waiting for the first list… (" + strconv.Itoa(len(m.store.rows)) + " so far)"
	case m.mode == modeDetail:
		right = "details · esc back"
	default:
		n := len(m.store.visible())
		right = strconv.Itoa(n)
		if n != len(m.store.rows) {
			right += "/" + strconv.Itoa(len(m.store.rows))
		}
		right += " · sorted by " + m.store.order.String()
	}
	pad := m.width - ansi.StringWidth(left) - ansi.StringWidth(right)
	if pad < 2 {
		return ansi.Truncate(left+"  "+right, m.width, "…")
	}
	return left + strings.Repeat(" ", pad) + right
}

func (m *WatchModel) render() string {
	footer := m.footer()
	body := m.bodyLines()
	var lines []string
	cut := true // table lines are cut to the terminal already
	switch {
	case m.mode == modeDetail:
		lines = m.detailLines()
		m.detailFirst = min(m.detailFirst, max(0, len(lines)-body))
		lines = lines[m.detailFirst:]
	case !m.synced:
		lines = []string{"", "  Waiting for the first list…"}
	default:
		lines = m.tableLines(body)
		cut = false
	}
	var b strings.Builder
	b.Grow(m.width * (m.height + 1))
	b.WriteString(m.title())
	for i := 0; i < body; i++ {
		b.WriteByte('\n')
		switch {
		case i >= len(lines):
		case cut:
			b.WriteString(truncate(lines[i], m.width))
		default:
			b.WriteString(lines[i])
		}
	}
	b.WriteByte('\n')
	b.WriteString(footer)
	return b.String()
}

// tableLines renders the header and the rows in the window, and no others:
// with 1,000 DataVolumes a frame still draws only a screenful.
func (m *WatchModel) tableLines(body int) []string {
	rows := m.store.visible()
	if len(rows) == 0 {
		if m.store.filter != "" {
			return []string{"", "  No DataVolume matches the filter."}
		}
		return []string{"", "  No DataVolumes found."}
	}
	c := layout(m.store, m.width, m.opts.AllNamespaces)
	tooWide := c.total() > m.width // even at the narrowest layout
	now := m.opts.Now()
	lines := make([]string, 0, body)
	lines = append(lines, m.styles.header.on(c.header()))
	end := min(len(rows), m.offset+body-1)
	var b strings.Builder
	for i := m.offset; i < end; i++ {
		b.Reset()
		if i == m.cursor {
			renderRow(&b, rows[i], c, styles{}, now)
			lines = append(lines, m.styles.selected.on(fit(b.String(), m.width)))
			continue
		}
		renderRow(&b, rows[i], c, m.styles, now)
		if tooWide {
			lines = append(lines, truncate(b.String(), m.width))
			continue
		}
		lines = append(lines, b.String())
	}
	if tooWide {
		lines[0] = truncate(lines[0], m.width)
	}
	return lines
}

// Selected returns the DataVolume under the cursor, or nil.
func (m *WatchModel) Selected() *instancev1.DataVolume {
	if r, ok := m.store.rows[m.selected]; ok {
		return r.dv
	}
	return nil
}
