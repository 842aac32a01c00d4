package server

import (
	"parley/compliance"
	"parley/module"
	"parley/modules/avatarconv"
	"parley/modules/blocking"
	"parley/modules/bookmarkconv"
	"parley/modules/carbons"
	"parley/modules/contact"
	"parley/modules/disco"
	"parley/modules/entitytime"
	"parley/modules/extdisco"
	"parley/modules/lastactivity"
	"parley/modules/mam"
	"parley/modules/offline"
	"parley/modules/pep"
	"parley/modules/ping"
	"parley/modules/private"
	"parley/modules/push"
	"parley/modules/register"
	"parley/modules/status"
	"parley/modules/usage"
	"parley/modules/vcard"
	"parley/modules/version"
	"parley/modules/webclient"
	"parley/muc"
	"parley/proxy65"
	"parley/roster"
	"parley/upload"
)

// modules lists every feature module in the order it is set up; a
// module's Enabled decides from the configuration whether it runs. Hooks
// registered at the same point with the same priority run in this order.
func modules() []module.Spec {
	return []module.Spec{
		disco.Spec(),
		contact.Spec(),
		extdisco.Spec(),
		status.Spec(),
		roster.Spec(),
		ping.Spec(),
		version.Spec(),
		entitytime.Spec(),
		lastactivity.Spec(),
		offline.Spec(),
		blocking.Spec(),
		carbons.Spec(),
		mam.Spec(),
		vcard.Spec(),
		private.Spec(),
		pep.Spec(),
		bookmarkconv.Spec(),
		avatarconv.Spec(),
		push.Spec(),
		compliance.Spec(),
		muc.Spec(),
		upload.Spec(),
		proxy65.Spec(),
		webclient.Spec(),
		register.Spec(),
		usage.Spec(), // after upload, whose uploads it counts
	}
}
