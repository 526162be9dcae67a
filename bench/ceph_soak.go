package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os/exec"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	cdiclient "kubevirt.io/client-go/containerizeddataimporter"

	instancev1 "github.com/otterscale/kubectl-otterscale/gen/otterscale/instance/v1"
	"github.com/otterscale/kubectl-otterscale/gen/otterscale/instance/v1/instancev1connect"
	storagev1 "github.com/otterscale/kubectl-otterscale/gen/otterscale/storage/v1"
	"github.com/otterscale/kubectl-otterscale/gen/otterscale/storage/v1/storagev1connect"
	"github.com/otterscale/kubectl-otterscale/internal/cdisim"
)

const (
	cephSoakNamespace  = "bench-ceph"
	cephSoakDataVolume = "dv-ceph"
	// rollbackImage is rolled back during the soak; no client snapshots
	// it, and nothing has it open but the worker's own listings.
	rollbackImage    = "soak-rollback"
	rollbackSnapshot = "base"
	// maxLive is the most snapshots a soak client keeps at once; with
	// more it deletes.
	maxLive = 6
	// maxOwnImages is the most images a soak client keeps at once (its
	// own, which it creates, resizes and deletes); with more it deletes.
	maxOwnImages = 2
	// ownImagePrefix starts the name of every image a soak client creates.
	ownImagePrefix = "own-"
)

// soakOp is one kind of call of the Ceph soak.
type soakOp int

const (
	opListImages soakOp = iota
	opListSnapshots
	opCreate
	opProtect
	opUnprotect
	opDelete
	opRollback
	opListDataVolumes
	opGetDataVolume
	opListPools
	opCreateImage
	opResizeImage
	opDeleteImage
	numSoakOps
)

var soakOpNames = [numSoakOps]string{
	"StorageService/ListImages", "StorageService/ListImageSnapshots", "StorageService/CreateImageSnapshot",
	"StorageService/ProtectImageSnapshot", "StorageService/UnprotectImageSnapshot", "StorageService/DeleteImageSnapshot",
	"StorageService/RollbackImageSnapshot", "InstanceService/ListDataVolumes", "InstanceService/GetDataVolume",
	"StorageService/ListPools", "StorageService/CreateImage", "StorageService/UpdateImage", "StorageService/DeleteImage",
}

// soakWeights is how often each call is picked (when it can be made).
var soakWeights = [numSoakOps]int{4, 14, 18, 8, 8, 14, 2, 16, 16, 6, 4, 6, 4}

// cephSoakResult is what the Ceph soak saw.
type cephSoakResult struct {
	seconds, clients, images int
	command                  string
	calls                    [numSoakOps]int64
	errs                     [numSoakOps]*errorCount
	wrong                    *errorCount // answers that contradict what a client knows
	sent                     int64
	logged                   map[string]int
	started, died, hung      int
	firstDeath               string
	exitErr                  error
	// The end check against `rbd snap ls`.
	live, missing, protection int    // snapshots reported created and not deleted; of those absent; of those with the wrong protection
	uncertain                 int    // snapshots a failed call left in an unknown state: not checked
	extra                     int    // soak snapshots rbd lists that no client knows of
	missingExample            string // one missing snapshot
	// The end check of the clients' own images against `rbd ls` and
	// `rbd info`.
	ownLive, ownMissing, ownSize, ownExtra, ownUncertain int
	ownExample                                           string
}

func (s cephSoakResult) errorTotal() int {
	n := 0
	for _, e := range s.errs {
		if e != nil {
			n += e.n
		}
	}
	return n
}

func (s cephSoakResult) callTotal() int64 {
	var n int64
	for _, c := range s.calls {
		n += c
	}
	return n
}

// logCheck says how the proxy's log disagrees with the calls made, or "".
func (s cephSoakResult) logCheck() string {
	total := 0
	for _, n := range s.logged {
		total += n
	}
	if total != int(s.sent) {
		return fmt.Sprintf("the clients made %d calls, the proxy logged %d, by code: %v", s.sent, total, s.logged)
	}
	return ""
}

