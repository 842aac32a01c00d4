// Package accept runs the accept loop every listener of the server
// shares.
package accept

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"
)

// retryPause is how long Loop waits after a temporary accept error (such
// as running out of file descriptors) before it tries again.
const retryPause = 10 * time.Millisecond

// Loop accepts connections on ln and hands each to serve until ln is
// closed or ctx ends, when it returns nil. Temporary errors are retried
// after a short pause; any other error is returned.
func Loop(ctx context.Context, ln net.Listener, serve func(net.Conn)) error {
	for {
		nc, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) || ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(retryPause)
				continue
			}
			return fmt.Errorf("accept on %s: %w", ln.Addr(), err)
		}
		serve(nc)
	}
}
