package c2s

import (
	"errors"

	"parley/stanza"
	"parley/xmlstream"
)

// streamManagement handles a stream-management element of a bound
// stream (XEP-0198): enable, an ack request, an ack. A resumption is
// refused here: it belongs before binding.
func (c *conn) streamManagement(el *stanza.Element) error {
	switch el.Local {
	case "enable":
		c.t.SendRaw(c.sess.enable(el))
	case "r":
		c.sess.ackRequested()
	case "a":
		h, ok := parseH(el.Attr("h"))
		if !ok {
			return xmlstream.Errorf("undefined-condition", "<a/> needs a count h")
		}
		if err := c.sess.acked(h); err != nil {
			return err
		}
	case "resume":
		c.t.SendRaw(smFailed("unexpected-request", "a bound stream cannot resume another session"))
	default:
		return xmlstream.Errorf("unsupported-stanza-type", "<%s xmlns='%s'/> is not a stream management element", el.Local, el.Space)
	}
	return nil
}

// resume resumes the session the client names, on this stream, before
// any resource is bound (XEP-0198 §5). It reports whether the stream now
// carries that session; otherwise it answered <failed/> and the client
// may bind a new resource.
func (c *conn) resume(el *stanza.Element) bool {
	ok, failed := c.resumeSession(el, nil)
	if !ok {
		c.t.SendRaw(failed)
	}
	return ok
}

// resumeSession resumes the session <resume/> names on this stream; the
// answer <resumed/> goes out wrapped by wrap, if not nil (in a SASL2
// <success/>, say). When it fails it returns the <failed/> answer, for
// the caller to send.
func (c *conn) resumeSession(el *stanza.Element, wrap func(full, resumed string) string) (bool, string) {
	h, ok := parseH(el.Attr("h"))
	s := c.srv.resumableSession(el.Attr("previd"))
	if !ok || s == nil || s.user != c.user {
		return false, smFailed("item-not-found", "no session to resume with that id")
	}
	old, err := s.resume(c, h, wrap)
	if errors.Is(err, errSessionGone) {
		return false, smFailed("item-not-found", "the session has ended")
	}
	if err != nil {
		return false, smFailed("unexpected-request", err.Error())
	}
	c.sess, c.res, c.full = s, s.res, s.full
	c.cb = nil
	if old != nil {
		// The client left that stream behind; it no longer carries the
		// session.
		go old.Close("conflict", "the session was resumed on another stream")
	}
	c.srv.opts.Log.Info().Str("remote", c.remote).Str("jid", c.full).Msg("client session resumed")
	return true, ""
}