func (s cephSoakResult) failure() error {
	var errs []error
	if n := s.errorTotal(); n > 0 {
		errs = append(errs, fmt.Errorf("the Ceph soak: %d of %d calls failed", n, s.callTotal()))
	}
	if s.wrong.n > 0 {
		errs = append(errs, fmt.Errorf("the Ceph soak: %d answers contradicted the clients' own calls, e.g. %s", s.wrong.n, s.wrong.first))
	}
	if s.died > 0 || s.hung > 0 {
		errs = append(errs, fmt.Errorf("the Ceph soak: %d Ceph worker(s) died and %d were stopped as hung: %s", s.died, s.hung, s.firstDeath))
	}
	if s.ownMissing > 0 || s.ownSize > 0 || s.ownExtra > 0 {
		errs = append(errs, fmt.Errorf("the Ceph soak: of %d images reported created and not deleted, %d are not in `rbd ls` and %d have another size (e.g. %s); %d deleted ones are still there",
			s.ownLive, s.ownMissing, s.ownSize, s.ownExample, s.ownExtra))
	}
	if s.missing > 0 || s.protection > 0 {
		errs = append(errs, fmt.Errorf("the Ceph soak: of %d snapshots reported created, %d are not in `rbd snap ls` (e.g. %s), %d have the wrong protection",
			s.live, s.missing, s.missingExample, s.protection))
	}
	if msg := s.logCheck(); msg != "" {
		errs = append(errs, errors.New("the Ceph soak: "+msg))
	}
	if s.exitErr != nil {
		errs = append(errs, fmt.Errorf("the Ceph soak: the proxy did not exit 0 on SIGINT: %w", s.exitErr))
	}
	return errors.Join(errs...)
}

// soakShared is what the soak's clients share.
type soakShared struct {
	pool       string
	end        time.Time
	res        *cephSoakResult
	calls      [numSoakOps]atomic.Int64
	sent       atomic.Int64
	rollbackMu sync.Mutex // one rollback at a time
}

// soakClient is one of the soak's clients: it owns the snapshots it
// creates, on its image, and so knows what every listing must show.
type soakClient struct {
	id       int
	image    string
	storage  storagev1connect.StorageServiceClient
	instance instancev1connect.InstanceServiceClient
	rng      *rand.Rand
	seq      int
	live     map[string]bool   // name: protected
	unsure   map[string]bool   // a failed call left them unknown
	own      map[string]uint64 // images of its own: name to size
	ownSeq   int
	*soakShared
}

