package muc

import "parley/dataform"

// Namespaces the service speaks.
const (
	NS           = "http://jabber.org/protocol/muc"
	NSUser       = "http://jabber.org/protocol/muc#user"
	NSAdmin      = "http://jabber.org/protocol/muc#admin"
	NSOwner      = "http://jabber.org/protocol/muc#owner"
	NSRequest    = "http://jabber.org/protocol/muc#request"
	NSRoomConfig = "http://jabber.org/protocol/muc#roomconfig"
	NSRoomInfo   = "http://jabber.org/protocol/muc#roominfo"
	NSSelfPing   = "http://jabber.org/protocol/muc#self-ping-optimization"
	NSData       = dataform.NS
	NSStanzaID   = "urn:xmpp:sid:0"
	NSOccupantID = "urn:xmpp:occupant-id:0"
	NSDiscoInfo  = "http://jabber.org/protocol/disco#info"
	NSDiscoItems = "http://jabber.org/protocol/disco#items"
	NSPing       = "urn:xmpp:ping"
	NSVCard      = "vcard-temp"
)

// Status codes of XEP-0045 §15.6.2 that the service sends.
const (
	StatusNonAnonymous     = 100 // the room shows real JIDs to everyone
	StatusConfigChanged    = 104 // a non-privacy configuration change
	StatusSelf             = 110 // the presence is about the recipient
	StatusLogged           = 170 // the room's messages are stored
	StatusNotLogged        = 171 // they no longer are
	StatusNowNonAnonymous  = 172
	StatusNowSemiAnonymous = 173
	StatusCreated          = 201 // the join created the room
	StatusNickModified     = 210 // the service changed the requested nick
	StatusBanned           = 301
	StatusNickChanged      = 303
	StatusKicked           = 307
	StatusAffiliationLost  = 321 // removed by an affiliation change
	StatusMembersOnly      = 322 // removed because the room became members-only
	StatusRemovedOnError   = 333 // removed after an error from its client
)
