// Package muc is parley's multi-user chat service (XEP-0045): rooms at
// the service domain (muc.domain), reached through the router as a
// component. It sees only the stanzas the router hands it, so users of
// federated servers take part exactly like local users.
//
// # Design
//
// The Service owns the rooms by name. Each room keeps its whole state in
// one room value whose work is serialized through the room's own task
// queue: a stanza for a room is queued, and whichever goroutine finds the
// room idle runs the queue until it is empty. No lock is held while a room
// works, so a stanza that comes straight back to a room while it fans out
// (an error bounced by the router, say) is just queued behind the current
// one; rooms never wait on each other, and nothing global is locked on
// the message path. A room that vanishes queues the stanzas still
// waiting for it on its successor (the room a join among them creates)
// before anyone else can reach the room's name, so a sender's later
// stanza never overtakes an earlier one. Fan-out builds each outgoing
// stanza once and sends every occupant a shallow copy that differs only
// in its to.
//
// # Decisions
//
//   - A new room is locked (XEP-0045 §10.1) until its creator accepts the
//     default configuration (an empty submitted form) or submits one,
//     unless Policy.LockNewRooms is off or the joining client did not
//     signal MUC support (no <x xmlns='http://jabber.org/protocol/muc'/>),
//     since such a client cannot configure the room. A locked room
//     vanishes when its creator leaves.
//   - Joining sends existing occupants' presence, the self-presence, the
//     history and then the subject, the order XEP-0045 §7.2 prescribes.
//   - Each session (real full JID) is an occupant of its own, with its
//     own nick: another session of the same account may enter under
//     another nick, and one asking for a nick in use, even its own
//     account's, gets conflict. Multi-session nicks, which XEP-0045's
//     nickname conflict rules (§7.2) let a service offer, are not
//     implemented.
//   - The history length is the room configuration field
//     muc#maxhistoryfetch (muc#roomconfig_historylength is accepted as
//     well); it is bounded by Policy.HistoryLength. Only messages with a
//     body are kept. maxchars counts the bytes of each message as
//     replayed, with its delay element but without a to.
//   - muc#roomconfig_enablelogging stores the messages of a persistent
//     room in the database (storage.MUC), append-only; joining occupants
//     are told with status 170. The history of such rooms survives
//     restarts. Temporary rooms are never stored.
//   - IQs to an occupant JID (room@service/nick) from another occupant
//     are passed on to the occupant's real JID (vcard-temp requests to its
//     bare JID) with the sender's occupant JID as from, and the answer is
//     routed back (XEP-0045 §6.7 allows this). Disco requests from
//     non-occupants get bad-request, other IQs not-acceptable. A ping to
//     one's own occupant JID is answered by the room (XEP-0410 §3.3, the
//     self-ping optimization the service and its rooms advertise); from
//     a session that is not in the room, or to a room that does not
//     exist or is locked to it, a ping gets not-acceptable, never
//     item-not-found, which would tell the client it is still in.
//   - Every presence about an occupant and every message from one
//     (groupchat, private, history, archive) carries its occupant ID
//     (XEP-0421): an HMAC-SHA256 of the room's JID and the user's bare
//     JID under a key of the service (OccupantIDKeyFile in the data
//     directory, made on first start), so the same user has the same ID
//     in a room whatever its nick or session, and a different one in
//     every other room. It is computed once when an occupant enters and
//     shared by every stanza; an occupant ID a client sent is dropped.
//   - When a message or presence the room sent comes back from an
//     occupant as an error of type cancel whose condition says it cannot
//     be reached (service-unavailable, recipient-unavailable,
//     remote-server-not-found, gone...), the occupant is removed (status
//     307 and 333, XEP-0045 §18.1.2). A client refusing one message
//     (forbidden, not-acceptable) stays, and IQ errors are answers, never
//     a reason to remove anyone.
//   - Mediated invitations (§7.8.2) may be sent by moderators, and by
//     any occupant when muc#roomconfig_allowinvites is on (off by
//     default, as in ejabberd); others get forbidden. In a members-only
//     room the invitee becomes a member.
//   - A configuration change is announced with status 104 only when
//     something other than anonymity or logging changed; those have
//     their own codes (170-173), sent alone when nothing else changed,
//     as Prosody and ejabberd do.
//   - A decline (§7.8.2) is relayed only to the inviter of a pending
//     mediated invitation of the declining user, so the room cannot be
//     used to send declines to arbitrary addresses.
//   - Joining a room that does not exist when the user may not create
//     rooms is refused with not-allowed (§10.1.1); other stanzas to an
//     unknown room get item-not-found.
//   - Not implemented: registration with a room (§7.10, reserved nicks),
//     the owner and admin lists inside the configuration form (they are
//     edited with muc#admin items, §10.3-10.7), telling users who are not
//     in the room that their affiliation changed (status 101), message
//     moderation, and XEP-0313 queries of the stored history.
package muc
