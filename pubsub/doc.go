// Package pubsub is the Personal Eventing Protocol (XEP-0163): every
// local account is a publish-subscribe service (the XEP-0060 subset PEP
// needs) on its bare JID, whose nodes carry OMEMO device lists and key
// bundles, avatars (XEP-0084), bookmarks (XEP-0402), nicknames (XEP-0172)
// and the like.
//
// The owner (any of its resources) publishes, retracts, creates,
// configures, purges and deletes nodes; a node is created by its first
// publish, configured then by its publish-options (XEP-0223), which are
// preconditions on later publishes. Who may retrieve a node's items and
// is notified of them is the node's access model: presence (the
// default: contacts with a presence subscription), open (anyone,
// federated users included), roster (contacts in the allowed roster
// groups) or whitelist (the owner only). Entities the owner gives the
// member affiliation (pubsub#owner affiliations) may retrieve a node's
// items and are notified whatever its access model; no other
// affiliations, and no explicit subscriptions, are supported.
//
// Subscriptions are implicit, as in XEP-0163: notifications go to the
// owner's available resources and to those of the contacts the access
// model admits, local and federated, that ask for them with "NODE+notify"
// in their entity capabilities (XEP-0115, followed by package
// entitycaps). A resource gets the last item of each such node when it
// becomes available, when its capabilities become known, and when the
// owner approves its account's presence subscription.
//
// # Go API
//
// Other modules build on the service the pep module sets up (its
// module instance, see module.Host.Instance):
//
//	svc.Publish(ctx, owner, "urn:xmpp:bookmarks:1", roomJID, conference,
//		pubsub.PublishOptions{"pubsub#access_model": {"whitelist"}, "pubsub#max_items": {"max"}})
//	items, err := svc.Items(ctx, owner, "urn:xmpp:avatar:metadata", nil, 1)
//	err = svc.Retract(ctx, owner, node, id, true)
//	err = svc.DeleteNode(ctx, owner, node)
//	svc.Observe(func(ctx context.Context, ev pubsub.Event) { ... })
//
// Publish and Retract act as the owner, with the owner's notifications;
// errors that a client would get are stanza.Error values (item-not-found
// for a missing node, conflict for unmet publish-options). Observers are
// called after every publish and retraction, from clients or from the
// API, once the change is stored.
package pubsub
