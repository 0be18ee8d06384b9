// Package sqlstore keeps a digelao.RecordSync's call records in a SQL database — PostgreSQL, MySQL
// (or MariaDB) or SQLite — together with everything the sync remembers: which records were
// delivered, the checkpoint, the sweep lease, its bookkeeping and its quarantine. A record's row,
// the writes of the user's own code and the record's mark commit in one transaction, so that a
// crash at any instant leaves all of them or none: every record exactly once, with no window in
// which a crash repeats one.
//
//	db, err := sql.Open("pgx", dsn) // the user's driver and *sql.DB
//	store, err := sqlstore.New(db, sqlstore.Postgres)
//	err = store.Migrate(ctx) // creates or upgrades the tables
//	rs, err := digelao.NewRecordSync(c, store.Sink(nil), digelao.WithSyncStore(store))
//
// The package uses database/sql only: the program brings the driver, and links only its own.
// The tests use github.com/jackc/pgx/v5/stdlib ("pgx"), github.com/go-sql-driver/mysql ("mysql")
// and modernc.org/sqlite ("sqlite", pure Go). On SQLite, give the DSN a busy timeout and WAL
// ("file:digelao.db?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)" with modernc.org/sqlite).
//
// # Tables
//
// Migrate creates these, named with the table prefix (WithTablePrefix, default "digelao_"):
//
//	digelao_call_records  the records: account (the account's user_sn), sn, id, task
//	                      (dial_task_main_sn), phone, intention (status, the AI's grade),
//	                      status_manual, duration (talktimes, seconds), created_at, connected_at,
//	                      disconnected_at, and record: the whole record, as json.Marshal writes a
//	                      digelao.CallRecord. Primary key (account, sn); an index on
//	                      (account, created_at).
//	digelao_marks         a row per key delivered (done_at) or claimed (token, expires_at)
//	digelao_leases        the sweep lease of each sync: owner, expires_at
//	digelao_syncs         each sync's checkpoint (RFC 3339, UTC) and bookkeeping (JSON)
//	digelao_quarantine    the records each sync quarantined, as JSON
//	digelao_schema        the schema versions applied
//
// The time columns of the records are timestamptz on PostgreSQL, and China time — the platform's,
// as in its JSON — on MySQL (DATETIME) and SQLite (text, "2006-01-02 15:04:05"). The same sn under
// two accounts is two records. A record without an sn (a broken platform) is kept under its
// delivery key ("sync:…:record:<digest>" in the sn column). Expiries (claims, leases) are on the
// database's clock, so that replicas whose clocks disagree agree on them.
//
// # Values that do not fit
//
// Every dialect keeps the same values: a text column holds UTF-8 text without NUL bytes, at most
// 64 characters (phone, intention, status_manual) or 255 (task); a time column holds a time to the
// second, in the years 1000–9999 of China time; duration holds 32 bits. A value that does not fit is left NULL in its column and kept in
// the record column — never cut short or rounded (MySQL's strict mode does not matter: the Store
// checks the widths itself). The record column is JSON, whose text is UTF-8: a byte that is not
// UTF-8 is written there as U+FFFD, as json.Marshal writes it. An sn the sn column cannot keep
// (not UTF-8, a NUL byte, more than 255 bytes) refuses the record with an error naming the sn and
// the column; the sync quarantines it after its tries, with the record as the platform sent it.
//
// # Exactly once
//
// A RecordSync on a Store delivers through Deliver (digelao.CommitStore): a page of a sweep, or a
// push (pushes that waited together, with digelao.WithPushBatching), in one transaction. The transaction first marks every key of the
// page delivered, in one statement; a key another transaction is delivering is waited for — PostgreSQL and MySQL lock
// its row until that transaction ends, and SQLite takes one writer at a time — and is then found
// delivered, or free. Sink writes each record in that transaction, and the user's func with it
// (before the first func runs, the marks become claims, and they become marks again just before
// the commit: see below), and the transaction commits the rows, the user's writes and the marks
// together. A crash, a killed
// process, a lost connection: the database rolls the transaction back, marks included, and the
// next sweep delivers the records again — within a sweep interval, not after a claim's TTL,
// because no claim outlives the connection. The crash test kills a sync 50 times mid-delivery on
// each dialect and finds every record once. A host that vanishes without closing its connections
// (a power cut, a partition) holds its transaction until the database notices, and the deliveries
// of its keys wait meanwhile: bound that with idle_in_transaction_session_timeout on PostgreSQL
// (in the DSN with pgx: "&idle_in_transaction_session_timeout=60000"); MySQL gives up waiting after
// innodb_lock_wait_timeout (50 seconds by default), and the delivery is tried again. Deliver takes
// the marks in the order of the keys; a deadlock while taking them (MySQL's gap locks allow some
// all the same) or a lock wait timeout begins its transaction again, up to four times.
//
// A record the user's func refuses rolls back to a savepoint of its own — its row and the func's
// writes — and is left undelivered; the other records of the page are delivered. What the func
// does outside the transaction (an HTTP call, a message) is not covered: it may run again for a
// record whose transaction then failed.
//
// The func must use the transaction it is given and nothing else, and must never commit it or
// roll it back — by *sql.Tx's methods or by a statement — nor run DDL (CREATE, ALTER, DROP,
// TRUNCATE), which MySQL commits at once with everything before it. A transaction so ended fails
// its Deliver, and never marks a key delivered without its row: the marks are claims while a func
// runs, the claims it committed lapse after the claim TTL (WithClaimTTL), and the keys are
// delivered again — the func with them.
//
// # Replicas
//
// Replicas share the database as they would share Redis: the sweep lease is a row with an owner
// and an expiry, so that one replica sweeps at a time, and every replica takes pushes.
// Claim, Renew, Complete and Release — digelao.DedupStore, for PushHandler.Dedup — are rows of
// the marks table with an expiry, and agree with Deliver on every key.
//
// # Marks
//
// The mark of a delivered record is kept until someone deletes it: RecordSync sweeps a record
// again for a day (its overlap and re-sweeps), and a record whose mark is gone is delivered again
// — its row upserted, not doubled, but the user's func runs again. Delete old marks with, for
// example, DELETE FROM digelao_marks WHERE done_at < now() - interval '30 days'.
//
// # Migrations
//
// Migrate applies the schema versions the database lacks, in order, under a lock (several
// replicas may call it at once), and refuses a database whose schema is newer than the code
// (ErrNewerSchema): a schema is never downgraded. It refuses, too, a table of its names that it
// did not make (the schema table records no version of it): it never adopts a table of someone
// else's.
package sqlstore
