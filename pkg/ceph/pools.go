//go:build cgo && pacific

package ceph

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	storagev1 "github.com/otterscale/kubectl-otterscale/gen/otterscale/storage/v1"
)

// monCommand runs a monitor command with JSON output and decodes its
// answer into v.
func (b *cluster) monCommand(v any, args map[string]any) error {
	args["format"] = "json"
	cmd, err := json.Marshal(args)
	if err != nil {
		return err
	}
	out, status, err := b.conn.MonCommand(cmd)
	if err != nil {
		if status != "" {
			return fmt.Errorf("%w: %s", err, strings.TrimSpace(status))
		}
		return err
	}
	if err := json.Unmarshal(out, v); err != nil {
		return fmt.Errorf("read the monitors' answer to %q: %w", args["prefix"], err)
	}
	return nil
}

// poolDetail is what `ceph osd pool ls detail -f json` says of one pool.
type poolDetail struct {
	ID                   int64                      `json:"pool_id"`
	Name                 string                     `json:"pool_name"`
	CreateTime           string                     `json:"create_time"`
	FlagsNames           string                     `json:"flags_names"`
	Type                 int                        `json:"type"`
	Size                 uint64                     `json:"size"`
	ErasureCodeProfile   string                     `json:"erasure_code_profile"`
	QuotaMaxBytes        uint64                     `json:"quota_max_bytes"`
	QuotaMaxObjects      uint64                     `json:"quota_max_objects"`
	PGNum                uint64                     `json:"pg_num"`
	PGPlacementNum       uint64                     `json:"pg_placement_num"`
	PGNumTarget          uint64                     `json:"pg_num_target"`
	PGPlacementNumTarget uint64                     `json:"pg_placement_num_target"`
	Applications         map[string]json.RawMessage `json:"application_metadata"`
}

// Ceph's pg_pool_t types (src/osd/osd_types.h).
const (
	poolTypeReplicated = 1
	poolTypeErasure    = 3
)

// applications maps Ceph's application names to the API's.
var applications = map[string]storagev1.Pool_Application{
	"rbd":    storagev1.Pool_APPLICATION_BLOCK,
	"cephfs": storagev1.Pool_APPLICATION_FILE,
	"rgw":    storagev1.Pool_APPLICATION_OBJECT,
}

// cephTime is the monitors' time format, e.g. 2026-12-04T16:27:07.401834+0000.
const cephTime = "2006-01-02T15:04:05.999999-0700"

// listPools answers the pools (those enabled for app, unless it is
// unspecified) from the monitors' own figures: the pools' settings from
// `osd pool ls detail`, erasure profiles' k and m, and usage from `df`.
// Usage and placement-group states are the manager's figures: without an
// active ceph-mgr they stay unset rather than fail the call, since the
// pools themselves are still known.
func (b *cluster) listPools(app storagev1.Pool_Application) ([]*storagev1.Pool, error) {
	var details []poolDetail
	if err := b.monCommand(&details, map[string]any{"prefix": "osd pool ls", "detail": "detail"}); err != nil {
		return nil, cephError(err, "list pools (ceph osd pool ls detail)")
	}
	profiles := map[string][2]uint64{}
	out := []*storagev1.Pool{}
	for _, d := range details {
		p := &storagev1.Pool{
			Id:                  d.ID,
			Name:                d.Name,
			Updating:            d.PGNum != d.PGNumTarget || d.PGPlacementNum != d.PGPlacementNumTarget,
			QuotaBytes:          d.QuotaMaxBytes,
			QuotaObjects:        d.QuotaMaxObjects,
			PlacementGroupCount: d.PGNum,
		}
		for name := range d.Applications {
			if a, ok := applications[name]; ok {
				p.Applications = append(p.Applications, a)
			}
		}
		sort.Slice(p.Applications, func(i, j int) bool { return p.Applications[i] < p.Applications[j] })
		if app != storagev1.Pool_APPLICATION_UNSPECIFIED && !containsApp(p.Applications, app) {
			continue
		}
		switch d.Type {
		case poolTypeReplicated:
			p.Type = storagev1.Pool_TYPE_REPLICATED
			p.ReplicatedSize = d.Size
		case poolTypeErasure:
			p.Type = storagev1.Pool_TYPE_ERASURE
			p.EcOverwrites = hasFlag(d.FlagsNames, "ec_overwrites")
			km, ok := profiles[d.ErasureCodeProfile]
			if !ok {
				var err error
				if km, err = b.erasureProfile(d.ErasureCodeProfile); err != nil {
					return nil, err
				}
				profiles[d.ErasureCodeProfile] = km
			}
			p.DataChunks, p.CodingChunks = km[0], km[1]
		}
		if t, err := time.Parse(cephTime, d.CreateTime); err == nil {
			p.CreatedAt = timestamppb.New(t)
		}
		out = append(out, p)
	}
	if len(out) == 0 {
		return out, nil
	}
	b.poolUsage(out)
	b.poolPGStates(out)
	return out, nil
}

