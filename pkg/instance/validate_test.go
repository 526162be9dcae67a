package instance

import (
	"errors"
	"strings"
	"testing"

	"connectrpc.com/connect"

	instancev1 "github.com/otterscale/kubectl-otterscale/gen/otterscale/instance/v1"
)

// Validation alone, without a cluster; the integration tests check that
// the same requests leave nothing behind in a real API server.
func TestValidateCreate(t *testing.T) {
	blank := &instancev1.DataVolume_Source{}
	http := func(u string) *instancev1.DataVolume_Source {
		return &instancev1.DataVolume_Source{Type: instancev1.DataVolume_Source_HTTP_URL, Data: u}
	}
	clone := func(ref string) *instancev1.DataVolume_Source {
		return &instancev1.DataVolume_Source{Type: instancev1.DataVolume_Source_EXISTING_PERSISTENT_VOLUME_CLAIM, Data: ref}
	}
	ok := func() *instancev1.CreateDataVolumeRequest {
		return &instancev1.CreateDataVolumeRequest{Name: "dv1", Namespace: "default", Source: blank, SizeBytes: 1 << 30}
	}
	tests := []struct {
		name  string
		edit  func(r *instancev1.CreateDataVolumeRequest)
		field string // "" means valid
	}{
		{"valid blank", func(*instancev1.CreateDataVolumeRequest) {}, ""},
		{"valid http", func(r *instancev1.CreateDataVolumeRequest) { r.Source = http("https://example.com/disk.img") }, ""},
		{"valid clone without size", func(r *instancev1.CreateDataVolumeRequest) { r.Source, r.SizeBytes = clone("vms/base"), 0 }, ""},
		{"valid options", func(r *instancev1.CreateDataVolumeRequest) {
			r.StorageClass, r.AccessMode, r.VolumeMode = "ceph-block", "ReadWriteMany", "Block"
		}, ""},
		{"empty name", func(r *instancev1.CreateDataVolumeRequest) { r.Name = "" }, "name"},
		{"upper-case name", func(r *instancev1.CreateDataVolumeRequest) { r.Name = "Disk" }, "name"},
		{"name with dot", func(r *instancev1.CreateDataVolumeRequest) { r.Name = "disk.one" }, "name"},
		{"name of 64 characters", func(r *instancev1.CreateDataVolumeRequest) { r.Name = strings.Repeat("a", 64) }, "name"},
		{"empty namespace", func(r *instancev1.CreateDataVolumeRequest) { r.Namespace = "" }, "namespace"},
		{"bad namespace", func(r *instancev1.CreateDataVolumeRequest) { r.Namespace = "VMs" }, "namespace"},
		{"zero size", func(r *instancev1.CreateDataVolumeRequest) { r.SizeBytes = 0 }, "size_bytes"},
		{"negative size", func(r *instancev1.CreateDataVolumeRequest) { r.SizeBytes = -1 }, "size_bytes"},
		{"size of 1Mi", func(r *instancev1.CreateDataVolumeRequest) { r.SizeBytes = 1 << 20 }, ""},
		{"size under 1Mi", func(r *instancev1.CreateDataVolumeRequest) { r.SizeBytes = 512 << 10 }, "size_bytes"},
		{"size one byte under 1Mi", func(r *instancev1.CreateDataVolumeRequest) { r.SizeBytes = 1<<20 - 1 }, "size_bytes"},
		{"size under 1Mi on clone", func(r *instancev1.CreateDataVolumeRequest) { r.Source, r.SizeBytes = clone("base"), 4096 }, "size_bytes"},
		{"negative size on clone", func(r *instancev1.CreateDataVolumeRequest) { r.Source, r.SizeBytes = clone("base"), -5 }, "size_bytes"},
		{"ftp url", func(r *instancev1.CreateDataVolumeRequest) { r.Source = http("ftp://example.com/disk.img") }, "source.data"},
		{"relative url", func(r *instancev1.CreateDataVolumeRequest) { r.Source = http("/disk.img") }, "source.data"},
		{"url without host", func(r *instancev1.CreateDataVolumeRequest) { r.Source = http("https:///disk.img") }, "source.data"},
		{"empty url", func(r *instancev1.CreateDataVolumeRequest) { r.Source = http("") }, "source.data"},
		{"blank with data", func(r *instancev1.CreateDataVolumeRequest) {
			r.Source = &instancev1.DataVolume_Source{Data: "https://example.com"}
		}, "source.data"},
		{"empty clone", func(r *instancev1.CreateDataVolumeRequest) { r.Source = clone("") }, "source.data"},
		{"clone with bad namespace", func(r *instancev1.CreateDataVolumeRequest) { r.Source = clone("Bad/base") }, "source.data"},
		{"clone with no name", func(r *instancev1.CreateDataVolumeRequest) { r.Source = clone("vms/") }, "source.data"},
		{"unknown source type", func(r *instancev1.CreateDataVolumeRequest) {
			r.Source = &instancev1.DataVolume_Source{Type: 9}
		}, "source.type"},
		{"bad storage class", func(r *instancev1.CreateDataVolumeRequest) { r.StorageClass = "Ceph Block" }, "storage_class"},
		{"bad access mode", func(r *instancev1.CreateDataVolumeRequest) { r.AccessMode = "RWO" }, "access_mode"},
		{"bad volume mode", func(r *instancev1.CreateDataVolumeRequest) { r.VolumeMode = "block" }, "volume_mode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ok()
			tt.edit(r)
			err := validateCreate(r)
			if tt.field == "" {
				if err != nil {
					t.Fatalf("want valid, got %v", err)
				}
				return
			}
			if connect.CodeOf(err) != connect.CodeInvalidArgument {
				t.Fatalf("want invalid_argument, got %v", err)
			}
			if msg := message(err); !strings.HasPrefix(msg, tt.field+": ") {
				t.Errorf("message %q does not name the field %q first", msg, tt.field)
			}
		})
	}
}

// message is the Connect error's message, without the code prefix.
func message(err error) string {
	var ce *connect.Error
	if errors.As(err, &ce) {
		return ce.Message()
	}
	return err.Error()
}
