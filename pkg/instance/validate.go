package instance

import (
	"fmt"
	"net/url"
	"strings"

	"connectrpc.com/connect"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	instancev1 "github.com/otterscale/kubectl-otterscale/gen/otterscale/instance/v1"
)

// invalid builds the invalid_argument error for one field. Field names are
// the API's (snake_case, as in the .proto), since API clients see these.
func invalid(field, format string, args ...any) error {
	return connect.NewError(connect.CodeInvalidArgument,
		fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
}

// validateName checks a DataVolume name: a DNS-1123 label, since CDI refuses
// names longer than 63 characters (it names pods and labels after them).
func validateName(field, name string) error {
	if name == "" {
		return invalid(field, "is required")
	}
	if errs := validation.IsDNS1123Label(name); len(errs) > 0 {
		return invalid(field, "%q is not a valid name: %s", name, strings.Join(errs, "; "))
	}
	return nil
}

// validateNamespace checks a namespace name (a DNS-1123 label).
func validateNamespace(field, ns string) error {
	if ns == "" {
		return invalid(field, "is required")
	}
	if errs := validation.IsDNS1123Label(ns); len(errs) > 0 {
		return invalid(field, "%q is not a valid namespace: %s", ns, strings.Join(errs, "; "))
	}
	return nil
}

// MinSizeBytes is the smallest disk CDI accepts: its admission webhook
// (datavolume-validate.cdi.kubevirt.io) refuses anything smaller, after the
// request has already left the plugin.
const MinSizeBytes = 1 << 20

func validateSize(field string, size int64, required bool) error {
	switch {
	case size < 0:
		return invalid(field, "must be positive, got %d", size)
	case size == 0 && required:
		return invalid(field, "is required and must be positive")
	case size > 0 && size < MinSizeBytes:
		return invalid(field, "must be at least 1Mi (%d bytes), got %d: CDI refuses smaller disks (%q)",
			MinSizeBytes, size, "Storage size should be at least 1MiB")
	}
	return nil
}

var accessModes = []corev1.PersistentVolumeAccessMode{
	corev1.ReadWriteOnce, corev1.ReadOnlyMany, corev1.ReadWriteMany, corev1.ReadWriteOncePod,
}

var volumeModes = []corev1.PersistentVolumeMode{corev1.PersistentVolumeFilesystem, corev1.PersistentVolumeBlock}

// validateCreate checks everything that can be checked without the cluster,
// so that bad input never reaches it.
func validateCreate(req *instancev1.CreateDataVolumeRequest) error {
	if err := validateName("name", req.GetName()); err != nil {
		return err
	}
	if err := validateNamespace("namespace", req.GetNamespace()); err != nil {
		return err
	}
	src := req.GetSource()
	typ := src.GetType()
	if err := validateSize("size_bytes", req.GetSizeBytes(),
		typ != instancev1.DataVolume_Source_EXISTING_PERSISTENT_VOLUME_CLAIM); err != nil {
		return err
	}
	switch typ {
	case instancev1.DataVolume_Source_BLANK_IMAGE:
		if src.GetData() != "" {
			return invalid("source.data", "must be empty for a BLANK_IMAGE source, got %q", src.GetData())
		}
	case instancev1.DataVolume_Source_HTTP_URL:
		if err := validateURL("source.data", src.GetData()); err != nil {
			return err
		}
	case instancev1.DataVolume_Source_EXISTING_PERSISTENT_VOLUME_CLAIM:
		if _, _, err := parseClaimRef("source.data", src.GetData(), req.GetNamespace()); err != nil {
			return err
		}
	default:
		return invalid("source.type", "unknown source type %d: use TYPE_BLANK_IMAGE, TYPE_HTTP_URL or TYPE_EXISTING_PERSISTENT_VOLUME_CLAIM", int32(typ))
	}
	if sc := req.GetStorageClass(); sc != "" {
		if errs := validation.IsDNS1123Subdomain(sc); len(errs) > 0 {
			return invalid("storage_class", "%q is not a valid storage class name: %s", sc, strings.Join(errs, "; "))
		}
	}
	if m := req.GetAccessMode(); m != "" && !oneOf(corev1.PersistentVolumeAccessMode(m), accessModes) {
		return invalid("access_mode", "%q is not one of %s", m, join(accessModes))
	}
	if m := req.GetVolumeMode(); m != "" && !oneOf(corev1.PersistentVolumeMode(m), volumeModes) {
		return invalid("volume_mode", "%q is not one of %s", m, join(volumeModes))
	}
	return nil
}

// validateURL accepts absolute http and https URLs with a host: what CDI's
// HTTP importer can fetch.
func validateURL(field, raw string) error {
	if raw == "" {
		return invalid(field, "the URL to import from is required for a TYPE_HTTP_URL source")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return invalid(field, "%q is not a URL: %v", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return invalid(field, "%q must be an http:// or https:// URL", raw)
	}
	if u.Host == "" {
		return invalid(field, "%q has no host", raw)
	}
	return nil
}

// parseClaimRef splits "name" or "namespace/name"; a bare name is in
// defaultNS.
func parseClaimRef(field, ref, defaultNS string) (namespace, name string, err error) {
	if ref == "" {
		return "", "", invalid(field, "the claim to clone is required for an EXISTING_PERSISTENT_VOLUME_CLAIM source (\"name\" or \"namespace/name\")")
	}
	namespace, name = defaultNS, ref
	if i := strings.IndexByte(ref, '/'); i >= 0 {
		namespace, name = ref[:i], ref[i+1:]
		if err := validateNamespace(field, namespace); err != nil {
			return "", "", err
		}
	}
	if name == "" {
		return "", "", invalid(field, "%q names no claim", ref)
	}
	if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
		return "", "", invalid(field, "%q is not a valid claim name: %s", name, strings.Join(errs, "; "))
	}
	return namespace, name, nil
}

func oneOf[T comparable](v T, list []T) bool {
	for _, x := range list {
		if v == x {
			return true
		}
	}
	return false
}

func join[T ~string](list []T) string {
	s := make([]string, len(list))
	for i, x := range list {
		s[i] = string(x)
	}
	return strings.Join(s, ", ")
}
