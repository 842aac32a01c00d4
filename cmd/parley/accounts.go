package main

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/mattn/go-isatty"
	"mellium.im/xmpp/jid"

	"parley/account"
	"parley/audit"
	"parley/config"
	"parley/storage"
	"parley/storage/backend"
)

// runAddUser runs "parley adduser": one account whose password is the
// first line of stdin, or with -batch one per stdin line "JID PASSWORD".
func runAddUser(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	c := newCommand("adduser", "[-config FILE] JID | -batch", stdout, stderr)
	batch := c.flags.Bool("batch", false, `read "JID PASSWORD" lines from standard input`)
	pos, code, ok := c.parse(args, -1)
	if !ok {
		return code
	}
	switch {
	case *batch && len(pos) > 0:
		return c.usageError("-batch takes no JID argument")
	case *batch:
		return addUsers(ctx, c, stdin)
	case len(pos) != 1:
		return c.usageError(fmt.Sprintf("expected 1 argument, got %d", len(pos)))
	}

	cfg, user, err := c.configAndUser(pos[0])
	if err != nil {
		return c.fail(err)
	}
	password, err := readPassword(stdin, stderr)
	if err != nil {
		return c.fail(err)
	}
	return withAuditedStore(ctx, c, cfg, func(st storage.Store, rec recorder) error {
		err := account.Create(ctx, st, user, password)
		if errors.Is(err, account.ErrExists) {
			return fmt.Errorf("%s: account already exists (use \"parley passwd\" to change its password)", user)
		}
		if err != nil {
			return err
		}
		if err := rec(audit.AccountCreated, user, "parley adduser"); err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "created %s\n", user)
		return nil
	})
}

// batchLine is one account to create in batch mode.
type batchLine struct {
	n        int // line number, from 1
	user     string
	password string
}

// addUsers creates the accounts listed on stdin. Every line is checked
// before any account is created; accounts are then created in parallel
// (key derivation is costly), and each failure is reported with its line
// number.
func addUsers(ctx context.Context, c *command, stdin io.Reader) int {
	cfg, err := config.Load(*c.config)
	if err != nil {
		return c.fail(err)
	}
	lines, errs := readBatch(stdin, cfg, *c.config)
	if len(errs) > 0 {
		for _, err := range errs {
			c.fail(err)
		}
		return 1
	}

	type failure struct {
		n   int
		err error
	}
	var (
		mu       sync.Mutex
		failures []failure
		created  int
	)
	code := withAuditedStore(ctx, c, cfg, func(st storage.Store, rec recorder) error {
		jobs := make(chan batchLine)
		var wg sync.WaitGroup
		for range min(runtime.NumCPU(), max(len(lines), 1)) {
			wg.Go(func() {
				for l := range jobs {
					err := createAccount(ctx, st, l)
					if err == nil {
						err = rec(audit.AccountCreated, l.user, fmt.Sprintf("parley adduser -batch, line %d", l.n))
					}
					mu.Lock()
					if err != nil {
						failures = append(failures, failure{l.n, err})
					} else {
						created++
					}
					mu.Unlock()
				}
			})
		}
	feed:
		for _, l := range lines {
			select {
			case jobs <- l:
			case <-ctx.Done():
				break feed
			}
		}
		close(jobs)
		wg.Wait()
		return nil
	})
	if code != 0 {
		return code
	}
	slices.SortFunc(failures, func(a, b failure) int { return cmp.Compare(a.n, b.n) })
	for _, f := range failures {
		if ctx.Err() != nil && errors.Is(f.err, ctx.Err()) {
			continue // reported below
		}
		c.fail(fmt.Errorf("line %d: %w", f.n, f.err))
	}
	if ctx.Err() != nil {
		return c.fail(fmt.Errorf("interrupted after creating %d of %d accounts", created, len(lines)))
	}
	fmt.Fprintf(c.stdout, "created %d of %d accounts\n", created, len(lines))
	if len(failures) > 0 {
		return 1
	}
	return 0
}

// createAccount derives l's credentials and creates the account.
func createAccount(ctx context.Context, st storage.Store, l batchLine) error {
	err := account.Create(ctx, st, l.user, l.password)
	if errors.Is(err, account.ErrExists) {
		return fmt.Errorf("%s: account already exists", l.user)
	}
	return err
}

// readBatch parses "JID PASSWORD" lines, skipping blank ones. The password
// is the rest of the line after the JID and the blanks that follow it.
func readBatch(r io.Reader, cfg *config.Config, cfgName string) ([]batchLine, []error) {
	var (
		lines []batchLine
		errs  []error
		seen  = make(map[string]int)
	)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSuffix(sc.Text(), "\r")
		line = strings.TrimLeft(line, " \t")
		if strings.TrimSpace(line) == "" {
			continue
		}
		addr, password, _ := strings.Cut(strings.Replace(line, "\t", " ", 1), " ")
		password = strings.TrimLeft(password, " \t")
		user, err := parseUser(addr, cfg, cfgName)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("line %d: %w", n, err))
			continue
		case password == "":
			errs = append(errs, fmt.Errorf("line %d: %s: no password (expected \"JID PASSWORD\")", n, user))
			continue
		case seen[user] != 0:
			errs = append(errs, fmt.Errorf("line %d: %s: already listed on line %d", n, user, seen[user]))
			continue
		}
		seen[user] = n
		lines = append(lines, batchLine{n: n, user: user, password: password})
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, fmt.Errorf("read standard input: %w", err))
	}
	return lines, errs
}

