package sqlstore

// MigrateLock and MigrateLockName are the locks Migrate takes, for a test that holds them.
var (
	MigrateLock     = migrateLock
	MigrateLockName = migrateLockName
)
