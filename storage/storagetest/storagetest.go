// Package storagetest is the conformance suite for storage backends: it
// checks every method of every storage interface against its documented
// contract, through the interfaces only. A backend's tests call Run, and
// its benchmarks RunBenchmarks; what the suite cannot see through the
// interfaces (files, schema migrations, crash safety, connection handling)
// stays in the backend's own tests, which Populate helps to fill.
package storagetest

import (
	"errors"
	"testing"

	"parley/storage"
)

// Opener opens the backend under test for one test. It returns a new,
// empty store and a reopen function, which closes the store and opens the
// same data again, as a restarted server would. The opener closes the last
// store it opened when tb's test ends.
type Opener func(tb testing.TB) (store storage.Store, reopen func() storage.Store)

// Run checks the backend opened by open against the contract of every
// storage interface, in subtests named by interface.
func Run(t *testing.T, open Opener) {
	for _, c := range []struct {
		name string
		run  func(*testing.T, Opener)
	}{
		{"Accounts", testAccounts},
		{"Rosters", testRosters},
		{"Subscriptions", testSubscriptions},
		{"Offline", testOffline},
		{"Documents", testDocuments},
		{"LastActivity", testLastActivity},
		{"LastActivities", testLastActivities},
		{"MUC", testMUC},
		{"Archives", testArchives},
		{"FastTokens", testFastTokens},
		{"Invitations", testInvitations},
		{"PubSub", testPubSub},
		{"Usage", testUsage},
		{"Durability", testDurability},
	} {
		t.Run(c.name, func(t *testing.T) { c.run(t, open) })
	}
}

// newStore opens a new, empty store of the backend.
func newStore(t testing.TB, open Opener) storage.Store {
	t.Helper()
	s, _ := open(t)
	return s
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// errAny marks a step that must fail with any error.
var errAny = errors.New("any error")

// checkErr reports whether err is what want asks for: nil, any error
// (errAny), or an error matching want.
func checkErr(t testing.TB, what string, err, want error) bool {
	t.Helper()
	switch {
	case want == nil && err != nil:
		t.Errorf("%s: %v", what, err)
	case want == errAny && err == nil:
		t.Errorf("%s: no error", what)
	case want != nil && want != errAny && !errors.Is(err, want):
		t.Errorf("%s: error %v, want %v", what, err, want)
	default:
		return true
	}
	return false
}

func second[T any](_ T, err error) error { return err }

func third[T, U any](_ T, _ U, err error) error { return err }
