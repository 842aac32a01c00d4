package config

// Push is the [push] section: Push Notifications (XEP-0357), with which
// phones are woken when a message arrives while their app sleeps.
type Push struct {
	// IncludeBody puts the text of the message in the notification sent
	// to the app server, and so to the phone vendor's push service;
	// without it the phone learns only that a message from someone came.
	IncludeBody bool `toml:"include_body"`
}
