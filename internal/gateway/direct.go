package gateway

import (
	"context"

	"github.com/chatroom/chat/internal/push"
)

var _ push.Pusher = Direct{}

// Direct is a push.Pusher that writes straight to the gateway's sockets,
// skipping the management API's HTTP round trip: the fast mode for
// benchmarks. The default stays the SDK path, so local runs exercise the
// code the cloud runs.
type Direct struct{ Gateway *Gateway }

// Post implements push.Pusher.
func (d Direct) Post(ctx context.Context, ids []string, frame []byte) push.Result {
	return push.Result{Gone: d.Gateway.Post(ctx, ids, frame)}
}

// Disconnect implements push.Pusher.
func (d Direct) Disconnect(_ context.Context, id string) error {
	if !d.Gateway.CloseConnection(id) {
		return push.ErrGone
	}
	return nil
}
