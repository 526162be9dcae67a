// Package proto_test pins the wire contract (API.md) against the compiled
// descriptors, so that an edit to a .proto that would break OtterScale's
// clients fails here rather than in the field.
package proto_test

import (
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	_ "github.com/otterscale/kubectl-otterscale/gen/otterscale/instance/v1"
	"github.com/otterscale/kubectl-otterscale/gen/otterscale/instance/v1/instancev1connect"
	_ "github.com/otterscale/kubectl-otterscale/gen/otterscale/storage/v1"
	"github.com/otterscale/kubectl-otterscale/gen/otterscale/storage/v1/storagev1connect"
)

type field struct {
	name   string
	number protoreflect.FieldNumber
	kind   string // scalar kind, enum or message full name; "repeated " prefixed, or "map<K, V>"
}

// The tables below are API.md's, transcribed by hand on purpose: they must
// not be derived from the descriptors they check.
var messages = map[string][]field{
	"otterscale.instance.v1.CreateDataVolumeRequest": {
		{"scope", 1, "string"}, {"name", 11, "string"}, {"namespace", 12, "string"},
		{"source", 21, "otterscale.instance.v1.DataVolume.Source"}, {"boot_image", 22, "bool"},
		{"size_bytes", 31, "int64"},
	},
	"otterscale.instance.v1.GetDataVolumeRequest": {
		{"scope", 1, "string"}, {"namespace", 3, "string"}, {"name", 4, "string"},
	},
	"otterscale.instance.v1.DeleteDataVolumeRequest": {
		{"scope", 1, "string"}, {"namespace", 3, "string"}, {"name", 4, "string"},
	},
	"otterscale.instance.v1.ExtendDataVolumeRequest": {
		{"scope", 1, "string"}, {"namespace", 3, "string"}, {"name", 4, "string"}, {"size_bytes", 11, "int64"},
	},
	"otterscale.instance.v1.ListDataVolumesRequest": {
		{"scope", 1, "string"}, {"namespace", 3, "string"},
		{"filter", 4, "otterscale.instance.v1.DataVolumeFilter"},
	},
	"otterscale.instance.v1.ListDataVolumesResponse": {
		{"data_volumes", 1, "repeated otterscale.instance.v1.DataVolume"},
	},
	"otterscale.instance.v1.DataVolume": {
		{"name", 1, "string"}, {"namespace", 2, "string"},
		{"source", 11, "otterscale.instance.v1.DataVolume.Source"}, {"boot_image", 12, "bool"},
		{"phase", 21, "string"}, {"progress", 22, "string"},
		{"size_bytes", 31, "int64"}, {"persistent_volume_claim", 32, "otterscale.application.v1.Application.PersistentVolumeClaim"},
		{"last_condition", 41, "otterscale.instance.v1.DataVolume.Condition"},
		{"conditions", 42, "repeated otterscale.instance.v1.DataVolume.Condition"},
	},
	"otterscale.instance.v1.DataVolume.Source": {
		{"type", 1, "otterscale.instance.v1.DataVolume.Source.Type"}, {"data", 2, "string"},
	},
	"otterscale.instance.v1.DataVolume.Condition": {
		{"type", 1, "string"}, {"status", 2, "string"}, {"reason", 3, "string"}, {"message", 4, "string"},
		{"heartbeat_at", 201, "google.protobuf.Timestamp"}, {"transitioned_at", 202, "google.protobuf.Timestamp"},
	},
	"otterscale.application.v1.Application.PersistentVolumeClaim": {
		{"name", 1, "string"}, {"status", 2, "string"}, {"access_modes", 3, "repeated string"},
		{"capacity", 4, "string"}, {"storage_class", 11, "otterscale.application.v1.StorageClass"},
		{"created_at", 201, "google.protobuf.Timestamp"},
	},
	"otterscale.application.v1.StorageClass": {
		{"name", 1, "string"}, {"provisioner", 2, "string"}, {"reclaim_policy", 3, "string"},
		{"volume_binding_mode", 4, "string"}, {"parameters", 5, "map<string, string>"},
		{"created_at", 201, "google.protobuf.Timestamp"},
	},
	"otterscale.storage.v1.CreateImageSnapshotRequest":    snapshotRequest,
	"otterscale.storage.v1.DeleteImageSnapshotRequest":    snapshotRequest,
	"otterscale.storage.v1.ProtectImageSnapshotRequest":   snapshotRequest,
	"otterscale.storage.v1.UnprotectImageSnapshotRequest": snapshotRequest,
	"otterscale.storage.v1.RollbackImageSnapshotRequest":  snapshotRequest,
	"otterscale.storage.v1.ListImagesRequest":             {{"scope", 1, "string"}},
	// Ours (API.md's rule for additions): a new method's messages.
	"otterscale.storage.v1.ListImageSnapshotsRequest": {
		{"scope", 1, "string"}, {"pool_name", 3, "string"}, {"image_name", 4, "string"},
	},
	"otterscale.storage.v1.ListImageSnapshotsResponse": {
		{"snapshots", 1, "repeated otterscale.storage.v1.Image.Snapshot"},
	},
	"otterscale.storage.v1.ListImagesResponse": {{"images", 1, "repeated otterscale.storage.v1.Image"}},
	// API-upstream.md 1.2 to 1.6 and 1.12 to 1.14.
	"otterscale.storage.v1.ListPoolsRequest": {
		{"scope", 1, "string"}, {"application", 11, "otterscale.storage.v1.Pool.Application"},
	},
	"otterscale.storage.v1.ListPoolsResponse": {{"pools", 1, "repeated otterscale.storage.v1.Pool"}},
	"otterscale.storage.v1.Pool": {
		{"id", 1, "int64"}, {"name", 2, "string"}, {"updating", 3, "bool"},
		{"type", 11, "otterscale.storage.v1.Pool.Type"},
		{"ec_overwrites", 21, "bool"}, {"data_chunks", 22, "uint64"}, {"coding_chunks", 23, "uint64"},
		{"replicated_size", 31, "uint64"},
		{"quota_bytes", 41, "uint64"}, {"quota_objects", 42, "uint64"}, {"used_bytes", 43, "uint64"},
		{"used_objects", 44, "uint64"}, {"max_bytes", 45, "uint64"},
		{"placement_group_count", 51, "uint64"}, {"placement_group_state", 52, "map<string, int64>"},
		{"created_at", 61, "google.protobuf.Timestamp"},
		{"applications", 71, "repeated otterscale.storage.v1.Pool.Application"},
	},
	"otterscale.storage.v1.CreateImageRequest": {
		{"scope", 1, "string"}, {"pool_name", 3, "string"}, {"image_name", 4, "string"},
		{"object_size_bytes", 11, "uint64"}, {"stripe_unit_bytes", 12, "uint64"}, {"stripe_count", 13, "uint64"},
		{"quota_bytes", 21, "uint64"},
		{"layering", 31, "bool"}, {"exclusive_lock", 32, "bool"}, {"object_map", 33, "bool"},
		{"fast_diff", 34, "bool"}, {"deep_flatten", 35, "bool"},
	},
	"otterscale.storage.v1.UpdateImageRequest": {
		{"scope", 1, "string"}, {"pool_name", 3, "string"}, {"image_name", 4, "string"},
		{"quota_bytes", 11, "uint64"},
		// Ours: the confirmation a shrink needs.
		{"allow_shrink", 100, "bool"},
	},
	"otterscale.storage.v1.DeleteImageRequest": {
		{"scope", 1, "string"}, {"pool_name", 3, "string"}, {"image_name", 4, "string"},
	},
	"otterscale.storage.v1.Image.Snapshot": {
		{"name", 1, "string"}, {"protected", 2, "bool"}, {"quota_bytes", 3, "uint64"}, {"used_bytes", 4, "uint64"},
	},
	"otterscale.storage.v1.Image": {
		{"name", 1, "string"}, {"pool_name", 11, "string"},
		{"object_size_bytes", 21, "uint64"}, {"stripe_unit_bytes", 22, "uint64"}, {"stripe_count", 23, "uint64"},
		{"quota_bytes", 31, "uint64"}, {"used_bytes", 32, "uint64"}, {"object_count", 33, "uint64"},
		{"layering", 41, "bool"}, {"exclusive_lock", 42, "bool"}, {"object_map", 43, "bool"},
		{"fast_diff", 44, "bool"}, {"deep_flatten", 45, "bool"},
		{"created_at", 51, "google.protobuf.Timestamp"},
		{"snapshots", 101, "repeated otterscale.storage.v1.Image.Snapshot"},
	},
}