func containsApp(apps []storagev1.Pool_Application, app storagev1.Pool_Application) bool {
	for _, a := range apps {
		if a == app {
			return true
		}
	}
	return false
}

func hasFlag(names, flag string) bool {
	for _, f := range strings.Split(names, ",") {
		if f == flag {
			return true
		}
	}
	return false
}

// erasureProfile answers a profile's k and m.
func (b *cluster) erasureProfile(name string) ([2]uint64, error) {
	var prof map[string]string
	if err := b.monCommand(&prof, map[string]any{"prefix": "osd erasure-code-profile get", "name": name}); err != nil {
		return [2]uint64{}, cephError(err, fmt.Sprintf("read erasure-code profile %q", name))
	}
	k, errK := strconv.ParseUint(prof["k"], 10, 64)
	m, errM := strconv.ParseUint(prof["m"], 10, 64)
	if errK != nil || errM != nil {
		return [2]uint64{}, connect.NewError(connect.CodeInternal, fmt.Errorf("erasure-code profile %q has no numeric k and m: %v", name, prof))
	}
	return [2]uint64{k, m}, nil
}

// poolUsage fills used bytes and objects and max_bytes from `ceph df`.
// used_bytes is the pool's STORED column (the data written to it, before
// replication), which is what its quota_bytes and max_avail count too.
func (b *cluster) poolUsage(pools []*storagev1.Pool) {
	var df struct {
		Pools []struct {
			ID    int64 `json:"id"`
			Stats struct {
				Stored   uint64 `json:"stored"`
				Objects  uint64 `json:"objects"`
				MaxAvail uint64 `json:"max_avail"`
			} `json:"stats"`
		} `json:"pools"`
	}
	if err := b.monCommand(&df, map[string]any{"prefix": "df"}); err != nil {
		return // a user whose caps do not allow it: the figures stay unset
	}
	byID := map[int64]*storagev1.Pool{}
	for _, p := range pools {
		byID[p.GetId()] = p
	}
	for _, s := range df.Pools {
		if p := byID[s.ID]; p != nil {
			p.UsedBytes, p.UsedObjects, p.MaxBytes = s.Stats.Stored, s.Stats.Objects, s.Stats.MaxAvail
		}
	}
}

// poolPGStates counts each pool's placement groups by state. `pg dump` is
// the manager's command: the monitors would hold it for the whole op
// timeout when no manager is active, so they are asked first.
func (b *cluster) poolPGStates(pools []*storagev1.Pool) {
	var mgr struct {
		Available bool `json:"available"`
	}
	if err := b.monCommand(&mgr, map[string]any{"prefix": "mgr stat"}); err != nil || !mgr.Available {
		return
	}
	var raw json.RawMessage
	if err := b.monCommand(&raw, map[string]any{"prefix": "pg dump", "dumpcontents": []string{"pgs_brief"}}); err != nil {
		return
	}
	type pgBrief struct {
		PGID  string `json:"pgid"`
		State string `json:"state"`
	}
	// Pacific answers {"pg_ready": ..., "pg_stats": [...]}; older releases
	// a bare list.
	var wrapped struct {
		Stats []pgBrief `json:"pg_stats"`
	}
	var stats []pgBrief
	if err := json.Unmarshal(raw, &wrapped); err == nil && wrapped.Stats != nil {
		stats = wrapped.Stats
	} else if err := json.Unmarshal(raw, &stats); err != nil {
		return
	}
	byID := map[string]*storagev1.Pool{}
	for _, p := range pools {
		byID[strconv.FormatInt(p.GetId(), 10)] = p
	}
	for _, pg := range stats {
		id, _, _ := strings.Cut(pg.PGID, ".")
		p := byID[id]
		if p == nil {
			continue
		}
		if p.PlacementGroupState == nil {
			p.PlacementGroupState = map[string]int64{}
		}
		p.PlacementGroupState[pg.State]++
	}
}
