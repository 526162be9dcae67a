package proxy

import (
	"context"
	"log/slog"
	"time"

	"connectrpc.com/connect"
)

// interceptor logs one line per call (procedure, protocol, code, duration:
// never messages, headers or credentials) and ties streaming calls to the
// server's life, so that shutting down ends them.
type interceptor struct {
	logger  *slog.Logger
	streams context.Context
}

var _ connect.Interceptor = (*interceptor)(nil)

func (i *interceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		start := time.Now()
		resp, err := next(ctx, req)
		i.log(req.Spec().Procedure, req.Peer().Protocol, err, time.Since(start))
		return resp, err
	}
}

func (i *interceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (i *interceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		start := time.Now()
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		stop := context.AfterFunc(i.streams, cancel)
		defer stop()
		err := next(ctx, conn)
		i.log(conn.Spec().Procedure, conn.Peer().Protocol, err, time.Since(start))
		return err
	}
}

func (i *interceptor) log(procedure, protocol string, err error, d time.Duration) {
	code := "ok"
	level := slog.LevelInfo
	if err != nil {
		code = connect.CodeOf(err).String()
		if connect.CodeOf(err) == connect.CodeInternal || connect.CodeOf(err) == connect.CodeUnknown {
			level = slog.LevelWarn
		}
	}
	i.logger.Log(context.Background(), level, "call", "procedure", procedure, "protocol", protocol, "code", code, "duration", d.Round(time.Microsecond))
}
