package sqlstore

import (
	"strconv"
	"strings"
	"time"
)

// The statements of each dialect. They are written with ? for their parameters, numbered ($1, $2,
// …) for PostgreSQL by rebind. Expiries are the database's clock plus a TTL — so that replicas
// whose clocks disagree agree on them — in microseconds on PostgreSQL and MySQL; on SQLite, one
// host, in milliseconds of the Unix epoch by the Store's clock (WithClock), which a statement that
// reads it takes as its first parameter, ?1 (see withNow).

// queries are the statements of one row.
type queries struct {
	claim, claimState, renew, renewHeld, complete, release string
	lease, leaseOwner, unlease                             string
	checkpoint, setCheckpoint, syncState, setSyncState     string
	quarantine, quarantined, unquarantine                  string
	returning                                              bool // claim and lease return the row they took
}

// now is the database's clock; later is it plus a TTL parameter (ttlArg).
func nowSQL(d Dialect) string {
	switch d {
	case Postgres:
		return "now()"
	case MySQL:
		return "UTC_TIMESTAMP(6)"
	}
	return "?1"
}

func laterSQL(d Dialect) string {
	switch d {
	case Postgres:
		return "now() + CAST(? AS bigint) * interval '1 microsecond'"
	case MySQL:
		return "UTC_TIMESTAMP(6) + INTERVAL ? MICROSECOND"
	}
	return "(" + nowSQL(SQLite) + " + ?)"
}

// ttlArg is ttl in the unit of laterSQL, rounded up.
func ttlArg(d Dialect, ttl time.Duration) int64 {
	unit := time.Microsecond
	if d == SQLite {
		unit = time.Millisecond
	}
	return int64((ttl + unit - 1) / unit)
}

// upsert is the clause that turns an INSERT into table into an update of the row with the same
// key, setting each of cols to the inserted value.
func upsert(d Dialect, key string, cols ...string) string {
	var b strings.Builder
	if d == MySQL {
		b.WriteString(" ON DUPLICATE KEY UPDATE ")
	} else {
		b.WriteString(" ON CONFLICT (" + key + ") DO UPDATE SET ")
	}
	for i, c := range cols {
		if i > 0 {
			b.WriteString(", ")
		}
		if d == MySQL {
			b.WriteString(c + " = VALUES(" + c + ")")
		} else {
			b.WriteString(c + " = excluded." + c)
		}
	}
	return b.String()
}

// claimed is the clause that makes an INSERT of marks take a key: it takes over the row of a key
// whose claim lapsed, and leaves a key delivered, or claimed by another token, as it is. Taken, the
// row gets the inserted token and expiry, and with done its done_at too (Deliver's marks).
func claimed(d Dialect, marks string, done bool) string {
	now := nowSQL(d)
	if d == MySQL {
		// MySQL has no RETURNING: the statement changes the row only when the caller takes it, and
		// the caller reads it after. Each condition is on the row's values before the statement,
		// or on the token, which the first assignment changed when it took the row — so that it
		// holds whether assignments see the ones before them or not (MariaDB's
		// SIMULTANEOUS_ASSIGNMENT).
		free := "(done_at IS NULL AND expires_at <= " + now + ")"
		taken := "token = VALUES(token) OR " + free
		clause := " ON DUPLICATE KEY UPDATE token = IF(" + free + ", VALUES(token), token), "
		if done {
			clause += "done_at = IF(" + taken + ", VALUES(done_at), done_at), "
		}
		return clause + "expires_at = IF(" + taken + ", VALUES(expires_at), expires_at)"
	}
	cols := []string{"token", "expires_at"}
	if done {
		cols = append(cols, "done_at")
	}
	return upsert(d, "dedup_key", cols...) +
		" WHERE " + marks + ".done_at IS NULL AND " + marks + ".expires_at <= " + now
}