var snapshotRequest = []field{
	{"scope", 1, "string"}, {"pool_name", 3, "string"}, {"image_name", 4, "string"}, {"snapshot_name", 5, "string"},
}

func kindOf(fd protoreflect.FieldDescriptor) string {
	var k string
	switch {
	case fd.IsMap():
		return "map<" + fd.MapKey().Kind().String() + ", " + fd.MapValue().Kind().String() + ">"
	case fd.Message() != nil:
		k = string(fd.Message().FullName())
	case fd.Enum() != nil:
		k = string(fd.Enum().FullName())
	default:
		k = fd.Kind().String()
	}
	if fd.IsList() {
		k = "repeated " + k
	}
	return k
}

func TestFieldNumbers(t *testing.T) {
	for name, fields := range messages {
		t.Run(name, func(t *testing.T) {
			d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(name))
			if err != nil {
				t.Fatalf("message %s is missing: %v", name, err)
			}
			md := d.(protoreflect.MessageDescriptor)
			for _, f := range fields {
				fd := md.Fields().ByName(protoreflect.Name(f.name))
				if fd == nil {
					t.Errorf("field %s.%s is missing", name, f.name)
					continue
				}
				if fd.Number() != f.number {
					t.Errorf("field %s.%s is number %d, API.md says %d", name, f.name, fd.Number(), f.number)
				}
				if got := kindOf(fd); got != f.kind {
					t.Errorf("field %s.%s is %s, API.md says %s", name, f.name, got, f.kind)
				}
			}
			// Additions of ours must stay clear of upstream's numbering.
			for i := 0; i < md.Fields().Len(); i++ {
				fd := md.Fields().Get(i)
				known := false
				for _, f := range fields {
					known = known || f.number == fd.Number()
				}
				if !known && fd.Number() < 100 {
					t.Errorf("field %s.%s (number %d) is not in API.md: additions must be numbered 100 and above", name, fd.Name(), fd.Number())
				}
			}
			// Every request reserves 2 (upstream's old "facility") after scope.
			if md.Fields().ByName("scope") != nil && !md.ReservedRanges().Has(2) {
				t.Errorf("%s does not reserve field number 2", name)
			}
		})
	}
}

