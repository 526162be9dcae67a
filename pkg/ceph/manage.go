//go:build cgo && pacific

package ceph

import (
	"errors"
	"fmt"
	"math/bits"
	"strings"
	"syscall"

	"connectrpc.com/connect"
	"github.com/ceph/go-ceph/rbd"

	storagev1 "github.com/otterscale/kubectl-otterscale/gen/otterscale/storage/v1"
)

// objectMapMaxObjects is librbd's limit on the objects an object map
// tracks (RBD_OBJECT_MAP_MAX_OBJECTS in src/librbd/ObjectMap.h).
const objectMapMaxObjects = 256000000

// defaultObjectSize is librbd's rbd_default_order, 22.
const defaultObjectSize = 4 << 20

// requestedFeatures is the feature bits a CreateImageRequest asks for, and
// false when it asks for none (Ceph's defaults then apply).
func requestedFeatures(r *storagev1.CreateImageRequest) (uint64, bool) {
	var f uint64
	for _, x := range []struct {
		on  bool
		bit uint64
	}{
		{r.GetLayering(), rbd.FeatureLayering},
		{r.GetExclusiveLock(), rbd.FeatureExclusiveLock},
		{r.GetObjectMap(), rbd.FeatureObjectMap},
		{r.GetFastDiff(), rbd.FeatureFastDiff},
		{r.GetDeepFlatten(), rbd.FeatureDeepFlatten},
	} {
		if x.on {
			f |= x.bit
		}
	}
	return f, f != 0
}

// createImage creates pool/image as asked and answers it as read back.
// The request was validated (pkg/storage); what librbd still refuses
// comes back as invalid_argument with librbd's reason where it is known:
// librbd logs its reasons rather than returning them.
func (b *cluster) createImage(r *storagev1.CreateImageRequest) (*storagev1.Image, error) {
	pool, name := r.GetPoolName(), r.GetImageName()
	ioctx, err := b.ioctx(pool)
	if err != nil {
		return nil, err
	}
	defer ioctx.Destroy()
	opts := rbd.NewRbdImageOptions()
	defer opts.Destroy()
	set := func(o rbd.ImageOption, v uint64) error {
		if err := opts.SetUint64(o, v); err != nil {
			return cephError(err, "create image "+spec(pool, name, ""))
		}
		return nil
	}
	if err := set(rbd.ImageOptionFormat, 2); err != nil {
		return nil, err
	}
	objectSize := r.GetObjectSizeBytes()
	if objectSize != 0 {
		if err := set(rbd.ImageOptionOrder, uint64(bits.TrailingZeros64(objectSize))); err != nil {
			return nil, err
		}
	} else {
		objectSize = defaultObjectSize
	}
	if r.GetStripeUnitBytes() != 0 {
		if err := set(rbd.ImageOptionStripeUnit, r.GetStripeUnitBytes()); err != nil {
			return nil, err
		}
		if err := set(rbd.ImageOptionStripeCount, r.GetStripeCount()); err != nil {
			return nil, err
		}
	}
	features, explicit := requestedFeatures(r)
	if explicit {
		if err := set(rbd.ImageOptionFeatures, features); err != nil {
			return nil, err
		}
	}
	// Not under imageStateMu: librbd's CreateRequest writes the image's
	// objects without opening an image handle, so it changes no handle's
	// state (the read-back below opens through openImage).
	if err := rbd.CreateImage(ioctx, name, r.GetQuotaBytes(), opts); err != nil {
		op := "create image " + spec(pool, name, "")
		switch errno(err) {
		case syscall.EEXIST:
			return nil, connect.NewError(connect.CodeAlreadyExists, fmt.Errorf("%s: it already exists", op))
		case syscall.EINVAL:
			return nil, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("%s: Ceph refused it: %s", op,
				refusal(r.GetQuotaBytes(), objectSize, features, explicit)))
		}
		return nil, cephError(err, op)
	}
	return b.readBack(pool, name)
}

// refusal says why librbd answered EINVAL to a create, as far as its
// rules that pkg/storage leaves to Ceph go.
func refusal(size, objectSize, features uint64, explicit bool) string {
	objectMap := !explicit || features&rbd.FeatureObjectMap != 0
	if objects := (size + objectSize - 1) / objectSize; objectMap && objects > objectMapMaxObjects {
		return fmt.Sprintf("image size not compatible with object map: object-map tracks at most %d objects, and %d bytes in %d-byte objects are %d; "+
			"use a larger object size or turn object-map and fast-diff off", objectMapMaxObjects, size, objectSize, objects)
	}
	return "invalid argument (librbd rejected the size, layout or features; its log has the detail)"
}

// readBack answers pool/name as ListImages does.
func (b *cluster) readBack(pool, name string) (*storagev1.Image, error) {
	ioctx, err := b.ioctx(pool)
	if err != nil {
		return nil, err
	}
	defer ioctx.Destroy()
	img, err := b.image(ioctx, pool, name)
	if errors.Is(err, errImageGone) {
		return nil, connect.NewError(connect.CodeNotFound, fmt.Errorf("image %q not found in pool %q (deleted meanwhile)", name, pool))
	}
	return img, err
}

