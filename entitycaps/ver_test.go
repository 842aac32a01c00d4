package entitycaps

import (
	"testing"

	"parley/stanza"
)

func TestVerExamples(t *testing.T) {
	cases := []struct {
		name, query, want string
		wantErr           bool
	}{
		{name: "XEP-0115 §5.2 simple", query: `<query xmlns='http://jabber.org/protocol/disco#info'>
  <identity category='client' name='Exodus 0.9.1' type='pc'/>
  <feature var='http://jabber.org/protocol/caps'/>
  <feature var='http://jabber.org/protocol/disco#info'/>
  <feature var='http://jabber.org/protocol/disco#items'/>
  <feature var='http://jabber.org/protocol/muc'/>
</query>`, want: "QgayPKawpkPSDYmwT/WM94uAlu0="},
		{name: "XEP-0115 §5.3 complex", query: `<query xmlns='http://jabber.org/protocol/disco#info' node='http://psi-im.org#q07IKJEyjvHSyhy//CH0CxmKi8w='>
  <identity xml:lang='en' category='client' name='Psi 0.11' type='pc'/>
  <identity xml:lang='el' category='client' name='Ψ 0.11' type='pc'/>
  <feature var='http://jabber.org/protocol/caps'/>
  <feature var='http://jabber.org/protocol/disco#info'/>
  <feature var='http://jabber.org/protocol/disco#items'/>
  <feature var='http://jabber.org/protocol/muc'/>
  <x xmlns='jabber:x:data' type='result'>
    <field var='FORM_TYPE' type='hidden'><value>urn:xmpp:dataforms:softwareinfo</value></field>
    <field var='ip_version'><value>ipv4</value><value>ipv6</value></field>
    <field var='os'><value>Mac</value></field>
    <field var='os_version'><value>10.5.1</value></field>
    <field var='software'><value>Psi</value></field>
    <field var='software_version'><value>0.11</value></field>
  </x>
</query>`, want: "q07IKJEyjvHSyhy//CH0CxmKi8w="},
		{name: "duplicate feature", query: `<query xmlns='http://jabber.org/protocol/disco#info'><feature var='a'/><feature var='a'/></query>`, wantErr: true},
		{name: "duplicate identity", query: `<query xmlns='http://jabber.org/protocol/disco#info'><identity category='client' type='pc'/><identity category='client' type='pc'/></query>`, wantErr: true},
		{name: "two forms of a type", query: `<query xmlns='http://jabber.org/protocol/disco#info'>
  <x xmlns='jabber:x:data' type='result'><field var='FORM_TYPE'><value>urn:a</value></field></x>
  <x xmlns='jabber:x:data' type='result'><field var='FORM_TYPE'><value>urn:a</value></field></x></query>`, wantErr: true},
	}
	for _, c := range cases {
		q, err := stanza.Parse(c.query)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Ver(q)
		if c.wantErr {
			if err == nil {
				t.Errorf("%s: no error", c.name)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%s: Ver = %q, %v; want %q", c.name, got, err, c.want)
		}
	}
}