// soak runs the proxy as a child process, with the Ceph flags, and has
// o.soakClients clients mix every StorageService call and two
// InstanceService calls for o.soakSeconds; then it stops the proxy and
// checks what `rbd snap ls` says against what the clients were told.
func (b *cephBench) soak(ctx context.Context) (res cephSoakResult, err error) {
	res.seconds, res.clients, res.images = b.o.soakSeconds, b.o.soakClients, b.o.soakImages
	for i := range res.errs {
		res.errs[i] = &errorCount{}
	}
	res.wrong = &errorCount{}
	if err := b.soakSetup(ctx); err != nil {
		return res, err
	}
	argv := slices.Concat([]string{b.plugin, "proxy", "--port", "0", "--kubeconfig", b.env.Kubeconfig}, b.cephFlags())
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = b.pluginE
	res.command = strings.ReplaceAll(b.show(argv), b.env.Kubeconfig, "KUBECONFIG")
	child, err := startProxyCmd(ctx, cmd, res.command)
	if err != nil {
		return res, err
	}
	defer child.kill()

	var transports []*http.Transport
	defer func() {
		for _, t := range transports {
			t.CloseIdleConnections()
		}
	}()
	type protoClients struct {
		storage  storagev1connect.StorageServiceClient
		instance instancev1connect.InstanceServiceClient
	}
	var byProtocol []protoClients
	for _, p := range protocols {
		c := newRPCClient(p, child.url, nil)
		transports = append(transports, c.transport)
		hc := &http.Client{Transport: c.transport}
		byProtocol = append(byProtocol, protoClients{
			storage:  storagev1connect.NewStorageServiceClient(hc, child.url, p.opts...),
			instance: instancev1connect.NewInstanceServiceClient(hc, child.url, p.opts...),
		})
	}

	shared := &soakShared{pool: b.ceph.Pool, end: time.Now().Add(time.Duration(b.o.soakSeconds) * time.Second), res: &res}
	clients := make([]*soakClient, b.o.soakClients)
	var wg sync.WaitGroup
	for i := range clients {
		pc := byProtocol[i%len(byProtocol)]
		clients[i] = &soakClient{
			id: i, image: soakImage(i % b.o.soakImages), storage: pc.storage, instance: pc.instance,
			rng:  rand.New(rand.NewPCG(uint64(i), 10)),
			live: map[string]bool{}, unsure: map[string]bool{}, own: map[string]uint64{}, soakShared: shared,
		}
		c := clients[i]
		wg.Go(func() { c.run(ctx) })
	}
	wg.Wait()
	if ctx.Err() != nil {
		return res, ctx.Err()
	}
	for i := range res.calls {
		res.calls[i] = shared.calls[i].Load()
	}
	res.sent = shared.sent.Load()
	for _, t := range transports {
		t.CloseIdleConnections()
	}
	res.exitErr = child.interrupt(ctx)
	res.logged = child.log.counts()
	child.log.mu.Lock()
	res.started, res.died, res.hung, res.firstDeath = child.log.workersStarted, child.log.workersDied, child.log.workersHung, child.log.firstDeath
	child.log.mu.Unlock()

	// What Ceph holds against what the clients were told.
	for img := range b.o.soakImages {
		snaps, err := b.rbdSnapshots(ctx, soakImage(img))
		if err != nil {
			return res, err
		}
		known := map[string]bool{}
		for _, c := range clients {
			if c.image != soakImage(img) {
				continue
			}
			for name := range c.unsure {
				known[name] = true
			}
			res.uncertain += len(c.unsure)
			for name, protected := range c.live {
				known[name] = true
				res.live++
				got, ok := snaps[name]
				switch {
				case !ok:
					res.missing++
					if res.missingExample == "" {
						res.missingExample = b.ceph.Pool + "/" + c.image + "@" + name
					}
				case got != protected:
					res.protection++
				}
			}
		}
		for name := range snaps {
			if strings.HasPrefix(name, "c") && !known[name] {
				res.extra++
			}
		}
	}
	if err := b.checkOwnImages(ctx, clients, &res); err != nil {
		return res, err
	}
	return res, nil
}

// checkOwnImages checks the images the clients created, resized and
// deleted against `rbd ls` and `rbd info`.
func (b *cephBench) checkOwnImages(ctx context.Context, clients []*soakClient, res *cephSoakResult) error {
	out, err := b.ceph.RBD(ctx, "ls", "--format", "json", b.ceph.Pool)
	if err != nil {
		return err
	}
	var names []string
	if err := json.Unmarshal(out, &names); err != nil {
		return fmt.Errorf("rbd ls --format json: %w: %s", err, out)
	}
	inCeph := map[string]bool{}
	for _, n := range names {
		inCeph[n] = true
	}
	known := map[string]bool{}
	for _, c := range clients {
		for name := range c.unsure {
			if strings.HasPrefix(name, ownImagePrefix) {
				known[name] = true
				res.ownUncertain++
			}
		}
		for name, size := range c.own {
			known[name] = true
			res.ownLive++
			if !inCeph[name] {
				res.ownMissing++
				res.ownExample = b.ceph.Pool + "/" + name
				continue
			}
			out, err := b.ceph.RBD(ctx, "info", "--format", "json", b.ceph.Pool+"/"+name)
			if err != nil {
				return err
			}
			var info struct {
				Size uint64 `json:"size"`
			}
			if err := json.Unmarshal(out, &info); err != nil {
				return err
			}
			if info.Size != size {
				res.ownSize++
				res.ownExample = fmt.Sprintf("%s/%s: %d bytes, the client was told %d", b.ceph.Pool, name, info.Size, size)
			}
		}
	}
	for _, n := range names {
		if strings.HasPrefix(n, ownImagePrefix) && !known[n] {
			res.ownExtra++
		}
	}
	return nil
}

