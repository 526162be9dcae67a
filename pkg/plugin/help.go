package plugin

import "strings"

// examples normalises an Example block the way kubectl's templates do:
// tab-indented source becomes two-space-indented help.
func examples(s string) string {
	lines := strings.Split(strings.Trim(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = "  " + strings.TrimPrefix(l, "\t")
	}
	return strings.Join(lines, "\n")
}