func newQueries(d Dialect, p string) queries {
	marks, leases, syncs, quar := p+"marks", p+"leases", p+"syncs", p+"quarantine"
	now, later := nowSQL(d), laterSQL(d)
	q := queries{returning: d != MySQL}
	if d == MySQL {
		// MySQL has no RETURNING: as claimed, the lease changes the row only when the caller
		// takes it, on the row's values before the statement.
		q.claim = "INSERT INTO " + marks + " (dedup_key, token, expires_at) VALUES (?, ?, " + later + ")" + claimed(d, marks, false)
		q.complete = "INSERT INTO " + marks + " (dedup_key, token, done_at) VALUES (?, ?, " + now + ") ON DUPLICATE KEY UPDATE " +
			"expires_at = NULL, done_at = COALESCE(done_at, VALUES(done_at)), token = VALUES(token)"
		held := "(owner = VALUES(owner) OR expires_at <= " + now + ")"
		q.lease = "INSERT INTO " + leases + " (name, owner, expires_at) VALUES (?, ?, " + later + ") ON DUPLICATE KEY UPDATE " +
			"owner = IF(" + held + ", VALUES(owner), owner), expires_at = IF(" + held + ", VALUES(expires_at), expires_at)"
	} else {
		q.claim = "INSERT INTO " + marks + " (dedup_key, token, expires_at) VALUES (?, ?, " + later + ")" + claimed(d, marks, false) +
			" RETURNING token"
		q.complete = "INSERT INTO " + marks + " (dedup_key, token, done_at) VALUES (?, ?, " + now + ")" +
			upsert(d, "dedup_key", "token") + ", expires_at = NULL, done_at = COALESCE(" + marks + ".done_at, excluded.done_at)"
		q.lease = "INSERT INTO " + leases + " (name, owner, expires_at) VALUES (?, ?, " + later + ")" +
			upsert(d, "name", "owner", "expires_at") +
			" WHERE " + leases + ".owner = excluded.owner OR " + leases + ".expires_at <= " + now + " RETURNING owner"
	}
	q.claimState = "SELECT token, done_at IS NOT NULL FROM " + marks + " WHERE dedup_key = ?"
	q.renew = "UPDATE " + marks + " SET expires_at = " + later + " WHERE dedup_key = ? AND token = ? AND done_at IS NULL AND expires_at > " + now
	q.renewHeld = "SELECT COUNT(*) FROM " + marks + " WHERE dedup_key = ? AND token = ? AND done_at IS NULL AND expires_at > " + now
	q.release = "DELETE FROM " + marks + " WHERE dedup_key = ? AND token = ? AND done_at IS NULL"
	q.leaseOwner = "SELECT owner FROM " + leases + " WHERE name = ?"
	q.unlease = "DELETE FROM " + leases + " WHERE name = ? AND owner = ?"
	q.checkpoint = "SELECT checkpoint_at FROM " + syncs + " WHERE name = ?"
	q.setCheckpoint = "INSERT INTO " + syncs + " (name, checkpoint_at) VALUES (?, ?)" + upsert(d, "name", "checkpoint_at")
	q.syncState = "SELECT state FROM " + syncs + " WHERE name = ?"
	q.setSyncState = "INSERT INTO " + syncs + " (name, state) VALUES (?, ?)" + upsert(d, "name", "state")
	q.quarantine = "INSERT INTO " + quar + " (name, record_key, entry) VALUES (?, ?, ?)" + upsert(d, "name, record_key", "entry")
	q.quarantined = "SELECT entry FROM " + quar + " WHERE name = ?"
	q.unquarantine = "DELETE FROM " + quar + " WHERE name = ? AND record_key = ?"
	for _, s := range []*string{&q.claim, &q.claimState, &q.renew, &q.renewHeld, &q.complete, &q.release, &q.lease,
		&q.leaseOwner, &q.unlease, &q.checkpoint, &q.setCheckpoint, &q.syncState, &q.setSyncState, &q.quarantine,
		&q.quarantined, &q.unquarantine} {
		*s = bind(d, *s)
	}
	return q
}

// bind numbers the ? of query as d wants them: $1, $2, … for PostgreSQL; ?2, ?3, … on SQLite when
// query reads the clock (?1), so that the clock comes first whatever its place in the text.
func bind(d Dialect, query string) string {
	switch {
	case d == Postgres:
		return rebind(query)
	case d == SQLite && strings.Contains(query, nowSQL(SQLite)):
		return renumber(query)
	}
	return query
}

