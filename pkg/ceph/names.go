//go:build cgo && pacific

package ceph

import (
	"encoding/json"
	"sort"
)

// poolNames lists the pools, keeping those enabled for rbd when the
// monitors say which are (`ceph osd pool ls detail`): a Rook cluster also
// has .mgr, CephFS and a dozen RGW pools that hold no images. When none is
// tagged rbd, or the monitors will not say, it answers every pool.
func (b *cluster) poolNames() ([]string, error) {
	pools, err := b.conn.ListPools()
	if err != nil {
		return nil, cephError(err, "list pools")
	}
	sort.Strings(pools)
	rbdPools, ok := b.rbdPools()
	if !ok || len(rbdPools) == 0 {
		// Untagged pools (made before Luminous, or without `rbd pool
		// init`) may still hold images.
		return pools, nil
	}
	out := pools[:0]
	for _, p := range pools {
		if rbdPools[p] {
			out = append(out, p)
		}
	}
	return out, nil
}

// rbdPools is the set of pools whose application metadata names rbd, and
// false when the monitors would not say (a user without mon read caps).
func (b *cluster) rbdPools() (map[string]bool, bool) {
	cmd, err := json.Marshal(map[string]string{"prefix": "osd pool ls", "detail": "detail", "format": "json"})
	if err != nil {
		return nil, false
	}
	out, _, err := b.conn.MonCommand(cmd)
	if err != nil {
		return nil, false
	}
	var pools []struct {
		Name        string                     `json:"pool_name"`
		Application map[string]json.RawMessage `json:"application_metadata"`
	}
	if err := json.Unmarshal(out, &pools); err != nil {
		return nil, false
	}
	set := map[string]bool{}
	for _, p := range pools {
		if _, ok := p.Application["rbd"]; ok {
			set[p.Name] = true
		}
	}
	return set, true
}

func (b *cluster) imageNames(pool string) ([]string, error) {
	ioctx, err := b.ioctx(pool)
	if err != nil {
		return nil, err
	}
	defer ioctx.Destroy()
	return sortedImageNames(ioctx, pool)
}

func (b *cluster) snapshotNames(pool, image string) ([]string, error) {
	_, img, done, err := b.open(pool, image, "", true)
	if err != nil {
		return nil, err
	}
	defer done()
	infos, err := snapInfos(img, pool, image)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(infos))
	for i, s := range infos {
		names[i] = s.Name
	}
	return names, nil
}
