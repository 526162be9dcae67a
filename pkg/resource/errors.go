package resource

import (
	"errors"
	"fmt"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/structpb"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/otterscale/kubectl-otterscale/pkg/cluster"
)

// apiError is cluster.Error for any resource type: a 404 for the type
// itself is the type being gone (not CDI missing, as cluster.Error guesses
// for the DataVolume services), and an invalid object carries the API
// server's causes as a detail, field by field, besides the message.
func apiError(err error, op string) error {
	if cluster.IsMissingResource(err) {
		return connect.NewError(connect.CodeNotFound, fmt.Errorf("%s: %w (the cluster no longer serves this resource type)", op, err))
	}
	ce := cluster.Error(err, op)
	var status apierrors.APIStatus
	var cerr *connect.Error
	if !errors.As(err, &status) || !errors.As(ce, &cerr) {
		return ce
	}
	st := status.Status()
	if st.Details == nil || len(st.Details.Causes) == 0 {
		return ce
	}
	causes := make([]any, 0, len(st.Details.Causes))
	for _, c := range st.Details.Causes {
		causes = append(causes, map[string]any{"field": c.Field, "reason": string(c.Type), "message": c.Message})
	}
	detail, derr := structpb.NewStruct(map[string]any{
		"reason": string(st.Reason),
		"causes": causes,
	})
	if derr != nil {
		return ce
	}
	if d, derr := connect.NewErrorDetail(detail); derr == nil {
		cerr.AddDetail(d)
	}
	return cerr
}