// renumber numbers the bare ? of query from ?2 on, leaving ?1, the clock, as it is.
func renumber(query string) string {
	var b strings.Builder
	n := 1
	for i := range len(query) {
		if query[i] != '?' || i+1 < len(query) && query[i+1] >= '0' && query[i+1] <= '9' {
			b.WriteByte(query[i])
			continue
		}
		n++
		b.WriteString("?" + strconv.Itoa(n))
	}
	return b.String()
}

// withNow returns the arguments of a statement that reads the clock: on SQLite, the Store's now
// first; elsewhere args, the database reading its own.
func (s *Store) withNow(args ...any) []any {
	if s.d != SQLite {
		return args
	}
	return append([]any{s.cfg.now().UnixMilli()}, args...)
}

// rebind numbers the ? of query for PostgreSQL: $1, $2, … No statement here has a ? in a literal.
func rebind(query string) string {
	var b strings.Builder
	n := 0
	for i := range len(query) {
		if query[i] != '?' {
			b.WriteByte(query[i])
			continue
		}
		n++
		b.WriteByte('$')
		b.WriteString(strconv.Itoa(n))
	}
	return b.String()
}

// The statements of many rows, built for each number of rows when first used.
type multiKey struct {
	kind byte // 't' take, 's' states, 'd' drop, 'c' claims, 'f' finish, 'r' records
	n    int
}

// recordCols are the columns of the records' table Sink writes, in the order of recordRow.args.
const recordCols = "account, sn, id, task, phone, intention, status_manual, duration, created_at, connected_at, disconnected_at, record"

// recordColCount is how many recordCols there are.
const recordColCount = 12

// multi returns the statement of kind for n rows.
func (s *Store) multiRow(kind byte, n int) string {
	k := multiKey{kind, n}
	s.mu.Lock()
	defer s.mu.Unlock()
	if q, ok := s.multi[k]; ok {
		return q
	}
	q := bind(s.d, s.buildMulti(kind, n))
	s.multi[k] = q
	return q
}

func (s *Store) buildMulti(kind byte, n int) string {
	d, p := s.d, s.cfg.prefix
	marks, now := p+"marks", nowSQL(d)
	var b strings.Builder
	list := func(row string) {
		for i := range n {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(row)
		}
	}
	switch kind {
	case 't': // mark n keys delivered by a delivery's token, unless delivered or claimed
		b.WriteString("INSERT INTO " + marks + " (dedup_key, token, done_at, expires_at) VALUES ")
		list("(?, ?, " + now + ", NULL)")
		b.WriteString(claimed(d, marks, true))
	case 's': // the state of n marks
		b.WriteString("SELECT dedup_key, token, done_at IS NOT NULL FROM " + marks + " WHERE dedup_key IN (")
		list("?")
		b.WriteString(")")
		if d == MySQL {
			b.WriteString(" FOR UPDATE")
		}
	case 'd', 'c', 'f': // drop the marks of n keys a delivery's token took, make them claims, or claims delivered
		switch kind {
		case 'd':
			b.WriteString("DELETE FROM " + marks + " WHERE token = ?")
		case 'c':
			b.WriteString("UPDATE " + marks + " SET done_at = NULL, expires_at = " + laterSQL(d) + " WHERE token = ?")
		case 'f':
			b.WriteString("UPDATE " + marks + " SET done_at = " + now + ", expires_at = NULL WHERE token = ? AND done_at IS NULL")
		}
		b.WriteString(" AND dedup_key IN (")
		list("?")
		b.WriteString(")")
	case 'r': // upsert n call records
		b.WriteString("INSERT INTO " + p + "call_records (" + recordCols + ") VALUES ")
		list("(?" + strings.Repeat(", ?", recordColCount-1) + ")")
		b.WriteString(upsert(d, "account, sn", "id", "task", "phone", "intention", "status_manual", "duration",
			"created_at", "connected_at", "disconnected_at", "record"))
	}
	return b.String()
}
