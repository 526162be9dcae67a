package spawn

import "testing"

func TestWantsEarly(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want bool
	}{
		{[]string{"snapshot", "create", "rbd/disk@s1"}, true},
		{[]string{"snap", "list", "rbd/disk"}, true},
		{[]string{"--context", "prod", "image", "list"}, false}, // a flag's value comes first: a guess, wrong here
		{[]string{"-v=4", "image", "list"}, true},
		{[]string{"image", "list", "--help"}, false},
		{[]string{"help", "snapshot"}, false},
		{[]string{"__complete", "snapshot", "create", ""}, false},
		{[]string{"dv", "list"}, false},
		{[]string{"proxy"}, false},
		{[]string{"version"}, false},
		{nil, false},
	} {
		if got := wantsEarly(tc.args); got != tc.want {
			t.Errorf("wantsEarly(%q) = %v, want %v", tc.args, got, tc.want)
		}
	}
}
