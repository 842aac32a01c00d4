package c2s

import (
	"bytes"
	"fmt"
	"net"
	"strings"
	"time"

	"mellium.im/xmpp/jid"

	"parley/audit"
)

// How failed logins are summed up in the audit log.
const (
	// AuthFailureThreshold failed logins from one address within
	// AuthFailureWindow make an auth.failures event.
	AuthFailureThreshold = 3
	AuthFailureWindow    = 5 * time.Minute
	// authFailureMaxAddrs bounds the addresses followed at once.
	authFailureMaxAddrs = 4096
)

// NewAuthFailures returns the counter of failed logins (wrong passwords,
// unknown accounts, wrong FAST tokens; over every transport and both SASL
// profiles) that records them in log per remote address (IPv6 addresses
// per /64 network): one
// auth.failures event once an address has failed AuthFailureThreshold
// times within AuthFailureWindow, naming the accounts tried, then at most
// one per address per window with the count. It never sees a password.
// Its Run must run while the server does (see audit.Repeats).
func NewAuthFailures(log *audit.Log, onError func(error)) *audit.Repeats {
	return audit.NewRepeats(log, audit.RepeatsOptions{
		Threshold: AuthFailureThreshold,
		Window:    AuthFailureWindow,
		MaxKeys:   authFailureMaxAddrs,
		Event:     authFailuresEvent,
		OnError:   onError,
	})
}

// authFailuresEvent describes a run of failed logins.
func authFailuresEvent(r audit.Repeat) audit.Event {
	from, target := "from "+r.Target, r.Target
	if r.Others {
		from, target = fmt.Sprintf("from other addresses (more than %d were failing at once)", authFailureMaxAddrs), "other addresses"
	}
	var detail string
	if r.First {
		detail = fmt.Sprintf("%d failed logins %s within %s", r.Count, from, r.Window)
	} else {
		detail = fmt.Sprintf("%d more failed logins %s since %s", r.Count, from, r.Since.UTC().Format(time.RFC3339))
	}
	if len(r.Subjects) > 0 {
		detail += "; accounts tried: " + strings.Join(r.Subjects, ", ")
		if r.MoreSubjects {
			detail += " and others"
		}
	}
	return audit.Event{Actor: audit.ServerActor, Action: audit.AuthFailures, Target: target, Detail: detail}
}

// failureAddress returns what failed logins from addr count under: the
// address itself, or the /64 network of an IPv6 address, which one host
// usually has to itself.
func failureAddress(addr string) string {
	ip := net.ParseIP(addr)
	if ip == nil {
		return addr
	}
	if ip4 := ip.To4(); ip4 != nil {
		return ip4.String()
	}
	return ip.Mask(net.CIDRMask(64, 128)).String() + "/64"
}

// maxTriedName bounds the length of a username noted as tried.
const maxTriedName = 256

// triedAccount returns the account a client's SASL message names (the
// authentication identity of PLAIN, the username of SCRAM and of FAST's
// HT mechanisms) as a bare JID on domain, or "" if it names none. Only
// that name is read: never the password, proof or token after it.
func triedAccount(mech string, msg []byte, domain string) string {
	var name string
	switch {
	case mech == "PLAIN":
		// [authzid] NUL authcid NUL passwd
		parts := bytes.SplitN(msg, []byte{0}, 3)
		if len(parts) != 3 {
			return ""
		}
		name = string(parts[1])
	case strings.HasPrefix(mech, "SCRAM-"):
		// gs2-cbind-flag "," [authzid] "," "n=" saslname "," "r=" ...
		fields := strings.SplitN(string(msg), ",", 4)
		if len(fields) < 3 {
			return ""
		}
		v, ok := strings.CutPrefix(fields[2], "n=")
		if !ok {
			return ""
		}
		name = strings.NewReplacer("=2C", ",", "=3D", "=").Replace(v)
	case strings.HasPrefix(mech, "HT-"):
		// authcid NUL token hash
		n, _, ok := bytes.Cut(msg, []byte{0})
		if !ok {
			return ""
		}
		name = string(n)
	default:
		return ""
	}
	if name == "" || len(name) > maxTriedName {
		return ""
	}
	var (
		j   jid.JID
		err error
	)
	if strings.Contains(name, "@") {
		j, err = jid.Parse(name) // as given, another domain's too
	} else {
		j, err = jid.New(name, domain, "")
	}
	if err != nil || j.Localpart() == "" {
		return ""
	}
	return j.Bare().String()
}
