package main

import (
	"bytes"
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

const (
	// drainTime bounds the wait for messages still in flight after the
	// measured window; what has not arrived by then is lost.
	drainTime = 5 * time.Second
	// stopGrace is how long senders may take to notice the end before
	// their connections are closed under them.
	stopGrace = 10 * time.Second
)

// traffic is the message accounting of the chat and muc scenarios.
// Message bodies carry "pb TAG SENDER SEQ SENT_NS " (padded to the body
// size); SENT_NS is on the bench clock, so receivers compute latency.
// Only messages sent inside the measured window [from, to) count.
type traffic struct {
	b         *bench
	marker    []byte // "pb TAG "
	size      int
	from, to  atomic.Int64 // measured window, as time.Duration on the bench clock
	lat       histogram
	sent      atomic.Int64
	delivered atomic.Int64
}

func newTraffic(b *bench) *traffic {
	return &traffic{b: b, marker: []byte("pb " + b.tag + " "), size: b.o.size}
}

// template is a pre-built message to one destination; only the id and
// the body marker vary between messages.
type template struct {
	head []byte // up to the id value
	mid  []byte // from the end of the id to the body text
	tail []byte
}

func newTemplate(to, typ string) *template {
	return &template{
		head: []byte("<message to='" + escape(to) + "' type='" + typ + "' id='"),
		mid:  []byte("'><body>"),
		tail: []byte("</body></message>"),
	}
}

// build appends message seq from sender, stamped ts, to dst.
func (t *traffic) build(dst []byte, tmpl *template, sender, seq int, ts time.Duration) []byte {
	dst = append(dst, tmpl.head...)
	dst = strconv.AppendInt(dst, int64(seq), 10)
	dst = append(dst, tmpl.mid...)
	body := len(dst)
	dst = append(dst, t.marker...)
	dst = strconv.AppendInt(dst, int64(sender), 10)
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, int64(seq), 10)
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, int64(ts), 10)
	dst = append(dst, ' ')
	for n := len(dst) - body; n < t.size; n++ {
		dst = append(dst, 'x')
	}
	return append(dst, tmpl.tail...)
}

// received handles a message stanza: a body with this run's marker is a
// delivery, recorded when measured. It returns the sender and sequence
// number, or false for other messages.
func (t *traffic) received(raw []byte) (sender, seq int, ok bool) {
	body, found := childText(raw, "body")
	if !found {
		return 0, 0, false
	}
	sender, seq, ts, measured, ok := t.stamp(body)
	if measured {
		t.deliver(ts)
	}
	return sender, seq, ok
}

// stamp parses a text that the generator stamped ("pb TAG SENDER SEQ
// SENT_NS ..."), reporting whether it was sent in the measured window.
// It returns false for other texts.
func (t *traffic) stamp(text []byte) (sender, seq int, ts time.Duration, measured, ok bool) {
	if !bytes.HasPrefix(text, t.marker) {
		return 0, 0, 0, false, false
	}
	rest := text[len(t.marker):]
	var v [3]int64
	for i := range v {
		n, r, ok := leadingInt(rest)
		if !ok {
			return 0, 0, 0, false, false
		}
		v[i], rest = n, r
	}
	ts = time.Duration(v[2])
	measured = int64(ts) >= t.from.Load() && int64(ts) < t.to.Load()
	return int(v[0]), int(v[1]), ts, measured, true
}

// deliver records the delivery of a measured message sent at ts.
func (t *traffic) deliver(ts time.Duration) {
	t.delivered.Add(1)
	t.lat.record(t.b.since() - ts)
}

// leadingInt parses decimal digits followed by a space.
func leadingInt(b []byte) (int64, []byte, bool) {
	var n int64
	i := 0
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		n = n*10 + int64(b[i]-'0')
		i++
	}
	if i == 0 || i >= len(b) || b[i] != ' ' {
		return 0, nil, false
	}
	return n, b[i+1:], true
}

// sender is one sending session.
type sender struct {
	s        *session
	id       int // carried in bodies
	tmpl     *template
	tokens   chan struct{} // window of outstanding messages (closed loop)
	lastSent atomic.Int64  // sequence number of the last message written
	lastSeen atomic.Int64  // highest sequence number that came back
}

