package tui

import "charm.land/bubbles/v2/key"

// keyMap is every key the watch view answers to, with its help text.
type keyMap struct {
	Up, Down, PageUp, PageDown, Top, Bottom key.Binding
	Sort, Filter, Open, Back, Help, Quit    key.Binding
}

func newKeyMap() keyMap {
	return keyMap{
		Up:       key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/k", "up")),
		Down:     key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓/j", "down")),
		PageUp:   key.NewBinding(key.WithKeys("pgup", "ctrl+b"), key.WithHelp("pgup", "page up")),
		PageDown: key.NewBinding(key.WithKeys("pgdown", "ctrl+f", "space"), key.WithHelp("pgdn", "page down")),
		Top:      key.NewBinding(key.WithKeys("home", "g"), key.WithHelp("g/home", "first")),
		Bottom:   key.NewBinding(key.WithKeys("end", "G"), key.WithHelp("G/end", "last")),
		Sort:     key.NewBinding(key.WithKeys("s"), key.WithHelp("s", "sort")),
		Filter:   key.NewBinding(key.WithKeys("/"), key.WithHelp("/", "filter")),
		Open:     key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "details")),
		Back:     key.NewBinding(key.WithKeys("esc", "backspace"), key.WithHelp("esc", "back")),
		Help:     key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "help")),
		Quit:     key.NewBinding(key.WithKeys("q", "ctrl+c"), key.WithHelp("q", "quit")),
	}
}

// ShortHelp is the one-line help under the table.
func (k keyMap) ShortHelp() []key.Binding {
	return []key.Binding{k.Up, k.Down, k.Open, k.Sort, k.Filter, k.Help, k.Quit}
}

// FullHelp is the help that ? opens.
func (k keyMap) FullHelp() [][]key.Binding {
	return [][]key.Binding{
		{k.Up, k.Down, k.PageUp, k.PageDown},
		{k.Top, k.Bottom, k.Open, k.Back},
		{k.Sort, k.Filter, k.Help, k.Quit},
	}
}

// detailHelp is the help of the detail pane: the same bindings, fewer of
// them.
type detailHelp struct{ k keyMap }

// ShortHelp is the one-line help under the detail pane.
func (d detailHelp) ShortHelp() []key.Binding {
	return []key.Binding{d.k.Up, d.k.Down, d.k.Back, d.k.Help, d.k.Quit}
}

// FullHelp is the help that ? opens over the detail pane.
func (d detailHelp) FullHelp() [][]key.Binding {
	return [][]key.Binding{{d.k.Up, d.k.Down, d.k.PageUp, d.k.PageDown}, {d.k.Top, d.k.Bottom, d.k.Back}, {d.k.Help, d.k.Quit}}
}