func TestEnums(t *testing.T) {
	enums := map[string]map[string]protoreflect.EnumNumber{
		"otterscale.instance.v1.DataVolume.Source.Type": {
			"BLANK_IMAGE": 0, "HTTP_URL": 1, "EXISTING_PERSISTENT_VOLUME_CLAIM": 2,
			"TYPE_BLANK_IMAGE": 0, "TYPE_HTTP_URL": 1, "TYPE_EXISTING_PERSISTENT_VOLUME_CLAIM": 2,
		},
		"otterscale.instance.v1.DataVolumeFilter": {
			"ALL": 0, "BOOTABLE": 1, "NON_BOOTABLE": 2,
		},
		"otterscale.storage.v1.Pool.Type": {
			"TYPE_UNSPECIFIED": 0, "TYPE_ERASURE": 1, "TYPE_REPLICATED": 2,
		},
		"otterscale.storage.v1.Pool.Application": {
			"APPLICATION_UNSPECIFIED": 0, "APPLICATION_BLOCK": 1, "APPLICATION_FILE": 2, "APPLICATION_OBJECT": 3,
		},
	}
	for name, values := range enums {
		d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(name))
		if err != nil {
			t.Fatalf("enum %s is missing: %v", name, err)
		}
		ed := d.(protoreflect.EnumDescriptor)
		for v, n := range values {
			vd := ed.Values().ByName(protoreflect.Name(v))
			if vd == nil {
				t.Errorf("enum value %s.%s is missing", name, v)
			} else if vd.Number() != n {
				t.Errorf("enum value %s.%s is %d, API.md says %d", name, v, vd.Number(), n)
			}
		}
	}
	// Upstream's final spelling is what the server answers with (OtterScale's
	// web UI decodes only it): protojson writes the first value declared for
	// a number.
	ed, _ := protoregistry.GlobalFiles.FindDescriptorByName("otterscale.instance.v1.DataVolume.Source.Type")
	for n, want := range []string{"TYPE_BLANK_IMAGE", "TYPE_HTTP_URL", "TYPE_EXISTING_PERSISTENT_VOLUME_CLAIM"} {
		if got := ed.(protoreflect.EnumDescriptor).Values().ByNumber(protoreflect.EnumNumber(n)).Name(); string(got) != want {
			t.Errorf("number %d answers as %s, want upstream's %s", n, got, want)
		}
	}
}

