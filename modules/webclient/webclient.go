// Package webclient serves Converse.js at /web/ on the HTTP server: a
// web page from which people log in with nothing to install, connected to
// this server's own WebSocket endpoint (BOSH where WebSocket fails).
// parley does not ship Converse.js; http.web_client names the directory
// of its build (the "dist" directory of the npm package converse.js).
package webclient

import (
	"encoding/json"
	"html/template"
	"net/http"
	"strings"

	"parley/config"
	"parley/httpserver"
	"parley/module"
)

// Spec declares the module, enabled when http.web_client is set.
func Spec() module.Spec {
	return module.Spec{
		Name:    "webclient",
		Enabled: func(cfg *config.Config) bool { return cfg.HTTP.WebClient != "" },
		Setup: func(h *module.Host) (any, error) {
			h.HTTP.Handle("/web/", Handler(h.HTTP, h.Config.HTTP.WebClient, h.Config.Server.Domains[0]))
			return nil, nil
		},
	}
}

var page = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Domain}}: chat</title>
<link rel="stylesheet" href="dist/converse.min.css">
<script type="module" src="dist/converse.min.js"></script>
</head>
<body class="converse-fullscreen">
<script type="module">converse.initialize({{.Settings}});</script>
</body></html>
`))

// Handler serves the page at /web/ and the files of dir at /web/dist/;
// domain is the domain logins default to.
func Handler(srv *httpserver.Server, dir, domain string) http.Handler {
	files := http.StripPrefix("/web/dist/", http.FileServer(http.Dir(dir)))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/web/dist/") {
			w.Header().Set("X-Content-Type-Options", "nosniff")
			files.ServeHTTP(w, r)
			return
		}
		if r.URL.Path != "/web/" {
			http.NotFound(w, r)
			return
		}
		base := srv.BaseURL(r)
		ws := "ws" + strings.TrimPrefix(base, "http") + "/xmpp-websocket"
		settings, _ := json.Marshal(map[string]any{
			"websocket_url":               ws,
			"bosh_service_url":            base + "/http-bind",
			"discover_connection_methods": false,
			"default_domain":              domain,
			"view_mode":                   "fullscreen",
			"auto_reconnect":              true,
			"persistent_store":            "IndexedDB",
		})
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("X-Frame-Options", "DENY")
		w.Header().Set("Cache-Control", "no-cache")
		page.Execute(w, struct {
			Domain   string
			Settings template.JS
		}{domain, template.JS(settings)})
	})
}
