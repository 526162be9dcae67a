package proxy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// jsonCodec writes the API's JSON the way upstream OtterScale does: every
// field present, zero values included, since clients written against
// upstream read keys such as "protected": false. It reads unknown fields
// leniently, as connect-go's own codec does, but refuses an enum name it
// does not know rather than read it as the enum's zero.
type jsonCodec struct{ name string }

var _ connect.Codec = jsonCodec{}

func (c jsonCodec) Name() string { return c.name }

func (c jsonCodec) Marshal(msg any) ([]byte, error) {
	m, ok := msg.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("marshal %T: not a protobuf message", msg)
	}
	return protojson.MarshalOptions{EmitUnpopulated: true}.Marshal(m)
}

func (c jsonCodec) Unmarshal(data []byte, msg any) error {
	m, ok := msg.(proto.Message)
	if !ok {
		return fmt.Errorf("unmarshal into %T: not a protobuf message", msg)
	}
	if len(data) == 0 {
		return errors.New("zero-length payload is not a valid JSON object")
	}
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(data, m); err != nil {
		return fmt.Errorf("unmarshal into %T: %w", msg, err)
	}
	return checkEnums(data, m.ProtoReflect().Descriptor())
}

// JSONCodecs replaces connect-go's JSON codecs, under both of the names it
// registers them ("json" and "json; charset=utf-8").
func JSONCodecs() connect.Option {
	return connect.WithOptions(
		connect.WithCodec(jsonCodec{name: "json"}),
		connect.WithCodec(jsonCodec{name: "json; charset=utf-8"}),
	)
}

// checkEnums refuses an enum name the message does not know. protojson's
// DiscardUnknown, which lets unknown fields through as upstream does, also
// reads an unknown enum name as 0, so `{"filter":"NOPE"}` would list
// everything: this walks the JSON along the message's descriptor and
// names the field and the names it accepts.
func checkEnums(data []byte, md protoreflect.MessageDescriptor) error {
	var v any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return nil // protojson has said what is wrong with it
	}
	return checkMessage(v, md, "")
}

func checkMessage(v any, md protoreflect.MessageDescriptor, path string) error {
	obj, ok := v.(map[string]any)
	if !ok || strings.HasPrefix(string(md.FullName()), "google.protobuf.") {
		return nil // well-known types have JSON forms of their own
	}
	fields := md.Fields()
	for key, val := range obj {
		fd := fields.ByJSONName(key)
		if fd == nil {
			fd = fields.ByTextName(key)
		}
		if fd == nil {
			continue // unknown fields are ignored, as upstream does
		}
		name := path + fd.JSONName()
		switch {
		case fd.IsMap():
			m, _ := val.(map[string]any)
			for k, mv := range m {
				if err := checkValue(mv, fd.MapValue(), name+"["+k+"]"); err != nil {
					return err
				}
			}
		case fd.IsList():
			l, _ := val.([]any)
			for i, lv := range l {
				if err := checkValue(lv, fd, fmt.Sprintf("%s[%d]", name, i)); err != nil {
					return err
				}
			}
		default:
			if err := checkValue(val, fd, name); err != nil {
				return err
			}
		}
	}
	return nil
}

func checkValue(v any, fd protoreflect.FieldDescriptor, name string) error {
	switch fd.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return checkMessage(v, fd.Message(), name+".")
	case protoreflect.EnumKind:
		s, ok := v.(string)
		ed := fd.Enum()
		if !ok || ed.FullName() == "google.protobuf.NullValue" || ed.Values().ByName(protoreflect.Name(s)) != nil {
			return nil
		}
		names := make([]string, 0, ed.Values().Len())
		for i := range ed.Values().Len() {
			names = append(names, string(ed.Values().Get(i).Name()))
		}
		return fmt.Errorf("%s: %q is not a value of %s; accepted: %s", name, s, ed.FullName(), strings.Join(names, ", "))
	}
	return nil
}