func soakImage(i int) string { return fmt.Sprintf("soak-%d", i) }

// soakSetup creates the soak's images, the image it rolls back, and the
// DataVolume (with a bound claim) that the InstanceService calls read.
func (b *cephBench) soakSetup(ctx context.Context) error {
	for i := range b.o.soakImages {
		if err := b.ceph.CreateImage(ctx, soakImage(i), 64<<20); err != nil {
			return err
		}
		if err := b.ceph.WriteImage(ctx, soakImage(i), 0, pattern(64<<10, byte(i))); err != nil {
			return err
		}
	}
	if err := b.ceph.CreateImage(ctx, rollbackImage, 64<<20); err != nil {
		return err
	}
	if err := b.ceph.WriteImage(ctx, rollbackImage, 0, pattern(64<<10, 7)); err != nil {
		return err
	}
	if _, err := b.ceph.RBD(ctx, "snap", "create", "--no-progress", b.ceph.Pool+"/"+rollbackImage+"@"+rollbackSnapshot); err != nil {
		return err
	}
	if err := b.ceph.WriteImage(ctx, rollbackImage, 4<<20, pattern(64<<10, 9)); err != nil {
		return err
	}

	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: cephSoakNamespace}}
	if _, err := b.env.Kube.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create namespace %s: %w", cephSoakNamespace, err)
	}
	cdi, err := cdiclient.NewForConfig(b.env.Config)
	if err != nil {
		return err
	}
	dv := blankDataVolume(cephSoakDataVolume)
	dv.Namespace = cephSoakNamespace
	if _, err := cdi.CdiV1beta1().DataVolumes(cephSoakNamespace).Create(ctx, dv, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create data volume %s/%s: %w", cephSoakNamespace, cephSoakDataVolume, err)
	}
	sim, err := cdisim.New(b.env.Config)
	if err != nil {
		return err
	}
	// CDI imports the blank disk to the end: the claim bound to its volume.
	if err := sim.Start(ctx, cephSoakNamespace, cephSoakDataVolume); err != nil {
		return err
	}
	return sim.Succeed(ctx, cephSoakNamespace, cephSoakDataVolume)
}

// run calls until the soak's end.
func (c *soakClient) run(ctx context.Context) {
	for ctx.Err() == nil && time.Now().Before(c.end) {
		c.do(ctx, c.pick())
	}
}

// pick draws a call by weight, then turns it into one that can be made
// with the snapshots the client has.
func (c *soakClient) pick() soakOp {
	total := 0
	for _, w := range soakWeights {
		total += w
	}
	n := c.rng.IntN(total)
	op := soakOp(0)
	for ; op < numSoakOps; op++ {
		if n < soakWeights[op] {
			break
		}
		n -= soakWeights[op]
	}
	unprotected, protected := c.names(false), c.names(true)
	switch {
	case op == opCreate && len(c.live) >= maxLive && len(unprotected) > 0:
		return opDelete
	case op == opCreate && len(c.live) >= maxLive:
		return opUnprotect
	case (op == opProtect || op == opDelete) && len(unprotected) == 0:
		return opCreate
	case op == opUnprotect && len(protected) == 0:
		return opListSnapshots
	case op == opCreateImage && len(c.own) >= maxOwnImages:
		return opDeleteImage
	case (op == opResizeImage || op == opDeleteImage) && len(c.own) == 0:
		return opCreateImage
	}
	return op
}