// newSender makes a sender with window tokens. Over WebSocket its
// messages are qualified with the jabber:client namespace (see qualify).
func newSender(s *session, id int, tmpl *template, window int) *sender {
	if s.ws != nil {
		t := *tmpl
		t.head = qualify(t.head)
		tmpl = &t
	}
	sd := &sender{s: s, id: id, tmpl: tmpl, tokens: make(chan struct{}, window)}
	for range window {
		sd.tokens <- struct{}{}
	}
	return sd
}

// arrived records that message seq came back and returns its window
// token.
func (sd *sender) arrived(seq int) {
	for {
		cur := sd.lastSeen.Load()
		if int64(seq) <= cur || sd.lastSeen.CompareAndSwap(cur, int64(seq)) {
			break
		}
	}
	sd.release()
}

// release returns a window token.
func (sd *sender) release() {
	select {
	case sd.tokens <- struct{}{}:
	default:
	}
}

// loop sends until the window ends or stop closes: in closed loop when
// interval is 0, otherwise paced every interval. In closed loop, the
// messages the window allows at one moment go out in one write, as from
// a client's buffered writer; each is still a separate stanza (over
// WebSocket, a message of its own).
func (t *traffic) loop(sd *sender, interval time.Duration, stop <-chan struct{}) {
	var buf []byte
	var ends []int // where each element of buf ends
	var timer *time.Timer
	next := t.b.since()
	if interval > 0 {
		timer = time.NewTimer(0)
		defer timer.Stop()
		<-timer.C
	}
	for seq := 1; ; {
		n := 1
		if interval == 0 {
			select {
			case <-sd.tokens:
			case <-stop:
				return
			}
		more:
			for n < cap(sd.tokens) {
				select {
				case <-sd.tokens:
					n++
				default:
					break more
				}
			}
		} else {
			next += interval
			if d := next - t.b.since(); d > 0 {
				timer.Reset(d)
				select {
				case <-timer.C:
				case <-stop:
					return
				}
			}
		}
		now := t.b.since()
		if int64(now) >= t.to.Load() {
			return
		}
		buf, ends = buf[:0], ends[:0]
		for range n {
			buf = t.build(buf, sd.tmpl, sd.id, seq, now)
			ends = append(ends, len(buf))
			seq++
		}
		if sd.s.sm {
			buf = append(buf, ackRequest...)
			ends = append(ends, len(buf))
		}
		if err := sd.s.writeElems(buf, ends); err != nil {
			t.b.fail(err)
			return
		}
		sd.lastSent.Store(int64(seq - 1))
		if int64(now) >= t.from.Load() {
			t.sent.Add(int64(n))
		}
	}
}

// run runs the senders through warm-up and the measured window, then
// waits for in-flight messages until expected() deliveries arrived or
// drainTime passed. It returns the measured phase.
func (t *traffic) run(ctx context.Context, p *pool, senders []*sender, interval time.Duration, expected func() int64) (phase, error) {
	o := t.b.o
	from := t.b.since() + o.warmup
	to := from + o.duration
	t.from.Store(int64(from))
	t.to.Store(int64(to))
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, sd := range senders {
		wg.Go(func() { t.loop(sd, interval, stop) })
	}
	halt := func() {
		close(stop)
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(stopGrace):
			p.closeAll()
			<-done
		}
	}
	if err := sleep(ctx, from-t.b.since()); err != nil {
		halt()
		return phase{}, err
	}
	a, err := t.b.meter.sample()
	if err != nil {
		halt()
		return phase{}, err
	}
	if err := sleep(ctx, to-t.b.since()); err != nil {
		halt()
		return phase{}, err
	}
	z, err := t.b.meter.sample()
	halt()
	if err != nil {
		return phase{}, err
	}
	deadline := time.Now().Add(drainTime)
	for t.delivered.Load() < expected() && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(20 * time.Millisecond)
	}
	if t.delivered.Load() < expected() {
		for _, sd := range senders {
			if sent, seen := sd.lastSent.Load(), sd.lastSeen.Load(); sent != seen {
				t.b.logf("%s: wrote messages up to #%d, saw #%d come back", sd.s.jid, sent, seen)
			}
		}
	}
	ph := between(a, z)
	ph.duration = o.duration // rates count messages stamped inside the window
	return ph, nil
}

// setLatency adds the latency percentiles.
func (t *traffic) setLatency(r *record) *record {
	return r.set("p50_ms", t.lat.quantileMs(0.50)).
		set("p99_ms", t.lat.quantileMs(0.99)).
		set("p999_ms", t.lat.quantileMs(0.999))
}
