package s2s

import (
	"context"
	"errors"
	"fmt"

	"parley/xmlstream"
)

// verifyKey asks the authoritative server of p.remote whether it
// generated key for the stream id (XEP-0220 §2.1.2, the receiving
// server's side), on a connection of its own.
func (s *Service) verifyKey(ctx context.Context, p pair, id, key string) (bool, error) {
	targets, err := s.opts.Resolver.Resolve(ctx, p.remote)
	if err != nil {
		return false, fmt.Errorf("resolve %s: %w", p.remote, err)
	}
	var errs []error
	for _, tg := range targets {
		valid, err := s.verifyAt(ctx, p, tg, id, key)
		if err == nil {
			return valid, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", tg.Addr, err))
		if ctx.Err() != nil {
			break
		}
	}
	if len(errs) == 0 {
		return false, fmt.Errorf("no address for %s", p.remote)
	}
	return false, errors.Join(errs...)
}

func (s *Service) verifyAt(ctx context.Context, p pair, tg Target, id, key string) (bool, error) {
	t, _, _, err := s.dialPeer(ctx, p, tg)
	if err != nil {
		return false, err
	}
	defer t.close("", "")
	stop := context.AfterFunc(ctx, func() { t.raw.Close() })
	defer stop()
	t.w.SendRaw("<db:verify from='" + xmlstream.Escape(p.local) + "' to='" + xmlstream.Escape(p.remote) + "' id='" + xmlstream.Escape(id) + "'>" + key + "</db:verify>")
	for {
		el, err := t.next()
		if err != nil {
			return false, err
		}
		if el.Space != nsDialback || el.Local != "verify" || el.Attr("id") != id || !answers(el, p) {
			continue
		}
		switch el.Type() {
		case "valid":
			return true, nil
		case "invalid":
			return false, nil
		default:
			cond, text := dialbackErrorOf(el)
			return false, fmt.Errorf("verification refused: %s %s", cond, text)
		}
	}
}