func TestProcedures(t *testing.T) {
	procedures := []struct {
		got, want, request, response string
	}{
		{instancev1connect.InstanceServiceCreateDataVolumeProcedure, "/otterscale.instance.v1.InstanceService/CreateDataVolume", "CreateDataVolumeRequest", "otterscale.instance.v1.DataVolume"},
		{instancev1connect.InstanceServiceGetDataVolumeProcedure, "/otterscale.instance.v1.InstanceService/GetDataVolume", "GetDataVolumeRequest", "otterscale.instance.v1.DataVolume"},
		{instancev1connect.InstanceServiceListDataVolumesProcedure, "/otterscale.instance.v1.InstanceService/ListDataVolumes", "ListDataVolumesRequest", "otterscale.instance.v1.ListDataVolumesResponse"},
		{instancev1connect.InstanceServiceDeleteDataVolumeProcedure, "/otterscale.instance.v1.InstanceService/DeleteDataVolume", "DeleteDataVolumeRequest", "google.protobuf.Empty"},
		{instancev1connect.InstanceServiceExtendDataVolumeProcedure, "/otterscale.instance.v1.InstanceService/ExtendDataVolume", "ExtendDataVolumeRequest", "google.protobuf.Empty"},
		{storagev1connect.StorageServiceCreateImageSnapshotProcedure, "/otterscale.storage.v1.StorageService/CreateImageSnapshot", "CreateImageSnapshotRequest", "otterscale.storage.v1.Image.Snapshot"},
		{storagev1connect.StorageServiceDeleteImageSnapshotProcedure, "/otterscale.storage.v1.StorageService/DeleteImageSnapshot", "DeleteImageSnapshotRequest", "google.protobuf.Empty"},
		{storagev1connect.StorageServiceProtectImageSnapshotProcedure, "/otterscale.storage.v1.StorageService/ProtectImageSnapshot", "ProtectImageSnapshotRequest", "google.protobuf.Empty"},
		{storagev1connect.StorageServiceUnprotectImageSnapshotProcedure, "/otterscale.storage.v1.StorageService/UnprotectImageSnapshot", "UnprotectImageSnapshotRequest", "google.protobuf.Empty"},
		{storagev1connect.StorageServiceRollbackImageSnapshotProcedure, "/otterscale.storage.v1.StorageService/RollbackImageSnapshot", "RollbackImageSnapshotRequest", "google.protobuf.Empty"},
		{storagev1connect.StorageServiceListImagesProcedure, "/otterscale.storage.v1.StorageService/ListImages", "ListImagesRequest", "otterscale.storage.v1.ListImagesResponse"},
		{storagev1connect.StorageServiceListPoolsProcedure, "/otterscale.storage.v1.StorageService/ListPools", "ListPoolsRequest", "otterscale.storage.v1.ListPoolsResponse"},
		{storagev1connect.StorageServiceCreateImageProcedure, "/otterscale.storage.v1.StorageService/CreateImage", "CreateImageRequest", "otterscale.storage.v1.Image"},
		{storagev1connect.StorageServiceUpdateImageProcedure, "/otterscale.storage.v1.StorageService/UpdateImage", "UpdateImageRequest", "otterscale.storage.v1.Image"},
		{storagev1connect.StorageServiceDeleteImageProcedure, "/otterscale.storage.v1.StorageService/DeleteImage", "DeleteImageRequest", "google.protobuf.Empty"},
		// Ours.
		{storagev1connect.StorageServiceListImageSnapshotsProcedure, "/otterscale.storage.v1.StorageService/ListImageSnapshots", "ListImageSnapshotsRequest", "otterscale.storage.v1.ListImageSnapshotsResponse"},
	}
	// Ours, server-streaming.
	if got, want := instancev1connect.InstanceServiceWatchDataVolumesProcedure, "/otterscale.instance.v1.InstanceService/WatchDataVolumes"; got != want {
		t.Errorf("procedure %s, want %s", got, want)
	}
	d, err := protoregistry.GlobalFiles.FindDescriptorByName("otterscale.instance.v1.InstanceService.WatchDataVolumes")
	if err != nil {
		t.Fatal(err)
	}
	if md := d.(protoreflect.MethodDescriptor); !md.IsStreamingServer() || md.IsStreamingClient() {
		t.Error("WatchDataVolumes must be server-streaming")
	}
	for _, p := range procedures {
		if p.got != p.want {
			t.Errorf("procedure %s, API.md says %s", p.got, p.want)
		}
		// /pkg.Service/Method -> the method's descriptor.
		var svc, method string
		for i := len(p.want) - 1; i > 0; i-- {
			if p.want[i] == '/' {
				svc, method = p.want[1:i], p.want[i+1:]
				break
			}
		}
		d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(svc))
		if err != nil {
			t.Errorf("service %s is missing: %v", svc, err)
			continue
		}
		md := d.(protoreflect.ServiceDescriptor).Methods().ByName(protoreflect.Name(method))
		if md == nil {
			t.Errorf("method %s is missing from %s", method, svc)
			continue
		}
		if md.IsStreamingClient() || md.IsStreamingServer() {
			t.Errorf("%s is streaming; API.md says unary", p.want)
		}
		if got := string(md.Input().Name()); got != p.request {
			t.Errorf("%s takes %s, API.md says %s", p.want, got, p.request)
		}
		if got := string(md.Output().FullName()); got != p.response {
			t.Errorf("%s answers %s, API.md says %s", p.want, got, p.response)
		}
	}
}