// otherWatchers lists the addresses of the clients other than this worker
// that watch an open image: a running VM, rbd map, rbd-nbd.
func (b *cluster) otherWatchers(img *rbd.Image, pool, image string) ([]string, error) {
	watchers, err := img.ListWatchers()
	if err != nil {
		return nil, cephError(err, "list users of "+spec(pool, image, ""))
	}
	self := int64(b.conn.GetInstanceID())
	var users []string
	for _, w := range watchers {
		if w.Id != self {
			users = append(users, w.Addr)
		}
	}
	return users, nil
}

// resizeImage sets pool/image's size. A shrink discards what lies beyond
// the new end: it needs allowShrink, and nobody may be using the image
// (a VM would see its disk cut under it). Growing is safe online.
func (b *cluster) resizeImage(pool, image string, size uint64, allowShrink bool) (*storagev1.Image, error) {
	if err := func() error {
		_, img, done, err := b.open(pool, image, "", false)
		if err != nil {
			return err
		}
		defer done()
		op := "resize image " + spec(pool, image, "")
		cur, err := img.GetSize()
		if err != nil {
			return cephError(err, op)
		}
		if size == cur {
			return nil
		}
		if size < cur {
			if !allowShrink {
				return connect.NewError(connect.CodeFailedPrecondition, fmt.Errorf(
					"%s: shrinking it from %d to %d bytes discards the data beyond %d bytes; set allow_shrink (--allow-shrink) to confirm",
					op, cur, size, size))
			}
			users, err := b.otherWatchers(img, pool, image)
			if err != nil {
				return err
			}
			if len(users) > 0 {
				return connect.NewError(connect.CodeFailedPrecondition, fmt.Errorf(
					"%s: it cannot shrink while in use by %d client(s) (%s); stop the VM or unmap the image first",
					op, len(users), strings.Join(users, ", ")))
			}
		}
		if err := img.Resize(size); err != nil {
			return cephError(err, op)
		}
		return nil
	}(); err != nil {
		return nil, err
	}
	return b.readBack(pool, image)
}

// deleteImage deletes pool/image unless it has snapshots (and through
// them clones) or users: each would lose data or break, and librbd alone
// answers a bare EBUSY or ENOTEMPTY, or moves on with the snapshots.
func (b *cluster) deleteImage(pool, image string) error {
	op := "delete image " + spec(pool, image, "")
	_, img, done, err := b.open(pool, image, "", true)
	if err != nil {
		return err
	}
	why, err := b.deleteBlockers(img, pool, image)
	done()
	if err != nil {
		return err
	}
	if len(why) > 0 {
		return connect.NewError(connect.CodeFailedPrecondition, fmt.Errorf("%s: %s; nothing was deleted", op, strings.Join(why, "; ")))
	}
	ioctx, err := b.ioctx(pool)
	if err != nil {
		return err
	}
	defer ioctx.Destroy()
	// librbd opens and closes the image inside rbd_remove: the same state
	// changes that imageStateMu serialises. Other opens in this worker wait
	// for the whole remove, including the trim of the objects the image
	// has written: for a large, fully written image that is a stall of
	// every other call that opens an image, the price of not risking the
	// race.
	imageStateMu.Lock()
	err = rbd.RemoveImage(ioctx, image)
	imageStateMu.Unlock()
	if err != nil {
		switch errno(err) {
		case syscall.ENOENT:
			return connect.NewError(connect.CodeNotFound, fmt.Errorf("image %q not found in pool %q", image, pool))
		case syscall.EBUSY:
			// A client started watching since the check.
			return connect.NewError(connect.CodeFailedPrecondition, fmt.Errorf(
				"%s: it is in use (it has watchers); stop the VM or unmap the image first: %w", op, err))
		}
		return cephError(err, op)
	}
	return nil
}

// deleteBlockers says what keeps an open image from being deleted.
func (b *cluster) deleteBlockers(img *rbd.Image, pool, image string) ([]string, error) {
	var why []string
	infos, err := snapInfos(img, pool, image)
	if err != nil {
		return nil, err
	}
	if len(infos) > 0 {
		names := make([]string, len(infos))
		var clones []string
		for i, s := range infos {
			names[i] = s.Name
			children, err := b.children(pool, image, s.Name)
			if err != nil && connect.CodeOf(err) != connect.CodeNotFound {
				return nil, err
			}
			clones = append(clones, children...)
		}
		why = append(why, fmt.Sprintf("it has %d snapshot(s) (%s); delete them first (kubectl otterscale snapshot delete %s)",
			len(infos), strings.Join(names, ", "), spec(pool, image, names[0])))
		if len(clones) > 0 {
			why = append(why, fmt.Sprintf("its snapshots have %d clone(s) (%s); flatten them (rbd flatten) or delete them first",
				len(clones), strings.Join(clones, ", ")))
		}
	}
	users, err := b.otherWatchers(img, pool, image)
	if err != nil {
		return nil, err
	}
	if len(users) > 0 {
		why = append(why, fmt.Sprintf("it is in use by %d client(s) (%s); stop the VM or unmap the image first",
			len(users), strings.Join(users, ", ")))
	}
	return why, nil
}