// runPasswd runs "parley passwd": replaces an account's credentials with
// ones derived from the first line of stdin.
func runPasswd(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	c := newCommand("passwd", "[-config FILE] JID", stdout, stderr)
	pos, code, ok := c.parse(args, 1)
	if !ok {
		return code
	}
	cfg, user, err := c.configAndUser(pos[0])
	if err != nil {
		return c.fail(err)
	}
	password, err := readPassword(stdin, stderr)
	if err != nil {
		return c.fail(err)
	}
	return withAuditedStore(ctx, c, cfg, func(st storage.Store, rec recorder) error {
		err := account.SetPassword(ctx, st, user, password)
		if errors.Is(err, account.ErrNotFound) {
			return fmt.Errorf("%s: no such account", user)
		}
		if err != nil {
			return err
		}
		if err := rec(audit.AccountPasswordChanged, user, "parley passwd"); err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "changed the password of %s\n", user)
		return nil
	})
}

// runDelUser runs "parley deluser": deletes an account and its data.
func runDelUser(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := newCommand("deluser", "[-config FILE] JID", stdout, stderr)
	pos, code, ok := c.parse(args, 1)
	if !ok {
		return code
	}
	cfg, user, err := c.configAndUser(pos[0])
	if err != nil {
		return c.fail(err)
	}
	return withAuditedStore(ctx, c, cfg, func(st storage.Store, rec recorder) error {
		// Files the user uploaded go too, whether or not the upload
		// service is on now.
		n, err := account.Delete(ctx, st, user, cfg.UploadDir())
		if errors.Is(err, account.ErrNotFound) {
			return fmt.Errorf("%s: no such account", user)
		}
		if err != nil {
			return err
		}
		if err := rec(audit.AccountDeleted, user, fmt.Sprintf("parley deluser, with its data and %d uploaded files", n)); err != nil {
			return err
		}
		if n > 0 {
			fmt.Fprintf(c.stdout, "deleted %s and %d uploaded files\n", user, n)
			return nil
		}
		fmt.Fprintf(c.stdout, "deleted %s\n", user)
		return nil
	})
}

// runUsers runs "parley users": prints the bare JIDs of a served domain's
// accounts, one per line, sorted.
func runUsers(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := newCommand("users", "[-config FILE] DOMAIN", stdout, stderr)
	pos, code, ok := c.parse(args, 1)
	if !ok {
		return code
	}
	cfg, err := config.Load(*c.config)
	if err != nil {
		return c.fail(err)
	}
	domain, err := parseDomain(pos[0], cfg, *c.config)
	if err != nil {
		return c.fail(err)
	}
	return withStore(ctx, c, cfg, func(st storage.Store) error {
		users, err := st.ListAccounts(ctx, domain)
		if err != nil {
			return err
		}
		slices.Sort(users)
		w := bufio.NewWriter(c.stdout)
		for _, u := range users {
			fmt.Fprintln(w, u)
		}
		return w.Flush()
	})
}

// withStore opens the configured store, runs fn, closes the store and
// returns the exit status, reporting the first error.
func withStore(ctx context.Context, c *command, cfg *config.Config, fn func(storage.Store) error) int {
	st, err := backend.Open(ctx, cfg.Storage)
	if err != nil {
		return c.fail(err)
	}
	err = fn(st)
	if cerr := st.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return c.fail(err)
	}
	return 0
}

// configAndUser loads the configuration and parses arg as the bare JID of
// an account on one of its domains.
func (c *command) configAndUser(arg string) (*config.Config, string, error) {
	cfg, err := config.Load(*c.config)
	if err != nil {
		return nil, "", err
	}
	user, err := parseUser(arg, cfg, *c.config)
	return cfg, user, err
}

// parseUser returns the normalized bare JID s names, which must be an
// account JID (user@domain, no resource) of a domain cfg serves.
func parseUser(s string, cfg *config.Config, cfgName string) (string, error) {
	j, err := jid.Parse(s)
	if err != nil {
		return "", fmt.Errorf("%q is not a valid JID: %w", s, err)
	}
	if j.Localpart() == "" {
		return "", fmt.Errorf("%s: not an account JID (expected user@domain)", s)
	}
	if r := j.Resourcepart(); r != "" {
		return "", fmt.Errorf("%s: not a bare JID (remove \"/%s\")", s, r)
	}
	if d := j.Domainpart(); !slices.Contains(cfg.Server.Domains, d) {
		return "", fmt.Errorf("%s: domain %s is not served by this server (%s)", s, d, cfgName)
	}
	return j.Bare().String(), nil
}

// parseDomain returns the normalized form of domain, which cfg must serve.
func parseDomain(s string, cfg *config.Config, cfgName string) (string, error) {
	j, err := jid.New("", s, "")
	if err != nil {
		return "", fmt.Errorf("%q is not a valid domain: %w", s, err)
	}
	d := j.Domainpart()
	if !slices.Contains(cfg.Server.Domains, d) {
		return "", fmt.Errorf("domain %s is not served by this server (%s)", d, cfgName)
	}
	return d, nil
}

// readPassword returns the first line of r, which must not be empty. If r
// is a terminal it prompts on stderr first.
func readPassword(r io.Reader, stderr io.Writer) (string, error) {
	if f, ok := r.(*os.File); ok && isatty.IsTerminal(f.Fd()) {
		fmt.Fprint(stderr, "Password (shown as typed): ")
	}
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password from standard input: %w", err)
	}
	line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
	if line == "" {
		return "", errors.New("no password: the first line of standard input must be the password")
	}
	return line, nil
}
