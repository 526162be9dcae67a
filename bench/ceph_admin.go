package main

import (
	"context"
	"fmt"
	"os/exec"
	"slices"
)

// adminImage is the image the resize comparison grows, one each.
const adminImage = "bench-admin"

// theirsCeph is the ceph CLI with args, given Ceph as rbd is.
func (b *cephBench) theirsCeph(args ...string) []string {
	return slices.Concat([]string{b.cephCLI}, b.rbdFlags(), args)
}

// measureImageAdmin times the pool and image commands against the Ceph
// tools an admin would use instead: `pool list` against `ceph osd pool ls
// detail` (its settings) and `ceph df` (its usage), and image create,
// resize and delete against rbd create, resize and rm. Each create run
// makes a new image, which the delete runs remove again.
func (b *cephBench) measureImageAdmin(ctx context.Context) ([]timedSet, error) {
	cephCLI, err := exec.LookPath("ceph")
	if err != nil {
		return nil, err
	}
	b.cephCLI = cephCLI
	pools := timedSet{
		title:  "pool list (the web UI's ListPools): settings, erasure profiles and usage",
		labels: []string{"kubectl-otterscale pool list", "ceph osd pool ls detail", "ceph df"},
		ratios: [][2]int{{0, 1}, {0, 2}},
	}
	if err := b.timeSet(ctx, &pools, func(c, _ int) []string {
		return [][]string{
			b.ours("pool", "list"),
			b.theirsCeph("osd", "pool", "ls", "detail"),
			b.theirsCeph("df"),
		}[c]
	}); err != nil {
		return nil, err
	}

	name := func(who string, round int) string {
		if round < 0 {
			return fmt.Sprintf("%s/admin-%s-warm", b.ceph.Pool, who)
		}
		return fmt.Sprintf("%s/admin-%s-%d", b.ceph.Pool, who, round)
	}
	create := timedSet{
		title:  "image create of a 64 MiB image with Ceph's default features",
		labels: []string{"kubectl-otterscale image create", "rbd create"},
		ratios: [][2]int{{0, 1}},
	}
	if err := b.timeSet(ctx, &create, func(c, round int) []string {
		if c == 0 {
			return b.ours("image", "create", name("ours", round), "--size", "64Mi")
		}
		return b.theirs("create", "--size", "64M", name("rbd", round))
	}); err != nil {
		return nil, err
	}

	for _, who := range []string{"ours", "rbd"} {
		if err := b.ceph.CreateImage(ctx, adminImage+"-"+who, 64<<20); err != nil {
			return nil, err
		}
	}
	resize := timedSet{
		title:  "image resize: growing a 64 MiB image by 1 MiB a run",
		labels: []string{"kubectl-otterscale image resize", "rbd resize"},
		ratios: [][2]int{{0, 1}},
	}
	if err := b.timeSet(ctx, &resize, func(c, round int) []string {
		size := 65 + round + 1 // the warm-up (-1) grows to 65 MiB
		if c == 0 {
			return b.ours("image", "resize", b.ceph.Pool+"/"+adminImage+"-ours", "--size", fmt.Sprintf("%dMi", size))
		}
		return b.theirs("resize", "--no-progress", "--size", fmt.Sprintf("%dM", size), b.ceph.Pool+"/"+adminImage+"-rbd")
	}); err != nil {
		return nil, err
	}

	del := timedSet{
		title:  "image delete of a 64 MiB image with nothing written (the ones image create made)",
		labels: []string{"kubectl-otterscale image delete --yes", "rbd rm"},
		ratios: [][2]int{{0, 1}},
	}
	if err := b.timeSet(ctx, &del, func(c, round int) []string {
		if c == 0 {
			return b.ours("image", "delete", name("ours", round), "--yes")
		}
		return b.theirs("rm", "--no-progress", name("rbd", round))
	}); err != nil {
		return nil, err
	}
	return []timedSet{pools, create, resize, del}, nil
}
