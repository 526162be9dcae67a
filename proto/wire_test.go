// Package proto_test pins the wire contract (API.md) against the compiled
// descriptors, so that an edit to a .proto that would break OtterScale's
// clients fails here rather than in the field.
package proto_test

import (
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"

	apiv1 "github.com/otterscale/kubectl-otterscale/gen/otterscale/api"
	_ "github.com/otterscale/kubectl-otterscale/gen/otterscale/instance/v1"
	"github.com/otterscale/kubectl-otterscale/gen/otterscale/instance/v1/instancev1connect"
	_ "github.com/otterscale/kubectl-otterscale/gen/otterscale/link/v1"
	"github.com/otterscale/kubectl-otterscale/gen/otterscale/link/v1/linkv1connect"
	_ "github.com/otterscale/kubectl-otterscale/gen/otterscale/resource/v1"
	"github.com/otterscale/kubectl-otterscale/gen/otterscale/resource/v1/resourcev1connect"
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

// The current API's, from API-upstream.md sections 3 and 4 (resource.proto
// @ 25664a80, link.proto @ 079ed3b4).
var currentMessages = map[string][]field{
	"otterscale.resource.v1.APIResource": {
		{"group", 1, "string"}, {"version", 2, "string"}, {"resource", 3, "string"}, {"kind", 4, "string"},
		{"namespaced", 5, "bool"}, {"verbs", 6, "repeated string"}, {"short_names", 7, "repeated string"},
	},
	"otterscale.resource.v1.DiscoveryRequest":  {{"cluster", 1, "string"}},
	"otterscale.resource.v1.DiscoveryResponse": {{"api_resources", 1, "repeated otterscale.resource.v1.APIResource"}},
	"otterscale.resource.v1.SchemaRequest": {
		{"cluster", 1, "string"}, {"group", 2, "string"}, {"version", 3, "string"}, {"kind", 4, "string"},
	},
	"otterscale.resource.v1.SchemaResponse": {{"schema", 1, "google.protobuf.Struct"}},
	"otterscale.resource.v1.Resource":       {{"object", 1, "google.protobuf.Struct"}},
	"otterscale.resource.v1.ListRequest": {
		{"cluster", 1, "string"}, {"group", 2, "string"}, {"version", 3, "string"}, {"resource", 4, "string"},
		{"namespace", 5, "string"}, {"label_selector", 6, "string"}, {"field_selector", 7, "string"},
		{"limit", 8, "int64"}, {"continue", 9, "string"},
	},
	"otterscale.resource.v1.ListResponse": {
		{"resource_version", 1, "string"}, {"continue", 2, "string"}, {"remaining_item_count", 3, "int64"},
		{"items", 4, "repeated otterscale.resource.v1.Resource"},
	},
	"otterscale.resource.v1.GetRequest":      objectRequest,
	"otterscale.resource.v1.DescribeRequest": objectRequest,
	"otterscale.resource.v1.DescribeResponse": {
		{"resource", 1, "otterscale.resource.v1.Resource"}, {"events", 2, "repeated otterscale.resource.v1.Resource"},
	},
	"otterscale.resource.v1.CreateRequest": {
		{"cluster", 1, "string"}, {"group", 2, "string"}, {"version", 3, "string"}, {"resource", 4, "string"},
		{"namespace", 5, "string"}, {"manifest", 6, "bytes"},
	},
	"otterscale.resource.v1.ApplyRequest": append(objectRequest[:6:6],
		field{"manifest", 7, "bytes"}, field{"force", 8, "bool"}, field{"field_manager", 9, "string"}),
	"otterscale.resource.v1.UpdateRequest": append(objectRequest[:6:6],
		field{"manifest", 7, "bytes"}, field{"field_manager", 8, "string"}),
	"otterscale.resource.v1.DeleteRequest": append(objectRequest[:6:6], field{"grace_period_seconds", 7, "int64"}),
	"otterscale.resource.v1.WatchRequest": {
		{"cluster", 1, "string"}, {"group", 2, "string"}, {"version", 3, "string"}, {"resource", 4, "string"},
		{"namespace", 5, "string"}, {"label_selector", 6, "string"}, {"field_selector", 7, "string"},
		{"resource_version", 8, "string"},
	},
	"otterscale.resource.v1.WatchEvent": {
		{"type", 1, "otterscale.resource.v1.WatchEvent.Type"}, {"resource", 2, "otterscale.resource.v1.Resource"},
		{"resource_version", 3, "string"},
	},
	"otterscale.link.v1.Link": {
		{"cluster", 1, "string"}, {"agent_version", 2, "string"}, {"rancher_project_id", 3, "string"},
	},
	"otterscale.link.v1.ListLinksRequest":            {},
	"otterscale.link.v1.ListLinksResponse":           {{"links", 1, "repeated otterscale.link.v1.Link"}},
	"otterscale.link.v1.RancherProject":              {{"id", 1, "string"}, {"display_name", 2, "string"}},
	"otterscale.link.v1.ListRancherProjectsRequest":  {},
	"otterscale.link.v1.ListRancherProjectsResponse": {{"projects", 1, "repeated otterscale.link.v1.RancherProject"}},
	"otterscale.link.v1.RegisterRequest": {
		{"cluster", 1, "string"}, {"csr", 2, "bytes"}, {"agent_id", 3, "string"}, {"agent_version", 4, "string"},
		{"rancher_project_id", 5, "string"},
	},
	"otterscale.link.v1.RegisterResponse": {
		{"endpoint", 1, "string"}, {"certificate", 2, "bytes"}, {"ca_certificate", 3, "bytes"}, {"server_version", 4, "string"},
	},
	"otterscale.link.v1.GetAgentManifestRequest": {
		{"cluster", 1, "string"}, {"extra_users", 2, "repeated string"}, {"rancher_project_id", 3, "string"},
	},
	"otterscale.link.v1.GetAgentManifestResponse": {{"manifest", 1, "string"}, {"url", 2, "string"}},
}

var objectRequest = []field{
	{"cluster", 1, "string"}, {"group", 2, "string"}, {"version", 3, "string"}, {"resource", 4, "string"},
	{"namespace", 5, "string"}, {"name", 6, "string"},
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

// The current API's messages are upstream's whole: no field more or less,
// explicit presence on every singular field (edition 2023), JSON names
// lowerCamel, and the method options upstream's descriptors carry.
func TestCurrentMessages(t *testing.T) {
	for name, fields := range currentMessages {
		t.Run(name, func(t *testing.T) {
			d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(name))
			if err != nil {
				t.Fatalf("message %s is missing: %v", name, err)
			}
			md := d.(protoreflect.MessageDescriptor)
			if md.Fields().Len() != len(fields) {
				t.Errorf("%s has %d fields, API-upstream.md lists %d", name, md.Fields().Len(), len(fields))
			}
			for _, f := range fields {
				fd := md.Fields().ByName(protoreflect.Name(f.name))
				if fd == nil {
					t.Errorf("field %s.%s is missing", name, f.name)
					continue
				}
				if fd.Number() != f.number {
					t.Errorf("field %s.%s is number %d, API-upstream.md says %d", name, f.name, fd.Number(), f.number)
				}
				if got := kindOf(fd); got != f.kind {
					t.Errorf("field %s.%s is %s, API-upstream.md says %s", name, f.name, got, f.kind)
				}
				if !fd.IsList() && !fd.HasPresence() {
					t.Errorf("field %s.%s has implicit presence; upstream's are all explicit", name, f.name)
				}
				if fd.ContainingOneof() != nil {
					t.Errorf("field %s.%s is in a oneof; upstream's are not", name, f.name)
				}
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
		"otterscale.resource.v1.WatchEvent.Type": {
			"TYPE_UNSPECIFIED": 0, "TYPE_ADDED": 1, "TYPE_MODIFIED": 2, "TYPE_DELETED": 3,
			"TYPE_BOOKMARK": 4, "TYPE_ERROR": 5,
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
		{resourcev1connect.ResourceServiceDiscoveryProcedure, "/otterscale.resource.v1.ResourceService/Discovery", "DiscoveryRequest", "otterscale.resource.v1.DiscoveryResponse"},
		{resourcev1connect.ResourceServiceSchemaProcedure, "/otterscale.resource.v1.ResourceService/Schema", "SchemaRequest", "otterscale.resource.v1.SchemaResponse"},
		{resourcev1connect.ResourceServiceListProcedure, "/otterscale.resource.v1.ResourceService/List", "ListRequest", "otterscale.resource.v1.ListResponse"},
		{resourcev1connect.ResourceServiceGetProcedure, "/otterscale.resource.v1.ResourceService/Get", "GetRequest", "otterscale.resource.v1.Resource"},
		{resourcev1connect.ResourceServiceDescribeProcedure, "/otterscale.resource.v1.ResourceService/Describe", "DescribeRequest", "otterscale.resource.v1.DescribeResponse"},
		{resourcev1connect.ResourceServiceCreateProcedure, "/otterscale.resource.v1.ResourceService/Create", "CreateRequest", "otterscale.resource.v1.Resource"},
		{resourcev1connect.ResourceServiceApplyProcedure, "/otterscale.resource.v1.ResourceService/Apply", "ApplyRequest", "otterscale.resource.v1.Resource"},
		{resourcev1connect.ResourceServiceUpdateProcedure, "/otterscale.resource.v1.ResourceService/Update", "UpdateRequest", "otterscale.resource.v1.Resource"},
		{resourcev1connect.ResourceServiceDeleteProcedure, "/otterscale.resource.v1.ResourceService/Delete", "DeleteRequest", "google.protobuf.Empty"},
		{linkv1connect.LinkServiceListLinksProcedure, "/otterscale.link.v1.LinkService/ListLinks", "ListLinksRequest", "otterscale.link.v1.ListLinksResponse"},
		{linkv1connect.LinkServiceRegisterProcedure, "/otterscale.link.v1.LinkService/Register", "RegisterRequest", "otterscale.link.v1.RegisterResponse"},
		{linkv1connect.LinkServiceGetAgentManifestProcedure, "/otterscale.link.v1.LinkService/GetAgentManifest", "GetAgentManifestRequest", "otterscale.link.v1.GetAgentManifestResponse"},
		{linkv1connect.LinkServiceListRancherProjectsProcedure, "/otterscale.link.v1.LinkService/ListRancherProjects", "ListRancherProjectsRequest", "otterscale.link.v1.ListRancherProjectsResponse"},
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
	// Upstream's, server-streaming.
	if got, want := resourcev1connect.ResourceServiceWatchProcedure, "/otterscale.resource.v1.ResourceService/Watch"; got != want {
		t.Errorf("procedure %s, want %s", got, want)
	}
	d, err = protoregistry.GlobalFiles.FindDescriptorByName("otterscale.resource.v1.ResourceService.Watch")
	if err != nil {
		t.Fatal(err)
	}
	if md := d.(protoreflect.MethodDescriptor); !md.IsStreamingServer() || md.IsStreamingClient() ||
		md.Input().FullName() != "otterscale.resource.v1.WatchRequest" || md.Output().FullName() != "otterscale.resource.v1.WatchEvent" {
		t.Error("ResourceService.Watch must be WatchRequest -> stream WatchEvent")
	}
	// The services have upstream's methods in upstream's order: reflection
	// clients list them so.
	order := map[string][]string{
		"otterscale.resource.v1.ResourceService": {"Discovery", "Schema", "List", "Get", "Describe", "Create", "Apply", "Update", "Delete", "Watch"},
		"otterscale.link.v1.LinkService":         {"ListLinks", "Register", "GetAgentManifest", "ListRancherProjects"},
	}
	for svc, methods := range order {
		d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(svc))
		if err != nil {
			t.Fatal(err)
		}
		ms := d.(protoreflect.ServiceDescriptor).Methods()
		if ms.Len() != len(methods) {
			t.Errorf("%s has %d methods, upstream %d", svc, ms.Len(), len(methods))
		}
		for i, m := range methods {
			if i < ms.Len() && string(ms.Get(i).Name()) != m {
				t.Errorf("%s method %d is %s, upstream's is %s", svc, i+1, ms.Get(i).Name(), m)
			}
		}
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

// The current API's method options are upstream's bytes: the feature
// option (7777777) naming the server feature, and GetAgentManifest's
// idempotency level, which lets Connect clients call it with GET.
func TestCurrentMethodOptions(t *testing.T) {
	feature := map[string]string{
		"otterscale.resource.v1.ResourceService": "resource-enabled",
		"otterscale.link.v1.LinkService":         "link-enabled",
	}
	for svc, name := range feature {
		d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(svc))
		if err != nil {
			t.Fatal(err)
		}
		ms := d.(protoreflect.ServiceDescriptor).Methods()
		for i := range ms.Len() {
			m := ms.Get(i)
			opts := m.Options().(*descriptorpb.MethodOptions)
			f, ok := proto.GetExtension(opts, apiv1.E_Feature).(*apiv1.Feature)
			if !ok || f.GetName() != name {
				t.Errorf("%s.%s: feature option %v, upstream's is %q", svc, m.Name(), f, name)
			}
			want := descriptorpb.MethodOptions_IDEMPOTENCY_UNKNOWN
			if m.Name() == "GetAgentManifest" {
				want = descriptorpb.MethodOptions_NO_SIDE_EFFECTS
			}
			if got := opts.GetIdempotencyLevel(); got != want {
				t.Errorf("%s.%s: idempotency level %v, upstream's is %v", svc, m.Name(), got, want)
			}
		}
	}
	// Upstream's example bytes for a resource method's options.
	d, _ := protoregistry.GlobalFiles.FindDescriptorByName("otterscale.resource.v1.ResourceService.List")
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(d.(protoreflect.MethodDescriptor).Options())
	if err != nil {
		t.Fatal(err)
	}
	if want := "\x8a\xdf\xd5\x1d\x12\x0a\x10resource-enabled"; string(b) != want {
		t.Errorf("List's options encode as % x, upstream's as % x", b, want)
	}
}
