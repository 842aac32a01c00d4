// Package extdisco implements External Service Discovery (XEP-0215): it
// tells local users about the STUN and TURN servers of [[external_services]],
// which clients need for audio and video calls through NATs, and gives
// them short-lived TURN credentials made from a secret shared with the
// TURN server, the way coturn's use-auth-secret checks them (the "TURN
// REST API").
package extdisco

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"strconv"
	"time"

	"parley/config"
	"parley/module"
	"parley/modules/internal/guard"
	"parley/router"
	"parley/stanza"
)

// NS is the XEP-0215 namespace.
const NS = "urn:xmpp:extdisco:2"

// Service answers external service discovery requests.
type Service struct {
	services []config.ExternalService
	now      func() time.Time
}

// New returns the discovery service for services, validated by package
// config.
func New(services []config.ExternalService) *Service {
	return &Service{services: services, now: time.Now}
}

// Register answers urn:xmpp:extdisco:2 requests to the server and
// advertises the feature.
func (s *Service) Register(r *router.Router) {
	r.HandleIQ(router.TargetServer, NS, s.handle)
	r.AddFeature(router.TargetServer, NS)
}

// Spec declares External Service Discovery as a server module, on when
// [[external_services]] lists any.
func Spec() module.Spec {
	return module.Spec{
		Name:    "extdisco",
		Enabled: func(cfg *config.Config) bool { return len(cfg.ExternalServices) > 0 },
		Setup: func(h *module.Host) (any, error) {
			s := New(h.Config.ExternalServices)
			s.Register(h.Router)
			return s, nil
		},
	}
}

// handle answers <services/> (every service, or those of one type) and
// <credentials/> (credentials for the services a <service/> names by host
// and type, and perhaps port). Only local users' clients are answered:
// the TURN servers relay for this server's users, not for the world.
func (s *Service) handle(_ context.Context, iq *router.IQ) (*stanza.Element, error) {
	switch iq.Payload.Local {
	case "services":
		if err := guard.Get(iq, "services"); err != nil {
			return nil, err
		}
	case "credentials":
		if err := guard.Get(iq, "credentials"); err != nil {
			return nil, err
		}
	default:
		return nil, guard.Get(iq, "services") // feature-not-implemented
	}
	if iq.Resource == nil {
		return nil, stanza.ErrText("forbidden", "external services are offered to this server's users only")
	}
	user := iq.From.Bare().String()
	if iq.Payload.Local == "services" {
		return s.list(user, iq.Payload.Attr("type")), nil
	}
	return s.credentials(user, iq.Payload)
}

// list returns the <services/> result: every service, or those of typ.
// Services with a secret carry fresh credentials for user, their expiry,
// and restricted='1' (credentials are needed).
func (s *Service) list(user, typ string) *stanza.Element {
	out := stanza.New(NS, "services").SetAttr("type", typ)
	for i := range s.services {
		svc := &s.services[i]
		if typ != "" && svc.Type != typ {
			continue
		}
		out.Append(s.service(svc, user))
	}
	return out
}

// credentials answers a <credentials/> request: the services its
// <service/> names by host and type (and port, if given) that have a
// secret, with credentials for user; item-not-found if there are none.
func (s *Service) credentials(user string, req *stanza.Element) (*stanza.Element, error) {
	want := req.Child(NS, "service")
	if want == nil || want.Attr("host") == "" || want.Attr("type") == "" {
		return nil, stanza.ErrText("bad-request", "name the service with a <service/> with host and type")
	}
	port := 0
	if p := want.Attr("port"); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return nil, stanza.ErrText("bad-request", "port is not a port number")
		}
		port = n
	}
	out := stanza.New(NS, "credentials")
	for i := range s.services {
		svc := &s.services[i]
		if svc.Secret == "" || svc.Host != want.Attr("host") || svc.Type != want.Attr("type") || port != 0 && svc.Port != port {
			continue
		}
		out.Append(s.service(svc, user))
	}
	if len(out.Children) == 0 {
		return nil, stanza.ErrText("item-not-found", "no credentials for that service")
	}
	return out, nil
}

// service describes svc, with credentials for user when it has a secret.
func (s *Service) service(svc *config.ExternalService, user string) *stanza.Element {
	el := stanza.New(NS, "service", "type", svc.Type, "host", svc.Host, "port", strconv.Itoa(svc.Port), "transport", svc.Transport)
	el.SetAttr("name", svc.Name)
	if svc.Secret != "" {
		expiry := s.now().Add(svc.TTL.Duration).Truncate(time.Second)
		username, password := TURNCredentials(svc.Secret, user, expiry)
		el.SetAttr("username", username).
			SetAttr("password", password).
			SetAttr("expires", expiry.UTC().Format(time.RFC3339)).
			SetAttr("restricted", "1")
	}
	return el
}

// TURNCredentials returns the credentials a TURN server sharing secret
// (coturn's static-auth-secret with use-auth-secret) accepts for user
// until expiry: the username is "<expiry as Unix time>:<user>" and the
// password base64(HMAC-SHA1(secret, username)).
func TURNCredentials(secret, user string, expiry time.Time) (username, password string) {
	username = strconv.FormatInt(expiry.Unix(), 10) + ":" + user
	mac := hmac.New(sha1.New, []byte(secret))
	mac.Write([]byte(username))
	return username, base64.StdEncoding.EncodeToString(mac.Sum(nil))
}
