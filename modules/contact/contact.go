// Package contact publishes the server's contact addresses (XEP-0157):
// the [contact] URIs, as a serverinfo form in the disco#info of every
// served domain (XEP-0128), so that people elsewhere know whom to tell
// about abuse, security problems and the like.
package contact

import (
	"parley/config"
	"parley/dataform"
	"parley/module"
	"parley/router"
	"parley/stanza"
)

// FormType is the FORM_TYPE of the serverinfo form.
const FormType = "http://jabber.org/network/serverinfo"

// Form returns the serverinfo form of c: a field "KEY-addresses" for each
// kind of address configured, with its URIs; nil when none is.
func Form(c *config.Contact) *stanza.Element {
	x := dataform.New("result", FormType)
	empty := true
	for _, l := range c.Lists() {
		if len(l.URIs) == 0 {
			continue
		}
		x.Append(dataform.Field(l.Key+"-addresses", "", "", l.URIs...))
		empty = false
	}
	if empty {
		return nil
	}
	return x
}

// Spec declares contact addresses as a server module, on when [contact]
// lists any.
func Spec() module.Spec {
	return module.Spec{
		Name:    "contact",
		Enabled: func(cfg *config.Config) bool { return Form(&cfg.Contact) != nil },
		Setup: func(h *module.Host) (any, error) {
			h.Router.AddInfoForm(router.TargetServer, Form(&h.Config.Contact))
			return nil, nil
		},
	}
}
