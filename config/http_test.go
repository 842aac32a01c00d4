package config

import (
	"slices"
	"testing"
	"time"
)

func TestHTTPSection(t *testing.T) {
	cases := []struct {
		name, body, wantErr string
		want                HTTP
	}{
		{name: "off by default", body: ""},
		{name: "contract example", body: "[http]\nlisten = \"127.0.0.1:5280\"\ntls_listen = \"\"\npublic_url = \"\"\n",
			want: HTTP{Listen: "127.0.0.1:5280"}},
		{name: "public url loses its slash", body: "[http]\nlisten = \"127.0.0.1:5280\"\npublic_url = \"https://chat.a.test/xmpp/\"\norigins = [\"https://app.a.test\", \"*.a.test\"]\n",
			want: HTTP{Listen: "127.0.0.1:5280", PublicURL: "https://chat.a.test/xmpp", Origins: []string{"https://app.a.test", "*.a.test"}}},
		{name: "bad listen", body: "[http]\nlisten = \"5280\"\n", wantErr: "http.listen"},
		{name: "listen taken", body: "[http]\nlisten = \"127.0.0.1:5222\"\n", wantErr: "http.listen: \"127.0.0.1:5222\" is also c2s.listen"},
		{name: "both the same", body: "[http]\nlisten = \"127.0.0.1:5280\"\ntls_listen = \"127.0.0.1:5280\"\n", wantErr: "http.tls_listen"},
		{name: "public url scheme", body: "[http]\npublic_url = \"ftp://a.test\"\n", wantErr: "http.public_url"},
		{name: "origin with path", body: "[http]\norigins = [\"https://a.test/app\"]\n", wantErr: "http.origins[0]"},
		{name: "origin pattern", body: "[http]\norigins = [\"x\", \"[\"]\n", wantErr: "http.origins[1]"},
		{name: "bosh timing", body: "[http]\nbosh_max_wait = \"30s\"\nbosh_inactivity = \"2m\"\n",
			want: HTTP{BOSHMaxWait: Duration{30 * time.Second}, BOSHInactivity: Duration{2 * time.Minute}}},
		{name: "bosh wait too long", body: "[http]\nbosh_max_wait = \"1h\"\n", wantErr: "http.bosh_max_wait: 1h0m0s is not between 1s and 10m"},
		{name: "websocket ping", body: "[http]\nwebsocket_ping = \"20s\"\n", want: HTTP{WebSocketPing: Duration{20 * time.Second}}},
		{name: "websocket ping too short", body: "[http]\nwebsocket_ping = \"100ms\"\n", wantErr: "http.websocket_ping: 100ms is not between 1s and 10m"},
		{name: "bosh inactivity zero", body: "[http]\nbosh_inactivity = \"0s\"\n", wantErr: "http.bosh_inactivity"},
		{name: "web client without converse", body: "[http]\nlisten = \"127.0.0.1:5280\"\nweb_client = \"nowhere\"\n", wantErr: "http.web_client: "},
		{name: "web client without http", body: "[http]\nweb_client = \"nowhere\"\n", wantErr: "http.web_client: the web client needs the HTTP server"},
		{name: "unknown key", body: "[http]\nlisten_tls = \"127.0.0.1:5281\"\n", wantErr: `unknown key "http.listen_tls"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := loadSection(t, c.body, c.wantErr)
			if cfg == nil {
				return
			}
			h := cfg.HTTP
			// BOSH timing is a minute unless set.
			for _, d := range []*Duration{&c.want.BOSHMaxWait, &c.want.BOSHInactivity, &c.want.WebSocketPing} {
				if d.Duration == 0 {
					d.Duration = time.Minute
				}
			}
			if h.BOSHMaxWait != c.want.BOSHMaxWait || h.BOSHInactivity != c.want.BOSHInactivity {
				t.Fatalf("BOSH timing %v %v, want %v %v", h.BOSHMaxWait, h.BOSHInactivity, c.want.BOSHMaxWait, c.want.BOSHInactivity)
			}
			if h.WebSocketPing != c.want.WebSocketPing {
				t.Fatalf("WebSocket ping %v, want %v", h.WebSocketPing, c.want.WebSocketPing)
			}
			if h.Listen != c.want.Listen || h.TLSListen != c.want.TLSListen || h.PublicURL != c.want.PublicURL || !slices.Equal(h.Origins, c.want.Origins) {
				t.Fatalf("got %+v, want %+v", h, c.want)
			}
		})
	}
}
