// Package idlepoll parks idle connections without a goroutine. A server
// with one reader goroutine per connection pays at least a 4 KiB stack for
// every connection that is doing nothing; a Poller instead watches the
// sockets of idle connections itself and starts a goroutine for one only
// when input arrives. On systems without epoll, New reports
// ErrUnsupported and callers keep their goroutine parked instead.
package idlepoll

import "errors"

// ErrUnsupported is returned by New where parking is not implemented.
var ErrUnsupported = errors.New("idlepoll: not supported on this system")
