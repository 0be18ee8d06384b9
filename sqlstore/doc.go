// Package sqlstore keeps RecordSync's state and the call records in a SQL database.
package sqlstore