// names lists the client's live snapshots with the given protection,
// sorted (so that the random choice among them is reproducible).
func (c *soakClient) names(protected bool) []string {
	var out []string
	for name, p := range c.live {
		if p == protected {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

func (c *soakClient) choose(protected bool) string {
	names := c.names(protected)
	return names[c.rng.IntN(len(names))]
}

// do makes one call and checks its answer.
func (c *soakClient) do(ctx context.Context, op soakOp) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	if op == opRollback {
		if !c.rollbackMu.TryLock() {
			op = opListSnapshots
		} else {
			defer c.rollbackMu.Unlock()
		}
	}
	c.calls[op].Add(1)
	c.sent.Add(1)
	pool, image := c.pool, c.image
	var err error
	switch op {
	case opListImages:
		var resp *connect.Response[storagev1.ListImagesResponse]
		if resp, err = c.storage.ListImages(ctx, connect.NewRequest(&storagev1.ListImagesRequest{PoolName: pool})); err == nil {
			var mine *storagev1.Image
			for _, img := range resp.Msg.GetImages() {
				if img.GetName() == image {
					mine = img
				}
			}
			if mine == nil {
				c.wrongf("ListImages %s has no image %s", pool, image)
			} else {
				c.check("ListImages", mine.GetSnapshots())
			}
		}
	case opListSnapshots:
		var resp *connect.Response[storagev1.ListImageSnapshotsResponse]
		req := &storagev1.ListImageSnapshotsRequest{PoolName: pool, ImageName: image}
		if resp, err = c.storage.ListImageSnapshots(ctx, connect.NewRequest(req)); err == nil {
			c.check("ListImageSnapshots", resp.Msg.GetSnapshots())
		}
	case opCreate:
		c.seq++
		name := fmt.Sprintf("c%02d-%d", c.id, c.seq)
		var resp *connect.Response[storagev1.Image_Snapshot]
		req := &storagev1.CreateImageSnapshotRequest{PoolName: pool, ImageName: image, SnapshotName: name}
		if resp, err = c.storage.CreateImageSnapshot(ctx, connect.NewRequest(req)); err == nil {
			c.live[name] = false
			if resp.Msg.GetName() != name || resp.Msg.GetProtected() {
				c.wrongf("CreateImageSnapshot %s answered %v", name, resp.Msg)
			}
		} else {
			c.unsure[name] = true
		}
	case opProtect, opUnprotect, opDelete:
		name := c.choose(op == opUnprotect)
		switch op {
		case opProtect:
			req := &storagev1.ProtectImageSnapshotRequest{PoolName: pool, ImageName: image, SnapshotName: name}
			_, err = c.storage.ProtectImageSnapshot(ctx, connect.NewRequest(req))
			c.live[name] = true
		case opUnprotect:
			req := &storagev1.UnprotectImageSnapshotRequest{PoolName: pool, ImageName: image, SnapshotName: name}
			_, err = c.storage.UnprotectImageSnapshot(ctx, connect.NewRequest(req))
			c.live[name] = false
		default:
			req := &storagev1.DeleteImageSnapshotRequest{PoolName: pool, ImageName: image, SnapshotName: name}
			_, err = c.storage.DeleteImageSnapshot(ctx, connect.NewRequest(req))
			delete(c.live, name)
		}
		if err != nil {
			delete(c.live, name)
			c.unsure[name] = true
		}
	case opRollback:
		req := &storagev1.RollbackImageSnapshotRequest{PoolName: pool, ImageName: rollbackImage, SnapshotName: rollbackSnapshot}
		_, err = c.storage.RollbackImageSnapshot(ctx, connect.NewRequest(req))
	case opListDataVolumes:
		var resp *connect.Response[instancev1.ListDataVolumesResponse]
		req := &instancev1.ListDataVolumesRequest{Namespace: cephSoakNamespace}
		if resp, err = c.instance.ListDataVolumes(ctx, connect.NewRequest(req)); err == nil {
			if len(resp.Msg.GetDataVolumes()) != 1 || resp.Msg.GetDataVolumes()[0].GetName() != cephSoakDataVolume {
				c.wrongf("ListDataVolumes %s answered %d DataVolumes", cephSoakNamespace, len(resp.Msg.GetDataVolumes()))
			}
		}
	case opListPools:
		var resp *connect.Response[storagev1.ListPoolsResponse]
		req := &storagev1.ListPoolsRequest{Application: storagev1.Pool_APPLICATION_BLOCK}
		if resp, err = c.storage.ListPools(ctx, connect.NewRequest(req)); err == nil {
			if ps := resp.Msg.GetPools(); len(ps) != 1 || ps[0].GetName() != pool {
				c.wrongf("ListPools (block) answered %d pools, want %s only", len(ps), pool)
			}
		}
	case opCreateImage:
		c.ownSeq++
		name := fmt.Sprintf("%s%02d-%d", ownImagePrefix, c.id, c.ownSeq)
		size := uint64(4+c.rng.IntN(8)) << 20
		var resp *connect.Response[storagev1.Image]
		req := &storagev1.CreateImageRequest{PoolName: pool, ImageName: name, QuotaBytes: size}
		if resp, err = c.storage.CreateImage(ctx, connect.NewRequest(req)); err == nil {
			c.own[name] = size
			if resp.Msg.GetName() != name || resp.Msg.GetQuotaBytes() != size {
				c.wrongf("CreateImage %s of %d bytes answered %v", name, size, resp.Msg)
			}
		} else {
			c.unsure[name] = true
		}
	case opResizeImage, opDeleteImage:
		names := make([]string, 0, len(c.own))
		for n := range c.own {
			names = append(names, n)
		}
		sort.Strings(names)
		name := names[c.rng.IntN(len(names))]
		if op == opResizeImage {
			size := uint64(2+c.rng.IntN(14)) << 20
			var resp *connect.Response[storagev1.Image]
			req := &storagev1.UpdateImageRequest{PoolName: pool, ImageName: name, QuotaBytes: size, AllowShrink: true}
			if resp, err = c.storage.UpdateImage(ctx, connect.NewRequest(req)); err == nil {
				c.own[name] = size
				if resp.Msg.GetQuotaBytes() != size {
					c.wrongf("UpdateImage %s to %d bytes answered %d", name, size, resp.Msg.GetQuotaBytes())
				}
			}
		} else {
			req := &storagev1.DeleteImageRequest{PoolName: pool, ImageName: name}
			_, err = c.storage.DeleteImage(ctx, connect.NewRequest(req))
		}
		if err != nil || op == opDeleteImage {
			delete(c.own, name)
		}
		if err != nil {
			c.unsure[name] = true
		}
	case opGetDataVolume:
		var resp *connect.Response[instancev1.DataVolume]
		req := &instancev1.GetDataVolumeRequest{Namespace: cephSoakNamespace, Name: cephSoakDataVolume}
		if resp, err = c.instance.GetDataVolume(ctx, connect.NewRequest(req)); err == nil && resp.Msg.GetName() != cephSoakDataVolume {
			c.wrongf("GetDataVolume answered %q", resp.Msg.GetName())
		}
	}
	if err != nil {
		c.res.errs[op].add(fmt.Errorf("client %d: %w", c.id, err))
	}
}

// check says whether a listing of the client's image shows every
// snapshot the client has, with its protection.
func (c *soakClient) check(call string, snaps []*storagev1.Image_Snapshot) {
	got := make(map[string]bool, len(snaps))
	for _, s := range snaps {
		got[s.GetName()] = s.GetProtected()
	}
	for name, protected := range c.live {
		p, ok := got[name]
		switch {
		case !ok:
			c.wrongf("%s of %s lacks %s, which client %d created", call, c.image, name, c.id)
			return
		case p != protected:
			c.wrongf("%s of %s shows %s protected=%v, client %d last left it %v", call, c.image, name, p, c.id, protected)
			return
		}
	}
}

func (c *soakClient) wrongf(format string, args ...any) {
	c.res.wrong.add(fmt.Errorf(format, args...))
}

// cephSoakSection writes the soak's figures.
func cephSoakSection(w io.Writer, s cephSoakResult) {
	fmt.Fprintf(w, "\nCeph soak of the proxy: %d s, %d clients calling back to back (client i speaks protocol i mod 3), against `%s`\n",
		s.seconds, s.clients, s.command)
	fmt.Fprintf(w, "  client i snapshots image soak-(i mod %d) only (create, protect, unprotect, delete, at most %d at once) and lists it\n", s.images, maxLive)
	fmt.Fprintf(w, "  and the pool; RollbackImageSnapshot goes to %s@%s, one at a time; InstanceService calls read one DataVolume;\n", rollbackImage, rollbackSnapshot)
	fmt.Fprintf(w, "  each client also creates, resizes (grow or shrink) and deletes images of its own (at most %d at once) and lists the block pools\n", maxOwnImages)
	for op := range numSoakOps {
		fmt.Fprintf(w, "  %s: %s calls, %d errors%s\n", soakOpNames[op], thousands(int(s.calls[op])), s.errs[op].n, failSuffix(s.errs[op].n))
	}
	total, errs := s.callTotal(), s.errorTotal()
	fmt.Fprintf(w, "  Ceph soak, all calls: %s in %d s (%.1f calls/s), %d errors (target 0: %s)\n",
		thousands(int(total)), s.seconds, float64(total)/float64(s.seconds), errs, metOrMissed(errs == 0))
	for op := range numSoakOps {
		if s.errs[op].n > 0 {
			fmt.Fprintf(w, "  first %s error: %s\n", soakOpNames[op], s.errs[op].first)
		}
	}
	fmt.Fprintf(w, "  Ceph soak, workers: %d started, %d died, %d stopped as hung (target: 1 started, none died: %s)\n",
		s.started, s.died, s.hung, metOrMissed(s.started == 1 && s.died == 0 && s.hung == 0))
	if s.firstDeath != "" {
		fmt.Fprintf(w, "  first worker death: %s\n", s.firstDeath)
	}
	fmt.Fprintf(w, "  Ceph soak, answers that contradicted a client's own calls (a listing without its snapshot, a wrong protection): %d%s\n", s.wrong.n, failSuffix(s.wrong.n))
	if s.wrong.n > 0 {
		fmt.Fprintf(w, "  first: %s\n", s.wrong.first)
	}
	fmt.Fprintf(w, "  Ceph soak, end check: %d snapshots reported created and not deleted; %d missing from `rbd snap ls`, %d with the wrong protection%s\n",
		s.live, s.missing, s.protection, failSuffix(s.missing+s.protection))
	fmt.Fprintf(w, "  (%d snapshots left in an unknown state by failed calls, not checked; %d soak snapshots in Ceph that no client knows of)\n", s.uncertain, s.extra)
	fmt.Fprintf(w, "  Ceph soak, end check of the clients' own images: %d reported created and not deleted; %d missing from `rbd ls`, %d of another size in `rbd info`, %d deleted but still there%s\n",
		s.ownLive, s.ownMissing, s.ownSize, s.ownExtra, failSuffix(s.ownMissing+s.ownSize+s.ownExtra))
	if s.ownExample != "" {
		fmt.Fprintf(w, "  first: %s\n", s.ownExample)
	}
	fmt.Fprintf(w, "  (%d images left in an unknown state by failed calls, not checked)\n", s.ownUncertain)
	check := "checked: "
	if msg := s.logCheck(); msg != "" {
		check += "FAIL: " + msg
	} else {
		check += fmt.Sprintf("the proxy logged %s calls, as many as the clients made, by code %v", thousands(int(s.sent)), s.logged)
	}
	if s.exitErr != nil {
		check += fmt.Sprintf("; FAIL: exit on SIGINT: %v", s.exitErr)
	} else {
		check += "; exit code 0 on SIGINT"
	}
	fmt.Fprintf(w, "  %s\n", check)
	fmt.Fprintln(w)
}

func failSuffix(n int) string {
	if n > 0 {
		return "  FAIL"
	}
	return ""
}
