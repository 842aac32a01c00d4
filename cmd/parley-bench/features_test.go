package main

import (
	"fmt"
	"testing"
)

func TestParseFeatures(t *testing.T) {
	for _, tc := range []struct {
		name, raw string
		want      features
	}{
		{"starttls", `<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls></stream:features>`,
			features{starttls: true}},
		{"mechanisms", `<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>
			<mechanism>SCRAM-SHA-1-PLUS</mechanism><mechanism> SCRAM-SHA-1 </mechanism><mechanism>PLAIN</mechanism>
			</mechanisms><register xmlns='http://jabber.org/features/iq-register'/></stream:features>`,
			features{mechanisms: []string{"SCRAM-SHA-1-PLUS", "SCRAM-SHA-1", "PLAIN"}}},
		{"bind, optional session", `<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/><session xmlns='urn:ietf:params:xml:ns:xmpp-session'><optional/></session><sm xmlns='urn:xmpp:sm:3'/></stream:features>`,
			features{bind: true}},
		{"required session", `<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/><session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></stream:features>`,
			features{bind: true, sessionRequired: true}},
		{"other elements with similar names", `<features><bind2 xmlns='urn:xmpp:bind:0'/><sessions/><starttlsx/></features>`,
			features{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := parseFeatures([]byte(tc.raw))
			if fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", tc.want) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}
